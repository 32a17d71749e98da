"""/api/v1/ endpoints of the pool app (tag "pool"). Thin: reads through `kehu.pool.selectors`
(pool customers come out masked), writes through `kehu.pool.services`; their errors become the
shared JSON error shape."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router

from kehu.customers.schemas import ErrorOut

from . import selectors, services
from .schemas import (
    AssignIn,
    ClaimIn,
    OwnerChangeOut,
    PoolCustomerOut,
    PoolCustomerPage,
    PoolCustomersQuery,
    PoolOut,
    ReleaseIn,
    ReminderOut,
    ScanOut,
)

router = Router(tags=["pool"])

ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, Any] = {**ERRORS, 409: ErrorOut}
POOL_FIELDS = ("id", "name", "is_default", "holding_cap", "daily_claim_limit", "reclaim_cooldown_days",
               "return_no_followup_days", "return_no_won_days", "remind_days_before", "exempt_open_opportunity",
               "exempt_live_contract")


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


@router.get("/pools", response={200: list[PoolOut], **ERRORS})
def pool_list(request: HttpRequest):  # type: ignore[no-untyped-def]
    """The caller's pools with their rules and the caller's remaining claims and holding room."""
    user = _user(request)
    out = []
    for pool in selectors.my_pools(user=user):
        allowance = selectors.claim_allowance(user=user, pool=pool)
        out.append(PoolOut(**{f: getattr(pool, f) for f in POOL_FIELDS}, claims_left=allowance.claims_left,
                           holding_room=allowance.holding_room))
    return out


@router.get("/pools/{int:pool_id}/customers", response={200: PoolCustomerPage, **ERRORS})
def pool_customer_list(request: HttpRequest, pool_id: int, query: Query[PoolCustomersQuery]):  # type: ignore[no-untyped-def]
    """A page of the pool's customers; phones and e-mails are masked."""
    user = _user(request)
    page = selectors.pool_customers(user=user, pool=selectors.pool_get(user=user, pool_id=pool_id), q=query.q,
                                    page=query.page)
    return PoolCustomerPage(items=[PoolCustomerOut(**vars(r)) for r in page.rows], page=page.number,
                            pages=page.pages, total=page.total)


@router.post("/pools/{int:pool_id}/claim", response={200: OwnerChangeOut, **WRITE_ERRORS})
def pool_claim(request: HttpRequest, pool_id: int, payload: ClaimIn):  # type: ignore[no-untyped-def]
    user = _user(request)
    selectors.pool_get(user=user, pool_id=pool_id)
    customer = services.pool_claim(acting_user=user, customer_id=payload.customer_id, pool_id=pool_id)
    return OwnerChangeOut(customer_id=customer.pk, owner_id=customer.owner_id)


@router.post("/pools/{int:pool_id}/assign", response={200: OwnerChangeOut, **WRITE_ERRORS})
def pool_assign(request: HttpRequest, pool_id: int, payload: AssignIn):  # type: ignore[no-untyped-def]
    user = _user(request)
    selectors.pool_get(user=user, pool_id=pool_id)
    customer = services.pool_assign(acting_user=user, customer_id=payload.customer_id, user_id=payload.user_id,
                                    pool_id=pool_id)
    return OwnerChangeOut(customer_id=customer.pk, owner_id=customer.owner_id)


@router.post("/pool/release", response={200: OwnerChangeOut, **WRITE_ERRORS})
def pool_release(request: HttpRequest, payload: ReleaseIn):  # type: ignore[no-untyped-def]
    """Put one of your customers back in the pool; `reason` is required."""
    entry = services.pool_release(acting_user=_user(request), customer_id=payload.customer_id,
                                  reason=payload.reason, pool_id=payload.pool_id)
    return OwnerChangeOut(customer_id=entry.customer_id, owner_id=None)


@router.post("/pool/auto-return", response={200: ScanOut, **WRITE_ERRORS})
def pool_auto_return(request: HttpRequest):  # type: ignore[no-untyped-def]
    """Run the auto-return scan now (admins)."""
    return ScanOut(**services.auto_return_run(acting_user=_user(request)))


@router.get("/pool/reminders", response={200: list[ReminderOut], **ERRORS})
def pool_reminders(request: HttpRequest):  # type: ignore[no-untyped-def]
    """The caller's customers that go back to the pool soon unless followed up."""
    return [ReminderOut(customer_id=r.customer_id, customer_name=r.customer.name, pool_id=r.pool_id, due_at=r.due_at)
            for r in selectors.reminders_for(user=_user(request))]
