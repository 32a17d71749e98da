"""Reads of follow-ups and tasks, each starting from `restrict()`: filtered lists (one filter
definition for the web and the API), a customer's open tasks, "My day", the calendar and the
iCalendar feed. Time-dependent reads take `now=` so tests travel in time without patching."""

from __future__ import annotations

import calendar as pycalendar
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone

from kehu.accounts.models import hash_token
from kehu.core import masking
from kehu.core.errors import NotFound
from kehu.core.scoping import restrict
from kehu.customers.models import Contact

from .models import PRIORITY_RANK, CalendarFeed, FollowUp, FollowUpKind, Task, TaskStatus

REMIND_AHEAD = dt.timedelta(minutes=15)
INSTALMENT_DAYS = 7
EXPIRING_DAYS = 30


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a local calendar day as aware datetimes."""
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


# Kinds ------------------------------------------------------------------------------------------


def followup_kinds(*, active_only: bool = True) -> QuerySet[FollowUpKind]:
    rows = FollowUpKind.objects.all()
    return rows.filter(is_active=True) if active_only else rows


# Follow-ups -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUpFilter:
    """One filter definition for the web list and the API."""

    customer: int | None = None
    opportunity: int | None = None
    kind: str = ""
    owner: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str = ""


def followups_visible(*, user: Any) -> QuerySet[FollowUp]:
    return restrict(FollowUp.objects.all(), user)


def _with_relations(rows: QuerySet[FollowUp]) -> QuerySet[FollowUp]:
    return rows.select_related("customer", "kind", "owner", "opportunity").prefetch_related(
        Prefetch("contacts", queryset=Contact.objects.only("id", "name", "customer_id")),
        Prefetch("next_tasks", queryset=Task.objects.only("id", "followup_id").order_by("id")))


def followups_filtered(*, user: Any, filters: FollowUpFilter) -> QuerySet[FollowUp]:
    rows = followups_visible(user=user)
    if filters.customer:
        rows = rows.filter(customer_id=filters.customer)
    if filters.opportunity:
        rows = rows.filter(opportunity_id=filters.opportunity)
    if filters.kind:
        rows = rows.filter(kind__code=filters.kind)
    if filters.owner:
        rows = rows.filter(owner_id=filters.owner)
    if filters.date_from:
        rows = rows.filter(occurred_at__gte=day_bounds(filters.date_from)[0])
    if filters.date_to:
        rows = rows.filter(occurred_at__lt=day_bounds(filters.date_to)[1])
    if filters.q:
        rows = rows.filter(Q(content__icontains=filters.q) | Q(outcome__icontains=filters.q)
                           | Q(customer__name__icontains=filters.q))
    return _with_relations(rows).order_by("-occurred_at", "-id")


def followup_get(*, user: Any, followup_id: int, for_edit: bool = False) -> FollowUp:
    """One follow-up the user can see; with `for_edit`, one on a customer they may change."""
    followup = _with_relations(restrict(FollowUp.objects.all(), user, write=for_edit)).filter(pk=followup_id).first()
    if followup is None:
        raise NotFound("follow-up not found")
    return followup


def customer_followups(*, user: Any, customer_id: int, limit: int = 20) -> list[FollowUp]:
    return list(followups_filtered(user=user, filters=FollowUpFilter(customer=customer_id))[:limit])


# Tasks ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskFilter:
    mine: bool = False  # assigned to the caller
    assignee: int | None = None
    status: str = ""  # "" = any; "open", "done", "cancelled"
    due_from: dt.date | None = None
    due_to: dt.date | None = None
    customer: int | None = None
    opportunity: int | None = None
    overdue: bool = False
    q: str = ""


def tasks_visible(*, user: Any) -> QuerySet[Task]:
    """Tasks of assignees in the user's scope, and tasks the user created for others."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Task.objects.none()
    scoped = restrict(Task.objects.all(), user)
    if scoped.query.where:  # limited scope: add what the user created
        return Task.objects.filter(Q(pk__in=scoped.values("pk")) | Q(created_by=user))
    return scoped


