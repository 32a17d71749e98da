"""Huey tasks of the recycle bin; thin: each calls one service."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(hour="4", minute="50"))
def recycle_bin_purge() -> None:
    """Nightly: entries past their purge date (KEHU_RECYCLE_BIN_DAYS after the delete) go for good."""
    from kehu.recyclebin import services

    services.purge_expired()
