"""Reads with time travel (`now=`): My day's sections, the calendar grid, the reminder selection
and sending through kehu.notifications, and the filtered lists."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail

from kehu.activities import selectors, services
from kehu.activities.models import FollowUp, Task, TaskStatus
from kehu.contracts.models import Contract, ContractStatus, PaymentPlanItem
from kehu.pool.models import CustomerPool, ReturnReminder

from .conftest import NOW, at, names

pytestmark = pytest.mark.django_db


def task(user, title, due, **kwargs):  # type: ignore[no-untyped-def]
    return Task.objects.create(title=title, assignee=user, due_at=due, created_by=user, **kwargs)


def followup(user, customer, occurred, **kwargs):  # type: ignore[no-untyped-def]
    from kehu.activities.models import FollowUpKind

    return FollowUp.objects.create(customer=customer, owner=user, kind=FollowUpKind.objects.get(code="call"),
                                   content="电话", occurred_at=occurred, **kwargs)


def test_my_day_sections(rep, other_rep, customer, other_customer) -> None:
    task(rep, "昨天的", at(24, 17))
    task(rep, "今天上午", at(25, 9), priority="urgent")
    task(rep, "今天下午", at(25, 16))
    task(rep, "今天已完成", at(25, 8), status=TaskStatus.DONE, completed_at=at(25, 9))
    task(rep, "明天", at(26, 9))
    task(rep, "下个月", at(20, 9, month=12))
    task(rep, "没有截止", None)
    task(other_rep, "别人的", at(25, 9))
    plan = followup(rep, customer, at(20))
    task(rep, "回访（计划）", at(25, 11), followup=plan, customer=customer)
    task(rep, "逾期回访", at(23, 11), followup=plan, customer=customer)
    pool = CustomerPool.objects.create(name="公海")
    ReturnReminder.objects.create(customer=customer, owner=rep, pool=pool, due_at=at(28))
    ReturnReminder.objects.create(customer=other_customer, owner=other_rep, pool=pool, due_at=at(28))
    live = Contract.objects.create(number="HT1", title="服务合同", customer=customer, owner=rep, amount=Decimal("300"),
                                   status=ContractStatus.ACTIVE, ends_on=dt.date(2026, 12, 20))
    Contract.objects.create(number="HT2", title="明年到期", customer=customer, owner=rep, amount=Decimal("1"),
                            status=ContractStatus.ACTIVE, ends_on=dt.date(2027, 3, 1))
    theirs = Contract.objects.create(number="HT3", title="别人的", customer=other_customer, owner=other_rep,
                                     amount=Decimal("9"), status=ContractStatus.ACTIVE, ends_on=dt.date(2026, 12, 1))
    PaymentPlanItem.objects.create(contract=live, sequence=1, due_date=dt.date(2026, 11, 20), amount=Decimal("100"))
    PaymentPlanItem.objects.create(contract=live, sequence=2, due_date=dt.date(2026, 12, 1), amount=Decimal("100"))
    PaymentPlanItem.objects.create(contract=live, sequence=3, due_date=dt.date(2026, 12, 10), amount=Decimal("100"))
    PaymentPlanItem.objects.create(contract=theirs, sequence=1, due_date=dt.date(2026, 11, 20), amount=Decimal("9"))

    day = selectors.my_day(user=rep, now=NOW)
    assert day.today == dt.date(2026, 11, 25)
    assert names(day.overdue_tasks) == ["昨天的"]
    assert names(day.today_tasks) == ["今天上午", "今天下午"]
    assert names(day.overdue_followups) == ["逾期回访"]
    assert names(day.today_followups) == ["回访（计划）"]
    assert names(day.upcoming) == ["明天"]
    assert day.done_today == 1
    assert [r.customer_id for r in day.pool_reminders] == [customer.pk]
    assert [i.sequence for i in day.instalments_overdue] == [1]
    assert [i.sequence for i in day.instalments_due] == [2]
    assert [c.number for c in day.contracts_expiring] == ["HT1"]
    assert day.counts == {"tasks": 3, "followups": 2, "pool": 1, "instalments": 2, "contracts": 1}

    # Two days later: yesterday's "明天" is overdue, the 1 Dec instalment is still within 7 days.
    later = selectors.my_day(user=rep, now=at(27, 10))
    assert names(later.overdue_tasks) == ["昨天的", "今天上午", "今天下午", "明天"]
    assert [i.sequence for i in later.instalments_due] == [2]


def test_calendar_month_and_week(rep, other_rep, customer) -> None:
    task(rep, "月初", at(2, 9))
    task(rep, "今天", at(25, 15))
    task(rep, "已取消", at(25, 16), status=TaskStatus.CANCELLED)
    task(other_rep, "别人的", at(25, 9))
    followup(rep, customer, at(24, 14))
    month = selectors.calendar_view(user=rep, mode="month", anchor=dt.date(2026, 11, 25), now=NOW)
    assert (month.start, month.end) == (dt.date(2026, 10, 26), dt.date(2026, 12, 6))
    assert len(month.weeks) == 6 and all(len(w) == 7 for w in month.weeks)
    assert (month.prev, month.next, month.title) == (dt.date(2026, 10, 1), dt.date(2026, 12, 1), "2026-11")
    items = {d.date: [i.title for i in d.items] for w in month.weeks for d in w if d.items}
    assert items == {dt.date(2026, 11, 2): ["月初"], dt.date(2026, 11, 24): ["电话·北京分扬科技有限公司"],
                     dt.date(2026, 11, 25): ["今天"]}
    today = next(d for w in month.weeks for d in w if d.is_today)
    assert today.date == dt.date(2026, 11, 25)

    week = selectors.calendar_view(user=rep, mode="week", anchor=dt.date(2026, 11, 25), now=NOW)
    assert (week.start, week.end, week.prev, week.next) == (
        dt.date(2026, 11, 23), dt.date(2026, 11, 29), dt.date(2026, 11, 18), dt.date(2026, 12, 2))
    assert [[i.title for i in d.items] for d in week.weeks[0]][1:3] == [["电话·北京分扬科技有限公司"], ["今天"]]
    overdue = selectors.calendar_view(user=rep, mode="week", anchor=dt.date(2026, 11, 25), now=at(26))
    assert "overdue" in overdue.weeks[0][2].items[0].css


def test_reminder_selection(rep, other_rep) -> None:
    due_soon = task(rep, "十分钟后", NOW + dt.timedelta(minutes=10))
    overdue = task(rep, "昨天", NOW - dt.timedelta(days=1))
    task(rep, "一小时后", NOW + dt.timedelta(hours=1))
    task(rep, "已完成", NOW, status=TaskStatus.DONE)
    reminded = task(rep, "已提醒", NOW - dt.timedelta(minutes=5))
    Task.objects.filter(pk=reminded.pk).update(reminded_due_at=reminded.due_at)
    other_rep.is_active = False
    other_rep.save()
    task(other_rep, "停用用户", NOW)
    assert [t.pk for t in selectors.tasks_to_remind(now=NOW)] == [overdue.pk, due_soon.pk]
    # Moving a reminded task's due time re-arms its reminder.
    Task.objects.filter(pk=reminded.pk).update(due_at=NOW + dt.timedelta(minutes=14))
    assert reminded.pk in [t.pk for t in selectors.tasks_to_remind(now=NOW)]


def test_reminders_go_through_notifications_once(rep, customer, django_capture_on_commit_callbacks) -> None:
    from kehu.notifications.models import Notification

    soon = services.task_create(acting_user=rep, assignee=rep, title="给客户回电话", customer_id=customer.pk,
                                due_at=NOW + dt.timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.task_reminders_send(now=NOW) == 1
    note = Notification.objects.get(user=rep)
    soon.refresh_from_db()
    assert (note.kind, note.title, note.customer_id) == ("task_due", "任务即将到期：给客户回电话", customer.pk)
    assert note.key == f"task-due:{soon.pk}:{soon.due_at.isoformat()}"
    assert note.url == f"/activities/tasks/{soon.pk}/"
    assert "截止时间 2026-11-25 10:10" in note.body and "北京分扬科技有限公司" in note.body
    assert [m.to for m in mail.outbox] == [[rep.email]]
    # The next run five minutes later sends nothing new.
    assert services.task_reminders_send(now=NOW + dt.timedelta(minutes=5)) == 0
    assert Notification.objects.filter(user=rep).count() == 1
    # Postponed: reminded again for the new due time, as overdue once it has passed.
    services.task_update(acting_user=rep, task_id=soon.pk, data={"due_at": NOW + dt.timedelta(hours=2)})
    assert services.task_reminders_send(now=NOW + dt.timedelta(hours=3)) == 1
    assert Notification.objects.filter(user=rep).first().title == "任务已逾期：给客户回电话"


def test_periodic_task_is_every_five_minutes() -> None:
    from kehu.activities.tasks import task_due_reminders

    validate = task_due_reminders.task_class().validate_datetime
    assert [validate(dt.datetime(2026, 11, 25, 10, m)) for m in (0, 3, 5, 55)] == [True, False, True, True]


def test_filtered_lists(rep, manager, customer) -> None:
    followup(rep, customer, at(20))
    followup(rep, customer, at(24))
    rows = selectors.followups_filtered(user=rep, filters=selectors.FollowUpFilter(
        customer=customer.pk, date_from=dt.date(2026, 11, 21), date_to=dt.date(2026, 11, 24)))
    assert [f.occurred_at for f in rows] == [at(24)]
    assert selectors.followups_filtered(user=manager, filters=selectors.FollowUpFilter()).count() == 2
    task(rep, "A", at(24))
    task(rep, "B", at(26))
    task(manager, "经理自己的", at(26))
    mine = selectors.tasks_filtered(user=rep, filters=selectors.TaskFilter(status="open"))
    assert names(mine) == ["A", "B"]
    assert names(selectors.tasks_filtered(user=rep, filters=selectors.TaskFilter(overdue=True), now=NOW)) == ["A"]
    assert names(selectors.tasks_filtered(user=manager, filters=selectors.TaskFilter())) == ["A", "B", "经理自己的"]
    assert names(selectors.tasks_filtered(user=manager, filters=selectors.TaskFilter(mine=True))) == ["经理自己的"]


def test_pool_reminder_disappears_once_the_customer_is_followed_up(rep, customer) -> None:
    """A reminder written before a follow-up is stale: the follow-up reset the pool's clock."""
    from django.utils import timezone

    from kehu.customers.services import customer_create

    now = timezone.now()
    quiet = customer_create(acting_user=rep, data={"name": "杭州静默贸易有限公司"})
    pool = CustomerPool.objects.create(name="公海")
    for each in (customer, quiet):
        ReturnReminder.objects.create(customer=each, owner=rep, pool=pool, due_at=now + dt.timedelta(days=3),
                                      created_at=now - dt.timedelta(days=2))
    services.followup_create(acting_user=rep, customer_id=quiet.pk, kind="call", content="上次通话",
                             occurred_at=now - dt.timedelta(days=5))  # before the reminder: still due
    assert [r.customer_id for r in selectors.my_day(user=rep, now=now).pool_reminders] == [customer.pk, quiet.pk]

    services.followup_create(acting_user=rep, customer_id=customer.pk, kind="call", content="已回访",
                             occurred_at=now - dt.timedelta(hours=1))
    day = selectors.my_day(user=rep, now=now)
    assert [r.customer_id for r in day.pool_reminders] == [quiet.pk]
    assert day.counts["pool"] == 1