def tasks_filtered(*, user: Any, filters: TaskFilter, now: dt.datetime | None = None) -> QuerySet[Task]:
    rows = tasks_visible(user=user)
    if filters.mine:
        rows = rows.filter(assignee=user)
    if filters.assignee:
        rows = rows.filter(assignee_id=filters.assignee)
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.due_from:
        rows = rows.filter(due_at__gte=day_bounds(filters.due_from)[0])
    if filters.due_to:
        rows = rows.filter(due_at__lt=day_bounds(filters.due_to)[1])
    if filters.customer:
        rows = rows.filter(customer_id=filters.customer)
    if filters.opportunity:
        rows = rows.filter(opportunity_id=filters.opportunity)
    if filters.overdue:
        rows = rows.filter(status=TaskStatus.OPEN, due_at__lt=now or timezone.now())
    if filters.q:
        rows = rows.filter(Q(title__icontains=filters.q) | Q(description__icontains=filters.q))
    return rows.select_related("assignee", "customer", "opportunity", "contract").order_by(
        F("due_at").asc(nulls_last=True), "id")


def task_get(*, user: Any, task_id: int) -> Task:
    task = tasks_visible(user=user).select_related("assignee", "customer", "opportunity", "contract",
                                                   "followup").filter(pk=task_id).first()
    if task is None:
        raise NotFound("task not found")
    return task


def customer_open_tasks(*, user: Any, customer_id: int) -> list[Task]:
    return list(tasks_filtered(user=user, filters=TaskFilter(customer=customer_id, status=TaskStatus.OPEN)))


def tasks_to_remind(*, now: dt.datetime | None = None) -> list[Task]:
    """Open tasks due within REMIND_AHEAD or overdue, whose current due time was not reminded yet,
    of active assignees; the oldest due first."""
    now = now or timezone.now()
    return list(Task.objects.filter(status=TaskStatus.OPEN, due_at__isnull=False, due_at__lte=now + REMIND_AHEAD,
                                    assignee__is_active=True)
                .filter(Q(reminded_due_at__isnull=True) | ~Q(reminded_due_at=F("due_at")))
                .select_related("assignee", "customer").order_by("due_at", "id"))


def _sorted_tasks(tasks: list[Task]) -> list[Task]:
    return sorted(tasks, key=lambda t: (t.due_at or dt.datetime.max.replace(tzinfo=dt.UTC),
                                        PRIORITY_RANK.get(t.priority, 9), t.pk))


# My day -----------------------------------------------------------------------------------------


@dataclass
class MyDay:
    now: dt.datetime
    today: dt.date
    overdue_tasks: list[Task] = field(default_factory=list)
    today_tasks: list[Task] = field(default_factory=list)
    overdue_followups: list[Task] = field(default_factory=list)
    today_followups: list[Task] = field(default_factory=list)
    upcoming: list[Task] = field(default_factory=list)  # the next 7 days
    pool_reminders: list[Any] = field(default_factory=list)
    instalments_overdue: list[Any] = field(default_factory=list)
    instalments_due: list[Any] = field(default_factory=list)
    contracts_expiring: list[Any] = field(default_factory=list)
    done_today: int = 0

    @property
    def counts(self) -> dict[str, int]:
        return {"tasks": len(self.overdue_tasks) + len(self.today_tasks),
                "followups": len(self.overdue_followups) + len(self.today_followups),
                "pool": len(self.pool_reminders),
                "instalments": len(self.instalments_overdue) + len(self.instalments_due),
                "contracts": len(self.contracts_expiring)}

    @property
    def is_empty(self) -> bool:
        return not any(self.counts.values()) and not self.upcoming


