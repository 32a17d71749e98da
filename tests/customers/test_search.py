from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kehu.customers import search
from kehu.customers.models import Customer, SearchToken
from kehu.customers.search import plan_query
from tests.factories import AdminFactory, ContactFactory, CustomerFactory, UserFactory


def names(hits: list[search.SearchHit]) -> list[str]:
    return [h.contact.name if h.contact else h.customer.name for h in hits]


@pytest.fixture
def admin(db):  # type: ignore[no-untyped-def]
    return AdminFactory()


@pytest.fixture
def fenyang(db):  # type: ignore[no-untyped-def]
    customer = CustomerFactory(
        owner=AdminFactory(), name="北京分扬科技有限公司", short_name="分扬", phones=["010-8888 1234"],
        emails=["sales@fenyang.com.cn"], credit_code="91110108MA01ABCD1X",
    )
    ContactFactory(customer=customer, name="张伟", mobile="138 1234 5678", email="zhang.wei88@fenyang.com.cn")
    return customer


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, expected",
    [
        ("分扬", ["北京分扬科技有限公司"]),
        ("扬", ["北京分扬科技有限公司"]),
        ("分扬科技", ["北京分扬科技有限公司"]),
        ("北京 分扬", ["北京分扬科技有限公司"]),
        ("fenyang", ["北京分扬科技有限公司", "张伟"]),  # the contact by e-mail domain
        ("FenYangKeji", ["北京分扬科技有限公司"]),
        ("beijingfen", ["北京分扬科技有限公司"]),
        ("fykj", ["北京分扬科技有限公司"]),
        ("bjfy", ["北京分扬科技有限公司"]),
        ("张伟", ["张伟"]),
        ("张", ["张伟"]),
        ("zhangwei", ["张伟"]),
        ("zw", ["张伟"]),
        ("wei", ["张伟"]),
        ("5678", ["张伟"]),
        ("12345678", ["张伟"]),
        ("1381234", ["张伟"]),
        ("1234", ["北京分扬科技有限公司"]),  # a tail, not the middle of 138 1234 5678
        ("zhang.wei", ["张伟"]),
        ("wei88", ["张伟"]),
        ("wei88@fen", ["张伟"]),
        ("sales@", ["北京分扬科技有限公司"]),
        ("91110108", ["北京分扬科技有限公司"]),
        ("91110108ma01", ["北京分扬科技有限公司"]),
    ],
)
def test_every_query_kind_finds_the_record(admin, fenyang, query, expected):
    assert names(search.search(user=admin, query=query)) == expected


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["扬科分", "分扬科技股份", "lisi", "9999", "nobody@", "分 扬 集团"])
def test_non_matching_queries_find_nothing(admin, fenyang, query):
    assert search.search(user=admin, query=query) == []


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["", "   ", "12", "!!"])
def test_empty_or_too_short_queries_find_nothing(admin, fenyang, query):
    assert search.search(user=admin, query=query) == []


@pytest.mark.django_db
def test_surname_is_read_as_a_surname(admin):
    ContactFactory(name="单田芳", customer=CustomerFactory(owner=admin))
    assert names(search.search(user=admin, query="shantianfang")) == ["单田芳"]
    assert names(search.search(user=admin, query="stf")) == ["单田芳"]


@pytest.mark.django_db
def test_common_token_returns_most_recently_updated_first(admin):
    base = timezone.now() - dt.timedelta(days=400)
    for i in range(30):
        customer = CustomerFactory(name=f"上海第{i}科技有限公司", owner=admin)
        Customer.objects.filter(pk=customer.pk).update(updated_at=base + dt.timedelta(days=i))
        customer.refresh_from_db()
        search.index_customer(customer)
    hits = search.search(user=admin, query="科技", limit=5)
    assert names(hits) == [f"上海第{i}科技有限公司" for i in (29, 28, 27, 26, 25)]


