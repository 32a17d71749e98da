"""The export downloads: /api/v1/{opportunities,products,leads,contracts,payments,payment-plans}/export,
the "导出" buttons of the opportunity, lead and contract lists and their views, and `kehu export`
for the registry's kinds (customers and contacts unchanged)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from kehu.contracts import services as contract_services
from kehu.core.models import AuditEvent
from kehu.customers.services import customer_create
from kehu.leads import services as lead_services
from kehu.sales import services as sales_services
from tests.api_client import Api
from tests.exports.conftest import body_of, column, table_of

pytestmark = pytest.mark.django_db

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def data(team, admin_user):  # type: ignore[no-untyped-def]
    manager, rep, colleague, outsider = team
    mine = customer_create(acting_user=rep, data={"name": "甲公司"})
    far = customer_create(acting_user=outsider, data={"name": "丙公司"})
    sales_services.opportunity_create(acting_user=rep, data={"name": "=甲单", "customer": mine.pk, "amount": "100"})
    sales_services.opportunity_create(acting_user=outsider, data={"name": "丙单", "customer": far.pk, "amount": "1"})
    sales_services.product_save(acting_user=admin_user, data={"code": "P-1", "name": "CRM"})
    lead_services.lead_create(acting_user=rep, data={"name": "甲线索"})
    lead_services.lead_create(acting_user=outsider, data={"name": "丙线索"})
    contract = contract_services.contract_create(acting_user=rep, data={
        "title": "甲合同", "customer": mine.pk, "amount": "1000", "number": "HT-1"})
    contract_services.plan_set(acting_user=rep, contract_id=contract.pk, items=[
        {"due_date": "2026-01-10", "amount": "1000"}])
    contract_services.payment_record(acting_user=rep, contract_id=contract.pk, received_on="2026-01-09",
                                     amount="10")
    other = contract_services.contract_create(acting_user=outsider, data={
        "title": "丙合同", "customer": far.pk, "amount": "1", "number": "HT-2"})
    contract_services.payment_record(acting_user=outsider, contract_id=other.pk, received_on="2026-01-09",
                                     amount="1")
    return team


ENDPOINTS = [
    ("/opportunities/export", "商机名称", ["'=甲单"]),
    ("/products/export", "产品编号", ["P-1"]),
    ("/leads/export", "姓名", ["甲线索"]),
    ("/contracts/export", "合同编号", ["HT-1"]),
    ("/payments/export", "合同编号", ["HT-1"]),
    ("/payment-plans/export", "合同编号", ["HT-1"]),
]


@pytest.mark.parametrize(("path", "header", "expected"), ENDPOINTS)
def test_api_exports_the_callers_rows_as_csv(data, tmp_path, path, header, expected) -> None:
    rep = data[1]
    response = Api(rep).get(path)
    assert response.status_code == 200, body_of(response)[:300]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="kehu-')
    headers, rows = table_of(body_of(response), tmp_path)
    assert column(headers, rows, header) == expected
    event = AuditEvent.objects.get(action="export")
    assert event.actor == rep and event.changes[3] == {"field": "rows", "old": None, "new": 1}


@pytest.mark.parametrize(("path", "header", "expected"), ENDPOINTS)
def test_api_exports_xlsx(data, tmp_path, path, header, expected) -> None:
    response = Api(data[1]).get(path, {"format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    headers, rows = table_of(body_of(response), tmp_path, ".xlsx")
    assert column(headers, rows, header) == [e.lstrip("'") for e in expected]


@pytest.mark.parametrize(("path", "_header", "_expected"), ENDPOINTS)
def test_api_export_needs_authentication(data, path, _header, _expected) -> None:
    response = Client().get("/api/v1" + path)
    assert response.status_code == 401
    assert not AuditEvent.objects.filter(action="export").exists()


def test_api_export_takes_the_list_filters_and_refuses_an_unknown_format(data, tmp_path) -> None:
    manager = data[0]
    api = Api(manager)
    response = api.get("/opportunities/export", {"q": "不存在"})
    headers, rows = table_of(body_of(response), tmp_path)
    assert rows == []
    response = api.get("/opportunities/export", {"status": "open", "columns": "name,amount"})
    headers, rows = table_of(body_of(response), tmp_path)
    assert (headers, rows) == (["商机名称", "金额"], [["'=甲单", "100.00"]])
    assert api.get("/opportunities/export", {"format": "pdf"}).status_code == 422
    # The detail route is still the detail route.
    deal_id = api.get("/opportunities").json()["items"][0]["id"]
    assert api.get(f"/opportunities/{deal_id}").json()["id"] == deal_id
    headers, rows = table_of(body_of(api.get("/contracts/export", {"expiring_days": "30"})), tmp_path)
    assert rows == []  # a draft contract is never "expiring"


def test_web_export_carries_the_filters_and_the_scope(data, tmp_path) -> None:
    manager, rep, _colleague, _outsider = data
    client = Client()
    client.force_login(rep)
    response = client.get("/sales/list/export/", {"format": "csv", "q": "甲", "owner": "me", "pipeline": ""})
    assert response.status_code == 200
    headers, rows = table_of(body_of(response), tmp_path)
    assert column(headers, rows, "商机名称") == ["'=甲单"]
    response = client.get("/leads/export/", {"format": "xlsx", "q": "线索"})
    headers, rows = table_of(body_of(response), tmp_path, ".xlsx")
    assert column(headers, rows, "姓名") == ["甲线索"]
    for path, number in (("/contracts/export/", "HT-1"), ("/contracts/export/payments/", "HT-1"),
                         ("/contracts/export/payment_plans/", "HT-1")):
        headers, rows = table_of(body_of(client.get(path, {"format": "csv", "status": "draft"})), tmp_path)
        assert column(headers, rows, "合同编号") == [number]
    assert client.get("/contracts/export/nothing/").status_code == 404
    assert AuditEvent.objects.filter(action="export", actor=rep).count() == 5


def test_web_export_needs_login(data) -> None:
    for path in ("/sales/list/export/", "/leads/export/", "/contracts/export/"):
        response = Client().get(path)
        assert response.status_code == 302 and "login" in response["Location"]


def test_the_lists_show_the_export_menu(data) -> None:
    client = Client()
    client.force_login(data[1])
    for path, form, action in (("/sales/list/", "opportunity-filters", "/sales/list/export/"),
                               ("/leads/", "filter-form", "/leads/export/"),
                               ("/contracts/", "contract-filters", "/contracts/export/")):
        html = client.get(path).content.decode()
        assert f'id="{form}"' in html
        assert f'form="{form}" formaction="{action}" name="format" value="xlsx"' in html
        assert "导出" in html


def run_cli(*args: Any) -> str:
    out = io.StringIO()
    call_command("export", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["opportunities", "products", "leads", "contracts", "payments", "payment_plans"])
def test_cli_writes_each_kind(data, tmp_path, kind) -> None:
    out = tmp_path / f"{kind}.xlsx"
    message = run_cli(kind, "--out", str(out))
    expected = {"opportunities": 2, "products": 1, "leads": 2, "contracts": 2, "payments": 2, "payment_plans": 1}
    assert message.startswith(f"exported {expected[kind]} {kind} to {out}")
    headers, rows = table_of(out.read_bytes(), tmp_path, ".xlsx")
    assert len(rows) == expected[kind]


def test_cli_user_filters_language_and_columns(data, tmp_path) -> None:
    rep = data[1]
    out = tmp_path / "mine.csv"
    assert run_cli("opportunities", "--out", str(out), "--user", rep.username).startswith("exported 1 ")
    out = tmp_path / "filtered.csv"
    run_cli("opportunities", "--out", str(out), "--filter", "q=丙", "--lang", "en", "--columns", "id,name")
    headers, rows = table_of(out.read_bytes(), tmp_path)
    assert headers == ["ID", "Opportunity name"] and column(headers, rows, "Opportunity name") == ["丙单"]
    event = AuditEvent.objects.filter(action="export").order_by("-id").first()
    assert event is not None and event.actor is None and event.actor_name == "kehu export"
    assert event.changes[2] == {"field": "filters", "old": None, "new": {"q": "丙"}}
    with pytest.raises(CommandError):
        run_cli("opportunities", "--out", str(tmp_path / "x.pdf"))


def test_cli_customers_still_work(data, tmp_path) -> None:
    out = tmp_path / "customers.csv"
    assert run_cli("customers", "--out", str(out)).startswith("exported 2 customers")
    headers, rows = table_of(out.read_bytes(), tmp_path)
    assert sorted(column(headers, rows, "名称")) == ["丙公司", "甲公司"]
