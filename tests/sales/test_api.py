"""The /api/v1/ sales API: opportunities (scope, create, validation, moves, versions, history), the
board, forecast, funnel and figures, the admin-only settings, auth and the OpenAPI schema."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from kehu.customers.services import customer_create
from kehu.sales import services
from kehu.sales.models import LostReason, Opportunity, Pipeline, Product, Stage, StageChange
from tests.api_client import BASE, Api, error_of
from tests.factories import AdminFactory, DepartmentFactory, ManagerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(db):  # type: ignore[no-untyped-def]
    return UserFactory()


@pytest.fixture
def api(rep):  # type: ignore[no-untyped-def]
    return Api(rep)


@pytest.fixture
def customer(rep):  # type: ignore[no-untyped-def]
    return customer_create(acting_user=rep, data={"name": "北京分扬科技有限公司"})


def stage(name: str) -> Stage:
    return Stage.objects.get(pipeline__is_default=True, name_zh=name)


def new(user: Any, customer: Any, **data: Any) -> Opportunity:
    return services.opportunity_create(acting_user=user, data={"name": "年度采购", "customer": customer.pk, **data})


# Opportunities -----------------------------------------------------------------------------------


def test_create_returns_201_and_writes_the_row(api, rep, customer) -> None:
    response = api.post("/opportunities", {"name": "CRM 年度采购", "customer": customer.pk, "amount": "1.28万",
                                           "expected_close_date": "2026-12-15", "next_step": "发报价"})
    assert response.status_code == 201, response.content
    item = response.json()
    deal = Opportunity.objects.get(pk=item["id"])
    assert (deal.name, deal.owner, deal.amount, deal.stage) == ("CRM 年度采购", rep, Decimal("12800.00"),
                                                                stage("初步接洽"))
    assert item["amount"] == "12800.00"
    assert item["weighted_amount"] == "1280.00"  # 初步接洽 is 10 %
    assert item["expected_close_date"] == "2026-12-15"
    assert item["stage"] == {"id": deal.stage_id, "name": "初步接洽", "probability": 10, "kind": "open",
                             "color": deal.stage.color}
    assert item["customer"] == {"id": customer.pk, "name": customer.name}
    assert item["owner"]["id"] == rep.pk and item["version"] == deal.version
    assert item["contacts"] == [] and item["lines"] == []


def test_create_with_product_lines(api, customer, admin_user) -> None:
    product = services.product_save(acting_user=admin_user, data={"code": "P-1", "name": "CRM 年费",
                                                                  "list_price": "9800"})
    response = api.post("/opportunities", {"name": "x", "customer": customer.pk,
                                           "lines": [{"product": product.pk, "quantity": 2}]})
    assert response.status_code == 201, response.content
    assert response.json()["amount"] == "19600.00"
    assert response.json()["lines"] == [{"product": {"id": product.pk, "name": "CRM 年费"}, "quantity": "2.00",
                                         "unit_price": "9800.00", "discount_percent": "0.00", "total": "19600.00"}]


def test_a_bad_amount_is_422_naming_the_field(api, customer) -> None:
    response = api.post("/opportunities", {"name": "x", "customer": customer.pk, "amount": "十万"})
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == "amount" and [e["field"] for e in error["errors"]] == ["amount"]
    assert not Opportunity.objects.exists()


def test_unknown_keys_and_missing_fields_are_422(api, customer) -> None:
    response = api.post("/opportunities", {"name": "x", "customer": customer.pk, "colour": "red"})
    assert response.status_code == 422 and error_of(response)["code"] == "unknown_field"
    response = api.post("/opportunities", {"customer": customer.pk})
    assert response.status_code == 422 and error_of(response)["field"] == "name"


def test_another_reps_deal_is_404_and_hidden_from_the_list(api, rep, customer) -> None:
    mine = new(rep, customer, name="我的")
    other = UserFactory()
    theirs = new(other, customer_create(acting_user=other, data={"name": "别人的客户"}), name="别人的")
    assert api.get(f"/opportunities/{theirs.pk}").status_code == 404
    assert api.patch(f"/opportunities/{theirs.pk}", {"next_step": "x"}).status_code == 404
    assert api.post(f"/opportunities/{theirs.pk}/move", {"stage": stage("需求确认").pk}).status_code == 404
    assert api.delete(f"/opportunities/{theirs.pk}").status_code == 404
    assert api.get(f"/opportunities/{theirs.pk}/stage-history").status_code == 404
    body = api.get("/opportunities").json()
    assert [i["id"] for i in body["items"]] == [mine.pk] and body["total"] == 1
    assert Opportunity.objects.filter(pk=theirs.pk).exists()


def test_list_filters_and_cursor_paging(api, rep, customer) -> None:
    deals = [new(rep, customer, name=f"商机{i}", amount=1000 * i) for i in range(5)]
    new(rep, customer_create(acting_user=rep, data={"name": "上海另一家"}), name="别家")
    first = api.get("/opportunities", {"limit": 2, "sort": "name", "customer": customer.pk}).json()
    assert [i["name"] for i in first["items"]] == ["商机0", "商机1"] and first["total"] == 5
    second = api.get("/opportunities", {"limit": 2, "sort": "name", "customer": customer.pk,
                                        "cursor": first["next_cursor"]}).json()
    assert [i["name"] for i in second["items"]] == ["商机2", "商机3"]
    assert [i["name"] for i in api.get("/opportunities", {"q": "别家"}).json()["items"]] == ["别家"]
    services.opportunity_move(acting_user=rep, opportunity_id=deals[4].pk, stage_id=stage("赢单").pk)
    won = api.get("/opportunities", {"status": "won"}).json()["items"]
    assert [i["id"] for i in won] == [deals[4].pk] and won[0]["amount"] == "4000.00"
    assert api.get("/opportunities", {"cursor": "garbage"}).status_code == 422
    assert api.get("/opportunities", {"status": "bogus"}).status_code == 422


def test_patch_edits_and_a_stale_version_is_409(api, rep, customer) -> None:
    deal = new(rep, customer)
    response = api.patch(f"/opportunities/{deal.pk}", {"next_step": "发报价", "amount": "3万",
                                                       "expected_version": deal.version})
    assert response.status_code == 200, response.content
    assert response.json()["amount"] == "30000.00" and response.json()["version"] == deal.version + 1
    deal.refresh_from_db()
    assert deal.next_step == "发报价"
    stale = api.patch(f"/opportunities/{deal.pk}", {"next_step": "x", "expected_version": deal.version - 1})
    assert stale.status_code == 409 and error_of(stale)["code"] == "version_conflict"
    header = api.client.patch(f"{BASE}/opportunities/{deal.pk}", '{"next_step": "y"}',
                              content_type="application/json", HTTP_IF_MATCH=f'"{deal.version - 1}"')
    assert header.status_code == 412 and error_of(header)["code"] == "precondition_failed"
    fresh = api.client.patch(f"{BASE}/opportunities/{deal.pk}", '{"next_step": "y"}',
                             content_type="application/json", HTTP_IF_MATCH=f'W/"{deal.version}"')
    assert fresh.status_code == 200
    deal.refresh_from_db()
    assert deal.next_step == "y"


def test_move_enforces_required_fields_and_lost_reasons(api, rep, customer) -> None:
    deal = new(rep, customer)
    refused = api.post(f"/opportunities/{deal.pk}/move", {"stage": stage("商务谈判").pk})
    assert refused.status_code == 422
    assert sorted(e["field"] for e in error_of(refused)["errors"]) == ["amount", "expected_close_date"]
    deal.refresh_from_db()
    assert deal.stage == stage("初步接洽")

    no_reason = api.post(f"/opportunities/{deal.pk}/move", {"stage": stage("输单").pk})
    assert no_reason.status_code == 422 and error_of(no_reason)["field"] == "lost_reason"
    reason = LostReason.objects.get(label_zh="价格太高")
    lost = api.post(f"/opportunities/{deal.pk}/move", {"stage": stage("输单").pk, "lost_reason": reason.pk,
                                                       "lost_note": "预算不够", "expected_version": deal.version})
    assert lost.status_code == 200, lost.content
    assert lost.json()["lost_reason"] == {"id": reason.pk, "label": "价格太高"}
    assert lost.json()["closed_at"] is not None and lost.json()["stage"]["kind"] == "lost"
    stale = api.post(f"/opportunities/{deal.pk}/move", {"stage": stage("需求确认").pk,
                                                        "expected_version": deal.version})
    assert stale.status_code == 409


def test_stage_history_has_the_time_in_the_previous_stage(api, rep, customer, monkeypatch) -> None:
    start = timezone.now()
    deal = new(rep, customer, amount=50000)
    monkeypatch.setattr(timezone, "now", lambda: start + dt.timedelta(days=3))
    assert api.post(f"/opportunities/{deal.pk}/move", {"stage": stage("方案报价").pk}).status_code == 200
    history = api.get(f"/opportunities/{deal.pk}/stage-history").json()
    assert [(h["from_stage"] and h["from_stage"]["name"], h["to_stage"]["name"]) for h in history] == [
        (None, "初步接洽"), ("初步接洽", "方案报价")]
    assert history[0]["seconds_in_previous"] is None
    assert history[1]["seconds_in_previous"] == pytest.approx(3 * 86400, abs=5)
    assert history[1]["amount"] == "50000.00" and history[1]["changed_by"]["id"] == rep.pk


def test_delete_removes_the_deal(api, rep, customer) -> None:
    deal = new(rep, customer)
    assert api.delete(f"/opportunities/{deal.pk}").status_code == 204
    assert not Opportunity.objects.filter(pk=deal.pk).exists()
    assert not StageChange.objects.filter(opportunity_id=deal.pk).exists()


# Board, forecast, funnel, figures ------------------------------------------------------------------


def test_board_forecast_funnel_and_figures_agree_with_the_selectors(rep, customer) -> None:
    """The scenario of tests/sales/test_opportunities.py's rollup test, read through the API."""
    department = DepartmentFactory(name="华北")
    manager = ManagerFactory(department=department)
    colleague = UserFactory(department=department)
    admin = AdminFactory()
    month = timezone.localdate().replace(day=1)
    next_month = (month + dt.timedelta(days=32)).replace(day=1)
    theirs = customer_create(acting_user=colleague, data={"name": "华北客户"})
    deals = [new(colleague, theirs, amount=100000, expected_close_date=next_month.isoformat()),
             new(colleague, theirs, amount=20000, expected_close_date=month.isoformat())]
    new(rep, customer, amount=5000)
    services.opportunity_move(acting_user=colleague, opportunity_id=deals[0].pk, stage_id=stage("方案报价").pk)
    admin_api = Api(admin)

    board = admin_api.get("/sales/board").json()
    columns = {c["stage"]["name"]: c for c in board["columns"]}
    assert [c["stage"]["name"] for c in board["columns"]] == ["初步接洽", "需求确认", "方案报价", "商务谈判",
                                                              "赢单", "输单"]
    assert (columns["初步接洽"]["count"], columns["初步接洽"]["amount"], columns["初步接洽"]["weighted"]) == (
        2, "25000.00", "2500.00")
    assert (columns["方案报价"]["count"], columns["方案报价"]["amount"], columns["方案报价"]["weighted"]) == (
        1, "100000.00", "50000.00")
    assert [c["id"] for c in columns["方案报价"]["cards"]] == [deals[0].pk]
    assert columns["方案报价"]["cards"][0]["amount"] == "100000.00"
    assert columns["方案报价"]["has_more"] is False and columns["需求确认"]["cards"] == []
    assert board["total_amount"] == "125000.00" and board["total_weighted"] == "52500.00"
    assert sum(c["count"] for c in Api(manager).get("/sales/board").json()["columns"]) == 2
    filtered = admin_api.get("/sales/board", {"q": "采购", "owner": colleague.pk}).json()
    assert {c["stage"]["name"]: c["count"] for c in filtered["columns"] if c["count"]} == {"初步接洽": 1,
                                                                                          "方案报价": 1}

    plan = admin_api.get("/sales/forecast", {"start": month.isoformat(), "months": 3}).json()
    assert plan["months"][0] == f"{month:%Y-%m}" and len(plan["months"]) == 3
    assert plan["by_month"][1]["weighted"] == "50000.00"
    row = next(r for r in plan["rows"] if r["id"] == colleague.pk)
    assert row["cells"][0] == {"month": plan["months"][0], "count": 1, "amount": "20000.00", "weighted": "2000.00"}
    assert plan["undated"] == {"month": "", "count": 1, "amount": "5000.00", "weighted": "500.00"}
    by_department = admin_api.get("/sales/forecast", {"start": month.isoformat(), "group": "department"}).json()
    assert by_department["group"] == "department"
    assert {r["name"] for r in by_department["rows"]} >= {"华北"}
    assert admin_api.get("/sales/forecast", {"group": "team"}).status_code == 422

    steps = {s["stage"]["name"]: (s["reached"], s["conversion"]) for s in admin_api.get("/sales/funnel").json()}
    assert steps["初步接洽"] == (3, None)
    assert steps["需求确认"][0] == 1 and steps["需求确认"][1] == pytest.approx(1 / 3, abs=1e-4)
    assert steps["方案报价"] == (1, 1.0)
    assert "输单" not in steps
    assert admin_api.get("/sales/funnel", {"created_to": "2000-01-31"}).json()[0]["reached"] == 0

    figures = admin_api.get("/sales/figures").json()
    assert (figures["open_count"], figures["open_amount"], figures["weighted_amount"]) == (3, "125000.00",
                                                                                           "52500.00")
    assert (figures["won_count"], figures["win_rate"], figures["average_deal"]) == (0, None, None)
    # The rep sees only their own deal.
    assert Api(rep).get("/sales/figures").json()["open_amount"] == "5000.00"


