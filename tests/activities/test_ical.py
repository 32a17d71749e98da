"""The per-user iCalendar feed: a secret URL (only its hash stored), parsed with the icalendar
library, showing only the token owner's tasks and follow-ups; revoked or replaced tokens are 404."""

from __future__ import annotations

import datetime as dt

import icalendar
import pytest
from django.test import Client

from kehu.accounts.models import hash_token
from kehu.activities import selectors, services
from kehu.activities.models import CalendarFeed, Task, TaskStatus

from .conftest import soon

pytestmark = pytest.mark.django_db


def fetch(token: str):  # type: ignore[no-untyped-def]
    return Client().get(f"/activities/ical/{token}.ics")


def test_feed_is_parsed_by_icalendar_and_scoped_to_its_owner(rep, other_rep, customer, other_customer) -> None:
    mine = services.task_create(acting_user=rep, assignee=rep, title="给客户回电话", customer_id=customer.pk,
                                due_at=soon(1, 9, 30), priority="urgent")
    services.task_create(acting_user=rep, assignee=rep, title="无截止时间")
    done = services.task_create(acting_user=rep, assignee=rep, title="已完成", due_at=soon(1))
    services.task_complete(acting_user=rep, task_id=done.pk)
    services.task_create(acting_user=other_rep, assignee=other_rep, title="别人的任务", due_at=soon(1))
    followup = services.followup_create(acting_user=rep, customer_id=customer.pk, kind="visit", content="上门拜访",
                                        check_in={"address": "上海市黄浦区人民大道"}, next_step="发报价",
                                        next_followup_at=soon(3, 14))
    services.followup_create(acting_user=other_rep, customer_id=other_customer.pk, kind="call", content="别人的")
    token = services.calendar_feed_regenerate(acting_user=rep)
    assert CalendarFeed.objects.get(user=rep).token_hash == hash_token(token)  # never the token itself

    response = fetch(token)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    cal = icalendar.Calendar.from_ical(response.content)
    planned = Task.objects.get(followup=followup)
    assert cal.walk("VTODO") == []
    events = {str(c["uid"]): c for c in cal.walk("VEVENT")}
    assert set(events) == {f"task-{mine.pk}@kehu", f"task-{planned.pk}@kehu", f"followup-{followup.pk}@kehu"}
    event = events[f"task-{mine.pk}@kehu"]
    assert str(event["summary"]) == "☐ 给客户回电话 · 北京分扬科技有限公司"
    assert event.decoded("dtstart") == soon(1, 9, 30)
    assert event.decoded("dtend") - event.decoded("dtstart") == dt.timedelta(minutes=15)
    assert event.walk("VALARM")[0].decoded("trigger") == -dt.timedelta(minutes=15)
    planned_summary = str(events[f"task-{planned.pk}@kehu"]["summary"])
    assert planned_summary == "☎ 发报价（北京分扬科技有限公司） · 北京分扬科技有限公司"
    visit = events[f"followup-{followup.pk}@kehu"]
    assert str(visit["summary"]) == "拜访 · 北京分扬科技有限公司" and str(visit["location"]) == "上海市黄浦区人民大道"
    assert "别人".encode() not in response.content

    # For apps with a task list: the tasks as VTODOs with a due time, a priority and the alarm.
    cal = icalendar.Calendar.from_ical(Client().get(f"/activities/ical/{token}.ics", {"todo": "1"}).content)
    todos = {str(c["uid"]): c for c in cal.walk("VTODO")}
    assert set(todos) == {f"task-{mine.pk}@kehu", f"task-{planned.pk}@kehu"}
    todo = todos[f"task-{mine.pk}@kehu"]
    assert todo.decoded("due") == soon(1, 9, 30)
    assert int(todo["priority"]) == 1 and str(todo["status"]) == "NEEDS-ACTION"
    assert todo.walk("VALARM")[0].decoded("trigger") == -dt.timedelta(minutes=15)
    assert [str(c["uid"]) for c in cal.walk("VEVENT")] == [f"followup-{followup.pk}@kehu"]
    assert CalendarFeed.objects.get(user=rep).last_used_at is not None


def test_revoked_and_replaced_tokens_are_404(rep) -> None:
    first = services.calendar_feed_regenerate(acting_user=rep)
    second = services.calendar_feed_regenerate(acting_user=rep)
    assert first != second
    assert fetch(first).status_code == 404
    assert fetch(second).status_code == 200
    assert services.calendar_feed_revoke(acting_user=rep) is True
    assert fetch(second).status_code == 404
    assert fetch("not-a-token").status_code == 404
    assert services.calendar_feed_revoke(acting_user=rep) is False


def test_inactive_users_feed_is_404(rep) -> None:
    token = services.calendar_feed_regenerate(acting_user=rep)
    rep.is_active = False
    rep.save()
    assert fetch(token).status_code == 404
    assert selectors.calendar_feed_by_token(token=token) is None


def test_empty_feed_is_still_a_valid_calendar(rep) -> None:
    token = services.calendar_feed_regenerate(acting_user=rep)
    cal = icalendar.Calendar.from_ical(fetch(token).content)
    assert str(cal["version"]) == "2.0" and cal.walk("VTODO") == [] and cal.walk("VEVENT") == []
    assert Task.objects.filter(status=TaskStatus.OPEN).count() == 0


def test_regenerate_and_revoke_from_my_day(rep) -> None:
    client = Client()
    client.force_login(rep)
    response = client.post("/activities/calendar/feed/regenerate/", {"next": "/activities/"}, follow=True)
    assert response.status_code == 200
    url = response.context["new_feed_url"]
    assert url.startswith("http://testserver/activities/ical/") and url.endswith(".ics")
    assert fetch(url.rsplit("/", 1)[1][:-4]).status_code == 200
    assert client.get("/activities/").context["new_feed_url"] is None  # shown once
    client.post("/activities/calendar/feed/revoke/")
    assert not CalendarFeed.objects.filter(user=rep).exists()
