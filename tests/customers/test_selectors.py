from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from kehu.core.errors import NotFound
from kehu.customers import selectors, services
from kehu.customers.filters import CustomerFilter
from kehu.customers.models import Customer
from tests.factories import ContactFactory, CustomerFactory, DepartmentFactory, UserFactory, role


@pytest.fixture
def org(db):
    """总部 → 华北大区 → 北京一部, and 华东大区 beside it, with one customer per corner."""
    head = DepartmentFactory(name="总部")
    north = DepartmentFactory(name="华北大区", parent=head)
    beijing = DepartmentFactory(name="北京一部", parent=north)
    east = DepartmentFactory(name="华东大区", parent=head)
    people = {
        "rep": UserFactory(department=beijing),
        "peer": UserFactory(department=beijing),
        "east_rep": UserFactory(department=east),
        "north_manager": UserFactory(department=north, role=role("manager")),
        "beijing_manager": UserFactory(department=beijing, role=role("manager")),
        "marketing": UserFactory(department=head, role=role("marketing")),
        "admin": UserFactory(department=None, role=role("admin")),
        "homeless_manager": UserFactory(department=None, role=role("manager")),
    }
    customers = {
        "rep": CustomerFactory(owner=people["rep"]),
        "peer": CustomerFactory(owner=people["peer"]),
        "east": CustomerFactory(owner=people["east_rep"]),
        "north_unassigned": CustomerFactory(owner=None, department=north),
    }
    return people, customers


def _visible(user) -> set[int]:
    return set(selectors.customers_visible(user=user).values_list("pk", flat=True))


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("rep", {"rep"}),  # own scope
        ("beijing_manager", {"rep", "peer"}),  # department scope: own team
        ("north_manager", {"rep", "peer", "north_unassigned"}),  # ... and every team below
        ("marketing", {"rep", "peer", "east", "north_unassigned"}),  # all
        ("admin", {"rep", "peer", "east", "north_unassigned"}),
        ("homeless_manager", set()),  # department scope without a department: own only
    ],
)
def test_data_scope(org, who, expected):
    people, customers = org
    assert _visible(people[who]) == {customers[name].pk for name in expected}


def test_inactive_and_anonymous_users_see_nothing(org):
    people, _ = org
    people["marketing"].is_active = False
    people["marketing"].save()
    assert _visible(people["marketing"]) == set()
    assert _visible(AnonymousUser()) == set()


def test_contacts_follow_their_customers_scope(org):
    people, customers = org
    mine = ContactFactory(customer=customers["rep"])
    ContactFactory(customer=customers["east"])
    assert list(selectors.contacts_visible(user=people["rep"])) == [mine]
    assert selectors.contact_get(user=people["rep"], contact_id=mine.pk) == mine


def test_hidden_customer_is_not_found_and_filters_stay_within_scope(org):
    people, customers = org
    with pytest.raises(NotFound):
        selectors.customer_get(user=people["rep"], customer_id=customers["east"].pk)
    everyone = CustomerFilter.from_params({"owner": str(people["east_rep"].pk)})
    assert list(selectors.customers_filtered(user=people["rep"], filters=everyone)) == []
    north = CustomerFilter.from_params({"department": str(people["north_manager"].department_id)})
    assert {c.pk for c in selectors.customers_filtered(user=people["marketing"], filters=north)} == {
        customers["rep"].pk, customers["peer"].pk, customers["north_unassigned"].pk,
    }


# Timeline ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_timeline_merges_audit_events_and_notes_newest_first(sales_user):
    customer = services.customer_create(acting_user=sales_user, data={"name": "深圳腾飞科技有限公司"})
    services.customer_update(acting_user=sales_user, customer=customer, data={"city": "深圳市"})
    contact = services.contact_create(acting_user=sales_user, customer=customer, data={"name": "陈静"})
    services.note_create(acting_user=sales_user, customer=customer, body="电话沟通，约下周演示。")
    services.contact_delete(acting_user=sales_user, contact=contact)

    entries = selectors.customer_timeline(user=sales_user, customer=customer)
    assert sorted((e.kind, e.title) for e in entries) == sorted([
        ("audit.create", "创建了客户 深圳腾飞科技有限公司"),
        ("audit.update", "修改了客户 深圳腾飞科技有限公司"),
        ("audit.create", "创建了联系人 陈静"),
        ("note", "添加了备注"),
        ("audit.delete", "删除了联系人 陈静"),
    ])
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    update = next(e for e in entries if e.kind == "audit.update")
    assert update.changes == [
        {"field": "province", "old": "", "new": "广东省"}, {"field": "city", "old": "", "new": "深圳市"},
    ]
    note = next(e for e in entries if e.kind == "note")
    assert note.body == "电话沟通，约下周演示。" and note.actor == str(sales_user)


