from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kehu.customers import services
from kehu.customers.models import Customer
from kehu.dataquality import quality
from kehu.dataquality import services as dq
from kehu.dataquality.models import BouncedEmail, QualityIssue, QualitySnapshot
from kehu.dataquality.rules import mask_name
from tests.factories import ContactFactory, CustomerFactory, UserFactory


@pytest.mark.parametrize(
    ("present", "problems", "days", "expected"),
    [
        ({"a": True, "b": True}, [], 0, (100, 50, 30, 20)),
        ({"a": True, "b": False}, [], 0, (75, 25, 30, 20)),
        ({"a": True}, ["phone.invalid"], 0, (90, 50, 20, 20)),
        ({"a": True}, ["phone.invalid"] * 4, 0, (70, 50, 0, 20)),
        ({"a": True}, [], 30, (100, 50, 30, 20)),  # within a third of the stale limit: still fresh
        ({"a": True}, [], 180, (80, 50, 30, 0)),  # twice the limit: no freshness left
        ({"a": True}, ["unique.duplicate"], 0, (100, 50, 30, 20)),  # a duplicate is not an invalid value
        ({}, [], 0, (100, 50, 30, 20)),
    ],
)
def test_score_weights(present, problems, days, expected):
    score, completeness, validity, freshness, reasons = quality.score_customer(
        present=present, problems=problems, days_since_touch=days, stale_days=90
    )
    assert (score, completeness, validity, freshness) == expected
    assert sum(r.points for r in reasons) == 100 - score


def test_freshness_decreases_between_a_third_and_twice_the_limit():
    scores = [quality.score_customer(present={}, problems=[], days_since_touch=d, stale_days=90)[3]
              for d in (30, 60, 90, 120, 150, 180)]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == 20 and scores[-1] == 0


@pytest.mark.parametrize(
    ("name", "masked"),
    [("北京分扬科技有限公司", "北京******公司"), ("张伟", "张*"), ("王", "王*"), ("分扬科技", "分**技")],
)
def test_mask_name(name, masked):
    assert mask_name(name) == masked


@pytest.mark.django_db
def test_refresh_lists_missing_key_fields_and_bounced_emails(sales_user):
    customer = services.customer_create(acting_user=sales_user, data={"name": "甲公司", "emails": ["a@example.com"]})
    codes = set(QualityIssue.objects.filter(customer=customer).values_list("code", flat=True))
    assert {"missing.phones", "missing.city", "missing.contacts", "missing.credit_code"} <= codes
    assert dq.email_mark_bounced(email="A@example.com", reason="550 no such user") == 1
    assert QualityIssue.objects.filter(customer=customer, code="email.bounced", value="a@example.com").exists()
    assert BouncedEmail.objects.get().email == "a@example.com"


@pytest.mark.django_db
def test_contact_problems_are_tied_to_the_contact(sales_user):
    customer = services.customer_create(acting_user=sales_user, data={"name": "乙公司"})
    contact = services.contact_create(acting_user=sales_user, customer=customer,
                                      data={"name": "王总", "mobile": "010-65529988"})
    assert (contact.name, contact.salutation) == ("王", "总")
    issue = QualityIssue.objects.get(customer=customer, code="phone.not_mobile")
    assert issue.contact_id == contact.pk


@pytest.mark.django_db
def test_refresh_does_not_touch_version_or_updated_at(sales_user):
    customer = services.customer_create(acting_user=sales_user, data={"name": "丙公司"})
    before = Customer.objects.values_list("version", "updated_at").get(pk=customer.pk)
    quality.customer_quality_refresh(customer)
    assert Customer.objects.values_list("version", "updated_at").get(pk=customer.pk) == before


@pytest.mark.django_db
def test_stale_queue_and_mark_reviewed(sales_user):
    from kehu.dataquality import selectors

    old = timezone.now() - dt.timedelta(days=200)
    stale = CustomerFactory(owner=sales_user, updated_at=old)
    CustomerFactory(owner=sales_user)
    CustomerFactory(owner=UserFactory(), updated_at=old)  # someone else's: not in this rep's queue
    assert list(selectors.stale_customers(user=sales_user)) == [stale]
    assert dq.customers_mark_reviewed(acting_user=sales_user, customer_ids=[stale.pk]) == 1
    assert not selectors.stale_customers(user=sales_user).exists()


