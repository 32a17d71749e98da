"""Request and response shapes of the merge endpoints (/api/v1/quality/merge...)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Schema

from kehu.dataquality.merging import services
from kehu.dataquality.models import CustomerMerge, DistinctPair


class MergePreviewIn(Schema):
    ids: list[int] = Field(..., min_length=2, description="The customers to compare (2-11)")
    survivor_id: int | None = Field(None, description="The record to keep; default: yours, else the oldest")


class MergeIn(Schema):
    survivor_id: int
    merged_ids: list[int] = Field(..., min_length=1)
    field_choices: dict[str, int] = Field(
        default_factory=dict, description='{"name": 12, "custom.seats": 15}: the customer whose value survives'
    )
    expected_versions: dict[int, int] = Field(
        default_factory=dict, description="{customer id: version} as previewed; a later save → 409"
    )


class DistinctIn(Schema):
    a_id: int
    b_id: int


class ValueCellOut(Schema):
    customer_id: int
    text: str
    empty: bool


class FieldRowOut(Schema):
    name: str
    label: str
    default: int
    differs: bool
    values: list[ValueCellOut]


class RelatedCountOut(Schema):
    label: str
    count: int


class PreviewCustomerOut(Schema):
    id: int
    name: str
    version: int
    owner: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    related: list[RelatedCountOut]


class MergePreviewOut(Schema):
    survivor_id: int
    customers: list[PreviewCustomerOut]
    fields: list[FieldRowOut]
    phones: list[str]
    emails: list[str]
    tags: list[str]
    versions: dict[int, int]
    marked_distinct: bool


class MergeOut(Schema):
    id: int
    survivor_id: int
    merged_ids: list[int]
    merged_names: dict[int, str]
    created_at: dt.datetime
    created_by: str | None
    undone_at: dt.datetime | None
    undone_by: str | None
    undo_until: dt.datetime
    can_undo: bool


class UnmergeOut(Schema):
    merge: MergeOut
    survivor_id: int
    restored_ids: list[int]


class DistinctOut(Schema):
    low_id: int
    high_id: int
    created_at: dt.datetime


def preview_out(preview: services.MergePreview) -> dict[str, Any]:
    return {
        "survivor_id": preview.survivor_id,
        "customers": [
            {
                "id": c.pk, "name": c.name, "version": c.version, "owner": str(c.owner) if c.owner_id else None,
                "created_at": c.created_at, "updated_at": c.updated_at,
                "related": [{"label": label, "count": count} for label, count in preview.related_counts[c.pk]],
            }
            for c in preview.customers
        ],
        "fields": [
            {"name": row.name, "label": row.label, "default": row.default, "differs": row.differs,
             "values": [{"customer_id": v.customer_id, "text": v.text, "empty": v.empty} for v in row.cells]}
            for row in preview.fields
        ],
        "phones": preview.phones,
        "emails": preview.emails,
        "tags": preview.tags,
        "versions": preview.versions,
        "marked_distinct": preview.marked_distinct,
    }


def merge_out(merge: CustomerMerge, user: Any) -> dict[str, Any]:
    customers = merge.snapshot.get("customers", {})
    return {
        "id": merge.pk,
        "survivor_id": merge.survivor_id,
        "merged_ids": merge.merged_ids,
        "merged_names": {pk: str(customers.get(str(pk), {}).get("name", "")) for pk in merge.merged_ids},
        "created_at": merge.created_at,
        "created_by": str(merge.created_by) if merge.created_by_id else None,
        "undone_at": merge.undone_at,
        "undone_by": str(merge.undone_by) if merge.undone_by_id else None,
        "undo_until": services.undo_deadline(merge),
        "can_undo": services.may_undo(merge, user),
    }


def distinct_out(pair: DistinctPair) -> dict[str, Any]:
    return {"low_id": pair.low_id, "high_id": pair.high_id, "created_at": pair.created_at}


def merged_id_response(*, old_id: int, survivor_id: int) -> HttpResponse:
    """`GET /api/v1/customers/<merged id>`: 308 to the survivor, with the shared error body naming it
    for clients that don't follow redirects. `no-store`: an unmerge brings the old id back."""
    url = reverse("api:customer_detail", kwargs={"customer_id": survivor_id})
    body = {"error": {
        "code": "merged", "field": None, "errors": [], "survivor_id": survivor_id, "location": url,
        "message": _("客户 #%(old)s 已合并到客户 #%(survivor)s") % {"old": old_id, "survivor": survivor_id},
    }}
    response = JsonResponse(body, status=308, json_dumps_params={"ensure_ascii": False})
    response["Location"] = url
    response["Cache-Control"] = "no-store"
    return response