def test_an_unknown_pipeline_is_404(api) -> None:
    for path in ("/sales/board", "/sales/forecast", "/sales/funnel", "/sales/figures"):
        response = api.get(path, {"pipeline": 999999})
        assert response.status_code == 404, path
        assert error_of(response)["field"] == "pipeline"
    pipeline = Pipeline.objects.get()
    assert api.get("/sales/board", {"pipeline": pipeline.pk}).json()["pipeline"]["id"] == pipeline.pk


def test_figures_after_a_win(api, rep, customer) -> None:
    deal = new(rep, customer, amount=50000)
    api.post(f"/opportunities/{deal.pk}/move", {"stage": stage("赢单").pk})
    figures = api.get("/sales/figures").json()
    assert (figures["won_count"], figures["won_amount"], figures["win_rate"], figures["average_deal"]) == (
        1, "50000.00", 1.0, "50000.00")


def test_more_cards_of_a_column(api, rep, customer) -> None:
    for i in range(25):
        new(rep, customer, name=f"D{i:02d}")
    column = next(c for c in api.get("/sales/board").json()["columns"] if c["stage"]["name"] == "初步接洽")
    assert column["count"] == 25 and len(column["cards"]) == 20 and column["has_more"] is True
    more = api.get(f"/sales/board/columns/{stage('初步接洽').pk}", {"offset": 20}).json()
    assert [c["name"] for c in more["cards"]] == ["D04", "D03", "D02", "D01", "D00"]  # newest on top
    assert more["has_more"] is False
    page = api.get(f"/sales/board/columns/{stage('初步接洽').pk}", {"offset": 0, "limit": 3}).json()
    assert page["has_more"] is True and len(page["cards"]) == 3
    assert api.get("/sales/board/columns/999999").status_code == 404


