"""Reads of the notifications app. A user only ever sees their own notifications."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db.models import QuerySet

from kehu.core.errors import NotFound

from .models import Notification


def notifications_for(*, user: Any, unread_only: bool = False) -> QuerySet[Notification]:
    if user is None or not getattr(user, "is_authenticated", False):
        return Notification.objects.none()
    rows = Notification.objects.filter(user_id=user.pk)
    if unread_only:
        rows = rows.filter(read_at__isnull=True)
    return rows.order_by("-created_at", "-id")


def unread_count(*, user: Any) -> int:
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user_id=user.pk, read_at__isnull=True).count()


CACHE_SECONDS = 3600


def unread_cache_key(user: Any) -> str:
    """Per user, and per account creation time so a recreated (test) database never reads an old count."""
    joined = getattr(user, "date_joined", None)
    return f"kehu:notifications:unread:{user.pk}:{joined.timestamp() if joined else ''}"


def unread_count_cached(*, user: Any, compute: bool = True) -> int | None:
    """The bell's count from the shared cache. On a miss: counted and cached, or None with
    `compute=False` (the page then lets the bell fetch its count, so a page never pays the query).
    The services drop the cached value whenever the count changes."""
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    key = unread_cache_key(user)
    count = cache.get(key)
    if count is None:
        if not compute:
            return None
        count = unread_count(user=user)
        cache.set(key, count, CACHE_SECONDS)
    return int(count)


def notification_get(*, user: Any, notification_id: int) -> Notification:
    row = notifications_for(user=user).filter(pk=notification_id).first()
    if row is None:
        from django.utils.translation import gettext as _

        raise NotFound(_("通知不存在"))
    return row