def my_day(*, user: Any, now: dt.datetime | None = None) -> MyDay:
    """Everything of the user's own that needs them today: their overdue and today's tasks and
    planned follow-ups, customers about to go back to the pool, their contracts' instalments due
    within 7 days or overdue, their active contracts ending within 30 days."""
    from kehu.contracts.models import PaymentPlanItem
    from kehu.contracts.selectors import LIVE_STATUSES, contracts_expiring, overdue_instalments
    from kehu.pool.selectors import reminders_for

    now = now or timezone.now()
    today = timezone.localdate(now)
    start, end = day_bounds(today)
    day = MyDay(now=now, today=today)
    open_tasks = list(Task.objects.filter(assignee=user, status=TaskStatus.OPEN, due_at__lt=end + dt.timedelta(days=7))
                      .select_related("customer", "opportunity", "contract", "followup__kind"))
    for task in _sorted_tasks(open_tasks):
        assert task.due_at is not None
        if task.due_at >= end:
            day.upcoming.append(task)
        elif task.is_followup:
            (day.overdue_followups if task.due_at < start else day.today_followups).append(task)
        else:
            (day.overdue_tasks if task.due_at < start else day.today_tasks).append(task)
    day.done_today = Task.objects.filter(assignee=user, status=TaskStatus.DONE, completed_at__gte=start,
                                         completed_at__lt=end).count()
    # A follow-up logged after the reminder was written resets the pool's clock: that reminder is stale.
    day.pool_reminders = [r for r in reminders_for(user=user, now=now)
                          if r.customer.last_activity_at is None or r.customer.last_activity_at < r.created_at]
    day.instalments_overdue = list(overdue_instalments(user=user, today=today).filter(contract__owner=user))
    day.instalments_due = list(
        PaymentPlanItem.objects.filter(contract__owner=user, contract__status__in=LIVE_STATUSES,
                                       due_date__gte=today, due_date__lte=today + dt.timedelta(days=INSTALMENT_DAYS),
                                       paid_amount__lt=F("amount"))
        .select_related("contract", "contract__customer").order_by("due_date", "contract_id", "sequence"))
    day.contracts_expiring = list(contracts_expiring(user=user, days=EXPIRING_DAYS, today=today)
                                  .filter(owner=user))
    return day


# Calendar ---------------------------------------------------------------------------------------


@dataclass
class CalendarItem:
    at: dt.datetime
    kind: str  # "task" | "followup" (a logged follow-up)
    title: str
    url: str
    obj: Any
    css: str = ""


@dataclass
class CalendarDay:
    date: dt.date
    in_month: bool
    is_today: bool
    items: list[CalendarItem] = field(default_factory=list)


@dataclass
class CalendarView:
    mode: str  # "month" | "week"
    anchor: dt.date
    start: dt.date
    end: dt.date  # inclusive
    weeks: list[list[CalendarDay]]
    prev: dt.date
    next: dt.date
    title: str


def calendar_items(*, user: Any, start: dt.date, end: dt.date, now: dt.datetime | None = None,
                   include_done: bool = True) -> list[CalendarItem]:
    """The user's own tasks (by due time) and logged follow-ups (by time) from start to end inclusive."""
    from django.urls import reverse

    now = now or timezone.now()
    lo, hi = day_bounds(start)[0], day_bounds(end)[1]
    items: list[CalendarItem] = []
    tasks = Task.objects.filter(assignee=user, due_at__gte=lo, due_at__lt=hi).exclude(status=TaskStatus.CANCELLED)
    if not include_done:
        tasks = tasks.filter(status=TaskStatus.OPEN)
    for task in tasks.select_related("customer"):
        assert task.due_at is not None
        css = "done" if task.status == TaskStatus.DONE else ("overdue" if task.is_overdue(now) else task.priority)
        items.append(CalendarItem(at=task.due_at, kind="task", title=task.title,
                                  url=reverse("activities:task_edit", args=[task.pk]), obj=task,
                                  css=f"{'followup-plan' if task.followup_id else 'task'} {css}"))
    followups = restrict(FollowUp.objects.filter(owner=user, occurred_at__gte=lo, occurred_at__lt=hi), user)
    for followup in followups.select_related("customer", "kind"):
        items.append(CalendarItem(at=followup.occurred_at, kind="followup",
                                  title=f"{followup.kind.label}·{followup.customer.name}",
                                  url=reverse("activities:followup_edit", args=[followup.pk]), obj=followup,
                                  css="followup"))
    items.sort(key=lambda i: (i.at, i.kind))
    return items


