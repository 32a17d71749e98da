"""Fixtures of the recycle-bin tests: a rep's customer with a row of every kind that hangs off it."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps

from kehu.activities import services as activities
from kehu.customers.services import contact_create, customer_create, note_create
from kehu.leads.models import Lead
from kehu.mailing.models import SentMail
from kehu.notifications.models import Notification
from kehu.privacy import services as privacy
from tests.factories import AdminFactory, TagFactory, UserFactory

# The business tables a customer's delete touches (derived tables are compared separately).
DUMPED = ["customers.customer", "customers.contact", "customers.note", "customers.customer_tags",
          "activities.followup", "activities.followupcontact", "activities.task", "privacy.consent",
          "leads.lead", "mailing.sentmail", "notifications.notification"]


def dump(labels: list[str] = DUMPED) -> dict[str, list[dict[str, Any]]]:
    """Every row of the tables, every column, in id order."""
    return {label: list(apps.get_model(label).objects.order_by("pk").values()) for label in labels}


@pytest.fixture
def media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def rep(db):  # type: ignore[no-untyped-def]
    return UserFactory(display_name="李销售")


@pytest.fixture
def other_rep(db):  # type: ignore[no-untyped-def]
    return UserFactory(display_name="另一位销售")


@pytest.fixture
def admin(db):  # type: ignore[no-untyped-def]
    return AdminFactory(display_name="王管理")


@pytest.fixture
def customer(rep):  # type: ignore[no-untyped-def]
    return customer_create(acting_user=rep, data={
        "kind": "company", "name": "北京回收测试科技有限公司", "phones": ["13812345678"],
        "emails": ["info@huishou.example.com"], "address": "北京市海淀区中关村大街1号",
        "tags": [TagFactory(name="重点").name, TagFactory(name="华北").name],
    })


@pytest.fixture
def full_customer(rep, customer):  # type: ignore[no-untyped-def]
    """The customer with contacts, notes, follow-ups with contact links, tasks, consents (its own and
    a contact's), a converted lead, a sent mail and a notification pointing at it."""
    first = contact_create(acting_user=rep, customer=customer, data={"name": "赵敏", "mobile": "13987654321"})
    second = contact_create(acting_user=rep, customer=customer, data={"name": "周芷若", "email": "zzr@example.com"})
    note_create(acting_user=rep, customer=customer, body="客户说下月采购")
    activities.followup_create(acting_user=rep, customer_id=customer.pk, kind="call", content="电话沟通",
                               contact_ids=[first.pk, second.pk])
    activities.task_create(acting_user=rep, assignee=rep, title="回电", description="周五前", customer_id=customer.pk)
    privacy.consent_record(acting_user=rep, customer_id=customer.pk, purpose="data_processing", source="form")
    privacy.consent_record(acting_user=rep, customer_id=customer.pk, contact_id=second.pk, purpose="marketing_mail",
                           source="form")
    Lead.objects.create(name="赵敏", mobile="13987654321", converted_customer=customer, converted_contact=first,
                        owner=rep)
    SentMail.objects.create(to="zzr@example.com", subject="报价", body="您好", customer=customer, contact=second,
                            sent_by=rep, status="sent")
    Notification.objects.create(user=rep, title="需要跟进", body="", customer=customer)
    customer.refresh_from_db()
    return customer
