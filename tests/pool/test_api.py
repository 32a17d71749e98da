"""The /api/v1 pool endpoints with a real API token: list, masked customers, claim, release, assign,
auto-return and reminders, happy and error paths."""

from __future__ import annotations

import pytest

from kehu.customers.models import Customer
from kehu.pool import services
from tests.api_client import Api, error_of
from tests.factories import AdminFactory
from tests.pool.conftest import NOW, days, owned

pytestmark = pytest.mark.django_db


def test_pools_customers_and_claim(rep, rep2, pool):
    customer = owned(rep, phones=["13812345678"], phones_e164=["+8613812345678"], emails=["li@qq.com"])
    services.pool_release(acting_user=rep, customer_id=customer.pk, reason="无需求")
    api = Api(rep2)
    pools = api.get("/pools").json()
    assert [p["id"] for p in pools] == [pool.pk] and pools[0]["claims_left"] is None
    page = api.get(f"/pools/{pool.pk}/customers").json()
    assert page["total"] == 1 and page["items"][0]["phones"] == ["138****5678"]
    assert page["items"][0]["emails"] == ["l***@qq.com"]
    response = api.post(f"/pools/{pool.pk}/claim", {"customer_id": customer.pk})
    assert response.status_code == 200, response.content
    assert response.json() == {"customer_id": customer.pk, "owner_id": rep2.pk}
    assert api.post(f"/pools/{pool.pk}/claim", {"customer_id": customer.pk}).status_code == 404


def test_release_errors_and_limits(rep, rep2, pool):
    pool.daily_claim_limit = 1
    pool.save()
    first, second = owned(rep), owned(rep)
    api = Api(rep)
    response = api.post("/pool/release", {"customer_id": first.pk, "reason": ""})
    assert response.status_code == 422 and error_of(response)["errors"][0]["field"] == "reason"
    assert api.post("/pool/release", {"customer_id": first.pk, "reason": "联系不上"}).status_code == 200
    assert api.post("/pool/release", {"customer_id": second.pk, "reason": "联系不上"}).status_code == 200
    assert Customer.objects.filter(owner=rep).count() == 0
    other = Api(rep2)
    assert other.post(f"/pools/{pool.pk}/claim", {"customer_id": first.pk}).status_code == 200
    assert other.post(f"/pools/{pool.pk}/claim", {"customer_id": second.pk}).status_code == 422


def test_outsiders_and_assign(rep, rep2, outsider, manager, pool):
    customer = owned(rep)
    services.pool_release(acting_user=rep, customer_id=customer.pk, reason="无需求")
    assert Api(outsider).get("/pools").json() == []
    assert Api(outsider).get(f"/pools/{pool.pk}/customers").status_code == 404
    assert Api(outsider).post(f"/pools/{pool.pk}/claim", {"customer_id": customer.pk}).status_code == 404
    assert Api(rep2).post(f"/pools/{pool.pk}/assign", {"customer_id": customer.pk,
                                                       "user_id": rep2.pk}).status_code == 403
    response = Api(manager).post(f"/pools/{pool.pk}/assign", {"customer_id": customer.pk, "user_id": rep2.pk})
    assert response.status_code == 200 and response.json()["owner_id"] == rep2.pk


def test_auto_return_and_reminders(rep, pool):
    pool.return_no_followup_days = 30
    pool.remind_days_before = 5
    pool.save()
    owned(rep, created=NOW - days(400))  # long stale: returned by a scan now
    soon = owned(rep, activity=None)
    Customer.objects.filter(pk=soon.pk).update(last_activity_at=Customer.objects.get(pk=soon.pk).created_at
                                               - days(27))
    assert Api(rep).post("/pool/auto-return", {}).status_code == 403
    response = Api(AdminFactory()).post("/pool/auto-return", {})
    assert response.status_code == 200 and response.json() == {"pools": 1, "returned": 1, "reminded": 1}
    reminders = Api(rep).get("/pool/reminders").json()
    assert [r["customer_id"] for r in reminders] == [soon.pk]
