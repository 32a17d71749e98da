"""Time-based and scheduled rules with time travel (`now=`): the daily pass starts once its time
has come, selects with one set query, and acts once per period (a year for birthdays, one idle
spell for inactivity, a day for schedules)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kehu.automation import engine, triggers
from kehu.automation.models import ActionLog, RuleRun
from kehu.customers.models import Customer
from kehu.pool.models import CustomerPool, PoolEntry
from tests.automation.conftest import customer_of, make_rule, tag_names

pytestmark = pytest.mark.django_db


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime(y, m, d, hh, mm))


def birthday_rule(admin, **params):  # type: ignore[no-untyped-def]
    return make_rule(admin, trigger="date_offset",
                     trigger_params={"field": "birthday", "days": 0, "direction": "before", "at": "09:00", **params},
                     conditions={"kind": "person"}, actions=[{"type": "add_tag", "params": {"tag": "生日"}}])


def person(owner, birthday):  # type: ignore[no-untyped-def]
    return customer_of(owner, kind="person", name=f"张{birthday}", birthday=birthday)


def test_anniversary_dates_and_feb_29():
    dates = triggers.anniversary_dates(dt.date(2027, 2, 28), last_year=2027)
    assert dt.date(2000, 2, 29) in dates and dt.date(1990, 2, 28) in dates and dt.date(2027, 2, 28) in dates
    assert dt.date(2000, 2, 29) not in triggers.anniversary_dates(dt.date(2028, 2, 28), last_year=2028)
    assert dt.date(2000, 2, 29) in triggers.anniversary_dates(dt.date(2028, 2, 29), last_year=2028)
    assert triggers.anniversary_dates(dt.date(2027, 2, 29 - 1), last_year=2027)[0].year == triggers.FIRST_YEAR


def test_birthday_once_a_year_at_its_time(admin, rep):
    birthday_rule(admin)
    today = person(rep, dt.date(1990, 6, 15))
    other = person(rep, dt.date(1990, 6, 16))
    assert engine.tick(now=at(2026, 6, 15, 8, 59)) == []  # before 09:00
    assert tag_names(today) == []
    assert len(engine.tick(now=at(2026, 6, 15, 9, 0))) == 1
    assert tag_names(today) == ["生日"] and tag_names(other) == []
    assert engine.tick(now=at(2026, 6, 15, 9, 5)) == []  # today's pass is done
    # A second pass the same year (e.g. "run now") finds the log done: nothing twice.
    Customer.objects.get(pk=today.pk).tags.clear()
    rule = RuleRun.objects.get().rule
    engine.run_time_rule(rule, now=at(2026, 6, 15, 12))
    assert tag_names(today) == []
    assert ActionLog.objects.filter(record_id=today.pk).count() == 1
    # Next year: again.
    engine.tick(now=at(2027, 6, 15, 9, 30))
    assert tag_names(today) == ["生日"]
    assert sorted(ActionLog.objects.values_list("period", flat=True)) == ["2026", "2027"]


def test_feb_29_birthday_on_feb_28_in_common_years(admin, rep):
    birthday_rule(admin)
    leap = person(rep, dt.date(2000, 2, 29))
    engine.tick(now=at(2027, 2, 28))
    assert tag_names(leap) == ["生日"]
    Customer.objects.get(pk=leap.pk).tags.clear()
    engine.tick(now=at(2028, 2, 28))  # a leap year: not yet
    assert tag_names(leap) == []
    engine.tick(now=at(2028, 2, 29))
    assert tag_names(leap) == ["生日"]


def test_days_before_a_birthday_crossing_the_year(admin, rep):
    birthday_rule(admin, days=3)
    newyear = person(rep, dt.date(1985, 1, 2))
    engine.tick(now=at(2026, 12, 30))
    assert tag_names(newyear) == ["生日"]
    assert ActionLog.objects.get().period == "2027"  # the birthday's year


def test_contract_end_and_expected_close(admin, rep):
    from decimal import Decimal

    from kehu.contracts.models import Contract
    from kehu.sales.models import Opportunity, Stage

    make_rule(admin, trigger="date_offset", trigger_params={"field": "contract_end", "days": 30},
              actions=[{"type": "add_tag", "params": {"tag": "续约"}}])
    ending, later = customer_of(rep), customer_of(rep)
    for customer, ends in ((ending, dt.date(2026, 7, 15)), (later, dt.date(2026, 7, 16))):
        Contract.objects.create(number=f"HT-{customer.pk}", title="服务", customer=customer, owner=rep,
                                amount=Decimal("1"), status="active", ends_on=ends)
    make_rule(admin, name="成交日", object_type="opportunity", trigger="date_offset",
              trigger_params={"field": "expected_close_date", "days": 1, "direction": "after"},
              actions=[{"type": "update_field", "params": {"field": "next_step", "value": "复盘预计成交日"}}])
    stage = Stage.objects.filter(pipeline__is_default=True, kind="open").first()
    deal = Opportunity.objects.create(name="单", customer=ending, owner=rep, pipeline=stage.pipeline, stage=stage,
                                      expected_close_date=dt.date(2026, 6, 14))
    engine.tick(now=at(2026, 6, 15))
    assert tag_names(ending) == ["续约"] and tag_names(later) == []
    deal.refresh_from_db()
    assert deal.next_step == "复盘预计成交日"


def test_no_followup_for_30_days_back_to_the_pool(admin, rep, team):
    from kehu.sales.models import Opportunity, Stage

    pool = CustomerPool.objects.create(name="公海", is_default=True)
    pool.member_departments.add(team)
    make_rule(admin, trigger="inactive", trigger_params={"anchor": "last_activity", "days": 30, "at": "02:00"},
              actions=[{"type": "move_to_pool", "params": {"reason": "30 天未跟进"}}])
    now = at(2026, 6, 15, 3)
    stale = customer_of(rep, last_activity_at=now - dt.timedelta(days=31))
    fresh = customer_of(rep, last_activity_at=now - dt.timedelta(days=5))
    exempt = customer_of(rep, last_activity_at=now - dt.timedelta(days=40))
    stage = Stage.objects.filter(pipeline__is_default=True, kind="open").first()
    Opportunity.objects.create(name="在谈", customer=exempt, owner=rep, pipeline=stage.pipeline, stage=stage)
    engine.tick(now=now)
    assert set(PoolEntry.objects.values_list("customer_id", flat=True)) == {stale.pk}
    assert PoolEntry.objects.get().reason == "30 天未跟进"
    assert Customer.objects.get(pk=fresh.pk).owner_id == rep.pk
    statuses = dict(ActionLog.objects.values_list("record_id", "status"))
    assert statuses == {stale.pk: "done", exempt.pk: "skipped"}


def test_inactivity_acts_once_per_idle_spell(admin, rep):
    make_rule(admin, trigger="inactive", trigger_params={"anchor": "last_activity", "days": 7},
              actions=[{"type": "add_tag", "params": {"tag": "冷"}}])
    customer = customer_of(rep, last_activity_at=at(2026, 6, 1))
    engine.tick(now=at(2026, 6, 10))
    engine.tick(now=at(2026, 6, 11))
    assert ActionLog.objects.count() == 1
    Customer.objects.filter(pk=customer.pk).update(last_activity_at=at(2026, 6, 12))  # followed up
    engine.tick(now=at(2026, 6, 20))  # idle again for 8 days: a new spell
    assert ActionLog.objects.count() == 2


def test_daily_schedule(admin, rep):
    make_rule(admin, trigger="schedule", trigger_params={"at": "09:00"}, conditions={"owner": str(rep.pk)},
              actions=[{"type": "add_tag", "params": {"tag": "日报"}}])
    mine = customer_of(rep)
    assert engine.tick(now=at(2026, 6, 15, 8)) == []
    engine.tick(now=at(2026, 6, 15, 9))
    engine.tick(now=at(2026, 6, 15, 10))
    assert tag_names(mine) == ["日报"]
    assert RuleRun.objects.filter(dry_run=False).count() == 1
    engine.tick(now=at(2026, 6, 16, 9))
    assert RuleRun.objects.filter(dry_run=False).count() == 2
    assert ActionLog.objects.filter(record_id=mine.pk).count() == 2  # one per day (the tag is already there)


def test_a_dead_pass_is_run_again(admin, rep):
    rule = birthday_rule(admin)
    today = person(rep, dt.date(1990, 6, 15))
    RuleRun.objects.create(rule=rule, trigger="date_offset", period="2026-06-15", started_at=at(2026, 6, 15, 9),
                           heartbeat_at=at(2026, 6, 15, 9))  # a worker died mid-pass
    assert engine.tick(now=at(2026, 6, 15, 9, 5)) == []  # still within the heartbeat window
    assert engine.tick(now=at(2026, 6, 15, 9, 30)) == [rule.pk]
    assert tag_names(today) == ["生日"]


def test_paused_rules_do_not_run(admin, rep):
    from kehu.automation import services

    rule = birthday_rule(admin)
    today = person(rep, dt.date(1990, 6, 15))
    services.rule_pause(acting_user=admin, rule_id=rule.pk)
    assert engine.tick(now=at(2026, 6, 15)) == []
    assert tag_names(today) == []
    services.rule_resume(acting_user=admin, rule_id=rule.pk)
    assert engine.tick(now=at(2026, 6, 15)) == [rule.pk]
    assert tag_names(today) == ["生日"]


def test_dry_run_of_a_time_based_rule(admin, rep):
    from kehu.automation import services

    rule = birthday_rule(admin)
    people = [person(rep, dt.date(1970 + i, 6, 15)) for i in range(22)]
    person(rep, dt.date(1990, 6, 16))
    preview = services.rule_dry_run(acting_user=admin, rule_id=rule.pk, now=at(2026, 6, 15))
    assert preview.count == 22 and preview.time_based
    assert [r["id"] for r in preview.sample] == [p.pk for p in people[:20]]
    assert not ActionLog.objects.exists() and tag_names(people[0]) == []
    run = RuleRun.objects.get()
    assert run.dry_run and run.matched == 22


def test_dry_run_of_a_record_rule_is_its_audience(admin, rep):
    from kehu.automation import services

    rule = make_rule(admin, trigger="created", conditions={"owner": str(rep.pk)},
                     actions=[{"type": "add_tag", "params": {"tag": "x"}}])
    customer_of(rep)
    customer_of(admin)
    preview = services.rule_dry_run(acting_user=admin, rule_id=rule.pk)
    assert preview.count == 1 and not preview.time_based
    assert preview.list_url == f"/customers/?owner={rep.pk}"


def test_dry_run_after_a_pass_counts_what_is_left(admin, rep):
    from kehu.automation import services

    rule = birthday_rule(admin)
    person(rep, dt.date(1990, 6, 15))
    engine.tick(now=at(2026, 6, 15))
    person(rep, dt.date(1991, 6, 15))  # added after the pass
    preview = services.rule_dry_run(acting_user=admin, rule_id=rule.pk, now=at(2026, 6, 15, 12))
    assert preview.count == 1
