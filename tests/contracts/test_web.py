"""The contract pages through Django's test client: list with filters and totals, create (also from a
deal), detail with plan, payments and overdue badges, attachments (validation, download only within
scope), "生成合同" for won deals, the number rule page for admins."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kehu.contracts import services
from kehu.contracts.models import Contract, ContractAttachment, ContractNumberRule, Payment
from tests.contracts.conftest import new_contract, won_deal
from tests.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(rep) -> Client:
    client = Client()
    client.force_login(rep)
    return client


@pytest.fixture(autouse=True)
def media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def test_list_shows_totals_filters_and_only_the_users_contracts(web, rep, customer) -> None:
    mine = new_contract(rep, customer, title="服务器采购合同", amount="12800", status="active")
    new_contract(rep, customer, title="草稿合同", amount="2000")
    services.payment_record(acting_user=rep, contract_id=mine.pk, received_on="2026-11-01", amount="800")
    other = UserFactory()
    from kehu.customers.services import customer_create

    theirs = customer_create(acting_user=other, data={"name": "上海别人的公司"})
    new_contract(other, theirs, title="别人的大合同", amount="990000")
    html = web.get(reverse("contracts:list")).content.decode()
    assert "服务器采购合同" in html and "草稿合同" in html and "别人的大合同" not in html
    assert "¥14,800" in html and "¥800" in html and "¥14,000" in html
    filtered = web.get(reverse("contracts:list"), {"status": "active"}, HTTP_HX_REQUEST="true").content.decode()
    assert "服务器采购合同" in filtered and "草稿合同" not in filtered


def test_create_page_and_form_errors(web, rep, customer) -> None:
    assert web.get(reverse("contracts:create")).status_code == 200
    response = web.post(reverse("contracts:create"), {"title": "", "customer": customer.pk, "amount": "0",
                                                      "owner": rep.pk, "status": "draft"})
    assert response.status_code == 422 and "合同名称不能为空" in response.content.decode()
    response = web.post(reverse("contracts:create"), {"title": "年度合同", "customer": customer.pk, "amount": "3万",
                                                      "owner": rep.pk, "status": "draft", "currency": "CNY"})
    contract = Contract.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("contracts:detail", args=[contract.pk])
    assert contract.amount == Decimal("30000.00")


def test_new_form_prefilled_from_a_deal(web, rep, customer) -> None:
    deal = won_deal(rep, customer, amount="5万")
    html = web.get(reverse("contracts:create"), {"opportunity": deal.pk}).content.decode()
    assert 'value="年度采购"' in html and "50000" in html


def test_detail_shows_plan_with_paid_outstanding_and_overdue_badge(web, rep, customer) -> None:
    contract = new_contract(rep, customer, amount="10000", status="active")
    response = web.post(reverse("contracts:plan", args=[contract.pk]), {
        "due_date": ["2020-01-10", "2099-01-10", ""], "amount": ["4000", "6000", ""], "note": ["首付款", "", ""]})
    assert response.status_code == 302
    response = web.post(reverse("contracts:payment_create", args=[contract.pk]), {
        "received_on": "2020-01-05", "amount": "5000", "method": "bank", "reference": "流水 123"})
    assert response.status_code == 302
    html = web.get(reverse("contracts:detail", args=[contract.pk])).content.decode()
    assert "首付款" in html and "流水 123" in html and "¥5,000" in html
    assert "已逾期" not in html  # the first instalment is paid in full
    web.post(reverse("contracts:payment_delete", args=[contract.pk, Payment.objects.get().pk]))
    html = web.get(reverse("contracts:detail", args=[contract.pk])).content.decode()
    assert "已逾期" in html


def test_plan_over_the_amount_shows_the_error_naming_the_item(web, rep, customer) -> None:
    contract = new_contract(rep, customer, amount="1000")
    response = web.post(reverse("contracts:plan", args=[contract.pk]), {
        "due_date": ["2026-01-10", "2026-02-10"], "amount": ["600", "600"], "note": ["", ""]})
    assert response.status_code == 422 and "第 2 期" in response.content.decode()


def test_overpayment_shows_the_form_error(web, rep, customer) -> None:
    contract = new_contract(rep, customer, amount="1000")
    response = web.post(reverse("contracts:payment_create", args=[contract.pk]), {
        "received_on": "2026-01-05", "amount": "1001", "method": "bank"})
    assert response.status_code == 422 and "超过合同未回款金额" in response.content.decode()
    assert not Payment.objects.exists()


def test_another_reps_contract_is_404(rep, customer) -> None:
    contract = new_contract(rep, customer)
    client = Client()
    client.force_login(UserFactory())
    assert client.get(reverse("contracts:detail", args=[contract.pk])).status_code == 404
    assert client.post(reverse("contracts:payment_create", args=[contract.pk]),
                       {"received_on": "2026-01-05", "amount": "1"}).status_code == 404
    assert not Payment.objects.exists()


def test_attachments_validated_and_downloaded_only_within_scope(web, rep, customer, media) -> None:
    contract = new_contract(rep, customer)
    bad = SimpleUploadedFile("virus.exe", b"MZ...", content_type="application/octet-stream")
    response = web.post(reverse("contracts:attachment_upload", args=[contract.pk]), {"file": bad})
    assert response.status_code == 422 and "不支持的文件类型" in response.content.decode()
    good = SimpleUploadedFile("合同扫描件.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    assert web.post(reverse("contracts:attachment_upload", args=[contract.pk]), {"file": good}).status_code == 302
    attachment = ContractAttachment.objects.get()
    assert attachment.name == "合同扫描件.pdf" and attachment.size == 13
    assert str(media) in attachment.file.path
    url = reverse("contracts:attachment_download", args=[contract.pk, attachment.pk])
    response = web.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"%PDF-1.4 test"
    assert "attachment" in response["Content-Disposition"]
    stranger = Client()
    stranger.force_login(UserFactory())
    assert stranger.get(url).status_code == 404
    assert Client().get(url).status_code == 302  # to the login page


def test_attachment_size_limit(rep, customer) -> None:
    from kehu.contracts.services import MAX_ATTACHMENT_BYTES, check_attachment

    assert check_attachment("a.pdf", MAX_ATTACHMENT_BYTES) == []
    assert [e.message for e in check_attachment("a.pdf", MAX_ATTACHMENT_BYTES + 1)] == ["文件超过 20 MB"]
    assert check_attachment("a.PNG", 10) == [] and check_attachment("a.xlsx", 10) == []
    assert check_attachment("a.doc", 10)


def test_generate_contract_from_a_won_deal(web, rep, customer) -> None:
    from kehu.sales.services import opportunity_create

    open_deal = opportunity_create(acting_user=rep, data={"name": "还在谈", "customer": customer.pk, "amount": "1万"})
    response = web.post(reverse("contracts:from_opportunity", args=[open_deal.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("sales:detail", args=[open_deal.pk])
    assert not Contract.objects.exists()
    deal = won_deal(rep, customer)
    response = web.post(reverse("contracts:from_opportunity", args=[deal.pk]))
    contract = Contract.objects.get()
    assert response["Location"] == reverse("contracts:detail", args=[contract.pk])
    assert web.get(reverse("contracts:from_opportunity", args=[deal.pk])).status_code == 405


def test_status_change_and_delete(web, rep, customer) -> None:
    contract = new_contract(rep, customer)
    web.post(reverse("contracts:status", args=[contract.pk]), {"status": "active", "version": contract.version})
    contract.refresh_from_db()
    assert contract.status == "active"
    response = web.post(reverse("contracts:delete", args=[contract.pk]))
    assert response.status_code == 302 and Contract.objects.filter(pk=contract.pk).exists()


def test_number_rule_page_is_for_admins(web, rep, customer) -> None:
    assert web.get(reverse("contracts:settings")).status_code == 403
    admin = Client()
    admin.force_login(AdminFactory())
    assert admin.get(reverse("contracts:settings")).status_code == 200
    response = admin.post(reverse("contracts:settings"), {"prefix": "HK", "date_part": "YYYYMM",
                                                          "sequence_width": "4", "reset": "monthly"})
    assert response.status_code == 302
    rule = ContractNumberRule.objects.get()
    assert (rule.prefix, rule.date_part, rule.sequence_width, rule.reset) == ("HK", "YYYYMM", 4, "monthly")
    assert new_contract(rep, customer).number.startswith("HK" + timezone.localdate().strftime("%Y%m"))
