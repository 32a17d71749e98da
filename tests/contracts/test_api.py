"""The /api/v1 contract endpoints with a real API token: CRUD, from-opportunity, the plan, payments,
receivables, overdue and expiring, with the web list's filters and the caller's scope."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kehu.contracts.models import Contract, Payment
from tests.api_client import Api, error_of
from tests.contracts.conftest import new_contract, won_deal
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(rep) -> Api:
    return Api(rep)


def test_create_read_patch_delete(api, rep, customer) -> None:
    response = api.post("/contracts", {"title": "年度合同", "customer": customer.pk, "amount": "1.28万",
                                       "starts_on": "2026-01-01", "ends_on": "2026-12-31"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["amount"] == "12800.00" and body["outstanding"] == "12800.00" and body["owner"]["id"] == rep.pk
    cid = body["id"]
    response = api.post("/contracts", {"title": "坏的", "customer": customer.pk, "amount": 0,
                                       "starts_on": "2026-02-01", "ends_on": "2026-01-01"})
    assert response.status_code == 422
    assert {e["field"] for e in error_of(response)["errors"]} == {"amount", "ends_on"}
    response = api.patch(f"/contracts/{cid}", {"title": "改名", "expected_version": 1})
    assert response.status_code == 200 and response.json()["version"] == 2
    assert api.patch(f"/contracts/{cid}", {"title": "又改", "expected_version": 1}).status_code == 409
    assert api.patch(f"/contracts/{cid}", {"status": "active"}).json()["status"] == "active"
    assert api.delete(f"/contracts/{cid}").status_code == 422  # not a draft any more
    draft = new_contract(rep, customer)
    assert api.delete(f"/contracts/{draft.pk}").status_code == 204
    assert api.get(f"/contracts/{cid}").json()["title"] == "改名"


def test_plan_payments_and_delete(api, rep, customer) -> None:
    contract = new_contract(rep, customer, amount="10000")
    response = api.put(f"/contracts/{contract.pk}/plan", {"items": [
        {"due_date": "2026-01-10", "amount": "6000"}, {"due_date": "2026-02-10", "amount": "5000"}]})
    assert response.status_code == 422 and error_of(response)["field"] == "items.1.amount"
    response = api.put(f"/contracts/{contract.pk}/plan", {"items": [
        {"due_date": "2026-01-10", "amount": "6000", "note": "首付"}, {"due_date": "2026-02-10", "amount": 4000}]})
    assert [i["sequence"] for i in response.json()] == [1, 2]
    response = api.post(f"/contracts/{contract.pk}/payments", {"received_on": "2026-01-09", "amount": "7000",
                                                              "method": "alipay"})
    assert response.status_code == 201
    payment = response.json()
    assert [(a["sequence"], a["amount"]) for a in payment["allocations"]] == [(1, "6000.00"), (2, "1000.00")]
    response = api.post(f"/contracts/{contract.pk}/payments", {"received_on": "2026-01-10", "amount": "3000.01"})
    assert response.status_code == 422 and error_of(response)["field"] == "amount"
    detail = api.get(f"/contracts/{contract.pk}").json()
    assert detail["received"] == "7000.00" and [p["paid"] for p in detail["plan"]] == ["6000.00", "1000.00"]
    assert api.delete(f"/contracts/{contract.pk}/payments/{payment['id']}").status_code == 204
    assert not Payment.objects.exists()
    assert [p["paid"] for p in api.get(f"/contracts/{contract.pk}").json()["plan"]] == ["0.00", "0.00"]


def test_from_opportunity(api, rep, customer) -> None:
    deal = won_deal(rep, customer, amount="5万")
    response = api.post("/contracts/from-opportunity", {"opportunity": deal.pk})
    assert response.status_code == 201 and response.json()["amount"] == "50000.00"
    assert response.json()["opportunity_id"] == deal.pk
    assert api.post("/contracts/from-opportunity", {"opportunity": deal.pk}).status_code == 422
    assert api.post("/contracts/from-opportunity", {"opportunity": 999999}).status_code == 404


def test_list_filters_totals_and_scope(api, rep, customer) -> None:
    active = new_contract(rep, customer, amount="10000", status="active", signed_on="2026-03-01")
    new_contract(rep, customer, amount="5000", signed_on="2026-05-01")
    other = UserFactory()
    from kehu.customers.services import customer_create

    new_contract(other, customer_create(acting_user=other, data={"name": "别人的客户"}), amount="1")
    body = api.get("/contracts").json()
    assert body["total"] == 2 and body["amount"] == "15000.00" and body["outstanding"] == "15000.00"
    assert [c["id"] for c in api.get("/contracts", {"status": "active"}).json()["items"]] == [active.pk]
    assert [c["id"] for c in api.get("/contracts", {"signed_to": "2026-04-01"}).json()["items"]] == [active.pk]
    hidden = Contract.objects.get(owner=other)
    assert api.get(f"/contracts/{hidden.pk}").status_code == 404
    assert api.post(f"/contracts/{hidden.pk}/payments", {"received_on": "2026-01-01", "amount": 1}).status_code == 404


def test_receivables_overdue_expiring(api, rep, customer) -> None:
    today = timezone.localdate()
    contract = new_contract(rep, customer, amount="10000", status="active",
                            ends_on=(today + dt.timedelta(days=10)).isoformat())
    api.put(f"/contracts/{contract.pk}/plan", {"items": [
        {"due_date": (today - dt.timedelta(days=40)).isoformat(), "amount": "4000"}]})
    api.post(f"/contracts/{contract.pk}/payments", {"received_on": today.isoformat(), "amount": "1000"})
    assert [c["outstanding"] for c in api.get("/contracts/receivables").json()] == ["9000.00"]
    overdue = api.get("/contracts/overdue").json()
    assert [(o["contract_id"], o["outstanding"], o["overdue"]) for o in overdue] == [(contract.pk, "3000.00", True)]
    assert [c["id"] for c in api.get("/contracts/expiring").json()] == [contract.pk]
    assert api.get("/contracts/expiring", {"days": 5}).json() == []
    assert [c["id"] for c in api.get("/contracts", {"overdue": "true"}).json()["items"]] == [contract.pk]
    [mine] = api.get("/contracts/receivables/by-owner").json()
    assert (mine["owner_id"], mine["outstanding"], mine["overdue"]) == (rep.pk, "9000.00", "3000.00")
    assert Api(UserFactory()).get("/contracts/overdue").json() == []
