"""The demo loader: follow-ups and tasks for owned demo customers, the same for the same seed."""

from __future__ import annotations

import pytest

from kehu.activities.demo import load_demo_activities
from kehu.activities.models import FollowUp, Task
from kehu.core.registries import demo_loaders
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def snapshot() -> list[tuple]:
    return list(FollowUp.objects.order_by("pk").values_list("customer_id", "kind__code", "content", "outcome",
                                                            "next_step", "address"))


def test_demo_loader_is_registered_and_deterministic(rep, other_rep) -> None:
    assert load_demo_activities in demo_loaders
    customers = [CustomerFactory(owner=rep if i % 2 else other_rep) for i in range(30)]
    summary = load_demo_activities(customers, {"rep": rep, "other": other_rep}, 7, print)
    first = snapshot()
    assert first and summary.startswith(f"跟进：{len(first)}，任务：")
    assert Task.objects.filter(assignee=rep).count() >= 6
    assert all(t.customer_id for t in Task.objects.filter(followup__isnull=False))
    touched = {c for c, *_ in first}
    assert all(c.last_activity_at for c in type(customers[0]).objects.filter(pk__in=touched))
    FollowUp.objects.all().delete()
    Task.objects.all().delete()
    load_demo_activities(customers, {"rep": rep, "other": other_rep}, 7, print)
    assert snapshot()[0][1:] == first[0][1:] and [r[1:] for r in snapshot()] == [r[1:] for r in first]
