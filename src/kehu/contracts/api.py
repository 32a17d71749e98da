"""/api/v1/ endpoints of the contracts app (tag "contracts"): contracts (list with the web list's
filters, CRUD, from a won opportunity), the payment plan, payments, and the receivables, overdue and
expiring reads. Handlers stay thin: reads through `kehu.contracts.selectors` (scoped), writes through
`kehu.contracts.services`; their errors become the shared JSON error shape."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from kehu.core.etag import etag_value, if_match
from kehu.customers.schemas import ErrorOut

from . import selectors, services
from .schemas import (
    ContractCreateIn,
    ContractDetailOut,
    ContractListQuery,
    ContractOut,
    ContractPage,
    ContractPatchIn,
    FromOpportunityIn,
    OwnerReceivablesOut,
    PaymentIn,
    PaymentOut,
    PlanIn,
    PlanItemOut,
    contract_out,
    money,
    owner_receivables_out,
    payment_out,
    plan_item_out,
)

router = Router(tags=["contracts"])

ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, Any] = {**ERRORS, 409: ErrorOut}
# Writes that honour If-Match (kehu.core.etag): 412 precondition_failed when it names a stale version.
GUARDED_ERRORS: dict[int, Any] = {**WRITE_ERRORS, 412: ErrorOut}


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _filters(query: ContractListQuery) -> selectors.ContractFilter:
    return selectors.ContractFilter(status=query.status, owner=query.owner, customer=query.customer,
                                    q=query.q.strip(), signed_from=query.signed_from, signed_to=query.signed_to,
                                    expiring_days=query.expiring_days, overdue=query.overdue)


def _detail(request: HttpRequest, contract_id: int, response: HttpResponse | None = None) -> dict[str, Any]:
    """The contract as the detail endpoints return it; with `response`, its ETag is set there."""
    contract = selectors.contract_get(user=_user(request), contract_id=contract_id)
    if response is not None:
        response["ETag"] = etag_value("contract", contract.pk, contract.version)
    today = timezone.localdate()
    return {**contract_out(contract),
            "plan": [plan_item_out(i, today) for i in contract.plan_items.order_by("sequence")],
            "payments": [payment_out(p) for p in contract.payments.order_by("-received_on", "-id")]}


@router.get("/contracts", response={200: ContractPage, **ERRORS})
def contract_list(request: HttpRequest, query: Query[ContractListQuery]):  # type: ignore[no-untyped-def]
    """Contracts visible to the caller with the web list's filters, and the totals of every match."""
    rows = selectors.contracts_filtered(user=_user(request), filters=_filters(query))
    totals = selectors.contract_totals(rows)
    page = rows[query.offset:query.offset + query.limit]
    return {"items": [contract_out(c) for c in page], "total": totals.count, "amount": money(totals.amount),
            "received": money(totals.received), "outstanding": money(totals.outstanding)}


@router.post("/contracts", response={201: ContractDetailOut, **WRITE_ERRORS})
def contract_create(request: HttpRequest, payload: ContractCreateIn):  # type: ignore[no-untyped-def]
    """A new contract, numbered by the rule unless `number` is given."""
    contract = services.contract_create(acting_user=_user(request), data=payload.dict(exclude_unset=True))
    return Status(201, _detail(request, contract.pk))


@router.post("/contracts/from-opportunity", response={201: ContractDetailOut, **WRITE_ERRORS})
def contract_from_opportunity(request: HttpRequest, payload: FromOpportunityIn):  # type: ignore[no-untyped-def]
    """A draft contract from a won opportunity (customer, amount, owner and name copied)."""
    contract = services.contract_from_opportunity(acting_user=_user(request), opportunity_id=payload.opportunity)
    return Status(201, _detail(request, contract.pk))


@router.get("/contracts/receivables", response={200: list[ContractOut], **ERRORS})
def receivables(request: HttpRequest, query: Query[ContractListQuery]):  # type: ignore[no-untyped-def]
    """Live contracts with money still to come, the largest outstanding first (same filters as the list)."""
    rows = selectors.receivables(user=_user(request), filters=_filters(query))
    return [contract_out(c) for c in rows[query.offset:query.offset + query.limit]]


@router.get("/contracts/receivables/by-owner", response={200: list[OwnerReceivablesOut], **ERRORS})
def receivables_by_owner(request: HttpRequest):  # type: ignore[no-untyped-def]
    """Per owner: contracts, amount, received, outstanding and overdue ("my receivables" for a rep)."""
    return [owner_receivables_out(r) for r in selectors.receivables_by_owner(user=_user(request))]


@router.get("/contracts/overdue", response={200: list[PlanItemOut], **ERRORS})
def overdue(request: HttpRequest):  # type: ignore[no-untyped-def]
    """Instalments due before today and not fully paid, oldest first."""
    today = timezone.localdate()
    return [plan_item_out(i, today) for i in selectors.overdue_instalments(user=_user(request), today=today)[:500]]


class ExpiringQuery(Schema):
    days: int = Field(selectors.EXPIRING_DAYS, ge=0, le=3650)


@router.get("/contracts/expiring", response={200: list[ContractOut], **ERRORS})
def expiring(request: HttpRequest, query: Query[ExpiringQuery]):  # type: ignore[no-untyped-def]
    """Active contracts ending within `days` days (30 by default), soonest first."""
    return [contract_out(c) for c in selectors.contracts_expiring(user=_user(request), days=query.days)[:500]]


