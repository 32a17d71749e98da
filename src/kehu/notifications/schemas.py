"""Shapes of the /api/v1/notifications endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field

from kehu.customers.schemas import OutputSchema

from .models import Notification


class NotificationOut(OutputSchema):
    id: int
    kind: str
    title: str
    body: str
    url: str
    customer_id: int | None
    created_at: dt.datetime
    read_at: dt.datetime | None
    is_read: bool


class NotificationPage(OutputSchema):
    items: list[NotificationOut]
    total: int
    unread: int


class UnreadOut(OutputSchema):
    unread: int = Field(description="Unread notifications of the caller")


class MarkedOut(OutputSchema):
    marked: int = Field(description="Notifications that changed from unread to read")


def notification_out(n: Notification) -> dict[str, Any]:
    return {"id": n.pk, "kind": n.kind, "title": n.title, "body": n.body, "url": n.url,
            "customer_id": n.customer_id, "created_at": n.created_at, "read_at": n.read_at, "is_read": n.is_read}
