"""Lead pages (list with filters, create with duplicate confirm, detail, status, convert) and the
public web form (no login, embeddable, honeypot, minimum fill time, per-IP rate limit, escaping)."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django.urls import reverse

from kehu.customers.models import Customer, PicklistKind
from kehu.leads import public, services
from kehu.leads.models import Lead, LeadForm, LeadStatus
from kehu.sales.models import Opportunity
from tests.factories import UserFactory, option

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_for(sales_user):  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(sales_user)
    return client


def test_list_filters_by_status_and_q(client_for, sales_user) -> None:
    services.lead_create(acting_user=sales_user, data={"name": "张伟", "company": "分扬科技"})
    other = services.lead_create(acting_user=sales_user, data={"name": "李娜", "status": "contacted"}).lead
    services.lead_create(acting_user=UserFactory(), data={"name": "看不见的人"})
    page = client_for.get(reverse("leads:list")).content.decode()
    assert "张伟" in page and "李娜" in page and "看不见的人" not in page
    page = client_for.get(reverse("leads:list"), {"status": "contacted"}).content.decode()
    assert "李娜" in page and "张伟" not in page
    page = client_for.get(reverse("leads:list"), {"q": "分扬"}).content.decode()
    assert "张伟" in page and "李娜" not in page
    assert client_for.get(reverse("leads:detail", args=[other.pk])).status_code == 200


def test_create_shows_duplicates_then_saves_on_confirm(client_for, sales_user) -> None:
    services.lead_create(acting_user=sales_user, data={"name": "张伟", "mobile": "13812345678"})
    data = {"name": "张三", "mobile": "138 1234 5678", "status": "new", "owner": str(sales_user.pk)}
    response = client_for.post(reverse("leads:create"), data)
    assert response.status_code == 200
    assert 'data-testid="lead-duplicates"' in response.content.decode()
    assert Lead.objects.count() == 1
    response = client_for.post(reverse("leads:create"), {**data, "confirm_duplicates": "1"})
    assert response.status_code == 302
    assert Lead.objects.filter(name="张三").exists()


def test_create_shows_service_errors_on_the_form(client_for) -> None:
    response = client_for.post(reverse("leads:create"), {"name": "", "company": "", "status": "new"})
    assert response.status_code == 200
    assert "姓名和公司至少填写一项" in response.content.decode()


def test_hidden_lead_is_404(client_for) -> None:
    lead = services.lead_create(acting_user=UserFactory(), data={"name": "别人的"}).lead
    assert client_for.get(reverse("leads:detail", args=[lead.pk])).status_code == 404


def test_status_and_convert_from_the_detail_page(client_for, sales_user) -> None:
    lead = services.lead_create(acting_user=sales_user, data={"name": "张伟", "company": "分扬科技"}).lead
    client_for.post(reverse("leads:status", args=[lead.pk]), {"status": "disqualified", "reason": ""})
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.NEW  # reason required
    client_for.post(reverse("leads:status", args=[lead.pk]), {"status": "qualified"})
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.QUALIFIED
    page = client_for.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert reverse("leads:convert", args=[lead.pk]) in page
    response = client_for.post(reverse("leads:convert", args=[lead.pk]),
                               {"customer": "", "create_opportunity": "1", "opportunity_name": "首单", "amount": "1万"})
    customer = Customer.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("customers:detail", args=[customer.pk])
    assert Opportunity.objects.get().name == "首单"
    timeline = client_for.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert "线索：创建了线索" in timeline and "由线索转化" in timeline


# The public web form ----------------------------------------------------------------------------


@pytest.fixture
def web_form(sales_user):  # type: ignore[no-untyped-def]
    return LeadForm.objects.create(slug="expo", title="展会咨询", fields=["company", "mobile", "email", "notes"],
                                   default_owner=sales_user, default_source=option(PicklistKind.SOURCE, "exhibition"),
                                   campaign="2026 春季展会", thank_you="谢谢，我们会尽快联系您")


def _post(client: Client, slug: str, data: dict, *, age: float = 10, ip: str = "203.0.113.5"):  # type: ignore[no-untyped-def]
    token = public.issue_token(slug, at=time.time() - age)
    return client.post(reverse("leads:public_form", args=[slug]),
                       {public.TOKEN_FIELD: token, **data}, REMOTE_ADDR=ip)


def test_public_form_renders_without_login_and_may_be_framed(web_form) -> None:
    response = Client().get(reverse("leads:public_form", args=["expo"]))
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    html = response.content.decode()
    assert "展会咨询" in html and f'name="{public.HONEYPOT}"' in html and f'name="{public.TOKEN_FIELD}"' in html
    assert Client().get(reverse("leads:list")).status_code == 302  # the rest still needs a login
    assert Client().get(reverse("leads:list"))["X-Frame-Options"] == "DENY"


def test_public_form_creates_a_lead_with_the_form_defaults(web_form, sales_user) -> None:
    client = Client(enforce_csrf_checks=True)
    response = _post(client, "expo", {"name": "王先生", "company": "杭州某某", "mobile": "13912345678",
                                      "notes": "想要报价"})
    assert response.status_code == 200
    assert "谢谢，我们会尽快联系您" in response.content.decode()
    lead = Lead.objects.get()
    assert (lead.name, lead.salutation, lead.mobile_e164) == ("王", "先生", "+8613912345678")
    assert (lead.owner, lead.department, lead.campaign, lead.web_form) == (
        sales_user, sales_user.department, "2026 春季展会", web_form)
    assert lead.source == option(PicklistKind.SOURCE, "exhibition")
    assert lead.created_by is None


def test_public_form_ignores_fields_it_does_not_show(web_form) -> None:
    _post(Client(), "expo", {"name": "王五", "owner": "1", "status": "qualified", "wechat": "wx"})
    lead = Lead.objects.get()
    assert lead.status == LeadStatus.NEW and lead.wechat == ""


def test_public_form_honeypot_rejects(web_form) -> None:
    response = _post(Client(), "expo", {"name": "Bot", public.HONEYPOT: "http://spam.example"})
    assert response.status_code == 400
    assert not Lead.objects.exists()


def test_public_form_too_fast_rejects(web_form) -> None:
    response = _post(Client(), "expo", {"name": "Bot"}, age=0)
    assert response.status_code == 400
    assert not Lead.objects.exists()


def test_public_form_bad_or_foreign_token_rejects(web_form) -> None:
    LeadForm.objects.create(slug="other", title="其他")
    token = public.issue_token("other", at=time.time() - 10)
    response = Client().post(reverse("leads:public_form", args=["expo"]), {public.TOKEN_FIELD: token, "name": "甲"})
    assert response.status_code == 400
    response = Client().post(reverse("leads:public_form", args=["expo"]), {"name": "乙"})
    assert response.status_code == 400
    assert not Lead.objects.exists()


def test_public_form_rate_limit_429_after_n(web_form) -> None:
    client = Client()
    for i in range(public.RATE_LIMIT):
        assert _post(client, "expo", {"name": f"访客{i}", "mobile": f"1391234{i:04d}"}).status_code == 200
    response = _post(client, "expo", {"name": "再来一个"})
    assert response.status_code == 429
    assert Lead.objects.count() == public.RATE_LIMIT
    # Another IP is not affected.
    assert _post(client, "expo", {"name": "另一个人"}, ip="198.51.100.7").status_code == 200


def test_public_form_escapes_html_on_output(web_form, client_for) -> None:
    response = _post(Client(), "expo", {"name": "<script>alert(1)</script>", "mobile": "abc"})
    assert response.status_code == 422  # invalid mobile: the form comes back with the input
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    _post(Client(), "expo", {"name": "<b>坏人</b>"})
    lead = Lead.objects.get()
    page = client_for.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert "<b>坏人</b>" not in page and "&lt;b&gt;" in page


def test_inactive_or_unknown_form_is_404(web_form) -> None:
    web_form.is_active = False
    web_form.save()
    assert Client().get(reverse("leads:public_form", args=["expo"])).status_code == 404
    assert Client().get(reverse("leads:public_form", args=["nope"])).status_code == 404


def test_admin_manages_public_forms_and_sees_the_embed_snippet(admin_user, sales_user) -> None:
    client = Client()
    client.force_login(admin_user)
    response = client.post(reverse("leads:forms"), {
        "slug": "Expo-2026", "title": "展会咨询", "fields": ["company", "mobile"], "campaign": "春季展",
        "default_owner": str(sales_user.pk), "default_source": str(option(PicklistKind.SOURCE, "exhibition").pk),
        "thank_you": "谢谢", "is_active": "on"})
    assert response.status_code == 302
    web_form = LeadForm.objects.get()
    assert (web_form.slug, web_form.fields, web_form.default_owner) == ("expo-2026", ["company", "mobile"], sales_user)
    page = client.get(reverse("leads:forms")).content.decode()
    assert "&lt;iframe src=&quot;" not in page and "&lt;iframe src=\"http://testserver/leads/form/expo-2026/\"" in page
    duplicate = client.post(reverse("leads:forms"), {"slug": "expo-2026", "title": "又一个"})
    assert duplicate.status_code == 200 and LeadForm.objects.count() == 1
    rep = Client()
    rep.force_login(sales_user)
    assert rep.get(reverse("leads:forms")).status_code == 403


def test_edit_page_saves_and_reports_a_stale_version(client_for, sales_user) -> None:
    lead = services.lead_create(acting_user=sales_user, data={"name": "张伟", "company": "分扬科技"}).lead
    page = client_for.get(reverse("leads:edit", args=[lead.pk]))
    assert page.status_code == 200 and 'value="分扬科技"' in page.content.decode()
    data = {"name": "张伟", "company": "分扬科技", "title": "CTO", "status": "contacted",
            "owner": str(sales_user.pk), "version": "1"}
    assert client_for.post(reverse("leads:edit", args=[lead.pk]), data).status_code == 302
    lead.refresh_from_db()
    assert (lead.title, lead.status, lead.version) == ("CTO", "contacted", 2)
    stale = client_for.post(reverse("leads:edit", args=[lead.pk]), {**data, "title": "CEO"})
    assert stale.status_code == 200 and "已被他人修改" in stale.content.decode()
    assert Lead.objects.get(pk=lead.pk).title == "CTO"


def test_live_duplicate_check_and_converted_detail(client_for, sales_user) -> None:
    lead = services.lead_create(acting_user=sales_user, data={"name": "张伟", "mobile": "13812345678"}).lead
    partial = client_for.post(reverse("leads:duplicate_check"), {"name": "李四", "mobile": "138-1234-5678"})
    assert partial.status_code == 200 and "张伟" in partial.content.decode()
    services.lead_convert(acting_user=sales_user, lead_id=lead.pk, create_opportunity=False)
    page = client_for.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert "已转化" in page and reverse("leads:convert", args=[lead.pk]) not in page
