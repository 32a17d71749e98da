"""Shared fixtures of the automation tests: a team with two reps and its manager, an admin who
owns the rules, and helpers to build rules through the service and to fire events."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from kehu.automation import services
from kehu.core.events import DomainEvent
from tests.factories import AdminFactory, CustomerFactory, DepartmentFactory, ManagerFactory, UserFactory

NOW = timezone.make_aware(dt.datetime(2026, 6, 15, 10, 0))


@pytest.fixture
def team(db):  # type: ignore[no-untyped-def]
    return DepartmentFactory(name="华东销售部")


@pytest.fixture
def manager(team):  # type: ignore[no-untyped-def]
    manager = ManagerFactory(display_name="赵经理", department=team)
    team.manager = manager
    team.save()
    return manager


@pytest.fixture
def rep(team, manager):  # type: ignore[no-untyped-def]
    return UserFactory(display_name="李销售", department=team)


@pytest.fixture
def rep2(team):  # type: ignore[no-untyped-def]
    return UserFactory(display_name="王销售", department=team)


@pytest.fixture
def admin(db):  # type: ignore[no-untyped-def]
    return AdminFactory(display_name="管理员", email="admin@example.com")


def make_rule(admin: Any, **data: Any) -> Any:
    data.setdefault("name", "测试规则")
    data.setdefault("object_type", "customer")
    data.setdefault("trigger_params", {})
    data.setdefault("conditions", {})
    return services.rule_create(acting_user=admin, data=data)


def customer_of(owner: Any, **kwargs: Any) -> Any:
    return CustomerFactory(owner=owner, **kwargs)


def event(name: str, object_id: int, *, customer_id: int | None = None, changes: dict | None = None,
          data: dict | None = None, at: dt.datetime | None = None) -> dict[str, Any]:
    from kehu.automation.engine import event_payload

    object_type = name.split(".")[0]
    return event_payload(DomainEvent(name=name, object_type=object_type, object_id=object_id,
                                     customer_id=customer_id, changes=changes or {}, data=data or {},
                                     at=at or NOW))


def tag_names(customer: Any) -> list[str]:
    return sorted(customer.tags.values_list("name", flat=True))
