"""/api/v1/leads: CRUD, status, convert, duplicate check; errors in the shared JSON shape."""

from __future__ import annotations

import pytest

from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer
from kehu.leads import services
from kehu.leads.models import Lead
from kehu.sales.models import Opportunity
from tests.api_client import Api, error_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(sales_user):  # type: ignore[no-untyped-def]
    return Api(sales_user)


def test_create_returns_201_with_duplicate_warnings(api, sales_user) -> None:
    services.lead_create(acting_user=sales_user, data={"name": "张伟", "mobile": "13812345678"})
    response = api.post("/leads", {"name": "张三", "company": "分扬科技", "mobile": "+86 13812345678",
                                   "source": "官网", "campaign": "春季"})
    assert response.status_code == 201, response.content
    item = response.json()
    assert item["mobile_e164"] == "+8613812345678" and item["source"]["name"] == "官网"
    assert item["owner"]["id"] == sales_user.pk and item["status"] == "new"
    assert len(item["duplicates"]["leads"]) == 1
    assert Lead.objects.filter(pk=item["id"]).exists()


def test_create_validation_errors_are_422_with_every_field(api) -> None:
    response = api.post("/leads", {"name": "", "email": "nope"})
    assert response.status_code == 422
    error = error_of(response)
    assert {e["field"] for e in error["errors"]} == {"name", "email"}


def test_get_patch_delete_and_scope(api, sales_user) -> None:
    lead = services.lead_create(acting_user=sales_user, data={"name": "张伟"}).lead
    assert api.get(f"/leads/{lead.pk}").json()["name"] == "张伟"
    response = api.patch(f"/leads/{lead.pk}", {"title": "CTO", "expected_version": 1})
    assert response.status_code == 200 and response.json()["version"] == 2
    stale = api.patch(f"/leads/{lead.pk}", {"title": "CEO", "expected_version": 1})
    assert stale.status_code == 409 and error_of(stale)["code"] == "version_conflict"
    hidden = services.lead_create(acting_user=UserFactory(), data={"name": "别人的"}).lead
    assert api.get(f"/leads/{hidden.pk}").status_code == 404
    assert [i["id"] for i in api.get("/leads").json()["items"]] == [lead.pk]
    assert api.delete(f"/leads/{lead.pk}").status_code == 204
    assert not Lead.objects.filter(pk=lead.pk).exists()


def test_status_requires_reason_for_disqualified(api, sales_user) -> None:
    lead = services.lead_create(acting_user=sales_user, data={"name": "张伟"}).lead
    response = api.post(f"/leads/{lead.pk}/status", {"status": "disqualified"})
    assert response.status_code == 422 and error_of(response)["field"] == "disqualify_reason"
    response = api.post(f"/leads/{lead.pk}/status", {"status": "disqualified", "reason": "无预算"})
    assert response.status_code == 200 and response.json()["status"] == "disqualified"


def test_convert(api, sales_user) -> None:
    lead = services.lead_create(acting_user=sales_user, data={"name": "张伟", "company": "分扬科技",
                                                              "mobile": "13812345678"}).lead
    response = api.post(f"/leads/{lead.pk}/convert", {"opportunity_name": "首单", "amount": "2万"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["customer_created"] and body["lead"]["status"] == "converted"
    assert Customer.objects.filter(pk=body["customer_id"]).exists()
    assert Contact.objects.get(pk=body["contact_id"]).customer_id == body["customer_id"]
    assert Opportunity.objects.get(pk=body["opportunity_id"]).name == "首单"
    again = api.post(f"/leads/{lead.pk}/convert", {})
    assert again.status_code == 422


def test_convert_into_hidden_customer_is_404(api, sales_user) -> None:
    hidden = customer_services.customer_create(acting_user=UserFactory(), data={"name": "别人的客户有限公司"})
    lead = services.lead_create(acting_user=sales_user, data={"name": "张伟"}).lead
    response = api.post(f"/leads/{lead.pk}/convert", {"customer_id": hidden.pk})
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_duplicate_check(api, sales_user) -> None:
    customer = customer_services.customer_create(acting_user=sales_user, data={
        "name": "北京分扬科技有限公司", "phones": ["13812345678"]})
    response = api.post("/leads/duplicate-check", {"name": "张伟", "company": "分扬科技", "mobile": "13812345678"})
    assert response.status_code == 200
    assert customer.pk in [c["customer_id"] for c in response.json()["customers"]]


def test_unauthenticated_is_401() -> None:
    from django.test import Client

    assert Client().get("/api/v1/leads").status_code == 401