# Settings ------------------------------------------------------------------------------------------


def test_pipelines_list_their_stages(api) -> None:
    pipelines = api.get("/sales/pipelines").json()
    assert len(pipelines) == 1 and pipelines[0]["is_default"] is True
    assert [s["name_zh"] for s in pipelines[0]["stages"]] == ["初步接洽", "需求确认", "方案报价", "商务谈判",
                                                              "赢单", "输单"]
    assert pipelines[0]["stages"][3]["required_fields"] == ["amount", "expected_close_date"]


def test_settings_are_for_admins(api, admin_user) -> None:
    pipeline = Pipeline.objects.get()
    reason = LostReason.objects.first()
    writes = [
        ("post", "/sales/pipelines", {"name_zh": "续约"}),
        ("put", f"/sales/pipelines/{pipeline.pk}", {"name_zh": "改名"}),
        ("post", f"/sales/pipelines/{pipeline.pk}/stages", {"name_zh": "试用", "probability": 40}),
        ("put", f"/sales/pipelines/{pipeline.pk}/stages/{stage('初步接洽').pk}", {"name_zh": "x"}),
        ("post", "/sales/lost-reasons", {"label_zh": "没预算"}),
        ("put", f"/sales/lost-reasons/{reason.pk}", {"label_zh": "x"}),
        ("post", "/sales/products", {"code": "P-9", "name": "x"}),
    ]
    for method, path, body in writes:
        response = getattr(api, method)(path, body)
        assert response.status_code == 403, (path, response.content)
        assert error_of(response)["code"] == "permission_denied"
    assert Pipeline.objects.get().name_zh == pipeline.name_zh and not Product.objects.exists()

    admin = Api(admin_user)
    created = admin.post("/sales/pipelines", {"name_zh": "续约", "name_en": "Renewal", "position": 2})
    assert created.status_code == 201 and created.json()["stages"] == []
    renewal = created.json()["id"]
    added = admin.post(f"/sales/pipelines/{renewal}/stages",
                       {"name_zh": "试用", "probability": 40, "required_fields": ["next_step"]})
    assert added.status_code == 201, added.content
    assert added.json()["required_fields"] == ["next_step"] and Stage.objects.filter(pipeline_id=renewal).count() == 1
    bad = admin.post(f"/sales/pipelines/{renewal}/stages", {"name_zh": "y", "probability": 140})
    assert bad.status_code == 422 and error_of(bad)["field"] == "probability"
    edited = admin.put(f"/sales/pipelines/{renewal}/stages/{added.json()['id']}",
                       {"name_zh": "试用期", "probability": 50})
    assert edited.status_code == 200 and edited.json()["position"] == added.json()["position"]
    assert Stage.objects.get(pk=added.json()["id"]).probability == 50
    assert admin.put(f"/sales/pipelines/{pipeline.pk}", {"name_zh": "新客户", "is_default": True}).status_code == 200
    assert Pipeline.objects.get(pk=pipeline.pk).name_zh == "新客户"
    assert admin.put("/sales/pipelines/999999", {"name_zh": "x"}).status_code == 404

    reason_created = admin.post("/sales/lost-reasons", {"label_zh": "没预算"})
    assert reason_created.status_code == 201 and LostReason.objects.filter(label_zh="没预算").exists()
    assert admin.put(f"/sales/lost-reasons/{reason.pk}", {"label_zh": reason.label_zh,
                                                          "is_active": False}).status_code == 200
    assert reason.pk not in [r["id"] for r in api.get("/sales/lost-reasons").json()]
    assert reason.pk in [r["id"] for r in api.get("/sales/lost-reasons", {"include_inactive": True}).json()]