def calendar_view(*, user: Any, mode: str, anchor: dt.date, now: dt.datetime | None = None) -> CalendarView:
    """A month grid (whole weeks, Monday first) or one week around `anchor`."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    if mode == "week":
        start = anchor - dt.timedelta(days=anchor.weekday())
        end = start + dt.timedelta(days=6)
        prev, nxt = anchor - dt.timedelta(days=7), anchor + dt.timedelta(days=7)
        title = f"{start:%Y-%m-%d} – {end:%m-%d}"
    else:
        mode = "month"
        first = anchor.replace(day=1)
        last = first.replace(day=pycalendar.monthrange(first.year, first.month)[1])
        start = first - dt.timedelta(days=first.weekday())
        end = last + dt.timedelta(days=6 - last.weekday())
        prev = (first - dt.timedelta(days=1)).replace(day=1)
        nxt = last + dt.timedelta(days=1)
        title = f"{first:%Y-%m}"
    by_day: dict[dt.date, list[CalendarItem]] = {}
    for item in calendar_items(user=user, start=start, end=end, now=now):
        by_day.setdefault(timezone.localdate(item.at), []).append(item)
    days = []
    current = start
    while current <= end:
        days.append(CalendarDay(date=current, in_month=mode == "week" or current.month == anchor.month,
                                is_today=current == today, items=by_day.get(current, [])))
        current += dt.timedelta(days=1)
    weeks = [days[i:i + 7] for i in range(0, len(days), 7)]
    return CalendarView(mode=mode, anchor=anchor, start=start, end=end, weeks=weeks, prev=prev, next=nxt, title=title)


# iCalendar feed ---------------------------------------------------------------------------------


def calendar_feed_of(*, user: Any) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(user=user).first()


def calendar_feed_by_token(*, token: str) -> CalendarFeed | None:
    """The live feed whose secret is `token` (of an active user), or None."""
    if not token or len(token) > 100:
        return None
    return CalendarFeed.objects.select_related("user").filter(token_hash=hash_token(token),
                                                              user__is_active=True).first()


def _alarm(icalendar: Any, summary: str) -> Any:
    alarm = icalendar.Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", summary)
    alarm.add("trigger", dt.timedelta(minutes=-15))
    return alarm


def ical_feed(*, user: Any, base_url: str = "", now: dt.datetime | None = None, todo: bool = False) -> bytes:
    """The user's open tasks with a due time from 30 days back and their follow-ups of the last 30
    days. Tasks are 15-minute VEVENTs with a 15-minute alarm (what every calendar app shows), or
    VTODOs with DUE and the alarm when `todo` (for apps with a task list: Thunderbird, Apple
    Reminders via CalDAV clients); follow-ups are VEVENTs."""
    import icalendar

    now = now or timezone.now()
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Kehu CRM//activities//ZH")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"Kehu · {user}")
    cal.add("x-wr-timezone", timezone.get_current_timezone_name())
    cal.add("refresh-interval", dt.timedelta(minutes=30), parameters={"VALUE": "DURATION"})
    since = now - dt.timedelta(days=30)
    tasks = (Task.objects.filter(assignee=user, status=TaskStatus.OPEN, due_at__isnull=False, due_at__gte=since)
             .select_related("customer").order_by("due_at", "id")[:2000])
    for task in tasks:
        assert task.due_at is not None
        summary = task.title if not task.customer_id else f"{task.title} · {task.customer.name}"
        url = f"{base_url}/activities/tasks/{task.pk}/"
        description = "\n".join(x for x in (task.description, url) if x)
        if todo:
            item = icalendar.Todo()
            item.add("uid", f"task-{task.pk}@kehu")
            item.add("summary", summary)
            item.add("due", task.due_at)
            item.add("status", "NEEDS-ACTION")
            item.add("priority", {"urgent": 1, "high": 3, "normal": 5, "low": 9}.get(task.priority, 5))
        else:
            item = icalendar.Event()
            item.add("uid", f"task-{task.pk}@kehu")
            item.add("summary", ("☎ " if task.followup_id else "☐ ") + summary)
            item.add("dtstart", task.due_at)
            item.add("dtend", task.due_at + dt.timedelta(minutes=15))
        item.add("dtstamp", now)
        item.add("description", description)
        item.add("url", url)
        item.add_component(_alarm(icalendar, summary))
        cal.add_component(item)
    followups = (restrict(FollowUp.objects.filter(owner=user, occurred_at__gte=since), user)
                 .select_related("customer", "kind").order_by("occurred_at", "id")[:2000])
    for followup in followups:
        event = icalendar.Event()
        event.add("uid", f"followup-{followup.pk}@kehu")
        event.add("dtstamp", now)
        event.add("summary", f"{followup.kind.label} · {followup.customer.name}")
        event.add("dtstart", followup.occurred_at)
        event.add("dtend", followup.occurred_at + dt.timedelta(minutes=30))
        event.add("description", "\n".join(x for x in (followup.outcome, followup.content) if x))
        # A visit's address is the customer's: it follows the customer address's field-level security.
        location = masking.mask_field(user, "customer", "address", followup.address)
        if location:
            event.add("location", location)
        cal.add_component(event)
    return cal.to_ical()