@pytest.mark.django_db
def test_sales_rep_sees_only_own_matches_even_when_others_have_many(db):
    rep, other = UserFactory(), UserFactory()
    for i in range(40):
        CustomerFactory(name=f"深圳别人{i}科技有限公司", owner=other)
    mine = CustomerFactory(name="深圳自己科技有限公司", owner=rep)
    assert [h.customer for h in search.search(user=rep, query="科技", limit=5)] == [mine]
    assert [h.customer for h in search.search(user=rep, query="shenzhen", limit=5)] == [mine]
    assert [h.customer for h in search.search(user=rep, query="自己科技", limit=5)] == [mine]
    assert search.search(user=rep, query="别人") == []


@pytest.mark.django_db
def test_owner_change_moves_contact_tokens_with_the_customer(db):
    rep, other = UserFactory(), UserFactory()
    customer = CustomerFactory(name="杭州云帆贸易有限公司", owner=other)
    ContactFactory(customer=customer, name="李娜")
    assert search.search(user=rep, query="李娜") == []
    customer.owner = rep
    customer.save()
    search.index_customer(customer)
    assert names(search.search(user=rep, query="李娜")) == ["李娜"]
    assert set(SearchToken.objects.filter(customer=customer).values_list("owner_id", flat=True)) == {rep.pk}


@pytest.mark.django_db
def test_inactive_user_finds_nothing(fenyang):
    user = UserFactory(is_active=False)
    assert search.search(user=user, query="分扬") == []


@pytest.mark.django_db
def test_reindex_replaces_tokens_and_update_drops_old_name(admin, fenyang):
    fenyang.name = "北京新名字有限公司"
    fenyang.save()
    search.index_customer(fenyang)
    assert search.search(user=admin, query="fenyangkeji") == []
    assert names(search.search(user=admin, query="新名字")) == ["北京新名字有限公司"]
    before = SearchToken.objects.count()
    SearchToken.objects.all().delete()
    assert search.reindex_all() == 1
    assert SearchToken.objects.count() == before


@pytest.mark.django_db
def test_search_customer_ids_q_filters_the_list_by_contact_matches_too(fenyang):
    other = CustomerFactory(name="上海另一家有限公司", owner=fenyang.owner)
    queryset = Customer.objects.filter(search.search_customer_ids_q(query="张伟"))
    assert list(queryset) == [fenyang]
    assert list(Customer.objects.filter(search.search_customer_ids_q(query="另一家"))) == [other]
    assert list(Customer.objects.filter(search.search_customer_ids_q(query=""))) == []


def test_plan_for_long_chinese_queries_verifies_the_whole_text():
    plan = plan_query("分扬科技")
    assert plan is not None
    assert plan.exact == ["h:分扬", "h:扬科", "h:科技"]
    assert plan.verify == "分扬科技"


def test_tokens_index_pinyin_from_each_character_of_the_core_name():
    tokens = search.customer_token_set(name="北京分扬科技有限公司", kind="company")
    assert {"py:beijingfenyangkejiyouxiangongsi", "py:fenyangkejiyouxiangongsi", "py:kejiyouxiangongsi"} <= tokens
    assert {"in:bjfykjyxgs", "in:fykjyxgs"} <= tokens
    assert "py:gongsi" not in tokens  # nothing starts inside the legal form


def test_phone_tokens_normalise_the_country_code():
    assert search.phone_tokens("+86 138-1234-5678") == {"p:13812345678", "r:87654321831"}
    assert search.phone_tokens("123") == set()


def test_full_width_digits_are_read_as_digits():
    assert search.phone_tokens("１３８１２３４５６７８") == {"p:13812345678", "r:87654321831"}
    plan = plan_query("５６７８")
    assert plan is not None and plan.prefixes[0] == "r:8765"


@pytest.mark.django_db
def test_department_scope_sees_the_department_subtree_only(db):
    from tests.factories import DepartmentFactory, ManagerFactory

    department = DepartmentFactory()
    team = DepartmentFactory(parent=department)
    manager = ManagerFactory(department=department)
    member, outsider = UserFactory(department=team), UserFactory()
    inside = CustomerFactory(name="成都团队内部有限公司", owner=member)
    CustomerFactory(name="成都团队外部有限公司", owner=outsider)
    assert [h.customer for h in search.search(user=manager, query="成都团队")] == [inside]
    assert [h.customer for h in search.search(user=manager, query="chengdu")] == [inside]


# Hydration: two statements per search, the hit's columns loaded, the rest deferred ---------------