def test_products_are_listed_for_everyone_and_written_by_admins(api, admin_user) -> None:
    admin = Api(admin_user)
    created = admin.post("/sales/products", {"code": "P-1", "name": "CRM 年费", "unit": "套",
                                             "list_price": "9,800"})
    assert created.status_code == 201, created.content
    assert created.json()["list_price"] == "9800.00"
    product = Product.objects.get(code="P-1")
    assert product.list_price == Decimal("9800.00")
    duplicate = admin.post("/sales/products", {"code": "P-1", "name": "again"})
    assert duplicate.status_code == 422 and error_of(duplicate)["field"] == "code"
    bad = admin.post("/sales/products", {"code": "P-2", "name": "x", "list_price": "abc"})
    assert bad.status_code == 422 and error_of(bad)["field"] == "list_price"
    updated = admin.put(f"/sales/products/{product.pk}", {"code": "P-1", "name": "CRM 年费（新）",
                                                          "list_price": 10000})
    assert updated.status_code == 200 and updated.json()["version"] == product.version + 1
    listed = api.get("/sales/products").json()
    assert [(p["code"], p["name"], p["list_price"]) for p in listed] == [("P-1", "CRM 年费（新）", "10000.00")]
    assert api.get("/sales/products", {"q": "nothing"}).json() == []
    assert api.put(f"/sales/products/{product.pk}", {"code": "P-1", "name": "x"}).status_code == 403


