"""Huey tasks of the pool app; thin: each calls a service."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(hour="2", minute="30"))
def nightly_auto_return() -> None:
    """Customers past their pool's rules go back to the pool; owners get reminders K days ahead."""
    from kehu.pool import services

    services.auto_return_scan()
