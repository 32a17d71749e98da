"""The sales pages through Django's test client: the kanban board with its totals and scope, moves
(with refusals and lost reasons), the list's filters, the opportunity form, the forecast, the
settings for admins only, the customer page's deals, escaping and CSRF."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kehu.customers.services import contact_create, customer_create
from kehu.sales import services
from kehu.sales.models import LostReason, Opportunity, Pipeline, Product, Stage, StageChange
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def stage(name: str) -> Stage:
    return Stage.objects.get(pipeline__is_default=True, name_zh=name)


@pytest.fixture
def rep(db):  # type: ignore[no-untyped-def]
    return UserFactory(display_name="李销售")


@pytest.fixture
def customer(rep):  # type: ignore[no-untyped-def]
    return customer_create(acting_user=rep, data={"name": "北京分扬科技有限公司"})


@pytest.fixture
def web(rep) -> Client:
    client = Client()
    client.force_login(rep)
    return client


def new(rep: Any, customer: Any, **data: Any) -> Opportunity:
    return services.opportunity_create(acting_user=rep, data={"name": "年度采购", "customer": customer.pk, **data})


def board_post(client: Client, deal: Opportunity, **data: Any) -> Any:
    return client.post(reverse("sales:move", args=[deal.pk]), data, HTTP_X_KEHU_BOARD="1")


def test_board_shows_columns_with_totals_and_only_the_users_deals(web, rep, customer) -> None:
    new(rep, customer, name="服务器采购", amount="12800", expected_close_date="2020-01-10")
    new(rep, customer, name="软件续费", amount="1.2万")
    other = UserFactory()
    theirs = customer_create(acting_user=other, data={"name": "上海别人的公司"})
    new(other, theirs, name="别人的大单", amount="990000")
    html = web.get(reverse("sales:board")).content.decode()
    for name in ("初步接洽", "需求确认", "方案报价", "商务谈判", "赢单", "输单"):
        assert name in html
    assert "服务器采购" in html and "软件续费" in html and "北京分扬科技有限公司" in html
    assert "别人的大单" not in html and "990,000" not in html
    assert "¥24,800" in html  # the first column's amount, thousands separated
    assert "¥2,480" in html  # weighted at 10 %
    assert "已逾期" in html
    assert 'draggable="true"' in html and "移到…" in html


def test_board_filters_reload_the_board_partial(web, rep, customer) -> None:
    new(rep, customer, name="服务器采购", amount="12800")
    new(rep, customer, name="软件续费", amount="5000")
    response = web.get(reverse("sales:board"), {"q": "服务器"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and 'id="board-area"' in html and "<html" not in html
    assert "服务器采购" in html and "软件续费" not in html and "¥12,800" in html


def test_load_more_returns_the_next_cards_of_a_column(web, rep, customer) -> None:
    for i in range(23):
        new(rep, customer, name=f"商机{i:02d}", amount="100")
    html = web.get(reverse("sales:board")).content.decode()
    assert "加载更多" in html and html.count('data-testid="deal-card"') == 20
    more = web.get(reverse("sales:column_more", args=[stage("初步接洽").pk]), {"offset": 20}).content.decode()
    assert more.count('data-testid="deal-card"') == 3 and "加载更多" not in more


def test_a_move_changes_the_stage_and_answers_with_updated_totals(web, rep, customer) -> None:
    deal = new(rep, customer, name="服务器采购", amount="10000")
    response = board_post(web, deal, stage=stage("需求确认").pk, version=deal.version)
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.stage == stage("需求确认")
    assert StageChange.objects.filter(opportunity=deal, to_stage=stage("需求确认")).exists()
    html = response.content.decode()
    assert "¥3,000" in html  # the new column's weighted amount (30 %)
    assert 'id="board-area"' in html and "<html" not in html


def test_a_plain_form_move_redirects_to_the_deals_board(web, rep, customer) -> None:
    deal = new(rep, customer, amount="10000")
    response = web.post(reverse("sales:move", args=[deal.pk]), {"stage": stage("需求确认").pk})
    assert response.status_code == 302 and response.url.startswith(reverse("sales:board"))
    deal.refresh_from_db()
    assert deal.stage == stage("需求确认")


def test_a_required_field_refusal_is_shown_and_the_deal_stays(web, rep, customer) -> None:
    deal = new(rep, customer, name="服务器采购")  # no amount; 方案报价 requires one
    response = board_post(web, deal, stage=stage("方案报价").pk)
    assert response.status_code == 422
    assert "进入阶段“方案报价”前必须填写金额" in response.content.decode()
    deal.refresh_from_db()
    assert deal.stage == stage("初步接洽")
    page = web.post(reverse("sales:move", args=[deal.pk]), {"stage": stage("方案报价").pk})
    assert page.status_code == 422 and "必须填写金额" in page.content.decode()


def test_a_lost_move_needs_a_reason(web, rep, customer) -> None:
    deal = new(rep, customer, amount="10000")
    lost = stage("输单")
    refused = board_post(web, deal, stage=lost.pk)
    assert refused.status_code == 422
    assert "输单时必须选择输单原因" in refused.content.decode()
    assert "data-need-lost-reason" in refused.content.decode()
    deal.refresh_from_db()
    assert deal.stage != lost
    reason = LostReason.objects.first()
    done = board_post(web, deal, stage=lost.pk, lost_reason=reason.pk, lost_note="预算砍了")
    assert done.status_code == 200
    deal.refresh_from_db()
    assert deal.stage == lost and deal.lost_reason == reason and deal.lost_note == "预算砍了"


def test_another_reps_deal_cannot_be_moved(web, customer) -> None:
    other = UserFactory()
    theirs = customer_create(acting_user=other, data={"name": "别人的公司"})
    deal = new(other, theirs)
    assert board_post(web, deal, stage=stage("需求确认").pk).status_code == 404
    assert web.get(reverse("sales:detail", args=[deal.pk])).status_code == 404


def test_list_filters_and_pages(web, rep, customer) -> None:
    new(rep, customer, name="服务器采购", amount="100", expected_close_date="2020-02-01")
    won = new(rep, customer, name="已成交单", amount="500")
    services.opportunity_move(acting_user=rep, opportunity_id=won.pk, stage_id=stage("赢单").pk)
    new(rep, customer, name="软件续费", amount="200", expected_close_date="2099-05-01")
    url = reverse("sales:list")
    html = web.get(url).content.decode()
    assert all(n in html for n in ("服务器采购", "已成交单", "软件续费"))
    only_q = web.get(url, {"q": "软件"}).content.decode()
    assert "软件续费" in only_q and "服务器采购" not in only_q
    overdue = web.get(url, {"overdue": "1"}).content.decode()
    assert "服务器采购" in overdue and "软件续费" not in overdue
    status = web.get(url, {"status": "won"}, HTTP_HX_REQUEST="true").content.decode()
    assert "已成交单" in status and "服务器采购" not in status and "<html" not in status
    dates = web.get(url, {"close_from": "2099-01-01", "close_to": "2099-12-31"}).content.decode()
    assert "软件续费" in dates and "服务器采购" not in dates
    for i in range(55):
        new(rep, customer, name=f"批量{i}")
    first = web.get(url).content.decode()
    assert "下一页" in first and "1 / 2" in first
    assert "2 / 2" in web.get(url, {"page": 2}).content.decode()


def test_create_from_the_customer_page_edit_and_delete(web, rep, customer, admin_user) -> None:
    contact = contact_create(acting_user=rep, customer=customer, data={"name": "张伟"})
    product = services.product_save(acting_user=admin_user, data={"code": "P-1", "name": "服务器",
                                                                  "list_price": "5000"})
    form = web.get(reverse("sales:create"), {"customer": customer.pk}).content.decode()
    assert f'<option value="{customer.pk}" selected>' in form and "张伟" in form
    response = web.post(reverse("sales:create"), {
        "name": "机房扩容", "customer": customer.pk, "owner": rep.pk, "pipeline": Pipeline.objects.get(
            is_default=True).pk, "stage": "", "amount": "", "currency": "CNY", "expected_close_date": "2026-12-31",
        "contacts": [contact.pk], "lines-TOTAL_FORMS": "2", "lines-INITIAL_FORMS": "0",
        "lines-0-product": product.pk, "lines-0-quantity": "2", "lines-0-unit_price": "",
        "lines-0-discount_percent": "",
        "lines-1-product": "",
    })
    deal = Opportunity.objects.get(name="机房扩容")
    assert response.status_code == 302 and response.url == reverse("sales:detail", args=[deal.pk])
    assert deal.amount == Decimal("10000.00") and deal.expected_close_date == dt.date(2026, 12, 31)
    assert list(deal.contacts.all()) == [contact] and deal.lines.count() == 1

    detail = web.get(reverse("sales:detail", args=[deal.pk])).content.decode()
    assert "阶段记录" in detail and "初步接洽" in detail and "¥10,000" in detail
    edit = web.post(reverse("sales:detail", args=[deal.pk]), {
        "name": "机房扩容二期", "customer": customer.pk, "owner": rep.pk, "stage": stage("需求确认").pk,
        "amount": "2万", "currency": "CNY", "expected_close_date": "", "next_step": "约技术交流",
        "version": deal.version, "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "0", "lines-0-product": "",
    })
    assert edit.status_code == 302
    deal.refresh_from_db()
    assert deal.name == "机房扩容二期" and deal.amount == Decimal("20000.00") and deal.stage == stage("需求确认")
    assert deal.next_step == "约技术交流" and deal.lines.count() == 0 and deal.contacts.count() == 0
    history = web.get(reverse("sales:detail", args=[deal.pk])).content.decode()
    assert "初步接洽 → 需求确认" in history

    stale = web.post(reverse("sales:detail", args=[deal.pk]), {
        "name": "旧版本", "customer": customer.pk, "owner": rep.pk, "version": deal.version - 1,
        "lines-TOTAL_FORMS": "0", "lines-INITIAL_FORMS": "0"})
    assert stale.status_code == 409 and "已被他人修改" in stale.content.decode()

    assert web.get(reverse("sales:delete", args=[deal.pk])).status_code == 405
    gone = web.post(reverse("sales:delete", args=[deal.pk]))
    assert gone.status_code == 302 and not Opportunity.objects.filter(pk=deal.pk).exists()


def test_form_errors_from_the_service_are_shown(web, rep, customer) -> None:
    response = web.post(reverse("sales:create"), {"name": "", "customer": "", "amount": "很多",
                                                  "lines-TOTAL_FORMS": "0", "lines-INITIAL_FORMS": "0"})
    html = response.content.decode()
    assert response.status_code == 422
    assert "商机名称不能为空" in html and "请选择客户" in html and "金额格式不正确" in html
    assert not Opportunity.objects.exists()


def test_forecast_shows_weighted_amounts_funnel_and_figures(web, rep, customer) -> None:
    today = timezone.localdate()
    deal = new(rep, customer, name="服务器采购", amount="10000", expected_close_date=today.isoformat())
    services.opportunity_move(acting_user=rep, opportunity_id=deal.pk, stage_id=stage("方案报价").pk)
    new(rep, customer, name="无日期", amount="2000")
    html = web.get(reverse("sales:forecast")).content.decode()
    assert "¥5,000" in html  # 10,000 × 50 % in this month
    assert 'data-testid="forecast-total-weighted">¥5,200<' in html  # plus the undated 2,000 × 10 %
    assert "李销售" in html and "sales-chart-data" in html and "echarts" in html
    assert "销售漏斗" in html and "100.0%" in html
    by_department = web.get(reverse("sales:forecast"), {"group": "department"}).content.decode()
    assert rep.department.name in by_department


def test_settings_are_for_admins_only(web, admin_user) -> None:
    assert web.get(reverse("sales:settings")).status_code == 403
    assert web.post(reverse("sales:product_create"), {"code": "X", "name": "Y"}).status_code == 403
    admin = Client()
    admin.force_login(admin_user)
    page = admin.get(reverse("sales:settings")).content.decode()
    assert "新客户销售" in page and "商务谈判" in page and "价格太高" in page and "预计成交日期" in page
    pipeline = Pipeline.objects.get(is_default=True)
    created = admin.post(reverse("sales:stage_create", args=[pipeline.pk]), {
        "name_zh": "合同审批", "name_en": "Contract", "probability": "90", "kind": "open", "color": "#123456",
        "required_fields": ["amount", "contacts"], "is_active": "on"})
    assert created.status_code == 302
    new_stage = Stage.objects.get(name_zh="合同审批")
    assert new_stage.probability == 90 and new_stage.required_fields == ["amount", "contacts"]
    bad = admin.post(reverse("sales:stage_edit", args=[new_stage.pk]), {"name_zh": "合同审批", "probability": "150",
                                                                        "kind": "open"})
    assert bad.status_code == 422 and "赢单概率必须在 0 到 100 之间" in bad.content.decode()
    assert admin.post(reverse("sales:lost_reason_create"), {"label_zh": "不合适", "is_active": "on"}).status_code == 302
    assert LostReason.objects.filter(label_zh="不合适").exists()
    assert admin.post(reverse("sales:product_create"), {"code": "P-9", "name": "服务器", "list_price": "1.5万",
                                                         "is_active": "on"}).status_code == 302
    assert Product.objects.get(code="P-9").list_price == Decimal("15000.00")
    assert admin.post(reverse("sales:pipeline_create"), {"name_zh": "续约", "is_active": "on"}).status_code == 302
    assert Pipeline.objects.filter(name_zh="续约", is_active=True).exists()


def test_customer_page_lists_its_deals_with_a_new_deal_link(web, rep, customer) -> None:
    new(rep, customer, name="服务器采购", amount="12800")
    html = web.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert 'data-testid="customer-deals"' in html and "服务器采购" in html and "¥12,800" in html
    assert f"{reverse('sales:create')}?customer={customer.pk}" in html


def test_html_in_deal_names_is_escaped(web, rep, customer) -> None:
    deal = new(rep, customer, name="<script>alert(1)</script>", amount="1")
    for url in (reverse("sales:board"), reverse("sales:list"), reverse("sales:detail", args=[deal.pk]),
                reverse("customers:detail", args=[customer.pk])):
        html = web.get(url).content.decode()
        assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_posts_need_a_csrf_token(rep, customer) -> None:
    deal = new(rep, customer, amount="10000")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(rep)
    assert strict.post(reverse("sales:move", args=[deal.pk]), {"stage": stage("需求确认").pk},
                       HTTP_X_KEHU_BOARD="1").status_code == 403
    assert strict.post(reverse("sales:delete", args=[deal.pk])).status_code == 403
    assert strict.post(reverse("sales:create"), {"name": "x", "customer": customer.pk}).status_code == 403
    deal.refresh_from_db()
    assert deal.stage == stage("初步接洽") and Opportunity.objects.count() == 1


def test_anonymous_users_go_to_the_login_page() -> None:
    response = Client().get(reverse("sales:board"))
    assert response.status_code == 302 and "/accounts/login/" in response.url
