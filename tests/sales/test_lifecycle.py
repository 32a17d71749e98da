"""The customer's lifecycle stage moving with sales events, forward only, overridable by hand,
churning after months without activity when the deals were lost."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kehu.core.models import AuditEvent
from kehu.core.registries import timeline_registry
from kehu.customers.models import Customer, PicklistOption
from kehu.customers.services import customer_create, customer_update
from kehu.sales import lifecycle, services
from kehu.sales.models import LostReason, Stage
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def stage_code(customer: Customer) -> str | None:
    customer.refresh_from_db()
    return customer.stage.code if customer.stage_id else None


def option(code: str) -> PicklistOption:
    return PicklistOption.objects.get(kind="stage", code=code)


def stage(name: str) -> Stage:
    return Stage.objects.get(pipeline__is_default=True, name_zh=name)


@pytest.fixture
def rep(db):  # type: ignore[no-untyped-def]
    return UserFactory()


def test_a_deal_makes_a_lead_an_opportunity_and_wins_make_it_a_customer_then_repeat(rep) -> None:
    customer = customer_create(acting_user=rep, data={"name": "北京分扬科技有限公司", "stage": "lead"})
    first = services.opportunity_create(acting_user=rep, data={"name": "首单", "customer": customer.pk})
    assert stage_code(customer) == "opportunity"
    services.opportunity_update(acting_user=rep, opportunity_id=first.pk, data={"amount": "5万"})
    services.opportunity_move(acting_user=rep, opportunity_id=first.pk, stage_id=stage("赢单").pk)
    assert stage_code(customer) == "customer"
    second = services.opportunity_create(acting_user=rep, data={"name": "续约", "customer": customer.pk,
                                                                "amount": 1000})
    assert stage_code(customer) == "customer"  # a new deal never moves a customer back to "opportunity"
    services.opportunity_move(acting_user=rep, opportunity_id=second.pk, stage_id=stage("赢单").pk)
    assert stage_code(customer) == "repeat"
    titles = [e.title for e in timeline_registry.entries(customer=customer, user=rep)]
    assert "生命周期阶段：成交客户 → 复购客户（赢单“续约”）" in titles


def test_a_stage_set_by_hand_stays_until_an_event_moves_past_it(rep) -> None:
    customer = customer_create(acting_user=rep, data={"name": "甲公司", "stage": "advocate"})
    services.opportunity_create(acting_user=rep, data={"name": "x", "customer": customer.pk})
    assert stage_code(customer) == "advocate"
    customer_update(acting_user=rep, customer=Customer.objects.get(pk=customer.pk), data={"stage": "lead"})
    assert stage_code(customer) == "lead"  # by hand, backwards too
    services.opportunity_create(acting_user=rep, data={"name": "y", "customer": customer.pk})
    assert stage_code(customer) == "opportunity"


def test_inactive_customers_whose_deals_were_lost_churn_and_a_new_deal_revives_them(rep) -> None:
    lost = customer_create(acting_user=rep, data={"name": "流失公司"})
    busy = customer_create(acting_user=rep, data={"name": "活跃公司"})
    reason = LostReason.objects.first()
    for customer in (lost, busy):
        deal = services.opportunity_create(acting_user=rep, data={"name": "单", "customer": customer.pk})
        services.opportunity_move(acting_user=rep, opportunity_id=deal.pk, stage_id=stage("输单").pk,
                                  lost_reason=reason.pk)
    services.opportunity_create(acting_user=rep, data={"name": "还在谈", "customer": busy.pk})
    later = timezone.now() + dt.timedelta(days=lifecycle.CHURN_DAYS + 1)
    assert lifecycle.churn_scan(now=later) == 1
    assert stage_code(lost) == "churned" and stage_code(busy) == "opportunity"
    assert lifecycle.churn_scan(now=later) == 0  # once
    assert lifecycle.churn_scan(now=timezone.now()) == 0  # not before the period
    event = AuditEvent.objects.filter(action="lifecycle", customer_id=lost.pk).latest("id")
    assert "180 天没有跟进" in event.changes[-1]["new"]
    services.opportunity_create(acting_user=rep, data={"name": "回来了", "customer": lost.pk})
    assert stage_code(lost) == "opportunity"


def test_unknown_stage_codes_do_nothing(rep) -> None:
    customer = customer_create(acting_user=rep, data={"name": "乙公司"})
    PicklistOption.objects.filter(kind="stage", code="opportunity").update(is_active=False)
    assert lifecycle.lifecycle_advance(customer_id=customer.pk, to_code="opportunity", reason="x") is False
    assert option("opportunity").is_active is False


def test_signed_contracts_move_the_lifecycle_too(rep) -> None:
    from kehu.contracts.services import contract_create, contract_set_status

    customer = customer_create(acting_user=rep, data={"name": "丙公司", "stage": "lead"})
    draft = contract_create(acting_user=rep, data={"title": "服务合同", "customer": customer.pk, "amount": "2万"})
    assert stage_code(customer) == "lead"  # a draft is not signed
    contract_set_status(acting_user=rep, contract_id=draft.pk, status="active")
    assert stage_code(customer) == "customer"
    contract_create(acting_user=rep, data={"title": "二期", "customer": customer.pk, "amount": "1万",
                                           "status": "active"})
    assert stage_code(customer) == "repeat"
