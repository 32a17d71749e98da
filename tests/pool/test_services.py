"""Pool rules with time travel (every service takes `now=`): release, claim limits, cool-down,
assign, auto-return with each rule and exemption, reminders."""

from __future__ import annotations

import pytest

from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.models import AuditEvent
from kehu.core.registries import timeline_registry
from kehu.customers.models import Customer, SearchToken
from kehu.pool import selectors, services
from kehu.pool.models import MoveAction, PoolEntry, PoolMove, ReturnReminder
from kehu.sales.models import StageKind
from tests.factories import AdminFactory, CustomerFactory
from tests.pool.conftest import NOW, contract, days, deal, owned

pytestmark = pytest.mark.django_db


def released(user, customer, when=NOW):  # type: ignore[no-untyped-def]
    return services.pool_release(acting_user=user, customer_id=customer.pk, reason="客户暂无需求", now=when)


def test_release_needs_a_reason_and_empties_owner(rep, pool):
    customer = owned(rep)
    with pytest.raises(ValidationFailed) as caught:
        services.pool_release(acting_user=rep, customer_id=customer.pk, reason="  ", now=NOW)
    assert caught.value.errors[0].field == "reason"
    assert Customer.objects.get(pk=customer.pk).owner_id == rep.pk

    entry = released(rep, customer)
    customer.refresh_from_db()
    assert customer.owner_id is None and customer.department_id is None
    assert entry.pool == pool and entry.previous_owner == rep and entry.reason == "客户暂无需求"
    assert PoolMove.objects.get(customer_id=customer.pk).action == MoveAction.RELEASE
    event = AuditEvent.objects.get(customer_id=customer.pk, object_type="poolmove")
    assert {"field": "owner", "old": "李销售", "new": None} in event.changes
    assert not SearchToken.objects.filter(customer=customer, owner=rep).exists()
    titles = [e.title for e in timeline_registry.entries(customer=customer, user=rep)]
    assert any("退回公海「华北公海」：客户暂无需求" in t for t in titles)


def test_only_owner_or_manager_releases(rep, rep2, manager, pool):
    customer = owned(rep)
    with pytest.raises(NotFound):  # another rep can't even see it
        released(rep2, customer)
    released(manager, customer)
    assert PoolEntry.objects.filter(customer=customer).exists()


def test_claim_sets_owner_and_department(rep, rep2, pool):
    customer = owned(rep)
    released(rep, customer)
    services.pool_claim(acting_user=rep2, customer_id=customer.pk, now=NOW + days(1))
    customer.refresh_from_db()
    assert customer.owner == rep2 and customer.department == rep2.department
    assert not PoolEntry.objects.filter(customer=customer).exists()
    assert PoolMove.objects.filter(customer_id=customer.pk, action=MoveAction.CLAIM, user=rep2).exists()


def test_holding_cap_counts_owned_customers(rep, rep2, pool):
    pool.holding_cap = 2
    pool.save()
    owned(rep2)
    pooled = [owned(rep) for _ in range(3)]
    for customer in pooled:
        released(rep, customer)
    services.pool_claim(acting_user=rep2, customer_id=pooled[0].pk, now=NOW)
    with pytest.raises(ValidationFailed, match="上限"):
        services.pool_claim(acting_user=rep2, customer_id=pooled[1].pk, now=NOW)
    assert Customer.objects.filter(owner=rep2).count() == 2
    assert selectors.claim_allowance(user=rep2, pool=pool, now=NOW).holding_room == 0


def test_daily_limit_resets_the_next_day(rep, rep2, pool):
    pool.daily_claim_limit = 2
    pool.save()
    pooled = [owned(rep) for _ in range(4)]
    for customer in pooled:
        released(rep, customer, NOW - days(1))
    services.pool_claim(acting_user=rep2, customer_id=pooled[0].pk, now=NOW)
    services.pool_claim(acting_user=rep2, customer_id=pooled[1].pk, now=NOW + days(0.1))
    assert selectors.claim_allowance(user=rep2, pool=pool, now=NOW + days(0.1)).claims_left == 0
    with pytest.raises(ValidationFailed, match="每日上限"):
        services.pool_claim(acting_user=rep2, customer_id=pooled[2].pk, now=NOW + days(0.2))
    services.pool_claim(acting_user=rep2, customer_id=pooled[2].pk, now=NOW + days(1))
    assert Customer.objects.filter(owner=rep2).count() == 3


