"""GET /api/v1/audit (tag "audit"): search the audit log, admins only. The same filters and keyset
pages as the admin page (kehu.core.audit_selectors); `next_cursor` continues the list."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router

from kehu.core import audit_selectors as selectors
from kehu.core import crypto
from kehu.core.models import AuditEvent
from kehu.customers.schemas import ErrorOut, InputSchema, OutputSchema

router = Router(tags=["audit"])

ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut}


class AuditQuery(InputSchema):
    actor: str = Field("", description="A user id, or part of the actor's name / the username")
    action: str = Field("", description="create, update, delete, export, import, merge, unmerge, login, "
                                        "logout, login_failed, reveal, permission, …")
    object_type: str = Field("", description="customer, contact, user, …")
    object_id: int | None = None
    customer: int | None = Field(None, description="Events on this customer's timeline")
    date_from: dt.date | None = Field(None, description="On or after this local date (YYYY-MM-DD)")
    date_to: dt.date | None = Field(None, description="On or before this local date (YYYY-MM-DD)")
    q: str = Field("", description="Text in the changes (field names, old and new values) or the object's name")
    cursor: str = Field("", description="`next_cursor` of the previous page")
    limit: int = Field(selectors.PAGE, ge=1, le=selectors.MAX_PAGE)


class AuditChangeOut(OutputSchema):
    field: str
    old: Any = None
    new: Any = None


class AuditEventOut(OutputSchema):
    id: int
    at: dt.datetime = Field(description="UTC")
    actor_id: int | None
    actor_name: str
    ip: str | None
    action: str
    object_type: str
    object_id: int
    object_repr: str
    customer_id: int | None
    changes: list[AuditChangeOut]
    seq: int | None = Field(description="Position in the hash chain; null until sealed (within a minute)")
    entry_hash: str | None


class AuditPageOut(OutputSchema):
    items: list[AuditEventOut]
    next_cursor: str | None


def audit_event_out(event: AuditEvent) -> dict[str, Any]:
    # Encrypted values (ID numbers) masked, as on the audit page.
    changes = crypto.masked_changes(event.changes if isinstance(event.changes, list) else [])
    return {
        "id": event.pk, "at": event.at.astimezone(dt.UTC), "actor_id": event.actor_id,
        "actor_name": event.actor_name, "ip": event.ip, "action": event.action, "object_type": event.object_type,
        "object_id": event.object_id, "object_repr": event.object_repr, "customer_id": event.customer_id,
        "changes": [{"field": str(c.get("field", "")), "old": c.get("old"), "new": c.get("new")}
                    for c in changes if isinstance(c, dict)],
        "seq": event.seq, "entry_hash": event.entry_hash,
    }


@router.get("/audit", response={200: AuditPageOut, **ERRORS})
def audit_list(request: HttpRequest, query: Query[AuditQuery]):  # type: ignore[no-untyped-def]
    """Audit events, newest first (admins only)."""
    selectors.audit_require_admin(request.auth)  # type: ignore[attr-defined]
    filters = selectors.audit_filters_parse(query.dict())
    page = selectors.audit_events_page(user=request.auth, filters=filters,  # type: ignore[attr-defined]
                                       cursor=query.cursor or None, limit=query.limit)
    return {"items": [audit_event_out(e) for e in page.events], "next_cursor": page.next_cursor}
