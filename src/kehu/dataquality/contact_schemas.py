"""Request and response shapes of the duplicate-contact endpoints (/api/v1/quality/contact-...,
/api/v1/customers/{id}/contacts/duplicate-check), and the functions that build the responses from
what the services and selectors return."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema

from kehu.customers.schemas import InputSchema, OutputSchema
from kehu.dataquality import scan_selectors
from kehu.dataquality.merging import contacts as contact_merging
from kehu.dataquality.models import ContactMerge, DuplicateStatus

MAX_LIMIT = 200

# Requests ----------------------------------------------------------------------------------------


class ContactPairPageQuery(Schema):
    verdict: str | None = Field(None, description="certain or review; both when left out")
    status: str = Field(DuplicateStatus.OPEN, description="open (default), dismissed or merged")
    customer_id: int | None = Field(None, description="Only the pairs of this customer")
    limit: int = Field(50, ge=1, le=MAX_LIMIT, description=f"Rows per page, at most {MAX_LIMIT}")
    cursor: str | None = Field(None, description="next_cursor of the previous response")


class ContactMergePreviewIn(InputSchema):
    ids: list[int] = Field(..., min_length=2, description="The contacts to compare (2-11, all of one customer)")
    survivor_id: int | None = Field(None, description="The contact to keep; default: the primary contact, "
                                                      "else the oldest")


class ContactMergeIn(InputSchema):
    survivor_id: int = Field(description="The contact that stays")
    merged_ids: list[int] = Field(..., min_length=1, description="The contacts merged into it and deleted")
    field_choices: dict[str, int] = Field(
        default_factory=dict,
        description='{"name": 12, "custom.wechat_group": 15}: the contact whose value survives; fields left out '
                    "take the preview's default. Numbers and addresses that lose are kept in the notes",
    )
    expected_versions: dict[int, int] = Field(
        default_factory=dict, description="{contact id: version} as previewed; a later save → 409"
    )


class ContactDuplicateCheckIn(InputSchema):
    name: str = Field("", description="The contact's name as typed")
    mobile: str = ""
    phone: str = ""
    email: str = ""
    birthday: dt.date | None = None
    exclude_id: int | None = Field(None, description="The contact being edited (never its own duplicate)")


# Responses ---------------------------------------------------------------------------------------


class ContactPairCustomerOut(OutputSchema):
    id: int
    name: str
    owner: str
    department: str


class ContactPairContactOut(OutputSchema):
    id: int
    name: str
    title: str
    mobile: str
    email: str
    is_primary: bool


class ContactPairReasonOut(OutputSchema):
    code: str
    text: str = Field(description="The reason in the request's language; values masked (138****5678)")
    weight: float = Field(description="Bits of evidence: positive for, negative against")


class ContactPairOut(OutputSchema):
    id: int
    score: float
    verdict: str = Field(description="certain or review")
    status: str = Field(description="open, dismissed or merged")
    customer: ContactPairCustomerOut
    contacts: list[ContactPairContactOut] = Field(description="The two contacts, lower id first; a merged-away "
                                                              "contact as it was before the merge")
    reasons: list[ContactPairReasonOut]
    found_at: dt.datetime


class ContactPairPageOut(OutputSchema):
    items: list[ContactPairOut]
    counts: dict[str, int] = Field(description="Open pairs per verdict within the caller's scope")
    next_cursor: str | None = None


class ContactValueCellOut(OutputSchema):
    contact_id: int
    text: str
    empty: bool


class ContactFieldRowOut(OutputSchema):
    name: str = Field(description="The field, or custom.<key>; the key of field_choices")
    label: str
    default: int = Field(description="The contact whose value the merge keeps unless field_choices says otherwise")
    differs: bool
    values: list[ContactValueCellOut] = Field(description="One cell per contact, in the order of `contacts`")


class ContactRelatedCountOut(OutputSchema):
    label: str
    count: int


class ContactPreviewContactOut(OutputSchema):
    id: int
    name: str
    title: str
    mobile: str
    phone: str
    email: str
    is_primary: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    related: list[ContactRelatedCountOut] = Field(description="Rows pointing at the contact, moved to the survivor")


class ContactMergePreviewOut(OutputSchema):
    customer: ContactPairCustomerOut
    survivor_id: int
    contacts: list[ContactPreviewContactOut] = Field(description="The survivor first")
    fields: list[ContactFieldRowOut]
    notes: str = Field(description="The survivor's notes as the merge writes them with the default choices: "
                                   "every contact's notes, then the numbers and addresses that lost the vote")
    versions: dict[int, int] = Field(description="Send back as expected_versions")
    choices: dict[str, int] = Field(description="The default choice per field")
    marked_distinct: bool = Field(description="Two of them were marked as different people")


class ContactMergeOut(OutputSchema):
    id: int
    customer_id: int
    survivor_id: int
    merged_ids: list[int]
    merged_names: dict[int, str] = Field(description="{merged contact id: its name before the merge}")
    created_at: dt.datetime
    created_by: str | None
    undone_at: dt.datetime | None
    undone_by: str | None
    undo_until: dt.datetime
    can_undo: bool = Field(description="The caller may undo it now")


class ContactUnmergeOut(OutputSchema):
    merge: ContactMergeOut
    survivor_id: int
    restored_ids: list[int]


class ContactWarningOut(OutputSchema):
    contact_id: int
    name: str
    score: float
    verdict: str = Field(description="certain or review")
    reasons: str = Field(description="The evidence in words, values masked")


# Builders ----------------------------------------------------------------------------------------


def pair_customer_out(customer: scan_selectors.PairCustomer | Any) -> dict[str, Any]:
    return {"id": customer.id, "name": customer.name, "owner": customer.owner, "department": customer.department}


def _pair_contact_out(contact: scan_selectors.PairContact) -> dict[str, Any]:
    return {"id": contact.id, "name": contact.name, "title": contact.title, "mobile": contact.mobile,
            "email": contact.email, "is_primary": contact.is_primary}


def contact_pair_out(view: scan_selectors.ContactPairView) -> dict[str, Any]:
    pair = view.pair
    return {
        "id": pair.pk, "score": pair.score, "verdict": pair.verdict, "status": pair.status,
        "customer": pair_customer_out(view.customer),
        "contacts": [_pair_contact_out(view.a), _pair_contact_out(view.b)],
        "reasons": [{"code": code, "text": text, "weight": weight}
                    for (code, _args, _w), (text, weight) in zip(pair.reasons, view.reasons, strict=True)],
        "found_at": pair.found_at,
    }


def contact_preview_out(preview: contact_merging.ContactMergePreview) -> dict[str, Any]:
    customer = preview.customer
    owner = customer.owner
    return {
        "customer": {"id": customer.pk, "name": customer.name,
                     "owner": (owner.display_name or owner.username) if owner else "",
                     "department": customer.department.name if customer.department_id else ""},
        "survivor_id": preview.survivor_id,
        "contacts": [
            {"id": c.pk, "name": c.name, "title": c.title, "mobile": c.mobile, "phone": c.phone, "email": c.email,
             "is_primary": c.is_primary, "version": c.version, "created_at": c.created_at,
             "updated_at": c.updated_at,
             "related": [{"label": label, "count": count} for label, count in preview.related_counts[c.pk]]}
            for c in preview.contacts
        ],
        "fields": [
            {"name": row.name, "label": row.label, "default": row.default, "differs": row.differs,
             "values": [{"contact_id": v.contact_id, "text": v.text, "empty": v.empty} for v in row.cells]}
            for row in preview.fields
        ],
        "notes": preview.notes,
        "versions": preview.versions,
        "choices": preview.choices,
        "marked_distinct": preview.marked_distinct,
    }


def contact_merge_out(merge: ContactMerge, user: Any) -> dict[str, Any]:
    names = contact_merging.merged_contact_names(merge)
    return {
        "id": merge.pk,
        "customer_id": merge.customer_id,
        "survivor_id": merge.survivor_id,
        "merged_ids": merge.merged_ids,
        "merged_names": dict(zip(merge.merged_ids, names, strict=True)),
        "created_at": merge.created_at,
        "created_by": str(merge.created_by) if merge.created_by_id else None,
        "undone_at": merge.undone_at,
        "undone_by": str(merge.undone_by) if merge.undone_by_id else None,
        "undo_until": contact_merging.undo_deadline(merge),
        "can_undo": contact_merging.may_undo(merge, user),
    }