def test_cooldown_blocks_the_former_owner_only(rep, rep2, pool):
    pool.reclaim_cooldown_days = 7
    pool.save()
    customer = owned(rep)
    released(rep, customer)
    with pytest.raises(ValidationFailed, match="重新领取"):
        services.pool_claim(acting_user=rep, customer_id=customer.pk, now=NOW + days(6))
    services.pool_claim(acting_user=rep, customer_id=customer.pk, now=NOW + days(7.01))
    assert Customer.objects.get(pk=customer.pk).owner == rep

    other = owned(rep)
    released(rep, other)
    services.pool_claim(acting_user=rep2, customer_id=other.pk, now=NOW + days(1))  # others may at once


def test_cooldown_applies_after_auto_return(rep, pool):
    pool.reclaim_cooldown_days = 3
    pool.return_no_followup_days = 30
    pool.save()
    customer = owned(rep, created=NOW - days(100), activity=NOW - days(40))
    assert services.auto_return_scan(now=NOW)["returned"] == 1
    with pytest.raises(ValidationFailed):
        services.pool_claim(acting_user=rep, customer_id=customer.pk, now=NOW + days(1))


def test_non_members_cannot_see_or_claim(rep, outsider, pool):
    customer = owned(rep)
    released(rep, customer)
    with pytest.raises(NotFound):
        services.pool_claim(acting_user=outsider, customer_id=customer.pk, now=NOW)
    with pytest.raises(NotFound):
        selectors.pool_customers(user=outsider, pool=pool)
    assert selectors.my_pools(user=outsider) == []
    assert selectors.my_pools(user=rep) == [pool]
    # Reps don't see pool customers through the customer archive either.
    from kehu.core.scoping import restrict

    assert not restrict(Customer.objects.filter(pk=customer.pk), rep).exists()


def test_listing_masks_phones_and_emails(rep, rep2, pool):
    customer = owned(rep, phones=["13812345678"], phones_e164=["+8613812345678"], emails=["zhang.san@qq.com"])
    released(rep, customer)
    page = selectors.pool_customers(user=rep2, pool=pool)
    row = page.rows[0]
    assert row.phones == ["138****5678"] and row.emails == ["z***@qq.com"]
    assert page.total == 1


def test_assign_by_admin_bypasses_limits_but_not_inactive_users(rep, rep2, manager, pool):
    pool.holding_cap = 1
    pool.save()
    owned(rep2)
    customer = owned(rep)
    released(rep, customer)
    with pytest.raises(PermissionDenied):
        services.pool_assign(acting_user=rep, customer_id=customer.pk, user_id=rep2.pk, now=NOW)
    rep.is_active = False
    rep.save()
    with pytest.raises(ValidationFailed):
        services.pool_assign(acting_user=manager, customer_id=customer.pk, user_id=rep.pk, now=NOW)
    services.pool_assign(acting_user=manager, customer_id=customer.pk, user_id=rep2.pk, now=NOW)
    assert Customer.objects.get(pk=customer.pk).owner == rep2
    admin = AdminFactory()
    other = CustomerFactory(owner=rep2)
    released(rep2, other)
    services.pool_assign(acting_user=admin, customer_id=other.pk, user_id=rep2.pk, now=NOW)


# Auto-return ----------------------------------------------------------------------------------


def test_no_followup_rule(rep, pool):
    pool.return_no_followup_days = 30
    pool.save()
    stale = owned(rep, created=NOW - days(100), activity=NOW - days(31))
    fresh = owned(rep, created=NOW - days(100), activity=NOW - days(29))
    never = owned(rep, created=NOW - days(31))  # no follow-up ever: counted from creation
    new = owned(rep, created=NOW - days(5))
    result = services.auto_return_scan(now=NOW)
    assert result["returned"] == 2
    assert set(PoolEntry.objects.values_list("customer_id", flat=True)) == {stale.pk, never.pk}
    assert Customer.objects.get(pk=fresh.pk).owner == rep and Customer.objects.get(pk=new.pk).owner == rep
    assert PoolMove.objects.filter(action=MoveAction.AUTO_RETURN, previous_owner=rep).count() == 2
    assert AuditEvent.objects.filter(customer_id=stale.pk, object_type="poolmove").exists()
    assert services.auto_return_scan(now=NOW)["returned"] == 0  # idempotent


