"""Opportunities: creation in the default pipeline, amounts as people type them, products, stage
moves with their history and durations, required fields per stage, lost reasons, board order,
scope, and the running totals always equal to a fresh GROUP BY."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from kehu.core.errors import NotFound, ValidationFailed, VersionConflict
from kehu.core.models import AuditEvent
from kehu.customers.services import contact_create, customer_create
from kehu.sales import rollups, selectors, services
from kehu.sales.models import (
    LostReason,
    Opportunity,
    OpportunityRollup,
    Pipeline,
    Stage,
    StageChange,
    StageKind,
    StageReach,
)
from tests.factories import AdminFactory, DepartmentFactory, ManagerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(db):  # type: ignore[no-untyped-def]
    return UserFactory()


@pytest.fixture
def customer(rep):  # type: ignore[no-untyped-def]
    return customer_create(acting_user=rep, data={"name": "北京分扬科技有限公司"})


def stage(name: str) -> Stage:
    return Stage.objects.get(pipeline__is_default=True, name_zh=name)


def new(rep: Any, customer: Any, **data: Any) -> Opportunity:
    return services.opportunity_create(acting_user=rep, data={"name": "年度采购", "customer": customer.pk, **data})


def _kept() -> tuple[set[tuple], list[tuple]]:
    rollup = {(r.stage_id, r.owner_id, r.department_id, r.close_month, r.count, r.amount, r.cycle_seconds)
              for r in OpportunityRollup.objects.filter(count__gt=0)}
    reach = sorted(StageReach.objects.filter(count__gt=0).values_list(
        "stage_id", "owner_id", "department_id", "created_month", "count"))
    return rollup, reach


def assert_rollups_true() -> None:
    """The running totals equal what a rebuild from the opportunities computes."""
    check = selectors.rollup_matches_data()
    assert check["equal"], (check["live"], check["kept"])
    before = _kept()
    rollups.rollups_rebuild()
    assert _kept() == before


def test_the_default_pipeline_is_there_with_ordered_stages() -> None:
    pipeline = Pipeline.objects.get(is_default=True)
    stages = list(pipeline.stages.order_by("position"))
    assert [s.name_zh for s in stages] == ["初步接洽", "需求确认", "方案报价", "商务谈判", "赢单", "输单"]
    assert [s.kind for s in stages][-2:] == [StageKind.WON, StageKind.LOST]
    assert LostReason.objects.count() >= 5


def test_create_puts_the_deal_in_the_first_open_stage_owned_by_its_author(rep, customer) -> None:
    deal = new(rep, customer, amount="1.28万", expected_close_date="2026-12-15")
    assert deal.stage == stage("初步接洽") and deal.owner == rep and deal.department_id == rep.department_id
    assert deal.amount == Decimal("12800.00") and deal.currency == "CNY"
    assert StageChange.objects.get(opportunity=deal).from_stage is None
    event = AuditEvent.objects.get(action="create", object_type="opportunity")
    assert event.customer_id == customer.pk
    assert_rollups_true()


@pytest.mark.parametrize(("text", "amount"), [("12,800", "12800.00"), ("¥12800.50", "12800.50"), ("12k", "12000.00"),
                                              ("3万元", "30000.00"), (99.999, "100.00")])
def test_amounts_as_people_type_them(rep, customer, text, amount) -> None:
    assert new(rep, customer, amount=text).amount == Decimal(amount)


@pytest.mark.parametrize("text", ["十万", "-5", "1e3", "12..5"])
def test_bad_amounts_are_refused_naming_the_field(rep, customer, text) -> None:
    with pytest.raises(ValidationFailed) as caught:
        new(rep, customer, amount=text)
    assert [e.field for e in caught.value.errors] == ["amount"]


def test_products_set_the_amount_when_none_is_given(rep, customer, admin_user) -> None:
    product = services.product_save(acting_user=admin_user,
                                    data={"code": "P-1", "name": "CRM 年费", "list_price": "9800", "unit": "套"})
    deal = new(rep, customer, lines=[{"product": product.pk, "quantity": 2},
                                     {"product": product.pk, "quantity": 1, "unit_price": "8000",
                                      "discount_percent": "10"}])
    assert deal.amount == Decimal("26800.00")  # 2 × 9,800 + 8,000 less 10%
    assert [line.total for line in deal.lines.all()] == [Decimal("19600.00"), Decimal("7200.00")]


def test_a_customer_outside_the_scope_is_not_found(rep) -> None:
    other = customer_create(acting_user=UserFactory(), data={"name": "别人的客户"})
    with pytest.raises(ValidationFailed) as caught:
        services.opportunity_create(acting_user=rep, data={"name": "x", "customer": other.pk})
    assert caught.value.errors[0].field == "customer"


def test_contacts_must_belong_to_the_customer(rep, customer) -> None:
    mine = contact_create(acting_user=rep, customer=customer, data={"name": "张伟"})
    other_customer = customer_create(acting_user=rep, data={"name": "上海另一家"})
    theirs = contact_create(acting_user=rep, customer=other_customer, data={"name": "李娜"})
    deal = new(rep, customer, contacts=[mine.pk])
    assert list(deal.contacts.all()) == [mine]
    with pytest.raises(ValidationFailed):
        new(rep, customer, contacts=[theirs.pk])


def test_moves_record_history_with_the_time_spent_in_each_stage(rep, customer, monkeypatch) -> None:
    start = timezone.now()
    deal = new(rep, customer, amount=50000, expected_close_date="2026-12-31")
    monkeypatch.setattr(timezone, "now", lambda: start + dt.timedelta(days=3))
    services.opportunity_move(acting_user=rep, opportunity_id=deal.pk, stage_id=stage("方案报价").pk)
    monkeypatch.setattr(timezone, "now", lambda: start + dt.timedelta(days=10))
    services.opportunity_move(acting_user=rep, opportunity_id=deal.pk, stage_id=stage("赢单").pk)
    history = selectors.stage_history(user=rep, opportunity_id=deal.pk)
    assert [(c.from_stage and c.from_stage.name_zh, c.to_stage.name_zh) for c in history] == [
        (None, "初步接洽"), ("初步接洽", "方案报价"), ("方案报价", "赢单")]
    assert [c.seconds_in_previous for c in history[1:]] == [pytest.approx(3 * 86400, abs=5), 7 * 86400]
    deal.refresh_from_db()
    assert deal.closed_at == start + dt.timedelta(days=10)
    figures = selectors.sales_figures(user=rep)
    assert (figures.won_count, figures.won_amount, figures.win_rate) == (1, Decimal("50000.00"), 1.0)
    assert figures.average_cycle_days == pytest.approx(10.0, abs=0.01)
    assert_rollups_true()


def test_a_stage_refuses_deals_missing_its_required_fields(rep, customer) -> None:
    deal = new(rep, customer)
    with pytest.raises(ValidationFailed) as caught:
        services.opportunity_move(acting_user=rep, opportunity_id=deal.pk, stage_id=stage("商务谈判").pk)
    assert sorted(e.field for e in caught.value.errors) == ["amount", "expected_close_date"]
    assert "商务谈判" in caught.value.errors[0].message
    deal.refresh_from_db()
    assert deal.stage == stage("初步接洽") and StageChange.objects.filter(opportunity=deal).count() == 1


def test_losing_needs_a_reason_and_reopening_clears_it(rep, customer) -> None:
    deal = new(rep, customer)
    with pytest.raises(ValidationFailed) as caught:
        services.opportunity_move(acting_user=rep, opportunity_id=deal.pk, stage_id=stage("输单").pk)
    assert caught.value.errors[0].field == "lost_reason"
    reason = LostReason.objects.get(label_zh="价格太高")
    lost = services.opportunity_move(acting_user=rep, opportunity_id=deal.pk, stage_id=stage("输单").pk,
                                     lost_reason=reason.pk, lost_note="对方预算只有一半")
    assert (lost.lost_reason, lost.lost_note, lost.closed_at is not None) == (reason, "对方预算只有一半", True)
    reopened = services.opportunity_move(acting_user=rep, opportunity_id=deal.pk, stage_id=stage("需求确认").pk)
    assert (reopened.lost_reason, reopened.closed_at) == (None, None)
    assert selectors.sales_figures(user=rep).lost_count == 0
    assert_rollups_true()


def test_cards_keep_the_order_they_are_dropped_in(rep, customer) -> None:
    a, b, c = (new(rep, customer, name=n) for n in "ABC")  # each new card goes on top: C B A
    column = stage("初步接洽")
    order = lambda: [o.name for o in selectors.column_cards(user=rep, stage=column,  # noqa: E731
                                                            filters=selectors.OpportunityFilter())]
    assert order() == ["C", "B", "A"]
    services.opportunity_move(acting_user=rep, opportunity_id=a.pk, stage_id=column.pk, after_id=c.pk, before_id=b.pk)
    assert order() == ["C", "A", "B"]
    services.opportunity_move(acting_user=rep, opportunity_id=c.pk, stage_id=column.pk, after_id=b.pk)
    assert order() == ["A", "B", "C"]
    assert StageChange.objects.count() == 3  # moving within a column is not a stage change


def test_a_stale_version_is_refused(rep, customer) -> None:
    deal = new(rep, customer)
    services.opportunity_update(acting_user=rep, opportunity_id=deal.pk, data={"next_step": "发报价"})
    with pytest.raises(VersionConflict):
        services.opportunity_update(acting_user=rep, opportunity_id=deal.pk, data={"next_step": "x"},
                                    expected_version=deal.version)


def test_reps_see_and_move_only_their_own_deals(rep, customer) -> None:
    deal = new(rep, customer)
    other = UserFactory()
    with pytest.raises(NotFound):
        services.opportunity_move(acting_user=other, opportunity_id=deal.pk, stage_id=stage("需求确认").pk)
    with pytest.raises(ValidationFailed) as caught:
        services.opportunity_update(acting_user=rep, opportunity_id=deal.pk, data={"owner": other.pk})
    assert caught.value.errors[0].field == "owner"
    assert selectors.kanban_board(user=other).columns[0].count == 0
    assert selectors.kanban_board(user=rep).columns[0].count == 1


def test_board_totals_forecast_and_funnel_follow_every_write(rep, customer) -> None:
    department = DepartmentFactory(name="华北")
    manager = ManagerFactory(department=department)
    colleague = UserFactory(department=department)
    admin = AdminFactory()
    month = timezone.localdate().replace(day=1)
    next_month = (month + dt.timedelta(days=32)).replace(day=1)
    theirs = customer_create(acting_user=colleague, data={"name": "华北客户"})
    deals = [new(colleague, theirs, amount=100000, expected_close_date=next_month.isoformat()),
             new(colleague, theirs, amount=20000, expected_close_date=month.isoformat())]
    mine = new(rep, customer, amount=5000)
    services.opportunity_move(acting_user=colleague, opportunity_id=deals[0].pk, stage_id=stage("方案报价").pk)

    board = selectors.kanban_board(user=admin)
    totals = {c.stage.name_zh: (c.count, c.amount, c.weighted) for c in board.columns}
    assert totals["初步接洽"] == (2, Decimal("25000.00"), Decimal("2500.00"))
    assert totals["方案报价"] == (1, Decimal("100000.00"), Decimal("50000.00"))
    # The manager sees the department's deals, not the rep's.
    assert sum(c.count for c in selectors.kanban_board(user=manager).columns) == 2
    # Live totals (a text filter) agree with the running totals.
    live = selectors.column_totals(user=admin, pipeline=board.pipeline, filters=selectors.OpportunityFilter(q="采购"))
    assert {k: v[0] for k, v in live.items()} == {s.pk: n for s, n in ((stage("初步接洽"), 2), (stage("方案报价"), 1))}

    plan = selectors.forecast(user=admin, start=month, months=3)
    assert plan.by_month[plan.months[1]].weighted == Decimal("50000.00")
    assert plan.cell(plan.months[0], colleague.pk).amount == Decimal("20000.00")
    assert plan.undated.count == 1 and plan.undated.amount == Decimal("5000.00")  # mine has no close date

    steps = {s.stage.name_zh: (s.reached, s.conversion) for s in selectors.funnel(user=admin)}
    assert steps["初步接洽"] == (3, None)
    assert steps["需求确认"] == (1, pytest.approx(1 / 3, abs=1e-4))  # skipped through on the way to 方案报价
    assert steps["方案报价"] == (1, 1.0)

    services.opportunity_update(acting_user=admin, opportunity_id=deals[1].pk, data={"owner": manager.pk,
                                                                                     "amount": "25000"})
    services.opportunity_delete(acting_user=rep, opportunity_id=mine.pk)
    assert_rollups_true()


def test_overdue_counts_past_months_and_this_months_past_days(rep, customer) -> None:
    today = timezone.localdate()
    new(rep, customer, expected_close_date=(today - dt.timedelta(days=70)).isoformat())
    new(rep, customer, expected_close_date=(today + dt.timedelta(days=5)).isoformat())
    new(rep, customer, expected_close_date=today.isoformat())
    assert selectors.sales_figures(user=rep).overdue_count == 1
    assert selectors.overdue_count(user=rep, pipeline=Pipeline.objects.get(is_default=True),
                                   today=today + dt.timedelta(days=6)) == 3


def test_settings_are_for_admins(rep, admin_user) -> None:
    from kehu.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.stage_save(acting_user=rep, pipeline_id=Pipeline.objects.get().pk, data={"name_zh": "x"})
    added = services.stage_save(acting_user=admin_user, pipeline_id=Pipeline.objects.get().pk,
                                data={"name_zh": "试用", "probability": 40, "required_fields": ["next_step"]})
    assert added.position > stage("输单").position
    with pytest.raises(ValidationFailed):
        services.stage_save(acting_user=admin_user, pipeline_id=Pipeline.objects.get().pk,
                            data={"name_zh": "y", "probability": 140, "required_fields": ["bogus"]})


def test_a_customer_with_deals_cannot_be_deleted_and_says_why(rep, customer) -> None:
    from kehu.customers.services import customer_delete

    new(rep, customer)
    with pytest.raises(ValidationFailed) as caught:
        customer_delete(acting_user=rep, customer=customer)
    assert "商机" in caught.value.errors[0].message
    assert type(customer).objects.filter(pk=customer.pk).exists()


def test_the_customer_timeline_shows_stage_changes(rep, customer) -> None:
    from kehu.core.registries import timeline_registry

    deal = new(rep, customer, amount=1000)
    services.opportunity_move(acting_user=rep, opportunity_id=deal.pk, stage_id=stage("方案报价").pk)
    entries = [e for e in timeline_registry.entries(customer=customer, user=rep) if e.kind == "sales.stage"]
    assert [e.title for e in entries] == ["商机“年度采购”从“初步接洽”进入“方案报价”（在上一阶段停留 0.0 天）"]
    titles = [e.title for e in timeline_registry.entries(customer=customer, user=rep)]
    assert "创建了商机 年度采购" in titles  # the audit event, labelled by the sales app
    assert not [e for e in timeline_registry.entries(customer=customer, user=UserFactory()) if e.kind == "sales.stage"]


def test_a_deal_always_keeps_an_owner_and_positions_must_be_numbers(rep, customer, admin_user) -> None:
    deal = new(rep, customer)
    with pytest.raises(ValidationFailed) as caught:
        services.opportunity_update(acting_user=admin_user, opportunity_id=deal.pk, data={"owner": ""})
    assert caught.value.errors[0].field == "owner"
    with pytest.raises(ValidationFailed) as caught:
        services.lost_reason_save(acting_user=admin_user, data={"label_zh": "x", "position": "第一"})
    assert caught.value.errors[0].field == "position"
