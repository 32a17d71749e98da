"""API shapes of leads: inputs (ninja Schema) and outputs (plain pydantic, built by `*_out`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema

from kehu.customers.schemas import OutputSchema
from kehu.leads.duplicates import LeadDuplicates
from kehu.leads.models import Lead


class LeadIn(Schema):
    name: str | None = None
    salutation: str | None = None
    company: str | None = None
    title: str | None = None
    mobile: str | None = None
    phone: str | None = None
    email: str | None = None
    wechat: str | None = None
    province: str | None = None
    city: str | None = None
    source: str | int | None = Field(None, description="Source option: id, code or label")
    campaign: str | None = None
    status: str | None = Field(None, description="new, contacted, qualified or disqualified")
    disqualify_reason: str | None = None
    owner: str | int | None = Field(None, description="User id or username")
    notes: str | None = None
    custom: dict[str, Any] | None = None
    external_id: str | None = None


class LeadPatchIn(LeadIn):
    expected_version: int | None = Field(None, description="The version you loaded; 409 when stale")


class StatusIn(Schema):
    status: str
    reason: str = ""
    expected_version: int | None = None


class ConvertIn(Schema):
    customer_id: int | None = Field(None, description="Convert into this existing customer")
    create_opportunity: bool = True
    opportunity_name: str = ""
    amount: str | float | None = None
    expected_version: int | None = None


class DuplicateCheckIn(Schema):
    name: str = ""
    company: str = ""
    mobile: str = ""
    phone: str = ""
    email: str = ""
    province: str = ""
    city: str = ""
    exclude_id: int | None = None


class Ref(OutputSchema):
    id: int
    name: str


class LeadOut(OutputSchema):
    id: int
    name: str
    salutation: str
    company: str
    title: str
    # null when the caller's role may not see the field; masked (138****5678) when it sees it masked.
    mobile: str | None
    mobile_e164: str | None
    phone: str | None
    email: str | None
    wechat: str | None
    province: str
    city: str
    source: Ref | None
    campaign: str
    status: str
    disqualify_reason: str
    owner: Ref | None
    department: Ref | None
    notes: str
    custom: dict[str, Any]
    external_id: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    converted_at: dt.datetime | None
    converted_customer_id: int | None
    converted_contact_id: int | None
    converted_opportunity_id: int | None


class DuplicatesOut(OutputSchema):
    leads: list[dict[str, Any]]
    customers: list[dict[str, Any]]
    contacts: list[dict[str, Any]]


class LeadCreatedOut(LeadOut):
    duplicates: DuplicatesOut


class LeadPage(OutputSchema):
    items: list[LeadOut]
    total: int


class ConversionOut(OutputSchema):
    lead: LeadOut
    customer_id: int
    customer_created: bool
    contact_id: int | None
    contact_created: bool
    opportunity_id: int | None


def _ref(obj: Any, name: str | None = None) -> dict[str, Any] | None:
    return None if obj is None else {"id": obj.pk, "name": name if name is not None else str(obj)}


def lead_out(lead: Lead) -> dict[str, Any]:
    data = {name: getattr(lead, name) for name in (
        "name", "salutation", "company", "title", "mobile", "mobile_e164", "phone", "email", "wechat", "province",
        "city", "campaign", "status", "disqualify_reason", "notes", "custom", "external_id", "version",
        "created_at", "updated_at", "converted_at", "converted_customer_id", "converted_contact_id",
        "converted_opportunity_id")}
    data.update(id=lead.pk, source=_ref(lead.source, lead.source.label if lead.source else None),
                owner=_ref(lead.owner), department=_ref(lead.department))
    return data


def duplicates_out(found: LeadDuplicates) -> dict[str, Any]:
    return found.as_dict()
