"""Huey tasks of the automation engine; thin: each calls `kehu.automation.engine`."""

from __future__ import annotations

from typing import Any

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task


@db_task()
def handle_event_task(event: dict[str, Any], depth: int = 1) -> None:
    """One domain event: the record rules it fires."""
    from kehu.automation import engine

    engine.handle_event(event, depth=depth)


@db_task()
def retry_record_task(rule_id: int, record_id: int, period: str, run_id: int | None = None) -> None:
    """A failed action's retry (scheduled with back-off by the engine)."""
    from kehu.automation import engine

    engine.retry_record(rule_id, record_id, period, run_id)


@db_periodic_task(crontab(minute="*"))
def automation_tick() -> None:
    """Every minute: time-based and scheduled rules whose daily time has come."""
    from kehu.automation import engine

    engine.tick()


@db_task()
def run_rule_now_task(rule_id: int) -> None:
    """An admin's "run now" of a time-based rule."""
    from kehu.automation import engine
    from kehu.automation.models import Rule

    rule = Rule.objects.select_related("run_as", "created_by").filter(pk=rule_id, is_active=True).first()
    if rule is not None:
        engine.run_time_rule(rule)
