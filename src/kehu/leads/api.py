"""/api/v1/ endpoints of leads. Thin: reads through `kehu.leads.selectors` (scoped), writes through
`kehu.leads.services`; errors become the shared JSON error shape in `kehu.config.api`."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from kehu.core import masking
from kehu.core.etag import if_match, set_etag
from kehu.customers.schemas import ErrorOut
from kehu.leads import selectors, services
from kehu.leads.duplicates import lead_duplicates
from kehu.leads.schemas import (
    ConversionOut,
    ConvertIn,
    DuplicateCheckIn,
    DuplicatesOut,
    LeadCreatedOut,
    LeadIn,
    LeadOut,
    LeadPage,
    LeadPatchIn,
    StatusIn,
    duplicates_out,
    lead_out,
)

router = Router(tags=["leads"])

MAX_LIMIT = 200
ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, Any] = {**ERRORS, 409: ErrorOut}
# Writes that honour If-Match (kehu.core.etag): 412 precondition_failed when it names a stale version.
GUARDED_ERRORS: dict[int, Any] = {**WRITE_ERRORS, 412: ErrorOut}


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


class LeadListQuery(Schema):
    status: str = Field("", description="new, contacted, qualified, disqualified, converted or open")
    owner: str = Field("", description="User id, me or none")
    source: str = ""
    campaign: str = ""
    q: str = ""
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=1_000_000_000)


@router.get("/leads", response={200: LeadPage, **ERRORS})
def lead_list(request: HttpRequest, query: Query[LeadListQuery]):  # type: ignore[no-untyped-def]
    """Leads visible to the caller, newest change first."""
    filters = selectors.LeadFilter(status=query.status, owner=query.owner, source=query.source,
                                   campaign=query.campaign, q=query.q.strip())
    queryset = selectors.leads_filtered(user=_user(request), filters=filters)
    rows = list(queryset[query.offset:query.offset + query.limit])
    return {"items": masking.mask_records(_user(request), "lead", [lead_out(lead) for lead in rows]),
            "total": queryset.count()}


@router.post("/leads", response={201: LeadCreatedOut, **WRITE_ERRORS})
def lead_create(request: HttpRequest, payload: LeadIn):  # type: ignore[no-untyped-def]
    """A new lead; likely duplicates (leads, customers, contacts) come back in `duplicates`, never as errors."""
    created = services.lead_create(acting_user=_user(request), data=payload.dict(exclude_unset=True))
    return Status(201, {**_lead_out(request, selectors.lead_get(user=_user(request), lead_id=created.lead.pk)),
                        "duplicates": duplicates_out(created.duplicates)})


@router.post("/leads/duplicate-check", response={200: DuplicatesOut, **ERRORS})
def lead_duplicate_check(request: HttpRequest, payload: DuplicateCheckIn):  # type: ignore[no-untyped-def]
    values = payload.dict(exclude={"exclude_id"})
    return duplicates_out(lead_duplicates(values, user=_user(request), exclude_id=payload.exclude_id))


def _lead_out(request: HttpRequest, lead: Any) -> dict[str, Any]:
    """lead_out as the caller's field-level security allows (kehu.core.masking)."""
    return masking.mask_record(_user(request), "lead", lead_out(lead))


def _lead(request: HttpRequest, lead_id: int, response: HttpResponse) -> dict[str, Any]:
    lead = selectors.lead_get(user=_user(request), lead_id=lead_id)
    set_etag(response, lead)
    return _lead_out(request, lead)


@router.get("/leads/{int:lead_id}", response={200: LeadOut, **ERRORS})
def lead_detail(request: HttpRequest, lead_id: int, response: HttpResponse):  # type: ignore[no-untyped-def]
    """The ETag header names the version; send it back as If-Match when writing."""
    return _lead(request, lead_id, response)


@router.patch("/leads/{int:lead_id}", response={200: LeadOut, **GUARDED_ERRORS})
def lead_patch(request: HttpRequest, lead_id: int, payload: LeadPatchIn, response: HttpResponse):  # type: ignore[no-untyped-def]
    """Stale `expected_version` → 409 version_conflict; stale If-Match → 412 precondition_failed."""
    data = payload.dict(exclude_unset=True)
    body_version = data.pop("expected_version", None)
    with if_match(request, selectors.leads_visible(user=_user(request)), lead_id, body_version=body_version) as v:
        services.lead_update(acting_user=_user(request), lead_id=lead_id, data=data, expected_version=v)
    return _lead(request, lead_id, response)


@router.delete("/leads/{int:lead_id}", response={204: None, **GUARDED_ERRORS})
def lead_delete(request: HttpRequest, lead_id: int):  # type: ignore[no-untyped-def]
    with if_match(request, selectors.leads_visible(user=_user(request)), lead_id):
        services.lead_delete(acting_user=_user(request), lead_id=lead_id)
    return Status(204, None)


@router.post("/leads/{int:lead_id}/status", response={200: LeadOut, **GUARDED_ERRORS})
def lead_status(request: HttpRequest, lead_id: int, payload: StatusIn, response: HttpResponse):  # type: ignore[no-untyped-def]
    """new / contacted / qualified / disqualified (`reason` required)."""
    visible = selectors.leads_visible(user=_user(request))
    with if_match(request, visible, lead_id, body_version=payload.expected_version) as version:
        services.lead_set_status(acting_user=_user(request), lead_id=lead_id, status=payload.status,
                                 reason=payload.reason, expected_version=version)
    return _lead(request, lead_id, response)


@router.post("/leads/{int:lead_id}/convert", response={200: ConversionOut, **GUARDED_ERRORS})
def lead_convert(request: HttpRequest, lead_id: int, payload: ConvertIn):  # type: ignore[no-untyped-def]
    """Customer (existing `customer_id`, a certain duplicate, or new) + contact + opportunity, in one step."""
    visible = selectors.leads_visible(user=_user(request))
    with if_match(request, visible, lead_id, body_version=payload.expected_version) as version:
        result = services.lead_convert(
            acting_user=_user(request), lead_id=lead_id, customer_id=payload.customer_id,
            create_opportunity=payload.create_opportunity, opportunity_name=payload.opportunity_name,
            amount=payload.amount, expected_version=version)
    return {"lead": _lead_out(request, selectors.lead_get(user=_user(request), lead_id=lead_id)),
            "customer_id": result.customer.pk, "customer_created": result.customer_created,
            "contact_id": result.contact.pk if result.contact else None, "contact_created": result.contact_created,
            "opportunity_id": result.opportunity.pk if result.opportunity else None}


# Declared after "/leads/{int:lead_id}": the int converter never takes "export".
@router.get("/leads/export", response={200: None, **ERRORS})
def lead_export(  # type: ignore[no-untyped-def]
    request: HttpRequest, query: Query[LeadListQuery],
    format: str = Query("csv", pattern=r"^(csv|xlsx)$", description="csv (streamed) or xlsx"),
    columns: str = Query("", description="Comma-separated column keys; every column when empty"),
):
    """Every lead the list would show with these filters (limit/offset ignored), as a CSV or XLSX
    download that the lead import reads back as it is."""
    from kehu.core.exporting import export_response, requested_columns

    return export_response("leads", user=_user(request), params=request.GET, fmt=format,
                           columns=requested_columns(request.GET))