def _stage(code: str = "lead"):  # type: ignore[no-untyped-def]
    from kehu.customers.models import PicklistKind, PicklistOption

    return PicklistOption.objects.get(kind=PicklistKind.STAGE, code=code)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, statements",
    [("张伟", 2), ("fenyang", 2), ("5678", 2), ("zhang.wei", 2), ("分扬科技", 3)],  # 3+ chars: capped counts first
)
def test_search_is_the_candidate_lookup_plus_one_hydrating_statement(
    admin, fenyang, query, statements, django_assert_num_queries
):
    with django_assert_num_queries(statements):
        hits = search.search(user=admin, query=query)
    assert hits


@pytest.mark.django_db
def test_hits_carry_what_the_search_box_and_api_read_without_more_queries(admin, fenyang, django_assert_num_queries):
    Customer.objects.filter(pk=fenyang.pk).update(stage=_stage())
    fresh = Customer.objects.select_related("owner", "stage").get(pk=fenyang.pk)
    contact = fresh.contacts.get()
    with django_assert_num_queries(2):
        hits = search.search(user=admin, query="fenyang")
        by_customer, by_contact = hits
        customer = by_customer.customer
        assert by_customer.contact is None
        assert (customer.pk, customer.kind, customer.name, customer.short_name, customer.city, customer.phones) == (
            fresh.pk, fresh.kind, fresh.name, fresh.short_name, fresh.city, fresh.phones
        )
        assert (customer.stage.pk, customer.stage.code, customer.stage.label, customer.stage.color) == (
            fresh.stage.pk, fresh.stage.code, fresh.stage.label, fresh.stage.color
        )
        assert (customer.owner.pk, customer.owner.username, str(customer.owner)) == (
            fresh.owner.pk, fresh.owner.username, str(fresh.owner)
        )
        hit = by_contact.contact
        assert (hit.pk, hit.name, hit.title, hit.mobile, hit.email) == (
            contact.pk, contact.name, contact.title, contact.mobile, contact.email
        )
        assert by_contact.customer is hit.customer is customer  # one instance per customer
    assert customer == fresh and hit == contact  # real model instances: equal by pk


@pytest.mark.django_db
def test_fields_a_hit_did_not_load_are_read_on_access(admin, fenyang, django_assert_num_queries):
    (hit,) = search.search(user=admin, query="分扬科技")
    assert "credit_code" in hit.customer.get_deferred_fields()
    with django_assert_num_queries(1):
        assert hit.customer.credit_code == "91110108MA01ABCD1X"


@pytest.mark.django_db
def test_customer_without_stage_or_owner_hydrates_as_none(admin, django_assert_num_queries):
    customer = CustomerFactory(name="无主贸易有限公司", owner=None, stage=None)
    with django_assert_num_queries(2):
        (hit,) = search.search(user=admin, query="无主")
        assert hit.customer.pk == customer.pk
        assert hit.customer.stage is None and hit.customer.owner is None


@pytest.mark.django_db
def test_hits_are_rechecked_against_restrict_not_only_the_copied_owner(db):
    """The token table's owner copy only narrows candidates; `restrict()` decides visibility."""
    rep, other = UserFactory(), UserFactory()
    theirs = CustomerFactory(name="西安别人家有限公司", owner=other)
    SearchToken.objects.filter(customer=theirs).update(owner_id=rep.pk)  # a stale copy
    assert search.search(user=rep, query="别人家") == []
    assert search.search(user=rep, query="xian") == []


@pytest.mark.django_db
def test_two_contact_hits_of_one_customer_and_then_one(admin, fenyang):
    from kehu.customers.models import Contact

    second = ContactFactory(customer=fenyang, name="张伟", mobile="139 0000 5678", email="")
    hits = search.search(user=admin, query="张伟")
    assert sorted(h.contact.pk for h in hits) == sorted(
        Contact.objects.filter(customer=fenyang).values_list("pk", flat=True)
    )
    assert {h.customer.pk for h in hits} == {fenyang.pk}
    Contact.objects.filter(pk=second.pk).delete()
    assert [h.contact.name for h in search.search(user=admin, query="张伟")] == ["张伟"]
