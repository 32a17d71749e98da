"""/api/v1/quality/contact-duplicates, /quality/contact-merge..., /quality/contact-merges/... and
/customers/{id}/contacts/duplicate-check: scoped like the web pages, merges and undoes that really
change the rows, the shared error shape for conflicts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer
from kehu.dataquality.models import ContactDuplicatePair, ContactMerge, DistinctContactPair, DuplicateStatus
from tests.api_client import BASE, Api, error_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(db):  # type: ignore[no-untyped-def]
    return UserFactory()


@pytest.fixture
def api(rep):  # type: ignore[no-untyped-def]
    return Api(rep)


@pytest.fixture
def company(rep):  # type: ignore[no-untyped-def]
    return customer_services.customer_create(acting_user=rep, data={"name": "北京分扬科技有限公司"})


def add(user: Any, customer: Customer, **data: Any) -> Contact:
    return customer_services.contact_create(acting_user=user, customer=customer, data=data)


@pytest.fixture
def twins(rep, company):  # type: ignore[no-untyped-def]
    """张伟 with his mobile, then again as 张先生 with the same mobile, an e-mail and a title."""
    first = add(rep, company, name="张伟", mobile="13812345678", phone="010-65529988", notes="老客户")
    second = add(rep, company, name="张先生", mobile="138 1234 5678", email="zw@fenyang.cn", title="采购经理")
    return Contact.objects.get(pk=first.pk), Contact.objects.get(pk=second.pk)


@pytest.fixture
def strangers():  # type: ignore[no-untyped-def]
    """Another rep's customer with its own pair of duplicate contacts."""
    other = UserFactory()
    customer = customer_services.customer_create(acting_user=other, data={"name": "别人的客户有限公司"})
    a = add(other, customer, name="李娜", mobile="13900001111")
    b = add(other, customer, name="李娜", mobile="13900001111")
    return customer, a, b


# Review queue ------------------------------------------------------------------------------------


def test_list_shows_the_callers_pairs_with_customer_contacts_and_reasons(api, rep, company, twins,
                                                                         strangers) -> None:
    first, second = twins
    response = api.get("/quality/contact-duplicates")
    assert response.status_code == 200, response.content
    body = response.json()
    assert len(body["items"]) == 1  # the other rep's customer's pair is not listed
    item = body["items"][0]
    assert item["verdict"] == "certain" and item["status"] == "open"
    assert item["customer"] == {"id": company.pk, "name": "北京分扬科技有限公司",
                                "owner": rep.display_name or rep.username, "department": rep.department.name}
    assert [c["id"] for c in item["contacts"]] == [first.pk, second.pk]
    # As stored: the contact service splits "张先生" into name 张 + salutation 先生 and normalises the mobile.
    assert item["contacts"][1] == {"id": second.pk, "name": second.name, "title": "采购经理",
                                   "mobile": second.mobile, "email": "zw@fenyang.cn", "is_primary": False}
    assert item["reasons"][0]["code"] == "phone.same_mobile" and "138****5678" in item["reasons"][0]["text"]
    assert body["counts"] == {"certain": 1, "review": 0}
    assert body["next_cursor"] is None
    assert "别人的客户" not in response.content.decode()

    # The other rep sees only theirs; filtering by someone else's customer shows nothing.
    other_customer, _a, _b = strangers
    assert api.get("/quality/contact-duplicates", {"customer_id": other_customer.pk}).json()["items"] == []
    assert api.get("/quality/contact-duplicates", {"customer_id": company.pk}).json()["items"][0]["id"] == item["id"]


