"""Sharing a customer, opportunity or lead: the detail pages' 共享 panel and /api/v1/<kind>/{id}/shares."""

from __future__ import annotations

import pytest

from kehu.accounts.models import RecordShare
from kehu.core.models import AuditEvent
from kehu.core.scoping import restrict
from kehu.customers.models import Customer
from kehu.leads import services as lead_services
from kehu.leads.models import Lead
from kehu.sales.models import Opportunity
from kehu.sales.services import opportunity_create
from tests.api_client import Api
from tests.factories import AdminFactory, CustomerFactory, DepartmentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():  # type: ignore[no-untyped-def]
    return UserFactory()


@pytest.fixture
def colleague():  # type: ignore[no-untyped-def]
    return UserFactory()


@pytest.fixture
def customer(owner):  # type: ignore[no-untyped-def]
    return CustomerFactory(owner=owner, name="分享科技有限公司")


def test_owner_shares_a_customer_from_the_detail_page(client, owner, colleague, customer):
    client.force_login(owner)
    page = client.get(f"/customers/{customer.pk}/")
    assert b'data-testid="share-panel"' in page.content
    response = client.post(f"/accounts/shares/customers/{customer.pk}/",
                           {"user_id": colleague.pk, "next": f"/customers/{customer.pk}/"})
    assert response.status_code == 302 and response["Location"] == f"/customers/{customer.pk}/"
    share = RecordShare.objects.get()
    assert (share.object_type, share.object_id, share.user_id, share.can_edit) == (
        "customers.customer", customer.pk, colleague.pk, False)
    event = AuditEvent.objects.get(action="permission", object_id=customer.pk)
    assert event.customer_id == customer.pk and event.changes[0]["old"] is None

    # The colleague now sees it in the list, the detail page and an export.
    client.force_login(colleague)
    assert client.get(f"/customers/{customer.pk}/").status_code == 200
    assert "分享科技有限公司".encode() in client.get("/customers/").content
    assert b'data-testid="share-panel"' not in client.get(f"/customers/{customer.pk}/").content
    export = client.get("/customers/export/?columns=all")
    assert "分享科技有限公司" in b"".join(export.streaming_content).decode("utf-8-sig")

    # Revoked: gone again.
    client.force_login(owner)
    client.post(f"/accounts/shares/customers/{customer.pk}/{share.pk}/revoke/")
    assert not RecordShare.objects.exists()
    assert not restrict(Customer.objects.filter(pk=customer.pk), colleague).exists()
    assert AuditEvent.objects.filter(action="permission", object_id=customer.pk).count() == 2


def test_someone_else_cannot_share_and_nothing_changes(client, colleague, customer):
    stranger = UserFactory()
    RecordShare.objects.create(object_type="customers.customer", object_id=customer.pk, user=stranger)
    client.force_login(stranger)  # sees the record through the share, but may not share it on
    assert b'data-testid="share-panel"' not in client.get(f"/customers/{customer.pk}/").content
    client.post(f"/accounts/shares/customers/{customer.pk}/", {"user_id": colleague.pk})
    assert RecordShare.objects.count() == 1
    client.force_login(colleague)  # cannot even see it
    assert client.post(f"/accounts/shares/customers/{customer.pk}/", {"user_id": colleague.pk}).status_code == 404
    assert RecordShare.objects.count() == 1
    assert not AuditEvent.objects.filter(action="permission").exists()


def test_department_share_with_edit_rights_over_the_api(owner, customer):
    sub = DepartmentFactory(name="下级")
    team = DepartmentFactory(name="团队")
    sub.parent = team
    sub.save()
    member = UserFactory(department=sub)
    api = Api(owner)
    response = api.post(f"/customers/{customer.pk}/shares", {"department_id": team.pk, "can_edit": True})
    assert response.status_code == 201, response.content
    assert response.json()["department_id"] == team.pk and response.json()["can_edit"] is True
    assert Api(member).get(f"/customers/{customer.pk}").status_code == 200
    assert len(api.get(f"/customers/{customer.pk}/shares").json()) == 1
    # Sharing again with the same department changes read/edit instead of adding a row.
    api.post(f"/customers/{customer.pk}/shares", {"department_id": team.pk, "can_edit": False})
    assert RecordShare.objects.get().can_edit is False
    share_id = RecordShare.objects.get().pk
    assert api.delete(f"/customers/{customer.pk}/shares/{share_id}").status_code == 204
    assert Api(member).get(f"/customers/{customer.pk}").status_code == 404


