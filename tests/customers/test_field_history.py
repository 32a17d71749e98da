"""Per-record field history (customers.history): every field, every change, masked as the role says,
on the timeline, in a per-field HTMX panel and at GET /api/v1/customers/{id}/history."""

from __future__ import annotations

import pytest

from kehu.core.errors import NotFound
from kehu.core.models import AuditEvent
from kehu.customers import history, services
from kehu.customers.models import CustomFieldDefinition
from tests.api_client import Api
from tests.factories import AdminFactory, UserFactory, role

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep():  # type: ignore[no-untyped-def]
    return UserFactory()


@pytest.fixture
def customer(rep):  # type: ignore[no-untyped-def]
    CustomFieldDefinition.objects.create(target="customer", key="size", label_zh="规模", field_type="text")
    created = services.customer_create(acting_user=rep, data={"name": "星河科技有限公司", "owner": rep.pk,
                                                              "notes": "初次拜访", "custom": {"size": "50人"}})
    services.customer_update(acting_user=rep, customer=created,
                             data={"notes": "第二次拜访", "website": "a.example.com"})
    services.customer_update(acting_user=rep, customer=created, data={"notes": "签约前", "custom": {"size": "80人"}})
    return created


def test_every_change_of_every_field_newest_first(rep, customer) -> None:  # type: ignore[no-untyped-def]
    rows = history.customer_field_changes(user=rep, customer_id=customer.pk, field="notes")
    assert [(r.old, r.new) for r in rows] == [("第二次拜访", "签约前"), ("初次拜访", "第二次拜访"), (None, "初次拜访")]
    assert {r.actor for r in rows} == {rep.display_name}
    assert rows[0].label == "备注" and not rows[0].masked

    custom = history.customer_field_changes(user=rep, customer_id=customer.pk, field="custom.size")
    assert [(r.old, r.new, r.label) for r in custom] == [("50人", "80人", "规模"), (None, "50人", "规模")]

    every = history.customer_field_changes(user=rep, customer_id=customer.pk)
    assert {"name", "notes", "website", "custom.size"} <= {r.field for r in every}
    assert not any(r.field.startswith("_") for r in every)


def test_contacts_of_the_customer_are_in_the_history(rep, customer) -> None:  # type: ignore[no-untyped-def]
    contact = services.contact_create(acting_user=rep, customer=customer, data={"name": "王芳", "title": "采购"})
    services.contact_update(acting_user=rep, contact=contact, data={"title": "采购总监"})
    rows = history.customer_field_changes(user=rep, customer_id=customer.pk, field="contact.title")
    assert [(r.old, r.new, r.object_repr, r.object_type) for r in rows][0] == ("采购", "采购总监", "王芳", "contact")
    assert len(rows) == 2


def test_no_field_limit_and_pagination(rep, customer) -> None:  # type: ignore[no-untyped-def]
    for i in range(7):
        services.customer_update(acting_user=rep, customer=customer, data={"address": f"长安街{i}号"})
    first = history.customer_field_history(user=rep, customer_id=customer.pk, field="address", page=1, per_page=3)
    assert (first.total, first.pages, first.page, first.has_next) == (7, 3, 1, True)
    assert [c.new for c in first.changes] == ["长安街6号", "长安街5号", "长安街4号"]
    last = history.customer_field_history(user=rep, customer_id=customer.pk, field="address", page=3, per_page=3)
    assert [c.new for c in last.changes] == ["长安街0号"] and not last.has_next


def test_users_outside_the_scope_see_nothing(customer) -> None:  # type: ignore[no-untyped-def]
    stranger = UserFactory()
    with pytest.raises(NotFound):
        history.customer_field_changes(user=stranger, customer_id=customer.pk)
    assert Api(stranger).get(f"/customers/{customer.pk}/history").status_code == 404