def test_list_pages_with_a_cursor_and_rejects_bad_filters(api, rep, company, twins) -> None:
    other = customer_services.customer_create(acting_user=rep, data={"name": "上海另一家贸易有限公司"})
    add(rep, other, name="王芳", email="wf@other.cn")
    add(rep, other, name="王芳", email="wf@other.cn")
    first_page = api.get("/quality/contact-duplicates", {"limit": 1}).json()
    assert len(first_page["items"]) == 1 and first_page["next_cursor"]
    second_page = api.get("/quality/contact-duplicates", {"limit": 1, "cursor": first_page["next_cursor"]}).json()
    assert len(second_page["items"]) == 1 and second_page["next_cursor"] is None
    assert first_page["items"][0]["id"] != second_page["items"][0]["id"]

    for params, field in (({"verdict": "maybe"}, "verdict"), ({"status": "gone"}, "status"),
                          ({"cursor": "!!"}, "cursor")):
        response = api.get("/quality/contact-duplicates", params)
        assert response.status_code == 422, params
        assert error_of(response)["field"] == field


def test_dismiss_remembers_different_people(api, twins) -> None:
    pair = ContactDuplicatePair.objects.get()
    response = api.post(f"/quality/contact-duplicates/{pair.pk}/dismiss", {})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "dismissed"
    pair.refresh_from_db()
    assert pair.status == DuplicateStatus.DISMISSED
    assert DistinctContactPair.objects.filter(low_id=pair.low_id, high_id=pair.high_id).exists()
    assert api.get("/quality/contact-duplicates").json()["items"] == []
    dismissed = api.get("/quality/contact-duplicates", {"status": "dismissed"}).json()["items"]
    assert [i["id"] for i in dismissed] == [pair.pk]


def test_dismissing_another_reps_pair_is_404_and_changes_nothing(api, strangers) -> None:
    pair = ContactDuplicatePair.objects.get()
    response = api.post(f"/quality/contact-duplicates/{pair.pk}/dismiss", {})
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    pair.refresh_from_db()
    assert pair.status == DuplicateStatus.OPEN and not DistinctContactPair.objects.exists()


# Merge and undo ----------------------------------------------------------------------------------


def test_preview_merge_detail_and_undo_round_trip(api, company, twins) -> None:
    first, second = twins
    response = api.post("/quality/contact-merge/preview", {"ids": [second.pk, first.pk]})
    assert response.status_code == 200, response.content
    preview = response.json()
    assert preview["survivor_id"] == first.pk
    assert preview["customer"]["id"] == company.pk
    assert [c["id"] for c in preview["contacts"]] == [first.pk, second.pk]
    rows = {row["name"]: row for row in preview["fields"]}
    assert rows["email"]["default"] == second.pk and rows["email"]["differs"] is True
    assert [v["contact_id"] for v in rows["email"]["values"]] == [first.pk, second.pk]
    assert rows["email"]["values"][0]["empty"] is True
    assert preview["choices"]["title"] == second.pk
    assert "老客户" in preview["notes"]
    assert preview["versions"] == {str(first.pk): first.version, str(second.pk): second.version}
    assert preview["marked_distinct"] is False

    response = api.post("/quality/contact-merge", {
        "survivor_id": first.pk, "merged_ids": [second.pk], "field_choices": {"name": first.pk},
        "expected_versions": preview["versions"],
    })
    assert response.status_code == 201, response.content
    merge = response.json()
    assert merge["customer_id"] == company.pk and merge["survivor_id"] == first.pk
    assert merge["merged_ids"] == [second.pk] and merge["merged_names"] == {str(second.pk): second.name}
    assert merge["can_undo"] is True and merge["undone_at"] is None and merge["undo_until"]
    survivor = Contact.objects.get(pk=first.pk)
    assert not Contact.objects.filter(pk=second.pk).exists()
    assert (survivor.name, survivor.email, survivor.title) == ("张伟", "zw@fenyang.cn", "采购经理")
    assert ContactDuplicatePair.objects.get().status == DuplicateStatus.MERGED

    detail = api.get(f"/quality/contact-merges/{merge['id']}")
    assert detail.status_code == 200 and detail.json()["id"] == merge["id"]

    response = api.post(f"/quality/contact-merges/{merge['id']}/undo", {})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["survivor_id"] == first.pk and body["restored_ids"] == [second.pk]
    assert body["merge"]["undone_at"] is not None and body["merge"]["can_undo"] is False
    assert Contact.objects.get(pk=second.pk).name == second.name
    assert Contact.objects.get(pk=first.pk).email == ""
    assert ContactMerge.objects.get().undone_at is not None