def test_api_share_validation_and_refusal(owner, colleague, customer):
    api = Api(owner)
    assert api.post(f"/customers/{customer.pk}/shares", {}).status_code == 422
    assert api.post(f"/customers/{customer.pk}/shares", {"user_id": owner.pk}).status_code == 422
    assert api.post(f"/widgets/{customer.pk}/shares", {"user_id": colleague.pk}).status_code == 404
    denied = Api(colleague).post(f"/customers/{customer.pk}/shares", {"user_id": colleague.pk})
    assert denied.status_code == 404
    assert not RecordShare.objects.exists()


def test_opportunity_and_lead_shares(owner, colleague, customer):
    deal = opportunity_create(acting_user=owner, data={"name": "共享商机", "customer": customer.pk})
    lead = lead_services.lead_create(acting_user=owner, data={"name": "王五", "company": "线索公司"}).lead
    api = Api(owner)
    assert api.post(f"/opportunities/{deal.pk}/shares", {"user_id": colleague.pk}).status_code == 201
    assert api.post(f"/leads/{lead.pk}/shares", {"user_id": colleague.pk}).status_code == 201
    assert restrict(Opportunity.objects.filter(pk=deal.pk), colleague).exists()
    assert restrict(Lead.objects.filter(pk=lead.pk), colleague).exists()
    # The opportunity is shared, not its customer.
    assert not restrict(Customer.objects.filter(pk=customer.pk), colleague).exists()


def test_admin_sees_the_panel_on_opportunity_and_lead_pages(client, owner, customer):
    deal = opportunity_create(acting_user=owner, data={"name": "共享商机", "customer": customer.pk})
    lead = lead_services.lead_create(acting_user=owner, data={"name": "王五", "company": "线索公司"}).lead
    client.force_login(AdminFactory())
    assert b'data-testid="share-panel"' in client.get(f"/sales/opportunities/{deal.pk}/").content
    assert b'data-testid="share-panel"' in client.get(f"/leads/{lead.pk}/").content


@pytest.mark.parametrize("sort", ["-updated_at", "created_at", "name"])
def test_the_list_merges_shared_customers_into_every_page_in_order(owner, colleague, sort):
    """A rep's list reads their own customers and the ones shared with them apart (each in index
    order) and merges them: walking the pages forward and back gives exactly what one restricted
    query gives, in the same order, each row once."""
    import datetime as dt

    from django.utils import timezone

    from kehu.customers.filters import CustomerFilter
    from kehu.customers.selectors import customer_list_page, normalise_sort

    start = timezone.now() - dt.timedelta(days=30)
    mine = [CustomerFactory(owner=colleague, name=f"客户{n:02d}") for n in range(7)]
    theirs = [CustomerFactory(owner=owner, name=f"客户{n:02d}乙") for n in range(5)]
    for n, customer in enumerate([*mine, *theirs]):
        # Interleave the two sources, with ties on the timestamp broken by id.
        Customer.objects.filter(pk=customer.pk).update(updated_at=start + dt.timedelta(hours=(n * 7) % 5))
    for customer in theirs[:3]:
        RecordShare.objects.create(object_type="customers.customer", object_id=customer.pk, user=colleague)
    field = normalise_sort(sort).lstrip("-")
    expected = list(restrict(Customer.objects.all(), colleague)
                    .order_by(*(([f"-{field}", "-id"]) if sort.startswith("-") else [field, "id"]))
                    .values_list("pk", flat=True))
    assert len(expected) == 10

    seen, cursor, pages = [], None, []
    while True:
        page = customer_list_page(user=colleague, filters=CustomerFilter(), sort=sort, cursor=cursor, limit=3)
        pages.append(page)
        seen += [row.pk for row in page.rows]
        assert page.total == 10
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == expected
    back = customer_list_page(user=colleague, filters=CustomerFilter(), sort=sort, cursor=pages[-1].prev_cursor,
                              limit=3)
    assert [row.pk for row in back.rows] == [row.pk for row in pages[-2].rows]
