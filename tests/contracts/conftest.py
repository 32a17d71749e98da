"""Shared fixtures of the contract tests: a rep with a customer, a won deal, time travel."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from kehu.contracts import services
from kehu.contracts.models import Contract
from kehu.customers.services import customer_create
from kehu.sales import services as sales_services
from kehu.sales.models import Opportunity, Stage, StageKind
from tests.factories import UserFactory


@pytest.fixture
def rep(db):  # type: ignore[no-untyped-def]
    return UserFactory(display_name="李销售")


@pytest.fixture
def customer(rep):  # type: ignore[no-untyped-def]
    return customer_create(acting_user=rep, data={"name": "北京分扬科技有限公司"})


@pytest.fixture
def travel(monkeypatch):  # type: ignore[no-untyped-def]
    """Set "now" (timezone.now and so timezone.localdate) to noon of a given day."""

    def to(day: dt.date) -> None:
        moment = timezone.make_aware(dt.datetime.combine(day, dt.time(12, 0)))
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return to


def new_contract(user: Any, customer: Any, **data: Any) -> Contract:
    return services.contract_create(acting_user=user, data={"title": "年度服务合同", "customer": customer.pk,
                                                            "amount": "10万", **data})


def won_deal(user: Any, customer: Any, amount: str = "5万") -> Opportunity:
    deal = sales_services.opportunity_create(acting_user=user, data={"name": "年度采购", "customer": customer.pk,
                                                                     "amount": amount})
    won = Stage.objects.get(pipeline__is_default=True, kind=StageKind.WON)
    return sales_services.opportunity_move(acting_user=user, opportunity_id=deal.pk, stage_id=won.pk)
