"""/api/v1/ endpoints of the notifications app (the caller's own notifications only). Thin: reads
through selectors, writes through services."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from kehu.customers.schemas import ErrorOut

from . import selectors, services
from .schemas import MarkedOut, NotificationOut, NotificationPage, UnreadOut, notification_out

router = Router(tags=["notifications"])

ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


@router.get("/notifications", response={200: NotificationPage, **ERRORS})
def notification_list(request: HttpRequest, unread: bool = False, offset: int = 0,  # type: ignore[no-untyped-def]
                      limit: int = 50):
    """The caller's notifications, newest first (`unread=true` for unread ones only)."""
    offset, limit = min(max(offset, 0), 1_000_000_000), min(max(limit, 1), 200)  # a huge offset overflows SQLite
    rows = selectors.notifications_for(user=_user(request), unread_only=unread)
    return {"items": [notification_out(n) for n in rows[offset:offset + limit]], "total": rows.count(),
            "unread": selectors.unread_count(user=_user(request))}


@router.get("/notifications/unread-count", response={200: UnreadOut, **ERRORS})
def notification_unread_count(request: HttpRequest):  # type: ignore[no-untyped-def]
    """How many of the caller's notifications are unread (the bell's badge)."""
    return {"unread": selectors.unread_count(user=_user(request))}


@router.post("/notifications/read-all", response={200: MarkedOut, **ERRORS})
def notification_read_all(request: HttpRequest):  # type: ignore[no-untyped-def]
    """Mark every unread notification of the caller read."""
    return {"marked": services.mark_all_read(acting_user=_user(request))}


@router.post("/notifications/{notification_id}/read", response={200: NotificationOut, **ERRORS})
def notification_read(request: HttpRequest, notification_id: int):  # type: ignore[no-untyped-def]
    """Mark one notification read (404 for another user's)."""
    return notification_out(services.mark_read(acting_user=_user(request), notification_id=notification_id))
