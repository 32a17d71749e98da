"""Huey tasks of the notifications app; thin: each calls a service."""

from __future__ import annotations

from huey.contrib.djhuey import db_task


@db_task(retries=3, retry_delay=60)
def send_notification_email(notification_id: int) -> None:
    """Mail one notification to its user (idempotent: the SentMail key is "notification:<id>")."""
    from kehu.notifications import services

    services.send_email(notification_id)
