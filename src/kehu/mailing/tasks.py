"""Huey tasks of the mailing app; thin: each calls a service."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="*/5"))
def send_stuck_mails() -> None:
    """Mails left queued by a process that died before sending them go out; mails left "sending" by
    one that died mid-send are marked failed (maybe delivered) and their senders told."""
    from kehu.mailing import services

    services.mail_send_stuck()