@pytest.mark.django_db
def test_assign_to_owner_is_scoped(manager_user, sales_user):
    mine = CustomerFactory(owner=sales_user, department=manager_user.department)
    sales_user.department = manager_user.department
    sales_user.save()
    quality.customer_quality_refresh(mine)
    elsewhere = CustomerFactory(owner=UserFactory())
    quality.customer_quality_refresh(elsewhere)
    changed = dq.issues_assign_to_owner(acting_user=manager_user, customer_ids=[mine.pk, elsewhere.pk])
    assert changed == QualityIssue.objects.filter(customer=mine).count() > 0
    assert not QualityIssue.objects.filter(customer=elsewhere, assigned_to__isnull=False).exists()


@pytest.mark.django_db
def test_nightly_check_scores_everyone_and_takes_a_snapshot():
    customers = [CustomerFactory() for _ in range(3)]
    ContactFactory(customer=customers[0])
    assert dq.quality_check_all(chunk=2) == 3
    assert not Customer.objects.filter(quality_score__isnull=True).exists()
    snapshot = QualitySnapshot.objects.get()
    assert snapshot.customers == 3
    assert sum(snapshot.score_buckets.values()) == 3


@pytest.mark.django_db
def test_choice_values_removed_from_a_custom_field_land_in_the_unknown_picklist_queue(sales_user, admin_user):
    from kehu.customers.services import custom_field_save
    from kehu.dataquality import selectors

    choices = [{"value": "s", "label_zh": "小"}, {"value": "l", "label_zh": "大"}]
    definition = custom_field_save(acting_user=admin_user, target="customer", key="size", label_zh="规模",
                                   field_type="choice", choices=choices)
    customer = services.customer_create(acting_user=sales_user, data={"name": "规模公司", "custom": {"size": "l"}})
    assert not QualityIssue.objects.filter(customer=customer, code="picklist.unknown").exists()
    definition.choices = choices[:1]
    definition.save()
    quality.customer_quality_refresh(customer)
    issue = QualityIssue.objects.get(customer=customer, code="picklist.unknown")
    assert (issue.field, issue.value) == ("custom.size", "l")
    assert list(selectors.queue_customers(user=sales_user, key="unknown_picklist")) == [customer]


def _issue_rows() -> list[tuple]:
    rows = QualityIssue.objects.values_list("customer_id", "contact_id", "code", "field", "value", "hint")
    return sorted(rows, key=lambda row: tuple("" if v is None else str(v) for v in row))


@pytest.mark.django_db
def test_batch_refresh_equals_one_by_one_and_costs_a_fixed_number_of_queries(sales_user):
    customers = [
        services.customer_create(acting_user=sales_user, data={"name": f"批量{i}公司", "phones": ["13900001111"],
                                                               "emails": ["x@qq.con"] if i % 2 else []})
        for i in range(6)
    ]
    ContactFactory(customer=customers[0], mobile="abc")
    for customer in customers:
        quality.customer_quality_refresh(customer)
    one_by_one_issues = _issue_rows()
    scores = dict(Customer.objects.values_list("id", "quality_score"))
    QualityIssue.objects.all().delete()
    fresh = list(Customer.objects.filter(pk__in=[c.pk for c in customers]).order_by("pk"))
    quality.quality_settings()  # settings row exists; not part of the count
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        quality.customers_quality_refresh(fresh[:2])
    with CaptureQueriesContext(connection) as large:
        quality.customers_quality_refresh(fresh)
    assert len(large) == len(small) <= 13  # rules, choices, contacts, bounced, keys, duplicates, issues, scores
    assert _issue_rows() == one_by_one_issues
    assert dict(Customer.objects.values_list("id", "quality_score")) == scores


def test_every_normaliser_code_has_words_in_both_languages():
    from django.utils import translation

    from kehu.dataquality.messages import ENGLISH, _normaliser_messages, describe

    assert set(_normaliser_messages()) <= set(ENGLISH)
    with translation.override("en"):
        assert describe("phone.invalid") == "Unrecognised phone number"
    assert describe("phone.invalid") == "无法识别的电话号码"
