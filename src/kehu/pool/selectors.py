"""Reads of the customer pool. Pool customers are not reachable through `restrict()` for reps;
members see them only here, with phones and e-mails masked on the server."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Q
from django.utils import timezone

from kehu.core.errors import NotFound
from kehu.customers.models import Customer
from kehu.dataquality.matching.reasons import mask_email, mask_phone
from kehu.pool.models import CustomerPool, MoveAction, PoolEntry, PoolMove, ReturnReminder
from kehu.pool.services import _local_day_start, is_member, is_pool_admin

PAGE_SIZE = 50


@dataclass
class PoolCustomerRow:
    id: int
    name: str
    city: str
    phones: list[str]
    emails: list[str]
    entered_at: dt.datetime
    reason: str
    previous_owner: str


@dataclass
class PoolPage:
    pool: CustomerPool
    rows: list[PoolCustomerRow] = field(default_factory=list)
    number: int = 1
    pages: int = 1
    total: int = 0


def my_pools(*, user: Any) -> list[CustomerPool]:
    """Active pools the user is a member or an admin of (Kehu admins: every pool)."""
    pools = CustomerPool.objects.filter(is_active=True).prefetch_related("member_departments")
    return [pool for pool in pools if is_member(user, pool) or is_pool_admin(user, pool)]


def pool_get(*, user: Any, pool_id: int) -> CustomerPool:
    pool = CustomerPool.objects.filter(pk=pool_id, is_active=True).first()
    if pool is None or not (is_member(user, pool) or is_pool_admin(user, pool)):
        raise NotFound("公海不存在或无权查看")
    return pool


def _masked_phone(phone: str, e164: str) -> str:
    return mask_phone(e164 or "".join(ch for ch in phone if ch.isdigit()))


def pool_customers(*, user: Any, pool: CustomerPool, q: str = "", page: int = 1,
                   page_size: int = PAGE_SIZE) -> PoolPage:
    """A page of the pool's customers, newest first, phones and e-mails masked."""
    if not (is_member(user, pool) or is_pool_admin(user, pool)):
        raise NotFound("公海不存在或无权查看")
    entries = PoolEntry.objects.filter(pool=pool).select_related("customer", "previous_owner")
    q = (q or "").strip()
    if q:
        entries = entries.filter(Q(customer__name__icontains=q) | Q(customer__city__icontains=q))
    paginator = Paginator(entries.order_by("-entered_at", "-id"), page_size)
    current = paginator.get_page(page)
    rows = []
    for entry in current.object_list:
        customer: Customer = entry.customer
        e164 = list(customer.phones_e164 or [])
        rows.append(PoolCustomerRow(
            id=customer.pk, name=customer.name, city=customer.city,
            phones=[_masked_phone(p, e164[i] if i < len(e164) else "") for i, p in enumerate(customer.phones or [])],
            emails=[mask_email(e) for e in customer.emails or []],
            entered_at=entry.entered_at, reason=entry.reason,
            previous_owner=str(entry.previous_owner or ""),
        ))
    return PoolPage(pool=pool, rows=rows, number=current.number, pages=paginator.num_pages, total=paginator.count)


def reminders_for(*, user: Any, now: dt.datetime | None = None) -> list[ReturnReminder]:
    """The user's customers about to go back to the pool (still owned by them, due in the future)."""
    now = now or timezone.now()
    return list(ReturnReminder.objects.filter(owner=user, due_at__gt=now, customer__owner=user)
                .select_related("customer", "pool").order_by("due_at", "id"))


@dataclass
class Allowance:
    daily_limit: int  # 0: no limit
    claimed_today: int
    claims_left: int | None  # None: no limit
    holding_cap: int
    holding: int
    holding_room: int | None


def claim_allowance(*, user: Any, pool: CustomerPool, now: dt.datetime | None = None) -> Allowance:
    now = now or timezone.now()
    today = PoolMove.objects.filter(user=user, action=MoveAction.CLAIM, at__gte=_local_day_start(now),
                                    at__lte=now).count()
    holding = Customer.objects.filter(owner=user).count()
    return Allowance(
        daily_limit=pool.daily_claim_limit, claimed_today=today,
        claims_left=max(pool.daily_claim_limit - today, 0) if pool.daily_claim_limit else None,
        holding_cap=pool.holding_cap, holding=holding,
        holding_room=max(pool.holding_cap - holding, 0) if pool.holding_cap else None,
    )


def pool_moves(*, customer_id: int, limit: int = 100) -> list[PoolMove]:
    return list(PoolMove.objects.filter(customer_id=customer_id).select_related("pool", "user", "previous_owner")
                .order_by("-at", "-id")[:limit])


def pools_all() -> list[CustomerPool]:
    return list(CustomerPool.objects.prefetch_related("members", "member_departments", "admins"))
