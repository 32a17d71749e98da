"""Shared fixtures of the pool tests: a pool with two reps, a manager, an admin; arranging helpers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from kehu.contracts.models import Contract
from kehu.pool.models import CustomerPool
from kehu.sales.models import Opportunity, Stage, StageKind
from tests.factories import CustomerFactory, DepartmentFactory, ManagerFactory, UserFactory

NOW = timezone.make_aware(dt.datetime(2026, 6, 15, 10, 0))


@pytest.fixture
def team(db):  # type: ignore[no-untyped-def]
    return DepartmentFactory(name="华北销售部")


@pytest.fixture
def rep(team):  # type: ignore[no-untyped-def]
    return UserFactory(display_name="李销售", department=team)


@pytest.fixture
def rep2(team):  # type: ignore[no-untyped-def]
    return UserFactory(display_name="王销售", department=team)


@pytest.fixture
def outsider(db):  # type: ignore[no-untyped-def]
    return UserFactory(display_name="外人")


@pytest.fixture
def manager(team):  # type: ignore[no-untyped-def]
    return ManagerFactory(display_name="赵经理", department=team)


@pytest.fixture
def pool(team):  # type: ignore[no-untyped-def]
    pool = CustomerPool.objects.create(name="华北公海", is_default=True, holding_cap=0, daily_claim_limit=0,
                                       reclaim_cooldown_days=0)
    pool.member_departments.add(team)
    return pool


def days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)


def owned(owner: Any, *, created: dt.datetime | None = None, activity: dt.datetime | None = None,
          **kwargs: Any) -> Any:
    customer = CustomerFactory(owner=owner, last_activity_at=activity, **kwargs)
    if created is not None:
        type(customer).objects.filter(pk=customer.pk).update(created_at=created)
        customer.refresh_from_db()
    return customer


def deal(customer: Any, kind: str, closed_at: dt.datetime | None = None) -> Opportunity:
    stage = Stage.objects.filter(pipeline__is_default=True, kind=kind).first()
    return Opportunity.objects.create(name="年度采购", customer=customer, owner=customer.owner,
                                      pipeline=stage.pipeline, stage=stage,
                                      closed_at=closed_at if kind != StageKind.OPEN else None)


def contract(customer: Any, *, status: str = "active", ends_on: dt.date | None = None) -> Contract:
    return Contract.objects.create(number=f"HT-{customer.pk}-{status}", title="年度服务合同", customer=customer,
                                   owner=customer.owner, amount=Decimal("100000"), status=status, ends_on=ends_on)
