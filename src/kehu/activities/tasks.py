"""Huey tasks of the activities app; thin: each calls a service."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="*/5"))
def task_due_reminders() -> None:
    """Every 5 minutes: remind assignees of tasks due within 15 minutes or overdue, once per due time."""
    from kehu.activities import services

    services.task_reminders_send()
