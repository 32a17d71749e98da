"""`unread_notifications` for the bell in base.html, from the shared cache: no query on any page.
On a cold cache it is None and the bell loads its count with one small HTMX request
(`notifications:badge`), which also warms the cache for the next pages."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def unread_notifications(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    cached: list[int | None] = []

    def count() -> int | None:  # lazy and once: pages that never render the nav pay nothing
        if not cached:
            from kehu.notifications.selectors import unread_count_cached

            cached.append(unread_count_cached(user=user, compute=False))
        return cached[0]

    return {"unread_notifications": count}