def test_merge_with_a_stale_version_is_409_and_writes_nothing(api, rep, twins) -> None:
    first, second = twins
    customer_services.contact_update(acting_user=rep, contact=second, data={"title": "总监"})
    response = api.post("/quality/contact-merge", {"survivor_id": first.pk, "merged_ids": [second.pk],
                                                   "expected_versions": {str(second.pk): second.version}})
    assert response.status_code == 409, response.content
    assert error_of(response)["code"] == "version_conflict"
    assert Contact.objects.filter(pk=second.pk).exists() and not ContactMerge.objects.exists()


def test_merge_input_errors_are_422(api, rep, company, twins) -> None:
    first, second = twins
    response = api.post("/quality/contact-merge", {"survivor_id": first.pk, "merged_ids": [second.pk],
                                                   "field_choices": {"password": first.pk}})
    assert response.status_code == 422 and error_of(response)["field"] == "password"
    other = customer_services.customer_create(acting_user=rep, data={"name": "上海另一家贸易有限公司"})
    elsewhere = add(rep, other, name="张伟")
    response = api.post("/quality/contact-merge/preview", {"ids": [first.pk, elsewhere.pk]})
    assert response.status_code == 422 and error_of(response)["field"] == "ids"
    response = api.post("/quality/contact-merge", {"survivor_id": first.pk, "merged_ids": [second.pk],
                                                   "surprise": 1})
    assert response.status_code == 422 and error_of(response)["code"] == "unknown_field"
    assert not ContactMerge.objects.exists()


def test_undo_conflict_is_409_listing_each_conflict(api, rep, twins) -> None:
    first, second = twins
    merge_id = api.post("/quality/contact-merge", {"survivor_id": first.pk, "merged_ids": [second.pk]}).json()["id"]
    customer_services.contact_update(acting_user=rep, contact=Contact.objects.get(pk=first.pk),
                                     data={"title": "总经理"})
    response = api.post(f"/quality/contact-merges/{merge_id}/undo", {})
    assert response.status_code == 409, response.content
    error = error_of(response)
    assert error["code"] == "version_conflict"
    assert [(e["field"], e["code"]) for e in error["errors"]] == [("title", "version_conflict")]
    assert "职务" in error["message"]
    assert not Contact.objects.filter(pk=second.pk).exists()
    assert ContactMerge.objects.get().undone_at is None


def test_contacts_and_merges_outside_the_scope_are_404_and_untouched(api, rep, twins, strangers) -> None:
    first, _second = twins
    customer, a, b = strangers
    for path, body in (
        ("/quality/contact-merge/preview", {"ids": [a.pk, b.pk]}),
        ("/quality/contact-merge", {"survivor_id": a.pk, "merged_ids": [b.pk]}),
        ("/quality/contact-merge", {"survivor_id": first.pk, "merged_ids": [a.pk]}),
        (f"/customers/{customer.pk}/contacts/duplicate-check", {"name": "李娜", "mobile": "13900001111"}),
    ):
        response = api.post(path, body)
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "not_found"
        assert "李娜" not in response.content.decode()
    assert Contact.objects.filter(pk__in=[a.pk, b.pk]).count() == 2 and not ContactMerge.objects.exists()

    # A merge of the other rep's contacts is invisible and cannot be undone by us.
    owner = Customer.objects.get(pk=customer.pk).owner
    merge_id = Api(owner).post("/quality/contact-merge", {"survivor_id": a.pk, "merged_ids": [b.pk]}).json()["id"]
    assert api.get(f"/quality/contact-merges/{merge_id}").status_code == 404
    assert api.post(f"/quality/contact-merges/{merge_id}/undo", {}).status_code == 404
    assert ContactMerge.objects.get(pk=merge_id).undone_at is None