@pytest.mark.django_db
def test_no_timeline_for_a_customer_out_of_scope(sales_user):
    customer = CustomerFactory()
    with pytest.raises(NotFound):
        selectors.customer_timeline(user=sales_user, customer=customer)


# Keyset pagination ---------------------------------------------------------------------------


def _walk(user, sort: str, limit: int) -> tuple[list[int], list[selectors.Page]]:
    pages: list[selectors.Page] = []
    cursor = None
    while True:
        page = selectors.customer_list_page(user=user, filters=CustomerFilter(), sort=sort, cursor=cursor, limit=limit)
        pages.append(page)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        assert len(pages) < 50
    return [c.pk for p in pages for c in p.rows], pages


@pytest.mark.django_db
def test_keyset_pages_cover_every_row_once_in_order_with_ties(admin_user):
    base = timezone.now() - dt.timedelta(days=10)
    names = ["甲", "乙", "丙", "丁", "戊", "己", "庚", "辛", "壬", "癸", "子"]
    customers = [CustomerFactory(name=name) for name in names]
    # Three rows share a timestamp: the id breaks the tie, so no row is skipped or repeated.
    for index, customer in enumerate(customers):
        Customer.objects.filter(pk=customer.pk).update(updated_at=base + dt.timedelta(hours=min(index, 5)))

    expected = list(Customer.objects.order_by("-updated_at", "-id").values_list("pk", flat=True))
    seen, pages = _walk(admin_user, "-updated_at", limit=4)
    assert seen == expected
    assert [len(p.rows) for p in pages] == [4, 4, 3]
    assert pages[0].total == 11 and not pages[0].total_capped
    assert pages[0].prev_cursor is None and pages[1].prev_cursor is not None

    back = selectors.customer_list_page(
        user=admin_user, filters=CustomerFilter(), sort="-updated_at", cursor=pages[1].prev_cursor, limit=4
    )
    assert [c.pk for c in back.rows] == [c.pk for c in pages[0].rows]

    by_name, _ = _walk(admin_user, "name", limit=3)
    assert by_name == list(Customer.objects.order_by("name", "id").values_list("pk", flat=True))


@pytest.mark.django_db
def test_keyset_pages_respect_scope_and_cap_the_count(sales_user):
    mine = [CustomerFactory(owner=sales_user) for _ in range(5)]
    CustomerFactory.create_batch(3)
    page = selectors.customer_list_page(user=sales_user, filters=CustomerFilter(), limit=2, count_cap=3)
    assert (page.total, page.total_capped) == (3, True)
    seen, _ = _walk(sales_user, "-created_at", limit=2)
    assert sorted(seen) == sorted(c.pk for c in mine)


@pytest.mark.django_db
def test_a_garbled_cursor_starts_from_the_first_page(admin_user):
    CustomerFactory.create_batch(3)
    first = selectors.customer_list_page(user=admin_user, filters=CustomerFilter(), limit=2)
    garbled = selectors.customer_list_page(user=admin_user, filters=CustomerFilter(), limit=2, cursor="!!not-a-cursor")
    assert [c.pk for c in garbled.rows] == [c.pk for c in first.rows]


# The API list's rows: column values, same items as customer_out ---------------------------------


def _full_customer(owner, **extra):  # type: ignore[no-untyped-def]
    """Every field customer_out reads is set: picklists, department, tags, JSON lists, custom, birthday."""
    from kehu.customers.models import PicklistKind, PicklistOption
    from tests.factories import TagFactory

    picks = {
        kind: PicklistOption.objects.filter(kind=kind).order_by("pk").first()
        for kind in (PicklistKind.INDUSTRY, PicklistKind.LEVEL, PicklistKind.STAGE, PicklistKind.SOURCE)
    }
    customer = CustomerFactory(
        owner=owner, kind="person", name="王小明", short_name="小明", industry=picks[PicklistKind.INDUSTRY],
        level=picks[PicklistKind.LEVEL], stage=picks[PicklistKind.STAGE], source=picks[PicklistKind.SOURCE],
        phones=["13812345678", "010-65529988 转 123"], emails=["a@b.cn"], website="https://b.cn", province="北京",
        city="北京市", district="朝阳区", address="建国路 1 号", birthday=dt.date(1990, 5, 6), notes="备注\n第二行",
        custom={"region": "华北", "score": 3, "tags": ["a", "b"]}, **extra,
    )
    customer.tags.add(TagFactory(name="重点", color="#f00"), TagFactory(name="A类"), TagFactory(name="zz"))
    return customer


