"""Reads of the contracts app, every one starting from `restrict()`: the filtered list with its
totals, a contract with its plan and payments, receivables, overdue instalments, contracts about to
expire and each owner's receivables summary."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from kehu.core.errors import NotFound
from kehu.core.scoping import restrict

from .models import Contract, ContractStatus, Payment, PaymentPlanItem

EXPIRING_DAYS = 30
ZERO = Decimal("0")
# Contracts whose instalments still count as receivable (a terminated contract's open plan does not).
LIVE_STATUSES = (ContractStatus.DRAFT, ContractStatus.ACTIVE)


@dataclass(frozen=True)
class ContractFilter:
    """One filter definition for the web list and the API."""

    status: str = ""
    owner: int | None = None
    customer: int | None = None
    q: str = ""
    signed_from: dt.date | None = None
    signed_to: dt.date | None = None
    expiring_days: int | None = None
    overdue: bool = False


def contracts_visible(*, user: Any) -> QuerySet[Contract]:
    return restrict(Contract.objects.all(), user)


def _overdue_items(today: dt.date) -> QuerySet[PaymentPlanItem]:
    return PaymentPlanItem.objects.filter(due_date__lt=today, paid_amount__lt=F("amount"),
                                          contract__status__in=LIVE_STATUSES)


def contracts_filtered(*, user: Any, filters: ContractFilter, today: dt.date | None = None) -> QuerySet[Contract]:
    today = today or timezone.localdate()
    rows = contracts_visible(user=user).select_related("customer", "owner")
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.owner:
        rows = rows.filter(owner_id=filters.owner)
    if filters.customer:
        rows = rows.filter(customer_id=filters.customer)
    if filters.q:
        rows = rows.filter(Q(number__icontains=filters.q) | Q(title__icontains=filters.q)
                           | Q(customer__name__icontains=filters.q))
    if filters.signed_from:
        rows = rows.filter(signed_on__gte=filters.signed_from)
    if filters.signed_to:
        rows = rows.filter(signed_on__lte=filters.signed_to)
    if filters.expiring_days is not None:
        rows = rows.filter(status=ContractStatus.ACTIVE, ends_on__gte=today,
                           ends_on__lte=today + dt.timedelta(days=filters.expiring_days))
    if filters.overdue:
        rows = rows.filter(Exists(_overdue_items(today).filter(contract_id=OuterRef("pk"))))
    return rows.order_by("-created_at", "-id")


@dataclass(frozen=True)
class Totals:
    count: int
    amount: Decimal
    received: Decimal

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.received


def contract_totals(rows: QuerySet[Contract]) -> Totals:
    data = rows.order_by().aggregate(n=Count("id"), amount=Sum("amount"), received=Sum("received_amount"))
    return Totals(count=data["n"] or 0, amount=data["amount"] or ZERO, received=data["received"] or ZERO)


def contract_get(*, user: Any, contract_id: int) -> Contract:
    contract = contracts_visible(user=user).select_related(
        "customer", "owner", "department", "opportunity").filter(pk=contract_id).first()
    if contract is None:
        raise NotFound("contract not found")
    return contract


@dataclass(frozen=True)
class PlanRow:
    item: PaymentPlanItem
    paid: Decimal
    outstanding: Decimal
    overdue: bool


def plan_rows(contract: Contract, today: dt.date | None = None) -> list[PlanRow]:
    today = today or timezone.localdate()
    return [PlanRow(item=item, paid=item.paid_amount, outstanding=item.amount - item.paid_amount,
                    overdue=item.due_date < today and item.paid_amount < item.amount
                    and contract.status in LIVE_STATUSES)
            for item in contract.plan_items.order_by("sequence")]


def payments_of(contract: Contract) -> list[Payment]:
    return list(contract.payments.select_related("created_by", "plan_item").prefetch_related(
        "allocations__plan_item").order_by("-received_on", "-id"))


def receivables(*, user: Any, filters: ContractFilter | None = None) -> QuerySet[Contract]:
    """Contracts with money still to come (amount − received > 0), the largest first."""
    rows = contracts_filtered(user=user, filters=filters or ContractFilter())
    return rows.filter(received_amount__lt=F("amount"), status__in=LIVE_STATUSES).order_by(
        F("received_amount") - F("amount"), "-id")


def overdue_instalments(*, user: Any, today: dt.date | None = None) -> QuerySet[PaymentPlanItem]:
    """Instalments due before today and not fully paid, on contracts the user may see, oldest first."""
    today = today or timezone.localdate()
    visible = contracts_visible(user=user).values("pk")
    return _overdue_items(today).filter(contract_id__in=visible).select_related(
        "contract", "contract__customer", "contract__owner").order_by("due_date", "contract_id", "sequence")


def contracts_expiring(*, user: Any, days: int = EXPIRING_DAYS, today: dt.date | None = None) -> QuerySet[Contract]:
    """Active contracts ending within `days` days from today (today included), soonest first."""
    return contracts_filtered(user=user, filters=ContractFilter(expiring_days=days), today=today).order_by(
        "ends_on", "id")


@dataclass(frozen=True)
class OwnerReceivables:
    owner_id: int | None
    owner_name: str
    contracts: int
    amount: Decimal
    received: Decimal
    overdue: Decimal

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.received


def receivables_by_owner(*, user: Any, today: dt.date | None = None) -> list[OwnerReceivables]:
    """Per owner of the contracts the user may see ("my receivables" for a rep): live contracts,
    amount, received, outstanding and the overdue part of it."""
    today = today or timezone.localdate()
    live = contracts_visible(user=user).filter(status__in=LIVE_STATUSES)
    sums = live.order_by().values("owner_id", "owner__display_name", "owner__username").annotate(
        n=Count("id"), amount=Sum("amount"), received=Sum("received_amount"))
    overdue = dict(_overdue_items(today).filter(contract_id__in=live.values("pk")).order_by().values(
        "contract__owner_id").annotate(s=Sum(F("amount") - F("paid_amount"))).values_list("contract__owner_id", "s"))
    out = [OwnerReceivables(owner_id=row["owner_id"],
                            owner_name=row["owner__display_name"] or row["owner__username"] or "—",
                            contracts=row["n"], amount=row["amount"] or ZERO, received=row["received"] or ZERO,
                            overdue=Decimal(str(overdue.get(row["owner_id"]) or 0)).quantize(Decimal("0.01")))
           for row in sums]
    return sorted(out, key=lambda r: (-r.outstanding, r.owner_name))
