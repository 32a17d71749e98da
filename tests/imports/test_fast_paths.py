"""The import's fast paths store exactly what the ORM paths they replace store."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from pypinyin import lazy_pinyin

from kehu.core.bulk import fast_create, preparer
from kehu.customers import search
from kehu.customers.models import Customer
from kehu.dataquality import quality
from kehu.dataquality.models import MatchKey, QualityIssue
from kehu.dataquality.normalize import names
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

TEXTS = ["北京华信科技有限公司", "重庆银行", "长春长生生物", "  行长 银行 ", "abc中国x", "乐乐", "曾经的曾先生",
         "上海浦东发展银行股份有限公司", "厦门航空", "单于", "朝阳区朝阳路", "ACME 中国"]


@pytest.mark.parametrize("text", TEXTS)
def test_phrase_syllables_as_lazy_pinyin(text: str) -> None:
    expected = tuple(s for s in (names._KEEP.sub("", s.lower()) for s in lazy_pinyin(text.strip(), errors="ignore"))
                     if s)
    assert names._phrase_syllables(text) == expected


def test_name_tokens_memo_hands_out_copies() -> None:
    first = search.name_tokens("北京华信科技有限公司", is_person=False)
    first.add("x:mutated")
    again = search.name_tokens("北京华信科技有限公司", is_person=False)
    assert "x:mutated" not in again
    assert again == search._name_tokens("北京华信科技有限公司", is_person=False, readings=None)


@pytest.mark.parametrize("value", ["text", "", 7, True, None, dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
                                   ["a"], {"k": 1}])
def test_preparer_as_get_db_prep_save(value: object) -> None:
    for field in Customer._meta.concrete_fields:
        try:
            expected = field.get_db_prep_save(value, connection)
        except Exception as exc:  # a value the field does not take: the fast path must refuse it too
            with pytest.raises(type(exc)):
                preparer(field)(value)
        else:
            assert _plain(preparer(field)(value)) == _plain(expected), field.name


def _plain(value: object) -> object:
    """psycopg's Jsonb wrapper has no equality: compare what it wraps. Encrypted fields (random
    nonces): compare the plaintext."""
    from kehu.core import crypto

    if crypto.is_encrypted(value):
        return ("encrypted", crypto.decrypt(value))  # type: ignore[arg-type]
    return (type(value).__name__, value.obj) if hasattr(value, "obj") else value


def test_fast_create_stores_what_bulk_create_stores(admin_user) -> None:  # type: ignore[no-untyped-def]
    existing = CustomerFactory(name="已有公司")
    made = [Customer(name=f"公司{i}", phones=["13800000000"], custom={"k": i}, created_by=admin_user,
                     owner=admin_user) for i in range(3)]
    fast_create(Customer, made)
    assert [c.pk for c in made] == list(range(existing.pk + 1, existing.pk + 4))
    assert all(not c._state.adding for c in made)
    twins = [Customer(name=f"公司{i}", phones=["13800000000"], custom={"k": i}, created_by=admin_user,
                      owner=admin_user, created_at=c.created_at, updated_at=c.updated_at) for i, c in enumerate(made)]
    Customer.objects.bulk_create(twins)
    columns = [f.attname for f in Customer._meta.concrete_fields if not f.primary_key]
    ours = list(Customer.objects.filter(pk__in=[c.pk for c in made]).order_by("pk").values_list(*columns))
    theirs = list(Customer.objects.filter(pk__in=[c.pk for c in twins]).order_by("pk").values_list(*columns))
    assert ours == theirs
    # Deleted ids are not reused (AUTOINCREMENT's rule, kept by the explicit ids on SQLite).
    last = twins[-1].pk
    Customer.objects.filter(pk=last).delete()
    one = [Customer(name="再建公司")]
    fast_create(Customer, one)
    assert one[0].pk == last + 1


def test_quality_refresh_of_fresh_rows_as_full_refresh(admin_user) -> None:  # type: ignore[no-untyped-def]
    customers = [CustomerFactory(name=f"测试公司{i}", phones=["010-1234"], emails=["a@qq.con"]) for i in range(2)]
    quality.customers_quality_refresh(customers, fresh={c.pk for c in customers})
    fresh = (sorted(QualityIssue.objects.values_list("customer_id", "code", "field", "value", "hint")),
             sorted(MatchKey.objects.values_list("customer_id", "kind", "value")),
             sorted(Customer.objects.values_list("pk", "quality_score")))
    quality.customers_quality_refresh(customers)
    full = (sorted(QualityIssue.objects.values_list("customer_id", "code", "field", "value", "hint")),
            sorted(MatchKey.objects.values_list("customer_id", "kind", "value")),
            sorted(Customer.objects.values_list("pk", "quality_score")))
    assert fresh == full
    assert fresh[0]