def _as_customer_out(user, filters: CustomerFilter, **kwargs) -> list[dict]:  # type: ignore[no-untyped-def]
    from kehu.customers.schemas import customer_out

    return [
        customer_out(selectors.customer_get(user=user, customer_id=c.pk))
        for c in selectors.customer_list_page(user=user, filters=filters, **kwargs).rows
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_list_rows_give_exactly_the_items_customer_out_gives(admin_user, language):
    from django.utils import translation

    from kehu.customers.schemas import customer_list_out

    named = UserFactory(display_name="李经理")
    unnamed = UserFactory(display_name="")
    _full_customer(named, department=DepartmentFactory(name="华北大区"))
    _full_customer(unnamed)
    CustomerFactory(owner=None, department=None)  # no owner, department, picklists, tags
    with translation.override(language):
        rows = selectors.customer_list_rows(user=admin_user, filters=CustomerFilter(), limit=10).rows
        items = customer_list_out(rows)
        assert items == _as_customer_out(admin_user, CustomerFilter(), limit=10)
    owners = {i["owner"]["id"] if i["owner"] else None: i["owner"] for i in items}
    assert owners[None] is None
    assert owners[unnamed.pk]["display_name"] == unnamed.username
    assert owners[named.pk]["display_name"] == "李经理"


@pytest.mark.django_db
def test_api_list_body_is_what_ninja_validation_would_have_rendered(admin_user, client):
    """The list endpoint renders its dict without ninja re-validating it against CustomerPage:
    the bytes must be those of the validated model, and the body must satisfy the schema."""
    from kehu.config.api import api
    from kehu.customers.schemas import CustomerPage

    _full_customer(UserFactory(display_name="李经理"))
    CustomerFactory(owner=None)
    client.force_login(admin_user)
    response = client.get("/api/v1/customers", {"limit": 1})
    assert response.status_code == 200
    assert response["Content-Type"] == api.get_content_type()
    CustomerPage.model_validate(response.json())
    page = selectors.customer_list_page(user=admin_user, filters=CustomerFilter(), limit=1)
    expected = CustomerPage.model_validate({
        "items": _as_customer_out(admin_user, CustomerFilter(), limit=1), "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor, "total": page.total, "total_capped": page.total_capped,
    })
    rendered = api.renderer.render(None, expected.model_dump(), response_status=200)  # type: ignore[arg-type]
    assert response.content.decode() == rendered
    second = client.get("/api/v1/customers", {"limit": 1, "cursor": page.next_cursor})
    assert [i["id"] for i in second.json()["items"]] != [i["id"] for i in response.json()["items"]]


@pytest.mark.django_db
def test_list_rows_page_like_the_web_list_in_every_sort_and_direction(admin_user):
    base = timezone.now() - dt.timedelta(days=10)
    for index, name in enumerate(["甲", "乙", "丙", "丁", "戊", "己", "庚"]):
        customer = CustomerFactory(name=name)
        Customer.objects.filter(pk=customer.pk).update(updated_at=base + dt.timedelta(hours=min(index, 3)))
    for sort in ("-updated_at", "updated_at", "name", "-name", "-created_at"):
        cursor = None
        while True:
            web = selectors.customer_list_page(user=admin_user, filters=CustomerFilter(), sort=sort, cursor=cursor,
                                               limit=3)
            api = selectors.customer_list_rows(user=admin_user, filters=CustomerFilter(), sort=sort, cursor=cursor,
                                               limit=3)
            assert [r["id"] for r in api.rows] == [c.pk for c in web.rows]
            assert (api.next_cursor, api.prev_cursor, api.total, api.total_capped) == (
                web.next_cursor, web.prev_cursor, web.total, web.total_capped
            )
            if web.prev_cursor:  # and back
                back_web = selectors.customer_list_page(user=admin_user, filters=CustomerFilter(), sort=sort,
                                                        cursor=web.prev_cursor, limit=3)
                back_api = selectors.customer_list_rows(user=admin_user, filters=CustomerFilter(), sort=sort,
                                                        cursor=web.prev_cursor, limit=3)
                assert [r["id"] for r in back_api.rows] == [c.pk for c in back_web.rows]
            if web.next_cursor is None:
                break
            cursor = web.next_cursor


@pytest.mark.django_db
def test_list_rows_respect_scope(sales_user):
    mine = CustomerFactory(owner=sales_user)
    CustomerFactory()
    rows = selectors.customer_list_rows(user=sales_user, filters=CustomerFilter()).rows
    assert [r["id"] for r in rows] == [mine.pk]


@pytest.mark.django_db
def test_list_rows_are_three_statements_whatever_the_page_size(admin_user, django_assert_num_queries):
    for _ in range(12):
        _full_customer(UserFactory())
    with django_assert_num_queries(3):  # rows with their picklists/owner/department, tags, capped count
        page = selectors.customer_list_rows(user=admin_user, filters=CustomerFilter(), limit=10)
    assert len(page.rows) == 10 and all(row["tags"] == ["A类", "zz", "重点"] for row in page.rows)