# Auth and schema -----------------------------------------------------------------------------------


def test_unauthenticated_is_401_and_tokens_work(rep, customer) -> None:
    anonymous = Client()
    for path in ("/opportunities", "/sales/board", "/sales/forecast", "/sales/pipelines", "/sales/products"):
        response = anonymous.get(BASE + path)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "unauthenticated"
    assert anonymous.post(BASE + "/opportunities", "{}", content_type="application/json").status_code == 401
    new(rep, customer)
    keyed = Api(rep)
    header_client = Client(HTTP_X_API_KEY=keyed.client.defaults["HTTP_AUTHORIZATION"].removeprefix("Bearer "))
    assert header_client.get(BASE + "/opportunities").json()["total"] == 1


def test_the_session_needs_csrf_for_writes(rep, customer) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    assert client.get(BASE + "/opportunities").status_code == 200
    response = client.post(BASE + "/opportunities", json.dumps({"name": "x", "customer": customer.pk}),
                           content_type="application/json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "csrf_failed"


def test_openapi_lists_the_sales_paths(api) -> None:
    schema = api.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/api/v1/opportunities", "/api/v1/opportunities/{opportunity_id}",
                 "/api/v1/opportunities/{opportunity_id}/move", "/api/v1/opportunities/{opportunity_id}/stage-history",
                 "/api/v1/sales/board", "/api/v1/sales/board/columns/{stage_id}", "/api/v1/sales/forecast",
                 "/api/v1/sales/funnel", "/api/v1/sales/figures", "/api/v1/sales/pipelines",
                 "/api/v1/sales/pipelines/{pipeline_id}/stages", "/api/v1/sales/lost-reasons",
                 "/api/v1/sales/products", "/api/v1/sales/products/{product_id}"):
        assert path in paths, path
    assert paths["/api/v1/sales/board"]["get"]["tags"] == ["sales"]
    assert set(paths["/api/v1/opportunities/{opportunity_id}"]) == {"get", "patch", "delete"}