@router.get("/contracts/{int:contract_id}", response={200: ContractDetailOut, **ERRORS})
def contract_detail(request: HttpRequest, contract_id: int, response: HttpResponse):  # type: ignore[no-untyped-def]
    """The ETag header names the version; send it back as If-Match when writing."""
    return _detail(request, contract_id, response)


@router.patch("/contracts/{int:contract_id}", response={200: ContractDetailOut, **GUARDED_ERRORS})
def contract_patch(request: HttpRequest, contract_id: int, payload: ContractPatchIn, response: HttpResponse):  # type: ignore[no-untyped-def]
    """Edit the fields sent (409 on a stale `expected_version`, 412 on a stale If-Match); a
    `status` goes through the status change (audited as such). Both happen or neither."""
    data = payload.dict(exclude_unset=True)
    body_version = data.pop("expected_version", None)
    status = data.pop("status", None)
    visible = selectors.contracts_visible(user=_user(request))
    with if_match(request, visible, contract_id, body_version=body_version) as version:
        if data:
            services.contract_update(acting_user=_user(request), contract_id=contract_id, data=data,
                                     expected_version=version)
            version = None
        if status:
            services.contract_set_status(acting_user=_user(request), contract_id=contract_id, status=status,
                                         expected_version=version)
    return _detail(request, contract_id, response)


@router.delete("/contracts/{int:contract_id}", response={204: None, **GUARDED_ERRORS})
def contract_delete(request: HttpRequest, contract_id: int):  # type: ignore[no-untyped-def]
    """Only a draft without payments."""
    with if_match(request, selectors.contracts_visible(user=_user(request)), contract_id):
        services.contract_delete(acting_user=_user(request), contract_id=contract_id)
    return Status(204, None)


@router.put("/contracts/{int:contract_id}/plan", response={200: list[PlanItemOut], **WRITE_ERRORS})
def plan_put(request: HttpRequest, contract_id: int, payload: PlanIn):  # type: ignore[no-untyped-def]
    """Replace the payment plan; its total may not exceed the contract amount."""
    items = services.plan_set(acting_user=_user(request), contract_id=contract_id,
                              items=[i.dict() for i in payload.items])
    today = timezone.localdate()
    return [plan_item_out(i, today) for i in items]


@router.post("/contracts/{int:contract_id}/payments", response={201: PaymentOut, **WRITE_ERRORS})
def payment_create(request: HttpRequest, contract_id: int, payload: PaymentIn):  # type: ignore[no-untyped-def]
    """Record a payment; without `plan_item` it pays the earliest unpaid instalments."""
    payment = services.payment_record(acting_user=_user(request), contract_id=contract_id,
                                      received_on=payload.received_on, amount=payload.amount,
                                      method=payload.method, reference=payload.reference,
                                      plan_item=payload.plan_item)
    return Status(201, payment_out(payment))


@router.delete("/contracts/{int:contract_id}/payments/{int:payment_id}", response={204: None, **WRITE_ERRORS})
def payment_delete(request: HttpRequest, contract_id: int, payment_id: int):  # type: ignore[no-untyped-def]
    services.payment_delete(acting_user=_user(request), contract_id=contract_id, payment_id=payment_id)
    return Status(204, None)


# Export ----------------------------------------------------------------------------------------
# Declared after "/contracts/{int:contract_id}": the int converter never takes "export".

EXPORT_FORMAT = Query("csv", pattern=r"^(csv|xlsx)$", description="csv (streamed) or xlsx")
EXPORT_COLUMNS = Query("", description="Comma-separated column keys; every column when empty")


@router.get("/contracts/export", response={200: None, **ERRORS})
def contract_export(  # type: ignore[no-untyped-def]
    request: HttpRequest, query: Query[ContractListQuery], format: str = EXPORT_FORMAT,
    columns: str = EXPORT_COLUMNS,
):
    """Every contract the list would show with these filters (limit/offset ignored), as CSV or XLSX."""
    from kehu.core.exporting import export_response, requested_columns

    return export_response("contracts", user=_user(request), params=request.GET, fmt=format,
                           columns=requested_columns(request.GET))


@router.get("/payments/export", response={200: None, **ERRORS})
def payment_export(  # type: ignore[no-untyped-def]
    request: HttpRequest, query: Query[ContractListQuery], format: str = EXPORT_FORMAT,
    columns: str = EXPORT_COLUMNS,
    received_from: str = Query("", description="Received on or after (YYYY-MM-DD)"),
    received_to: str = Query("", description="Received on or before (YYYY-MM-DD)"),
    method: str = Query("", description="bank, cash, wechat, alipay or other"),
):
    """The payments received on the contracts the list would show with these filters, each with its
    contract number and customer, as CSV or XLSX."""
    from kehu.core.exporting import export_response, requested_columns

    return export_response("payments", user=_user(request), params=request.GET, fmt=format,
                           columns=requested_columns(request.GET))


@router.get("/payment-plans/export", response={200: None, **ERRORS})
def payment_plan_export(  # type: ignore[no-untyped-def]
    request: HttpRequest, query: Query[ContractListQuery], format: str = EXPORT_FORMAT,
    columns: str = EXPORT_COLUMNS,
    due_from: str = Query("", description="Due on or after (YYYY-MM-DD)"),
    due_to: str = Query("", description="Due on or before (YYYY-MM-DD)"),
):
    """The payment-plan instalments of the contracts the list would show, with paid, outstanding and
    overdue, as CSV or XLSX."""
    from kehu.core.exporting import export_response, requested_columns

    return export_response("payment_plans", user=_user(request), params=request.GET, fmt=format,
                           columns=requested_columns(request.GET))
