"""Writes of the notifications app: `notify` (called by tasks, reminders and the automation engine),
marking read. Every write is about the acting user's own rows.

`notify` is idempotent by `key`: the same user and key again returns None and creates nothing, so
a worker that dies after notifying and runs the job again never notifies twice. With `email=True`
the notification also goes out as a mail to the user's address once the transaction commits,
through `kehu.mailing.services.send_mail_message` (logged as a SentMail, itself idempotent by
"notification:<id>")."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.errors import ErrorCode, FieldError, ValidationFailed

from . import selectors
from .models import Notification

logger = logging.getLogger("kehu.notifications")


class MailNotDelivered(RuntimeError):
    """The SMTP server could not be reached or refused for now; the task is retried."""


def _absolute(url: str) -> str:
    if not url or url.startswith(("http://", "https://")):
        return url
    base = getattr(settings, "KEHU_SITE_URL", "") or ""
    return base.rstrip("/") + url if base else url


def _count_changed(user: Any) -> None:
    """Drop the bell's cached count now and again after commit (a page rendered in between could
    have cached the count without this transaction's rows)."""
    from django.core.cache import cache

    key = selectors.unread_cache_key(user)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


def send_email(notification_id: int) -> None:
    """The notification as a mail to its user (skipped when the user has no address). Runs in the
    background worker (`tasks.send_notification_email`), queued once the notification committed."""
    from kehu.mailing.services import send_mail_message

    notification = Notification.objects.select_related("user").filter(pk=notification_id).first()
    if notification is None or not notification.user.email or not notification.user.is_active:
        return
    link = _absolute(notification.url)
    body = "\n\n".join(part for part in (notification.body or notification.title, link) if part)
    try:
        sent = send_mail_message(to=notification.user.email, subject=notification.title, body=body,
                                 acting_user=None, purpose="notification",
                                 idempotency_key=f"notification:{notification.pk}")
    except ValidationFailed as exc:  # e.g. an unusable address on the user: nothing to retry
        logger.warning("notification %s not mailed: %s", notification_id, exc.message)
        return
    if sent is None:
        return
    if not transaction.get_connection().in_atomic_block:  # the worker: the mail went (or not) just now
        if sent.status == "failed":
            raise MailNotDelivered(f"notification {notification_id}: {sent.error}")  # Huey retries the task
        if sent.status == "sent":
            Notification.objects.filter(pk=notification_id).update(emailed=True)
        return

    def record() -> None:  # runs after the mail's own delivery, also queued on commit
        if sent.status == "sent":
            Notification.objects.filter(pk=notification_id).update(emailed=True)

    transaction.on_commit(record)


def _queue_email(notification_id: int) -> None:
    from kehu.notifications.tasks import send_notification_email

    send_notification_email(notification_id)


def notify(
    *,
    user: Any,
    title: str,
    body: str = "",
    url: str = "",
    kind: str = "",
    customer_id: int | None = None,
    key: str | None = None,
    email: bool = False,
) -> Notification | None:
    """A notification for `user`; None when the user is inactive (or missing) or when `key` was used
    before for this user. `email=True` also mails it to the user after commit."""
    if user is None or not getattr(user, "is_active", False) or getattr(user, "pk", None) is None:
        return None
    title = (title or "").strip()
    if not title:
        raise ValidationFailed([FieldError("title", ErrorCode.REQUIRED, _("通知标题不能为空"))])
    key = (key or "").strip()[:200] or None
    if key is not None and Notification.objects.filter(user_id=user.pk, key=key).exists():
        return None
    try:
        with transaction.atomic():  # a savepoint: a concurrent twin with the same key loses quietly
            notification = Notification.objects.create(
                user_id=user.pk, title=title[:200], body=body or "", url=(url or "")[:500], kind=(kind or "")[:50],
                customer_id=customer_id, key=key)
    except IntegrityError:
        if key is not None and Notification.objects.filter(user_id=user.pk, key=key).exists():
            return None
        raise
    _count_changed(user)
    if email:
        transaction.on_commit(lambda: _queue_email(notification.pk))
    return notification


def mark_read(*, acting_user: Any, notification_id: int) -> Notification:
    """Mark one of the user's notifications read (NotFound for anyone else's)."""
    notification = selectors.notification_get(user=acting_user, notification_id=notification_id)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
        _count_changed(acting_user)
    return notification


def mark_all_read(*, acting_user: Any) -> int:
    """Mark every unread notification of the user read; returns how many changed."""
    changed = selectors.notifications_for(user=acting_user, unread_only=True).update(read_at=timezone.now())
    if changed:
        _count_changed(acting_user)
    return changed
