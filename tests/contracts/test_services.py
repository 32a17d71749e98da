"""Contracts and payments through the services and selectors: numbering by the rule, validation,
payment plans, payments matched to instalments (partial, across several, overpayment refused),
deletion reversing allocations, overdue and expiring reads with time travel, one-step contracts
from won deals, scope, the merge registry and the customer's timeline."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum

from kehu.contracts import selectors, services
from kehu.contracts.models import (
    Contract,
    ContractNumberCounter,
    ContractStatus,
    Payment,
    PaymentAllocation,
    PaymentPlanItem,
)
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.models import AuditEvent
from kehu.core.registries import timeline_registry
from kehu.dataquality.merging.registry import related_registry
from kehu.sales import services as sales_services
from tests.contracts.conftest import new_contract, won_deal
from tests.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal


def plan(rep, contract, *rows):  # type: ignore[no-untyped-def]
    return services.plan_set(acting_user=rep, contract_id=contract.pk,
                             items=[{"due_date": d, "amount": a} for d, a in rows])


def paid(contract: Contract) -> list[Decimal]:
    return [i.paid_amount for i in PaymentPlanItem.objects.filter(contract=contract).order_by("sequence")]


def assert_totals_true(contract: Contract) -> None:
    """The running totals equal the payments and allocations they summarise."""
    contract.refresh_from_db()
    assert contract.received_amount == (contract.payments.aggregate(s=Sum("amount"))["s"] or 0)
    for item in contract.plan_items.all():
        assert item.paid_amount == (item.allocations.aggregate(s=Sum("amount"))["s"] or 0)


# Numbering -----------------------------------------------------------------------------------------


def test_numbers_follow_the_rule_in_sequence_and_are_unique(rep, customer, travel) -> None:
    travel(dt.date(2026, 11, 28))
    numbers = [new_contract(rep, customer).number for _ in range(3)]
    assert numbers == ["HT20261128001", "HT20261128002", "HT20261128003"]
    assert Contract.objects.values("number").distinct().count() == 3


def test_numbers_reset_yearly_and_are_never_reused(rep, customer, travel) -> None:
    travel(dt.date(2026, 12, 31))
    first = new_contract(rep, customer)
    second = new_contract(rep, customer)
    services.contract_delete(acting_user=rep, contract_id=second.pk)
    assert new_contract(rep, customer).number == "HT20261231003"  # 002 was handed out once: never again
    travel(dt.date(2027, 1, 1))
    assert new_contract(rep, customer).number == "HT20270101001"
    assert first.number == "HT20261231001"
    assert set(ContractNumberCounter.objects.values_list("period", "last")) == {("2026", 3), ("2027", 1)}


def test_rule_settings_monthly_reset_without_date_skip_numbers_typed_by_hand(rep, customer, travel) -> None:
    admin = AdminFactory()
    with pytest.raises(PermissionDenied):
        services.number_rule_save(acting_user=rep, data={"prefix": "X"})
    with pytest.raises(ValidationFailed) as exc:
        services.number_rule_save(acting_user=admin, data={"prefix": "合同", "sequence_width": 0})
    assert {e.field for e in exc.value.errors} == {"prefix", "sequence_width"}
    services.number_rule_save(acting_user=admin, data={"prefix": "C-", "date_part": "none", "sequence_width": 4,
                                                       "reset": "monthly"})
    travel(dt.date(2026, 5, 10))
    new_contract(rep, customer, number="C-0002")
    assert [new_contract(rep, customer).number for _ in range(2)] == ["C-0001", "C-0003"]
    travel(dt.date(2026, 6, 1))
    assert new_contract(rep, customer).number == "C-0004"  # C-0001..3 exist: the reset skips them


def test_given_number_must_be_unique(rep, customer) -> None:
    new_contract(rep, customer, number="HT-1")
    with pytest.raises(ValidationFailed) as exc:
        new_contract(rep, customer, number="HT-1")
    assert exc.value.errors[0].field == "number"


# Contracts --------------------------------------------------------------------------------------


def test_create_validates_every_field_at_once(rep, customer) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.contract_create(acting_user=rep, data={"title": "", "customer": customer.pk, "amount": "0",
                                                        "starts_on": "2026-12-01", "ends_on": "2026-11-01"})
    assert {e.field for e in exc.value.errors} == {"title", "amount", "ends_on"}
    with pytest.raises(ValidationFailed) as exc:
        new_contract(rep, customer, amount="-5")
    assert exc.value.errors[0].field == "amount"
    assert not Contract.objects.exists()


def test_create_copies_owner_department_and_audits_on_the_customer(rep, customer) -> None:
    contract = new_contract(rep, customer, amount="1.28万", signed_on="2026-11-28")
    assert contract.amount == D("12800.00") and contract.owner == rep and contract.department_id == rep.department_id
    assert contract.status == ContractStatus.DRAFT
    event = AuditEvent.objects.get(object_type="contract", action="create")
    assert event.customer_id == customer.pk and event.actor == rep


def test_update_is_versioned_and_status_changes_are_audited(rep, customer) -> None:
    contract = new_contract(rep, customer)
    updated = services.contract_update(acting_user=rep, contract_id=contract.pk, data={"title": "新名称"},
                                       expected_version=1)
    assert updated.version == 2
    with pytest.raises(VersionConflict):
        services.contract_update(acting_user=rep, contract_id=contract.pk, data={"title": "又一个"},
                                 expected_version=1)
    services.contract_set_status(acting_user=rep, contract_id=contract.pk, status="active")
    event = AuditEvent.objects.filter(object_type="contract", action="update").first()
    assert event.changes == [{"field": "status", "old": "草稿", "new": "执行中"}]
    assert event.customer_id == customer.pk


def test_only_drafts_without_payments_may_be_deleted(rep, customer) -> None:
    contract = new_contract(rep, customer)
    services.payment_record(acting_user=rep, contract_id=contract.pk, received_on="2026-11-01", amount="100")
    with pytest.raises(ValidationFailed):
        services.contract_delete(acting_user=rep, contract_id=contract.pk)
    active = new_contract(rep, customer, status="active")
    with pytest.raises(ValidationFailed):
        services.contract_delete(acting_user=rep, contract_id=active.pk)
    draft = new_contract(rep, customer)
    services.contract_delete(acting_user=rep, contract_id=draft.pk)
    assert not Contract.objects.filter(pk=draft.pk).exists()
    assert AuditEvent.objects.filter(object_type="contract", action="delete", customer_id=customer.pk).exists()


def test_contract_from_a_won_deal_in_one_step_only_when_won(rep, customer) -> None:
    open_deal = sales_services.opportunity_create(acting_user=rep, data={"name": "还在谈", "customer": customer.pk,
                                                                        "amount": "3万"})
    with pytest.raises(ValidationFailed) as exc:
        services.contract_from_opportunity(acting_user=rep, opportunity_id=open_deal.pk)
    assert "赢单" in exc.value.message
    deal = won_deal(rep, customer, amount="5万")
    contract = services.contract_from_opportunity(acting_user=rep, opportunity_id=deal.pk)
    assert (contract.title, contract.customer_id, contract.amount, contract.owner_id, contract.opportunity_id) == (
        "年度采购", customer.pk, D("50000.00"), rep.pk, deal.pk)
    with pytest.raises(ValidationFailed):  # a second click does not make a second contract
        services.contract_from_opportunity(acting_user=rep, opportunity_id=deal.pk)
    assert Contract.objects.count() == 1


def test_another_reps_contract_is_not_found(rep, customer) -> None:
    contract = new_contract(rep, customer)
    other = UserFactory()
    with pytest.raises(NotFound):
        selectors.contract_get(user=other, contract_id=contract.pk)
    with pytest.raises(NotFound):
        services.payment_record(acting_user=other, contract_id=contract.pk, received_on="2026-11-01", amount="1")
    deal = won_deal(rep, customer)
    with pytest.raises(NotFound):
        services.contract_from_opportunity(acting_user=other, opportunity_id=deal.pk)
    assert list(selectors.contracts_filtered(user=other, filters=selectors.ContractFilter())) == []
    assert selectors.contract_get(user=AdminFactory(), contract_id=contract.pk) == contract


# Plan and payments -----------------------------------------------------------------------------


def test_plan_may_not_exceed_the_contract_amount_and_names_the_item(rep, customer) -> None:
    contract = new_contract(rep, customer, amount="10000")
    with pytest.raises(ValidationFailed) as exc:
        plan(rep, contract, ("2026-01-10", "4000"), ("2026-02-10", "4000"), ("2026-03-10", "3000"))
    assert exc.value.errors[0].field == "items.2.amount" and "第 3 期" in exc.value.message
    with pytest.raises(ValidationFailed) as exc:
        services.plan_set(acting_user=rep, contract_id=contract.pk, items=[{"due_date": "", "amount": "abc"}])
    assert {e.field for e in exc.value.errors} == {"items.0.due_date", "items.0.amount"}
    items = plan(rep, contract, ("2026-01-10", "4000"), ("2026-02-10", "6000"))
    assert [(i.sequence, i.amount) for i in items] == [(1, D("4000")), (2, D("6000"))]


def test_payments_fill_the_earliest_instalments_across_several_and_partially(rep, customer) -> None:
    contract = new_contract(rep, customer, amount="10000")
    plan(rep, contract, ("2026-01-10", "3000"), ("2026-02-10", "3000"), ("2026-03-10", "4000"))
    first = services.payment_record(acting_user=rep, contract_id=contract.pk, received_on="2026-01-09",
                                    amount="4500", method="wechat")
    assert paid(contract) == [D("3000"), D("1500"), D("0")]
    assert sorted(first.allocations.values_list("amount", flat=True)) == [D("1500"), D("3000")]
    services.payment_record(acting_user=rep, contract_id=contract.pk, received_on="2026-02-10", amount="2000")
    assert paid(contract) == [D("3000"), D("3000"), D("500")]
    assert_totals_true(contract)
    contract.refresh_from_db()
    assert (contract.received_amount, contract.outstanding) == (D("6500"), D("3500"))


def test_a_named_instalment_is_paid_first(rep, customer) -> None:
    contract = new_contract(rep, customer, amount="10000")
    items = plan(rep, contract, ("2026-01-10", "3000"), ("2026-02-10", "3000"))
    services.payment_record(acting_user=rep, contract_id=contract.pk, received_on="2026-02-01", amount="3500",
                            plan_item=items[1].pk)
    assert paid(contract) == [D("500"), D("3000")]


def test_overpayment_beyond_the_remaining_amount_is_refused(rep, customer) -> None:
    contract = new_contract(rep, customer, amount="10000")
    services.payment_record(acting_user=rep, contract_id=contract.pk, received_on="2026-01-01", amount="9000")
    with pytest.raises(ValidationFailed) as exc:
        services.payment_record(acting_user=rep, contract_id=contract.pk, received_on="2026-01-02", amount="1000.01")
    assert exc.value.errors[0].field == "amount"
    with pytest.raises(ValidationFailed) as exc:
        services.payment_record(acting_user=rep, contract_id=contract.pk, received_on="", amount="0",
                                method="bitcoin")
    assert {e.field for e in exc.value.errors} == {"received_on", "amount", "method"}
    assert Payment.objects.count() == 1


def test_deleting_a_payment_reverses_its_allocations(rep, customer) -> None:
    contract = new_contract(rep, customer, amount="10000")
    plan(rep, contract, ("2026-01-10", "3000"), ("2026-02-10", "3000"))
    first = services.payment_record(acting_user=rep, contract_id=contract.pk, received_on="2026-01-09",
                                    amount="2000")
    services.payment_record(acting_user=rep, contract_id=contract.pk, received_on="2026-01-20", amount="2000")
    assert paid(contract) == [D("3000"), D("1000")]
    services.payment_delete(acting_user=rep, contract_id=contract.pk, payment_id=first.pk)
    assert paid(contract) == [D("2000"), D("0")]
    assert not PaymentAllocation.objects.filter(payment_id=first.pk).exists()
    assert_totals_true(contract)
    assert AuditEvent.objects.filter(object_type="payment", action="delete", customer_id=customer.pk).exists()


def test_changing_the_plan_matches_the_payments_again(rep, customer) -> None:
    contract = new_contract(rep, customer, amount="10000")
    plan(rep, contract, ("2026-01-10", "5000"))
    services.payment_record(acting_user=rep, contract_id=contract.pk, received_on="2026-01-09", amount="4000")
    plan(rep, contract, ("2026-01-10", "1000"), ("2026-02-10", "1000"), ("2026-03-10", "8000"))
    assert paid(contract) == [D("1000"), D("1000"), D("2000")]
    assert_totals_true(contract)


# Reads ------------------------------------------------------------------------------------------


def test_overdue_instalments_and_has_overdue_filter_with_time_travel(rep, customer, travel) -> None:
    contract = new_contract(rep, customer, amount="10000", status="active")
    plan(rep, contract, ("2026-03-01", "3000"), ("2026-04-01", "3000"))
    services.payment_record(acting_user=rep, contract_id=contract.pk, received_on="2026-02-20", amount="1000")
    travel(dt.date(2026, 3, 1))
    assert list(selectors.overdue_instalments(user=rep)) == []  # due today is not overdue yet
    travel(dt.date(2026, 3, 2))
    assert [i.sequence for i in selectors.overdue_instalments(user=rep)] == [1]
    assert list(selectors.contracts_filtered(user=rep, filters=selectors.ContractFilter(overdue=True))) == [contract]
    travel(dt.date(2026, 4, 2))
    assert [i.sequence for i in selectors.overdue_instalments(user=rep)] == [1, 2]
    services.payment_record(acting_user=rep, contract_id=contract.pk, received_on="2026-04-02", amount="5000")
    assert list(selectors.overdue_instalments(user=rep)) == []
    assert list(selectors.overdue_instalments(user=UserFactory())) == []


def test_contracts_expiring_within_30_days(rep, customer, travel) -> None:
    soon = new_contract(rep, customer, status="active", starts_on="2026-01-01", ends_on="2026-12-20")
    new_contract(rep, customer, status="active", starts_on="2026-01-01", ends_on="2027-03-01")
    new_contract(rep, customer, status="draft", ends_on="2026-12-10")
    travel(dt.date(2026, 11, 28))
    assert list(selectors.contracts_expiring(user=rep)) == [soon]
    travel(dt.date(2026, 12, 21))
    assert list(selectors.contracts_expiring(user=rep)) == []


def test_receivables_and_owner_summary(rep, customer, travel) -> None:
    travel(dt.date(2026, 6, 1))
    a = new_contract(rep, customer, amount="10000", status="active")
    b = new_contract(rep, customer, amount="5000", status="active")
    plan(rep, a, ("2026-05-01", "4000"))
    services.payment_record(acting_user=rep, contract_id=a.pk, received_on="2026-05-02", amount="1000")
    services.payment_record(acting_user=rep, contract_id=b.pk, received_on="2026-05-02", amount="5000")
    assert list(selectors.receivables(user=rep)) == [a]
    [row] = selectors.receivables_by_owner(user=rep)
    assert (row.owner_id, row.contracts, row.amount, row.received, row.outstanding, row.overdue) == (
        rep.pk, 2, D("15000"), D("6000"), D("9000"), D("3000.00"))
    totals = selectors.contract_totals(selectors.contracts_filtered(user=rep, filters=selectors.ContractFilter()))
    assert (totals.count, totals.amount, totals.received, totals.outstanding) == (2, D("15000"), D("6000"),
                                                                                  D("9000"))


# Registries -------------------------------------------------------------------------------------


def test_merge_registry_covers_the_contract_foreign_keys() -> None:
    assert related_registry.unregistered() == []
    assert "contracts.contract.customer" in {kind.key for kind in related_registry.kinds()}


def test_payments_show_on_the_customers_timeline_to_those_who_see_the_contract(rep, customer) -> None:
    contract = new_contract(rep, customer, number="HT20261128001", amount="5万")
    services.payment_record(acting_user=rep, contract_id=contract.pk, received_on="2026-11-28", amount="12000")
    titles = [e.title for e in timeline_registry.entries(customer=customer, user=rep)]
    assert "收到回款 ¥12,000（合同 HT20261128001）" in titles
    assert any("合同" in t and "创建" in t for t in titles)
    others = [e.title for e in timeline_registry.entries(customer=customer, user=UserFactory())
              if e.kind == "contracts.payment"]
    assert others == []


def test_a_merge_moves_contracts_and_the_unmerge_puts_them_back(rep, customer) -> None:
    from kehu.customers.services import customer_create
    from kehu.dataquality.merging.services import customers_merge, merge_undo

    other = customer_create(acting_user=rep, data={"name": "北京分扬科技"})
    contract = new_contract(rep, other)
    merge = customers_merge(acting_user=rep, survivor_id=customer.pk, merged_ids=[other.pk])
    contract.refresh_from_db()
    assert contract.customer_id == customer.pk
    merge_undo(acting_user=rep, merge_id=merge.pk)
    contract.refresh_from_db()
    assert contract.customer_id == other.pk