def test_masked_fields_show_masked_values_and_hidden_fields_are_left_out(rep, customer) -> None:  # type: ignore[no-untyped-def]
    sales = role("sales")
    sales.field_access = {"customer.notes": "masked", "customer.website": "hidden", "customer.custom.size": "masked"}
    sales.save()
    rep.refresh_from_db()
    notes = history.customer_field_changes(user=rep, customer_id=customer.pk, field="notes")
    assert len(notes) == 3 and all(r.masked for r in notes)
    assert "签约前" not in str([(r.old, r.new) for r in notes])
    assert history.customer_field_changes(user=rep, customer_id=customer.pk, field="website") == []
    size = history.customer_field_changes(user=rep, customer_id=customer.pk, field="custom.size")
    assert all(r.masked for r in size) and "80人" not in str([(r.old, r.new) for r in size])

    # The same rules on the timeline (HTML and API) and the history API.
    api = Api(rep)
    timeline = api.get(f"/customers/{customer.pk}/timeline").json()
    text = str([e["changes"] for e in timeline])
    assert "签约前" not in text and "a.example.com" not in text and "80人" not in text
    body = api.get(f"/customers/{customer.pk}/history", {"field": "notes"}).json()
    assert body["total"] == 3 and all(i["masked"] for i in body["items"])
    client = api.client
    client.force_login(rep)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    timeline_html = page.split('id="timeline"')[1].split("</section>")[0]  # the record's own fields: masking's job
    assert "签约前" not in timeline_html and "a.example.com" not in timeline_html and "80人" not in timeline_html
    assert "***" in timeline_html

    # An admin reads everything in full; the audit rows themselves are unchanged.
    admin = AdminFactory()
    full = history.customer_field_changes(user=admin, customer_id=customer.pk, field="notes")
    assert full[0].new == "签约前" and not full[0].masked
    assert AuditEvent.objects.filter(customer_id=customer.pk).count() == 3


def test_api_history(rep, customer) -> None:  # type: ignore[no-untyped-def]
    response = Api(rep).get(f"/customers/{customer.pk}/history", {"field": "notes", "per_page": 2})
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["pages"], body["field"]) == (3, 2, "notes")
    assert body["items"][0] | {"at": None} == {
        "at": None, "actor": rep.display_name, "action": "update", "object_type": "customer",
        "object_id": customer.pk, "object_repr": "星河科技有限公司", "field": "notes", "label": "备注",
        "old": "第二次拜访", "new": "签约前", "masked": False,
    }
    assert Api(rep).get(f"/customers/{customer.pk}/history").json()["total"] >= 6


def test_timeline_links_each_field_to_its_history_panel(client, rep, customer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(rep)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert f'hx-get="/customers/{customer.pk}/history/?field=notes"' in page
    assert f'hx-get="/customers/{customer.pk}/history/?field=custom.size"' in page

    panel = client.get(f"/customers/{customer.pk}/history/", {"field": "notes"}, HTTP_HX_REQUEST="true")
    html = panel.content.decode()
    assert panel.status_code == 200 and "<html" not in html
    assert html.count('data-field="notes"') == 3 and "签约前" in html
    full = client.get(f"/customers/{customer.pk}/history/", {"field": "notes"})
    assert full.status_code == 200 and "<html" in full.content.decode()

    client.force_login(UserFactory())
    assert client.get(f"/customers/{customer.pk}/history/").status_code == 404


def test_lead_timeline_masks_fields_the_role_may_not_read(client, rep) -> None:  # type: ignore[no-untyped-def]
    from kehu.leads import selectors as lead_selectors
    from kehu.leads.services import lead_create, lead_update

    lead = lead_create(acting_user=rep, data={"name": "钱七", "mobile": "13700001111"}).lead
    lead_update(acting_user=rep, lead_id=lead.pk, data={"mobile": "13900002222", "notes": "回电"})
    sales = role("sales")
    sales.field_access = {"lead.mobile": "masked", "lead.notes": "hidden"}
    sales.save()
    rep.refresh_from_db()
    events = lead_selectors.lead_history(lead=lead, user=rep)
    text = str([e.changes for e in events])
    assert "13900002222" not in text and "13700001111" not in text and "回电" not in text
    assert "139****2222" in text or "***" in text
    assert AuditEvent.objects.get(object_type="lead", object_id=lead.pk, action="update").changes[0]["new"] \
        in ("13900002222", "回电")  # the stored rows are untouched
    client.force_login(rep)
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    timeline = page.split('<div class="timeline">')[1].split("</section>")[0]  # the facts: masking's own job
    assert "13900002222" not in timeline and "13700001111" not in timeline and "回电" not in timeline