def test_no_won_rule(rep, pool):
    pool.return_no_won_days = 90
    pool.exempt_open_opportunity = False
    pool.save()
    won_recently = owned(rep, created=NOW - days(400), activity=NOW)
    deal(won_recently, StageKind.WON, closed_at=NOW - days(10))
    won_long_ago = owned(rep, created=NOW - days(400), activity=NOW)
    deal(won_long_ago, StageKind.WON, closed_at=NOW - days(200))
    young = owned(rep, created=NOW - days(30), activity=NOW)
    services.auto_return_scan(now=NOW)
    assert list(PoolEntry.objects.values_list("customer_id", flat=True)) == [won_long_ago.pk]
    assert Customer.objects.get(pk=young.pk).owner == rep


def test_exemptions(rep, pool):
    pool.return_no_followup_days = 30
    pool.save()
    with_open_deal = owned(rep, created=NOW - days(100))
    deal(with_open_deal, StageKind.OPEN)
    with_live_contract = owned(rep, created=NOW - days(100))
    contract(with_live_contract, ends_on=(NOW + days(30)).date())
    with_ended_contract = owned(rep, created=NOW - days(100))
    contract(with_ended_contract, ends_on=(NOW - days(1)).date())
    with_completed_contract = owned(rep, created=NOW - days(100))
    contract(with_completed_contract, status="completed", ends_on=(NOW + days(30)).date())
    services.auto_return_scan(now=NOW)
    assert set(PoolEntry.objects.values_list("customer_id", flat=True)) == {with_ended_contract.pk,
                                                                            with_completed_contract.pk}
    pool.exempt_open_opportunity = False
    pool.exempt_live_contract = False
    pool.save()
    assert services.auto_return_scan(now=NOW)["returned"] == 2


def test_freshly_claimed_customer_gets_a_full_period(rep, rep2, pool):
    pool.return_no_followup_days = 30
    pool.save()
    customer = owned(rep, created=NOW - days(100), activity=NOW - days(60))
    released(rep, customer, NOW - days(50))
    services.pool_claim(acting_user=rep2, customer_id=customer.pk, now=NOW - days(10))
    assert services.auto_return_scan(now=NOW)["returned"] == 0
    assert services.auto_return_scan(now=NOW + days(21))["returned"] == 1


def test_non_members_customers_are_not_returned(rep, outsider, pool):
    pool.return_no_followup_days = 30
    pool.save()
    owned(outsider, created=NOW - days(100))
    assert services.auto_return_scan(now=NOW)["returned"] == 0


def test_reminders_once_k_days_before(rep, pool):
    pool.return_no_followup_days = 30
    pool.remind_days_before = 3
    pool.save()
    soon = owned(rep, created=NOW - days(100), activity=NOW - days(28))
    later = owned(rep, created=NOW - days(100), activity=NOW - days(20))
    result = services.auto_return_scan(now=NOW)
    assert result == {"pools": 1, "returned": 0, "reminded": 1}
    reminder = ReturnReminder.objects.get()
    assert reminder.customer == soon and reminder.owner == rep
    assert reminder.due_at == soon.last_activity_at + days(30)
    assert [r.customer for r in selectors.reminders_for(user=rep, now=NOW)] == [soon]
    assert services.auto_return_scan(now=NOW + days(1))["reminded"] == 0  # once
    assert services.auto_return_scan(now=NOW + days(3))["returned"] == 1
    assert selectors.reminders_for(user=rep, now=NOW + days(3)) == []
    assert services.auto_return_scan(now=NOW + days(8))["reminded"] == 1  # `later` comes due
    assert ReturnReminder.objects.filter(customer=later).count() == 1


def test_auto_return_run_is_for_admins(rep, pool):
    with pytest.raises(PermissionDenied):
        services.auto_return_run(acting_user=rep)
    assert services.auto_return_run(acting_user=AdminFactory())["pools"] == 1


def test_claim_through_the_wrong_pool_is_not_found(rep, rep2, pool):
    from kehu.pool.models import CustomerPool

    other = CustomerPool.objects.create(name="华南公海")
    customer = owned(rep)
    released(rep, customer)
    with pytest.raises(NotFound):
        services.pool_claim(acting_user=rep2, customer_id=customer.pk, pool_id=other.pk, now=NOW)
    services.pool_claim(acting_user=rep2, customer_id=customer.pk, pool_id=pool.pk, now=NOW)
