"""The admin page "审计日志" and GET /api/v1/audit: admins only, the shared filters, keyset pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kehu.core import audit
from kehu.core.models import AuditEvent
from tests.api_client import Api, error_of
from tests.factories import AdminFactory, CustomerFactory, ManagerFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/audit/"


def _change(customer, actor, old: str, new: str, *, field: str = "name") -> AuditEvent:  # type: ignore[no-untyped-def]
    return audit.record_event(actor=actor, action="update", obj=customer, customer_id=customer.pk,
                              changes=[{"field": field, "old": old, "new": new}])


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin():  # type: ignore[no-untyped-def]
    return AdminFactory(display_name="管理员甲")


def test_page_is_for_admins_only(admin):
    assert reverse("audit:list") == URL
    for user in (UserFactory(), ManagerFactory()):
        assert _client(user).get(URL).status_code == 403
    assert Client().get(URL).status_code == 302  # to the login page
    response = _client(admin).get(URL)
    assert response.status_code == 200
    assert 'data-testid="settings-audit"' in response.content.decode()


def test_page_shows_each_change_old_to_new(admin):
    customer = CustomerFactory(name="甲公司")
    _change(customer, admin, "旧名称", "新名称<script>")
    body = _client(admin).get(URL, {"action": "update"}).content.decode()
    assert "旧名称 → 新名称&lt;script&gt;" in body
    assert f'href="/customers/{customer.pk}/"' in body and "管理员甲" in body


def test_page_filters(admin):
    rep = UserFactory(display_name="销售乙")
    first, second = CustomerFactory(), CustomerFactory()
    _change(first, rep, "张三", "李四", field="contact_name")
    _change(second, admin, "a", "b")
    client = _client(admin)

    def seen(**params):  # type: ignore[no-untyped-def]
        response = client.get(URL, params)
        assert response.status_code == 200
        return response.context["rows"]

    assert [r["event"].customer_id for r in seen(customer=first.pk)] == [first.pk]
    assert [r["event"].actor_id for r in seen(actor="销售乙")] == [rep.pk]
    assert [r["event"].actor_id for r in seen(actor=str(rep.pk))] == [rep.pk]
    assert [r["event"].customer_id for r in seen(q="李四")] == [first.pk]  # non-ASCII text inside the JSON
    assert [r["event"].customer_id for r in seen(q="contact_name")] == [first.pk]
    assert seen(object_type="customer", object_id=second.pk)[0]["event"].customer_id == second.pk
    assert seen(action="delete") == []
    today = timezone.localdate()
    assert len(seen(date_from=today.isoformat(), date_to=today.isoformat(), object_type="customer")) == 2
    assert seen(date_to=(today - dt.timedelta(days=1)).isoformat()) == []
    bad = client.get(URL, {"object_id": "x", "date_from": "yesterday"})
    assert bad.status_code == 422 and set(bad.context["errors"]) == {"object_id", "date_from"}


def test_keyset_pages_newest_first(admin):
    from kehu.core.bulk import fast_insert

    customer = CustomerFactory()
    start = timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)
    # 55 rows, five to a timestamp (a bulk insert stamps a chunk with one time): ties break by id
    fast_insert(AuditEvent, [
        {"at": start + dt.timedelta(seconds=i // 5), "actor_id": admin.pk, "actor_name": "管理员甲", "ip": None,
         "action": "update", "object_type": "customer", "object_id": customer.pk, "object_repr": "x",
         "customer_id": customer.pk, "changes": [{"field": "name", "old": str(i), "new": str(i + 1)}]}
        for i in range(55)])
    client = _client(admin)
    first = client.get(URL, {"customer": customer.pk})
    rows = [r["event"] for r in first.context["rows"]]
    assert len(rows) == 50 and rows[0].changes[0]["old"] == "54"
    assert all((a.at, a.pk) > (b.at, b.pk) for a, b in zip(rows, rows[1:], strict=False))
    assert f"customer={customer.pk}" in first.context["next_url"]
    second = client.get(URL + first.context["next_url"])
    more = [r["event"] for r in second.context["rows"]]
    assert [e.changes[0]["old"] for e in more] == ["4", "3", "2", "1", "0"]
    assert second.context["next_url"] is None
    # rows written after the first page don't shift the second one
    _change(customer, admin, "new", "newer")
    assert [r["event"].pk for r in client.get(URL + first.context["next_url"]).context["rows"]] == [
        e.pk for e in more]


def test_page_htmx_returns_the_results_only(admin):
    _change(CustomerFactory(), admin, "a", "b")
    body = _client(admin).get(URL, HTTP_HX_REQUEST="true").content.decode()
    assert body.startswith('<div id="audit-results"') and "<html" not in body


# API -------------------------------------------------------------------------------------------


def test_api_is_for_admins_only(admin):
    _change(CustomerFactory(), admin, "a", "b")
    for user in (UserFactory(), ManagerFactory()):
        response = Api(user).get("/audit")
        assert response.status_code == 403 and error_of(response)["code"] == "permission_denied"
    assert Client().get("/api/v1/audit").status_code == 401
    response = Api(admin).get("/audit")
    assert response.status_code == 200


def test_api_filters_and_pages(admin):
    rep = UserFactory()
    customer = CustomerFactory()
    events = [_change(customer, rep, f"旧{i}", f"新{i}") for i in range(3)]
    _change(CustomerFactory(), admin, "x", "y")
    api = Api(admin)
    page = api.get("/audit", {"customer": customer.pk, "limit": 2}).json()
    assert [item["id"] for item in page["items"]] == [events[2].pk, events[1].pk]
    item = page["items"][0]
    assert item["changes"] == [{"field": "name", "old": "旧2", "new": "新2"}]
    assert (item["action"], item["actor_id"], item["object_type"], item["customer_id"]) == (
        "update", rep.pk, "customer", customer.pk)
    assert item["at"].endswith("Z") or item["at"].endswith("+00:00")
    rest = api.get("/audit", {"customer": customer.pk, "limit": 2, "cursor": page["next_cursor"]}).json()
    assert [i["id"] for i in rest["items"]] == [events[0].pk] and rest["next_cursor"] is None
    assert [i["id"] for i in api.get("/audit", {"q": "新1"}).json()["items"]] == [events[1].pk]
    assert {i["actor_id"] for i in api.get("/audit", {"actor": str(rep.pk)}).json()["items"]} == {rep.pk}
    bad = api.get("/audit", {"action": "explode"})
    assert bad.status_code == 422 and error_of(bad)["field"] == "action"
    assert api.get("/audit", {"cursor": "nonsense"}).status_code == 422


def test_api_lists_login_events_and_sealed_positions(admin):
    from kehu.core import audit_chain

    Api(admin)  # token only; a failed login attempt:
    Client().post(reverse("accounts:login"), {"username": "ghost", "password": "nope-nope"})
    audit_chain.seal()
    items = Api(admin).get("/audit", {"action": "login_failed"}).json()["items"]
    assert len(items) == 1 and items[0]["object_repr"] == "ghost" and items[0]["seq"] >= 1
    assert len(items[0]["entry_hash"]) == 64
