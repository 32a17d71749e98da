from __future__ import annotations

import datetime as dt
import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.utils import timezone

from kehu.accounts.models import Department, User
from kehu.core.models import AuditEvent
from kehu.customers import demo
from kehu.customers.models import Contact, Customer, Note, SearchToken
from kehu.customers.search import reindex_all, search
from kehu.customers.selectors import customer_timeline
from kehu.dataquality.normalize.identifiers import normalize_credit_code

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def test_credit_code_check_character_matches_the_standard_example():
    # The worked example of GB 32100-2015.
    assert demo.credit_code_check_char("91350100M000100Y4") == "3"
    assert demo.credit_code_is_valid("91350100M000100Y43")
    assert not demo.credit_code_is_valid("91350100M000100Y44")
    assert not demo.credit_code_is_valid("91350100M000100Y4")


def test_organisation_code_check_character():
    # GB 11714 example: D2143569-X (check value 10 is written X).
    assert demo.org_code_check_char("D2143569") == "X"


def test_same_seed_gives_the_same_data_and_another_seed_does_not():
    first = demo.build_dataset(customers=40, seed=7, now=NOW)
    again = demo.build_dataset(customers=40, seed=7, now=NOW)
    other = demo.build_dataset(customers=40, seed=8, now=NOW)
    assert first == again
    assert [c.name for c in first.customers] != [c.name for c in other.customers]


def test_dataset_looks_like_a_chinese_sales_organisation():
    data = demo.build_dataset(customers=300, seed=1, now=NOW)
    parents = {d.name: d.parent for d in data.departments}
    assert parents["总部"] is None
    assert parents["华北大区"] == "总部"
    assert parents["北京一部"] == "华北大区"
    assert {u.role for u in data.users} == {"sales", "manager", "service", "marketing"}
    assert len({u.username for u in data.users}) == len(data.users)

    companies = [c for c in data.customers if c.kind == "company"]
    persons = [c for c in data.customers if c.kind == "person"]
    assert companies and persons
    assert len({c.name for c in companies}) == len(companies)
    for company in companies:
        assert company.name.endswith(("公司", "有限公司"))
        assert demo.credit_code_is_valid(company.credit_code)
        checked = normalize_credit_code(company.credit_code)
        assert checked.value == company.credit_code and checked.valid and not checked.problems
        assert company.contacts and [k.is_primary for k in company.contacts].count(True) == 1
    for person in persons:
        assert person.credit_code == "" and person.contacts == []
        assert re.fullmatch(r"1[3-9]\d{9}", person.phones[0])
    # A few records carry the mistakes real spreadsheets have (for the data-quality pages), no more.
    missing_city = [c for c in data.customers if not c.city]
    assert 0 < len(missing_city) < len(data.customers) * 0.05
    typos = [c for c in data.customers if any(e.endswith((".con", ".cm", ".co")) for e in c.emails)]
    assert 0 < len(typos) < len(data.customers) * 0.1
    for customer in data.customers:
        assert customer.province and (customer.city and customer.district or customer in missing_city)
        assert NOW - dt.timedelta(days=732) <= customer.created_at <= customer.updated_at <= NOW
        assert all(customer.created_at <= note.at <= NOW for note in customer.notes)
    mobiles = [k.mobile for c in companies for k in c.contacts]
    assert all(re.fullmatch(r"1[3-9]\d{9}", m) for m in mobiles)
    assert len(set(mobiles)) == len(mobiles)
    # Two years of history, not one afternoon.
    created = sorted(c.created_at for c in data.customers)
    assert created[-1] - created[0] > dt.timedelta(days=365)
    assert {c.stage for c in data.customers} >= {"lead", "opportunity", "customer"}
    assert any(c.tags for c in data.customers)


@pytest.mark.django_db
def test_load_writes_customers_contacts_notes_audit_and_the_search_index():
    data = demo.build_dataset(customers=30, seed=3, now=timezone.now())
    result = demo.load_dataset(data)

    assert result.customers == Customer.objects.count() == 30
    assert result.contacts == Contact.objects.count() == sum(len(c.contacts) for c in data.customers)
    assert result.notes == Note.objects.count() == sum(len(c.notes) for c in data.customers)
    assert User.objects.filter(username__in=[u.username for u in data.users]).count() == len(data.users)
    beijing = Department.objects.get(name="北京一部")
    assert beijing.parent.name == "华北大区" and beijing.parent.parent.name == "总部"
    assert authenticate(username="sales01", password=demo.DEMO_PASSWORD) is not None

    for customer, row in zip(Customer.objects.order_by("pk"), data.customers, strict=True):
        assert customer.name == row.name
        assert customer.created_at == row.created_at
        assert customer.owner.username == row.owner
        assert customer.department_id == customer.owner.department_id
        assert sorted(customer.tags.values_list("name", flat=True)) == sorted(row.tags)
        assert AuditEvent.objects.filter(customer_id=customer.pk, action="create").count() == 1
    note_times = sorted(n.at for c in data.customers for n in c.notes)
    assert sorted(Note.objects.values_list("created_at", flat=True)) == note_times

    # The bulk index is exactly what the search module builds itself.
    columns = [f.attname for f in SearchToken._meta.concrete_fields if not f.primary_key]
    loaded = set(SearchToken.objects.values_list(*columns))
    assert result.tokens == len(loaded)
    reindex_all()
    assert set(SearchToken.objects.values_list(*columns)) == loaded

    marketing = User.objects.get(username="marketing1")
    company = Customer.objects.filter(kind="company").first()
    assert company.pk in {h.customer.pk for h in search(user=marketing, query=company.name)}
    entries = customer_timeline(user=marketing, customer=company)
    assert any(e.kind == "audit.create" for e in entries)


@pytest.mark.django_db
def test_demo_command_refuses_to_load_twice_without_force():
    out = StringIO()
    call_command("demo", customers=5, seed=1, stdout=out)
    assert "5 个客户" in out.getvalue()
    assert demo.DEMO_PASSWORD in out.getvalue()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("demo", customers=5, seed=1, stdout=StringIO())
    assert Customer.objects.count() == 5
    call_command("demo", customers=3, seed=2, force=True, stdout=StringIO())
    assert Customer.objects.count() == 8
    assert User.objects.filter(username="sales01").count() == 1


@pytest.mark.django_db
def test_setup_twice_creates_one_admin_and_loads_demo_once(monkeypatch):
    monkeypatch.delenv("KEHU_ADMIN_PASSWORD", raising=False)
    out = StringIO()
    call_command("setup", demo_customers=12, skip_collectstatic=True, stdout=out)
    text = out.getvalue()
    password = re.search(r"密码：(\S+)", text).group(1)
    assert authenticate(username="admin", password=password).is_kehu_admin
    assert Customer.objects.count() == 12

    again = StringIO()
    call_command("setup", demo_customers=12, skip_collectstatic=True, stdout=again)
    assert User.objects.filter(username="admin").count() == 1
    assert Customer.objects.count() == 12
    assert password not in again.getvalue()
    assert authenticate(username="admin", password=password) is not None


@pytest.mark.django_db
def test_setup_uses_the_admin_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("KEHU_ADMIN_PASSWORD", "from-the-env-123")
    out = StringIO()
    call_command("setup", skip_collectstatic=True, stdout=out)
    assert "from-the-env-123" not in out.getvalue()
    assert authenticate(username="admin", password="from-the-env-123") is not None
    assert Customer.objects.count() == 0
