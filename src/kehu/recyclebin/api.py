"""/api/v1/ endpoints of the recycle bin (tag "recyclebin"): list, restore, purge. Thin: the selector
reads within the user's scope, the services check the operation and write."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from kehu.customers.schemas import ErrorOut

from . import selectors, services
from .models import RecycleBinEntry

router = Router(tags=["recyclebin"])

ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class BinEntryOut(Schema):
    id: int
    object_type: str
    object_id: int
    label: str
    customer_id: int | None
    deleted_by_id: int | None
    deleted_by_name: str
    deleted_at: dt.datetime
    purge_after: dt.datetime
    row_count: int


class BinPageOut(Schema):
    items: list[BinEntryOut]
    next_after: int | None


class RestoredOut(Schema):
    object_type: str
    object_id: int


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def entry_out(entry: RecycleBinEntry) -> BinEntryOut:
    return BinEntryOut(
        id=entry.pk, object_type=entry.object_type, object_id=entry.object_id, label=entry.label,
        customer_id=entry.customer_id, deleted_by_id=entry.deleted_by_id, deleted_by_name=entry.deleted_by_name,
        deleted_at=entry.deleted_at, purge_after=entry.purge_after, row_count=entry.row_count,
    )


@router.get("/recyclebin", response={200: BinPageOut, **ERRORS})
def bin_list(  # type: ignore[no-untyped-def]
    request: HttpRequest,
    object_type: str = Query("", max_length=50),
    q: str = Query("", max_length=200),
    after: int | None = Query(None, ge=1, le=2**63 - 1),
    limit: int = Query(50, ge=1, le=200),
):
    """Deleted records the caller may see (newest first); `after` = the previous page's `next_after`."""
    page = selectors.entry_page(user=_user(request), object_type=object_type, q=q, after=after, limit=limit)
    return BinPageOut(items=[entry_out(e) for e in page.entries], next_after=page.next_after)


@router.post("/recyclebin/{int:entry_id}/restore", response={200: RestoredOut, **ERRORS})
def bin_restore(request: HttpRequest, entry_id: int):  # type: ignore[no-untyped-def]
    """Put the record and its related rows back (needs the `<object>.restore` operation)."""
    record = services.entry_restore(acting_user=_user(request), entry_id=entry_id)
    return RestoredOut(object_type=record._meta.model_name or "", object_id=record.pk)


@router.delete("/recyclebin/{int:entry_id}", response={204: None, **ERRORS})
def bin_purge(request: HttpRequest, entry_id: int):  # type: ignore[no-untyped-def]
    """Delete the entry for good (administrators only)."""
    services.entry_purge(acting_user=_user(request), entry_id=entry_id)
    return Status(204, None)