# Warning on entry --------------------------------------------------------------------------------


def test_duplicate_check_names_the_existing_contact(api, company, twins) -> None:
    first, second = twins
    path = f"/customers/{company.pk}/contacts/duplicate-check"
    response = api.post(path, {"name": "张总", "mobile": "+86 138 1234 5678", "phone": "", "email": "",
                               "birthday": None})
    assert response.status_code == 200, response.content
    warnings = response.json()
    assert {w["contact_id"] for w in warnings} == {first.pk, second.pk}
    assert all(w["verdict"] in ("certain", "review") and "138****5678" in w["reasons"] for w in warnings)
    assert warnings[0]["score"] >= warnings[-1]["score"]

    editing = api.post(path, {"name": "张先生", "mobile": "13812345678", "exclude_id": second.pk}).json()
    assert second.pk not in {w["contact_id"] for w in editing}
    assert api.post(path, {"name": "赵敏", "email": "zm@elsewhere.cn"}).json() == []
    assert api.post("/customers/999999/contacts/duplicate-check", {"name": "张伟"}).status_code == 404
    assert api.post(path, {"name": "张伟", "birthday": "not a date"}).status_code == 422


# Authentication and documentation ----------------------------------------------------------------


def test_token_and_api_key_auth_work_and_anonymous_is_401(rep, twins) -> None:
    from kehu.accounts.services import api_token_create

    _, secret = api_token_create(user=rep, name="script")
    by_key = Client(HTTP_X_API_KEY=secret, enforce_csrf_checks=True).get(f"{BASE}/quality/contact-duplicates")
    assert by_key.status_code == 200 and len(by_key.json()["items"]) == 1

    anonymous = Client()
    first, second = twins
    for method, path, body in (
        ("get", "/quality/contact-duplicates", None),
        ("post", f"/quality/contact-duplicates/{ContactDuplicatePair.objects.get().pk}/dismiss", {}),
        ("post", "/quality/contact-merge/preview", {"ids": [first.pk, second.pk]}),
        ("post", "/quality/contact-merge", {"survivor_id": first.pk, "merged_ids": [second.pk]}),
        ("get", "/quality/contact-merges/1", None),
        ("post", "/quality/contact-merges/1/undo", {}),
        ("post", f"/customers/{first.customer_id}/contacts/duplicate-check", {"name": "张伟"}),
    ):
        if method == "get":
            response = anonymous.get(BASE + path)
        else:
            response = anonymous.post(BASE + path, json.dumps(body), content_type="application/json")
        assert response.status_code == 401, path
        assert error_of(response)["code"] == "unauthenticated"
    assert Contact.objects.filter(pk__in=[first.pk, second.pk]).count() == 2


def test_the_endpoints_are_documented_in_openapi(client) -> None:
    paths = client.get(f"{BASE}/openapi.json").json()["paths"]
    expected = {
        ("/api/v1/quality/contact-duplicates", "get"),
        ("/api/v1/quality/contact-duplicates/{pair_id}/dismiss", "post"),
        ("/api/v1/quality/contact-merge/preview", "post"),
        ("/api/v1/quality/contact-merge", "post"),
        ("/api/v1/quality/contact-merges/{merge_id}", "get"),
        ("/api/v1/quality/contact-merges/{merge_id}/undo", "post"),
        ("/api/v1/customers/{customer_id}/contacts/duplicate-check", "post"),
    }
    for path, method in expected:
        operation = paths[path][method]
        assert operation.get("description"), path
    assert "409" in paths["/api/v1/quality/contact-merges/{merge_id}/undo"]["post"]["responses"]
    assert "201" in paths["/api/v1/quality/contact-merge"]["post"]["responses"]
