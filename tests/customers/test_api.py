"""The /api/v1/ customer archive API: CRUD, filters, search, pagination, scoping, errors."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kehu.core.models import AuditEvent
from kehu.customers import services
from kehu.customers.models import Contact, Customer, CustomFieldDefinition, Note, PicklistOption, Tag
from tests.api_client import BASE, Api, error_of
from tests.factories import (
    AdminFactory,
    ContactFactory,
    CustomerFactory,
    DepartmentFactory,
    ManagerFactory,
    TagFactory,
    UserFactory,
    option,
)

pytestmark = pytest.mark.django_db

@pytest.fixture
def sales_api(sales_user):  # type: ignore[no-untyped-def]
    return Api(sales_user)


@pytest.fixture
def admin_api(admin_user):  # type: ignore[no-untyped-def]
    return Api(admin_user)


# Customers: CRUD -------------------------------------------------------------------------------


def test_customer_create_returns_201_with_the_full_item(sales_api, sales_user):
    stage = option("stage", "lead")
    response = sales_api.post(
        "/customers",
        {
            "name": "北京分扬科技有限公司",
            "short_name": "分扬",
            "stage": stage.pk,
            "industry": "it",
            "tags": ["重点", "华北"],
            "phones": ["010-88886666"],
            "emails": ["info@fenyang.cn"],
            "city": "北京市",
            "credit_code": "91110108MA01ABCD3L",
        },
    )
    assert response.status_code == 201, response.content
    item = response.json()
    customer = Customer.objects.get(pk=item["id"])
    assert customer.name == "北京分扬科技有限公司"
    assert customer.owner == sales_user
    assert item["stage"] == {"id": stage.pk, "code": "lead", "label": "线索"}
    assert item["industry"]["code"] == "it"
    assert item["level"] is None
    assert item["owner"] == {
        "id": sales_user.pk,
        "username": sales_user.username,
        "display_name": sales_user.display_name,
    }
    assert item["department"] == {"id": sales_user.department.pk, "name": sales_user.department.name}
    assert item["tags"] == ["华北", "重点"]
    assert item["phones"] == ["010-88886666"]
    assert item["emails"] == ["info@fenyang.cn"]
    assert item["custom"] == {}
    assert item["version"] == 1
    expected_keys = {
        "id", "external_id", "kind", "name", "short_name", "industry", "level", "stage", "source", "owner",
        "department", "tags", "phones", "emails", "website", "province", "city", "district", "address", "birthday",
        "credit_code",
        "salutation", "gender", "id_number", "phones_e164", "name_core", "quality_score", "last_activity_at",
        "reviewed_at", "notes", "custom", "created_at", "updated_at", "version",
    }  # fmt: skip
    assert set(item) == expected_keys
    assert item["phones_e164"] == ["+861088886666"]
    assert item["name_core"] == "分扬科技"
    assert 0 <= item["quality_score"] <= 100
    assert AuditEvent.objects.filter(object_type="customer", object_id=customer.pk, action="create").count() == 1


def test_customer_detail_patch_and_delete(sales_api, sales_user):
    customer = services.customer_create(acting_user=sales_user, data={"name": "上海某某贸易有限公司"})

    detail = sales_api.get(f"/customers/{customer.pk}")
    assert detail.status_code == 200
    assert detail.json()["name"] == "上海某某贸易有限公司"

    patched = sales_api.patch(f"/customers/{customer.pk}", {"version": 1, "city": "上海市", "tags": ["新客户"]})
    assert patched.status_code == 200, patched.content
    assert patched.json()["city"] == "上海市"
    assert patched.json()["tags"] == ["新客户"]
    assert patched.json()["version"] == 2
    customer.refresh_from_db()
    assert (customer.city, customer.name, customer.version) == ("上海市", "上海某某贸易有限公司", 2)

    deleted = sales_api.delete(f"/customers/{customer.pk}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert not Customer.objects.filter(pk=customer.pk).exists()
    assert sales_api.get(f"/customers/{customer.pk}").status_code == 404


def test_patch_with_a_stale_version_is_409_and_changes_nothing(sales_api, sales_user):
    customer = services.customer_create(acting_user=sales_user, data={"name": "深圳某某电子有限公司"})
    services.customer_update(acting_user=sales_user, customer=customer, data={"city": "深圳市"})

    response = sales_api.patch(f"/customers/{customer.pk}", {"version": 1, "city": "广州市"})

    assert response.status_code == 409
    assert error_of(response)["code"] == "version_conflict"
    customer.refresh_from_db()
    assert (customer.city, customer.version) == ("深圳市", 2)


def test_patch_without_version_is_a_422_on_the_version_field(sales_api, sales_user):
    customer = services.customer_create(acting_user=sales_user, data={"name": "杭州某某网络有限公司"})
    response = sales_api.patch(f"/customers/{customer.pk}", {"city": "杭州市"})
    assert response.status_code == 422
    assert error_of(response)["field"] == "version"
    assert error_of(response)["code"] == "required"


# Errors ----------------------------------------------------------------------------------------


def test_service_validation_errors_name_each_field_and_code(sales_api):
    response = sales_api.post(
        "/customers", {"name": " ", "emails": ["not-an-email"], "stage": "no-such-stage", "credit_code": "123"}
    )
    assert response.status_code == 422
    error = error_of(response)
    by_field = {e["field"]: e["code"] for e in error["errors"]}
    # An invalid e-mail is kept and flagged (a warning rule by default); a bad credit code blocks.
    assert by_field == {"name": "required", "stage": "unknown_choice", "credit_code": "invalid"}
    assert error["field"] in by_field
    assert all(e["message"] for e in error["errors"])
    assert "名称为必填项".encode() in response.content  # UTF-8, not \\u escapes
    assert Customer.objects.count() == 0


def test_request_schema_errors_use_the_same_shape(sales_api):
    missing = sales_api.post("/customers", {"city": "北京"})
    assert missing.status_code == 422
    assert error_of(missing)["field"] == "name"
    assert error_of(missing)["code"] == "required"

    unknown = sales_api.post("/customers", {"name": "某公司", "colour": "red"})
    assert unknown.status_code == 422
    assert error_of(unknown)["field"] == "colour"
    assert error_of(unknown)["code"] == "unknown_field"

    wrong_type = sales_api.post("/customers", {"name": "某公司", "phones": "not-a-list"})
    assert error_of(wrong_type)["field"] == "phones"
    assert error_of(wrong_type)["code"] == "invalid"

    too_many = sales_api.get("/customers", {"limit": 201})
    assert too_many.status_code == 422
    assert error_of(too_many)["field"] == "limit"
    assert Customer.objects.count() == 0


def test_a_bad_cursor_is_a_422_not_a_silent_restart(sales_api, sales_user):
    CustomerFactory(owner=sales_user)
    CustomerFactory(owner=sales_user)
    garbage = sales_api.get("/customers", {"cursor": "not-a-cursor"})
    assert (garbage.status_code, error_of(garbage)["field"]) == (422, "cursor")
    name_cursor = sales_api.get("/customers", {"sort": "name", "limit": 1}).json()["next_cursor"]
    assert sales_api.get("/customers", {"sort": "name", "cursor": name_cursor}).status_code == 200
    other_sort = sales_api.get("/customers", {"sort": "-updated_at", "cursor": name_cursor})
    assert (other_sort.status_code, error_of(other_sort)["field"]) == (422, "cursor")


def test_unknown_ids_are_404_json(sales_api):
    for path in ("/customers/999999", "/contacts/999999", "/tags/999999", "/picklists/999999", "/custom-fields/1"):
        response = sales_api.get(path)
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "not_found"


# Custom fields through the API -----------------------------------------------------------------


def test_custom_field_values_are_validated_on_create_and_patch(sales_api, admin_api):
    created = admin_api.post(
        "/custom-fields",
        {
            "target": "customer",
            "key": "budget",
            "label_zh": "预算",
            "field_type": "money",
        },
    )
    assert created.status_code == 201, created.content
    choice = admin_api.post(
        "/custom-fields",
        {
            "target": "customer",
            "key": "scale",
            "label_zh": "规模",
            "field_type": "choice",
            "choices": [{"value": "small", "label_zh": "小"}, {"value": "large", "label_zh": "大"}],
        },
    )
    assert choice.status_code == 201

    bad = sales_api.post("/customers", {"name": "某科技公司", "custom": {"budget": "abc", "scale": "huge", "x": 1}})
    assert bad.status_code == 422
    by_field = {e["field"]: e["code"] for e in error_of(bad)["errors"]}
    assert by_field == {"custom.budget": "invalid", "custom.scale": "unknown_choice", "custom.x": "invalid"}
    assert Customer.objects.count() == 0

    good = sales_api.post("/customers", {"name": "某科技公司", "custom": {"budget": "1,200.5", "scale": "large"}})
    assert good.status_code == 201, good.content
    assert good.json()["custom"] == {"budget": "1200.50", "scale": "large"}

    customer_id = good.json()["id"]
    rejected = sales_api.patch(f"/customers/{customer_id}", {"version": 1, "custom": {"scale": "medium"}})
    assert rejected.status_code == 422
    assert error_of(rejected)["field"] == "custom.scale"
    assert Customer.objects.get(pk=customer_id).custom == {"budget": "1200.50", "scale": "large"}


# List, filters, pagination ---------------------------------------------------------------------


def test_list_contract_and_filters_match_the_web_list(sales_api, sales_user):
    lead, won = option("stage", "lead"), option("stage", "customer")
    vip = TagFactory(name="VIP")
    a = CustomerFactory(owner=sales_user, stage=lead, city="北京市")
    b = CustomerFactory(owner=sales_user, stage=won, city="上海市")
    c = CustomerFactory(owner=sales_user, stage=lead, city="上海市")
    c.tags.add(vip)
    CustomerFactory(stage=lead)  # another rep's customer: never listed

    everything = sales_api.get("/customers")
    assert everything.status_code == 200
    body = everything.json()
    assert set(body) == {"items", "next_cursor", "prev_cursor", "total", "total_capped"}
    assert {i["id"] for i in body["items"]} == {a.pk, b.pk, c.pk}
    assert (body["total"], body["total_capped"], body["next_cursor"], body["prev_cursor"]) == (3, False, None, None)

    by_stage = sales_api.get("/customers", {"stage": lead.pk, "limit": 50, "sort": "-updated_at"}).json()
    assert {i["id"] for i in by_stage["items"]} == {a.pk, c.pk}
    assert by_stage["total"] == 2

    assert [i["id"] for i in sales_api.get("/customers", {"stage": lead.pk, "city": "上海市"}).json()["items"]] == [
        c.pk
    ]
    assert [i["id"] for i in sales_api.get("/customers", {"tags": "VIP"}).json()["items"]] == [c.pk]
    assert {i["id"] for i in sales_api.get("/customers", {"owner": "me"}).json()["items"]} == {a.pk, b.pk, c.pk}


def test_list_search_param_uses_the_search_index(sales_api, sales_user):
    hit = CustomerFactory(owner=sales_user, name="北京分扬科技有限公司")
    CustomerFactory(owner=sales_user, name="上海某某贸易有限公司")
    items = sales_api.get("/customers", {"q": "分扬"}).json()["items"]
    assert [i["id"] for i in items] == [hit.pk]


def test_list_filters_on_custom_field_values(sales_api, sales_user, admin_user):
    services.custom_field_save(
        acting_user=admin_user, target="customer", key="region", label_zh="区域", field_type="text"
    )
    north = services.customer_create(acting_user=sales_user, data={"name": "甲公司", "custom": {"region": "华北"}})
    services.customer_create(acting_user=sales_user, data={"name": "乙公司", "custom": {"region": "华南"}})
    items = sales_api.get("/customers", {"cf_region": "华北"}).json()["items"]
    assert [i["id"] for i in items] == [north.pk]


@pytest.mark.parametrize("sort", ["-updated_at", "updated_at", "name", "-created_at"])
def test_cursor_pagination_walks_every_row_once_both_ways(sales_api, sales_user, sort):
    start = timezone.now()
    created = []
    for i in range(23):
        customer = CustomerFactory(owner=sales_user, name=f"客户{i % 5}")
        # Some rows share a timestamp/name, so the id tiebreaker is exercised.
        Customer.objects.filter(pk=customer.pk).update(
            updated_at=start - dt.timedelta(minutes=i // 3), created_at=start - dt.timedelta(minutes=i // 4)
        )
        created.append(customer.pk)

    seen: list[int] = []
    pages: list[dict] = []
    cursor = None
    while True:
        params = {"limit": 5, "sort": sort, **({"cursor": cursor} if cursor else {})}
        page = sales_api.get("/customers", params).json()
        pages.append(page)
        seen.extend(i["id"] for i in page["items"])
        assert page["total"] == 23
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(pages) == 5
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == set(created)
    assert pages[0]["prev_cursor"] is None

    # Walk back from the last page with prev_cursor: the same pages in reverse.
    back: list[list[int]] = [[i["id"] for i in pages[-1]["items"]]]
    cursor = pages[-1]["prev_cursor"]
    while cursor:
        page = sales_api.get("/customers", {"limit": 5, "sort": sort, "cursor": cursor}).json()
        back.append([i["id"] for i in page["items"]])
        cursor = page["prev_cursor"]
    assert back[::-1] == [[i["id"] for i in p["items"]] for p in pages]


def test_list_page_query_count_does_not_grow_with_rows(sales_api, sales_user, django_assert_max_num_queries):
    tags = [TagFactory(name=f"标签{i}") for i in range(3)]
    stage, level = option("stage", "lead"), option("level", "a")

    def make(n: int) -> None:
        for _ in range(n):
            customer = CustomerFactory(owner=sales_user, stage=stage, level=level, industry=option("industry", "it"))
            customer.tags.add(*tags)

    make(5)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        assert len(sales_api.get("/customers", {"limit": 50}).json()["items"]) == 5
    make(55)
    # token lookup (+ last_used update at most once a minute), page, picklists, departments, tags, count.
    with django_assert_max_num_queries(len(small.captured_queries)):
        page = sales_api.get("/customers", {"limit": 50, "stage": stage.pk, "sort": "-updated_at"}).json()
    assert len(page["items"]) == 50
    assert page["items"][0]["tags"] == ["标签0", "标签1", "标签2"]
    assert len(small.captured_queries) <= 7


# Scoping ---------------------------------------------------------------------------------------


def test_a_sales_rep_cannot_read_change_or_delete_another_reps_customer(sales_api):
    other = CustomerFactory(name="别人的客户有限公司", city="广州市")
    contact = ContactFactory(customer=other, name="王五")
    before_version = other.version
    events = AuditEvent.objects.count()

    assert sales_api.get(f"/customers/{other.pk}").status_code == 404
    assert sales_api.get(f"/customers/{other.pk}/timeline").status_code == 404
    assert sales_api.get(f"/customers/{other.pk}/notes").status_code == 404
    patch = sales_api.patch(f"/customers/{other.pk}", {"version": before_version, "city": "深圳市"})
    assert patch.status_code == 404
    assert error_of(patch)["code"] == "not_found"
    assert sales_api.delete(f"/customers/{other.pk}").status_code == 404
    assert sales_api.post(f"/customers/{other.pk}/notes", {"body": "偷看"}).status_code == 404
    assert sales_api.get(f"/contacts/{contact.pk}").status_code == 404
    assert sales_api.patch(f"/contacts/{contact.pk}", {"version": 1, "name": "改名"}).status_code == 404
    assert sales_api.delete(f"/contacts/{contact.pk}").status_code == 404
    assert sales_api.post("/contacts", {"customer": other.pk, "name": "新人"}).status_code == 404
    bulk = sales_api.post("/customers/bulk/tags", {"ids": [other.pk], "add": ["偷偷"]})
    assert bulk.json() == {"changed": 0}
    assert sales_api.get("/search", {"q": "别人"}).json() == {"customers": [], "contacts": []}
    assert sales_api.get("/customers").json()["items"] == []

    other.refresh_from_db()
    contact.refresh_from_db()
    assert (other.city, other.version, list(other.tags.all())) == ("广州市", before_version, [])
    assert (contact.name, Contact.objects.filter(customer=other).count()) == ("王五", 1)
    assert Note.objects.filter(customer=other).count() == 0
    assert AuditEvent.objects.count() == events


def test_a_manager_sees_the_department_subtree(sales_user):
    manager = ManagerFactory(department=DepartmentFactory())
    team = DepartmentFactory(parent=manager.department)
    mine = CustomerFactory(owner=UserFactory(department=team))
    CustomerFactory(owner=sales_user)
    assert [i["id"] for i in Api(manager).get("/customers").json()["items"]] == [mine.pk]


# Contacts --------------------------------------------------------------------------------------


def test_contact_crud(sales_api, sales_user):
    customer = services.customer_create(acting_user=sales_user, data={"name": "成都某某餐饮有限公司"})
    created = sales_api.post(
        "/contacts",
        {"customer": customer.pk, "name": "张伟", "mobile": "13800138000", "decision_role": "decision_maker"},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["customer"] == {"id": customer.pk, "name": "成都某某餐饮有限公司"}
    assert body["is_primary"] is True
    assert body["decision_role"]["code"] == "decision_maker"
    contact_id = body["id"]

    listed = sales_api.get("/contacts", {"customer": customer.pk}).json()
    assert [c["id"] for c in listed["items"]] == [contact_id]
    assert listed["total"] == 1

    bad = sales_api.patch(f"/contacts/{contact_id}", {"version": 1, "birthday": "nope"})
    assert bad.status_code == 422
    assert error_of(bad)["field"] == "birthday"

    patched = sales_api.patch(f"/contacts/{contact_id}", {"version": 1, "title": "总经理"})
    assert patched.status_code == 200
    assert (patched.json()["title"], patched.json()["version"]) == ("总经理", 2)
    stale = sales_api.patch(f"/contacts/{contact_id}", {"version": 1, "title": "董事长"})
    assert stale.status_code == 409
    assert Contact.objects.get(pk=contact_id).title == "总经理"

    assert sales_api.delete(f"/contacts/{contact_id}").status_code == 204
    assert not Contact.objects.filter(pk=contact_id).exists()


# Notes and timeline ----------------------------------------------------------------------------


def test_notes_and_timeline(sales_api, sales_user):
    customer = services.customer_create(acting_user=sales_user, data={"name": "武汉某某物流有限公司"})
    services.customer_update(acting_user=sales_user, customer=customer, data={"city": "武汉市"})

    created = sales_api.post(f"/customers/{customer.pk}/notes", {"body": "客户希望下周演示"})
    assert created.status_code == 201
    assert created.json()["body"] == "客户希望下周演示"
    assert created.json()["author"]["id"] == sales_user.pk
    empty = sales_api.post(f"/customers/{customer.pk}/notes", {"body": "   "})
    assert empty.status_code == 422
    assert error_of(empty)["field"] == "body"

    notes = sales_api.get(f"/customers/{customer.pk}/notes").json()
    assert [n["body"] for n in notes] == ["客户希望下周演示"]

    timeline = sales_api.get(f"/customers/{customer.pk}/timeline").json()
    kinds = [e["kind"] for e in timeline]
    assert set(kinds) == {"note", "audit.update", "audit.create"}
    update = next(e for e in timeline if e["kind"] == "audit.update")
    # Setting the city fills its province (address normalisation); both changes are recorded.
    assert update["changes"] == [
        {"field": "province", "old": "", "new": "湖北省"}, {"field": "city", "old": "", "new": "武汉市"},
    ]


# Bulk operations -------------------------------------------------------------------------------


def test_bulk_tag_adds_and_removes(sales_api, sales_user):
    old = TagFactory(name="旧标签")
    first, second = CustomerFactory(owner=sales_user), CustomerFactory(owner=sales_user)
    first.tags.add(old)
    response = sales_api.post(
        "/customers/bulk/tags", {"ids": [first.pk, second.pk], "add": ["华东"], "remove": ["旧标签"]}
    )
    assert response.status_code == 200
    assert response.json() == {"changed": 2}
    assert sorted(first.tags.values_list("name", flat=True)) == ["华东"]
    assert sorted(second.tags.values_list("name", flat=True)) == ["华东"]


def test_bulk_change_owner_needs_a_manager_and_moves_the_department():
    manager = ManagerFactory()
    rep = UserFactory(department=manager.department)
    other_rep = UserFactory(department=manager.department)
    customers = [CustomerFactory(owner=rep) for _ in range(2)]
    ids = [c.pk for c in customers]

    denied = Api(rep).post("/customers/bulk/owner", {"ids": ids, "owner": other_rep.pk})
    assert denied.status_code == 403
    assert error_of(denied)["code"] == "permission_denied"
    assert set(Customer.objects.filter(pk__in=ids).values_list("owner_id", flat=True)) == {rep.pk}

    unknown = Api(manager).post("/customers/bulk/owner", {"ids": ids, "owner": 999999})
    assert (unknown.status_code, error_of(unknown)["field"]) == (422, "owner")

    moved = Api(manager).post("/customers/bulk/owner", {"ids": ids, "owner": other_rep.pk})
    assert moved.json() == {"changed": 2}
    assert set(Customer.objects.filter(pk__in=ids).values_list("owner_id", flat=True)) == {other_rep.pk}


# Search ----------------------------------------------------------------------------------------


def test_search_returns_customers_and_contacts(sales_api, sales_user):
    customer = CustomerFactory(owner=sales_user, name="北京分扬科技有限公司")
    contact = ContactFactory(customer=customer, name="张伟", mobile="13912345678")
    CustomerFactory(owner=sales_user, name="上海某某贸易有限公司")

    by_name = sales_api.get("/search", {"q": "分扬"})
    assert by_name.status_code == 200
    assert [c["id"] for c in by_name.json()["customers"]] == [customer.pk]

    by_contact = sales_api.get("/search", {"q": "张伟"}).json()
    assert [c["id"] for c in by_contact["contacts"]] == [contact.pk]
    assert by_contact["contacts"][0]["customer"] == {"id": customer.pk, "name": "北京分扬科技有限公司"}

    by_phone = sales_api.get("/search", {"q": "5678"}).json()
    assert [c["id"] for c in by_phone["contacts"]] == [contact.pk]

    assert sales_api.get("/search").status_code == 422


# Tags, picklists, custom fields (admin data) ---------------------------------------------------


def test_tags_crud_and_admin_only_edits(sales_api, admin_api):
    created = sales_api.post("/tags", {"name": "展会线索", "color": "#ff0000"})
    assert created.status_code == 201
    tag_id = created.json()["id"]
    duplicate = sales_api.post("/tags", {"name": "展会线索"})
    assert (duplicate.status_code, error_of(duplicate)["code"], error_of(duplicate)["field"]) == (422, "unique", "name")
    assert [t["name"] for t in sales_api.get("/tags").json()] == ["展会线索"]
    assert sales_api.get(f"/tags/{tag_id}").json()["color"] == "#ff0000"

    denied = sales_api.patch(f"/tags/{tag_id}", {"name": "改名"})
    assert (denied.status_code, error_of(denied)["code"]) == (403, "permission_denied")
    assert sales_api.delete(f"/tags/{tag_id}").status_code == 403
    assert Tag.objects.get(pk=tag_id).name == "展会线索"

    renamed = admin_api.patch(f"/tags/{tag_id}", {"name": "2026 展会"})
    assert renamed.json()["name"] == "2026 展会"
    assert admin_api.delete(f"/tags/{tag_id}").status_code == 204
    assert not Tag.objects.filter(pk=tag_id).exists()


def test_picklist_crud_and_admin_only_edits(sales_api, admin_api, sales_user):
    stages = sales_api.get("/picklists", {"kind": "stage"}).json()
    assert [s["code"] for s in stages][:2] == ["lead", "opportunity"]

    denied = sales_api.post("/picklists", {"kind": "source", "code": "xhs", "label_zh": "小红书"})
    assert denied.status_code == 403
    assert not PicklistOption.objects.filter(code="xhs").exists()

    created = admin_api.post("/picklists", {"kind": "source", "code": "xhs", "label_zh": "小红书", "position": 9})
    assert created.status_code == 201, created.content
    option_id = created.json()["id"]
    assert created.json()["label_en"] == "小红书"

    patched = admin_api.patch(f"/picklists/{option_id}", {"label_en": "Xiaohongshu", "is_active": False})
    assert patched.status_code == 200
    assert (patched.json()["label_zh"], patched.json()["label_en"], patched.json()["is_active"]) == (
        "小红书",
        "Xiaohongshu",
        False,
    )
    assert option_id not in [o["id"] for o in sales_api.get("/picklists", {"kind": "source"}).json()]
    all_sources = sales_api.get("/picklists", {"kind": "source", "include_inactive": True}).json()
    assert option_id in [o["id"] for o in all_sources]

    in_use = option("stage", "lead")
    services.customer_create(acting_user=sales_user, data={"name": "某公司", "stage": in_use.pk})
    refused = admin_api.delete(f"/picklists/{in_use.pk}")
    assert refused.status_code == 422
    assert PicklistOption.objects.filter(pk=in_use.pk).exists()
    assert sales_api.delete(f"/picklists/{option_id}").status_code == 403
    assert admin_api.delete(f"/picklists/{option_id}").status_code == 204
    assert not PicklistOption.objects.filter(pk=option_id).exists()


def test_custom_field_definitions_crud_and_admin_only(sales_api, admin_api):
    body = {"target": "contact", "key": "hobby", "label_zh": "爱好", "field_type": "text"}
    assert sales_api.post("/custom-fields", body).status_code == 403
    created = admin_api.post("/custom-fields", body)
    assert created.status_code == 201
    field_id = created.json()["id"]
    bad_key = admin_api.post("/custom-fields", {**body, "key": "Bad Key"})
    assert (bad_key.status_code, error_of(bad_key)["field"]) == (422, "key")

    assert [f["key"] for f in sales_api.get("/custom-fields", {"target": "contact"}).json()] == ["hobby"]
    assert sales_api.get("/custom-fields", {"target": "customer"}).json() == []
    assert sales_api.patch(f"/custom-fields/{field_id}", {"label_zh": "兴趣"}).status_code == 403
    patched = admin_api.patch(f"/custom-fields/{field_id}", {"label_zh": "兴趣", "required": True})
    assert (patched.json()["label_zh"], patched.json()["required"], patched.json()["key"]) == ("兴趣", True, "hobby")
    assert admin_api.delete(f"/custom-fields/{field_id}").status_code == 204
    assert not CustomFieldDefinition.objects.filter(pk=field_id).exists()


# Me, OpenAPI, docs -----------------------------------------------------------------------------


def test_me(sales_api, sales_user):
    me = sales_api.get("/me").json()
    assert (me["id"], me["username"], me["role"], me["data_scope"], me["is_admin"]) == (
        sales_user.pk,
        sales_user.username,
        "sales",
        "own",
        False,
    )


def test_openapi_schema_and_docs_page_load_without_a_cdn(client):
    schema = client.get(f"{BASE}/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/v1/customers", "/api/v1/customers/{customer_id}", "/api/v1/search", "/api/v1/me"):
        assert path in paths
    docs = client.get(f"{BASE}/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    # Served locally from the django-ninja wheel (ninja is an installed app; WhiteNoise uses finders).
    assert client.get("/static/ninja/swagger-ui-bundle.js").status_code == 200


def test_admin_sees_every_customer(admin_user):
    rows = [CustomerFactory() for _ in range(3)]
    listed = Api(AdminFactory()).get("/customers").json()
    assert {i["id"] for i in listed["items"]} == {c.pk for c in rows}
