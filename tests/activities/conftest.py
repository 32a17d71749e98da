"""Shared fixtures of the activities tests: two reps in different departments, a manager over the
first rep's department, a customer of each rep, a fixed "now" and a recorder of domain events."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from kehu.core import events
from kehu.customers.services import contact_create, customer_create
from tests.factories import DepartmentFactory, ManagerFactory, UserFactory

# A Wednesday at 10:00 local time.
NOW = timezone.make_aware(dt.datetime(2026, 11, 25, 10, 0))


@pytest.fixture
def rep(db):  # type: ignore[no-untyped-def]
    return UserFactory(display_name="李销售")


@pytest.fixture
def other_rep(db):  # type: ignore[no-untyped-def]
    return UserFactory(display_name="王销售", department=DepartmentFactory())


@pytest.fixture
def manager(rep):  # type: ignore[no-untyped-def]
    return ManagerFactory(department=rep.department)


@pytest.fixture
def customer(rep):  # type: ignore[no-untyped-def]
    return customer_create(acting_user=rep, data={"name": "北京分扬科技有限公司"})


@pytest.fixture
def contact(rep, customer):  # type: ignore[no-untyped-def]
    return contact_create(acting_user=rep, customer=customer, data={"name": "张伟", "mobile": "13700001111"})


@pytest.fixture
def other_customer(other_rep):  # type: ignore[no-untyped-def]
    return customer_create(acting_user=other_rep, data={"name": "上海别家贸易有限公司"})


@pytest.fixture
def published(monkeypatch):  # type: ignore[no-untyped-def]
    """Domain events the services publish (recorded instead of waiting for a commit)."""
    from kehu.activities import services

    seen: list[events.DomainEvent] = []
    monkeypatch.setattr(services, "publish", seen.append)
    return seen


def at(day: int, hour: int = 10, minute: int = 0, month: int = 11) -> dt.datetime:
    return timezone.make_aware(dt.datetime(2026, month, day, hour, minute))


def names(rows: Any) -> list[str]:
    return [r.title for r in rows]


def soon(days: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    """`days` from today (local) at hour:minute, for writes validated against the real clock."""
    day = timezone.localdate() + dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))
