"""Huey tasks of the privacy app; thin: each calls a service. (djhuey discovers `tasks` modules.)"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(hour="3", minute="40"))
def daily_retention() -> None:
    """Apply the enabled retention policies (kehu.privacy.retention), at night when nobody edits."""
    from kehu.privacy import retention

    retention.retention_run_all()
