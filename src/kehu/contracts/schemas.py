"""Request and response shapes of the /api/v1 contract endpoints. Amounts go out as strings with two
decimals and come in as numbers or text as people type them (12800, "1.28万")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Field, Schema

from kehu.customers.schemas import InputSchema, OutputSchema, UserRefOut, user_ref

from .models import Contract, Payment, PaymentPlanItem
from .selectors import OwnerReceivables

AmountIn = str | int | float | None
MONEY = "Decimal with 2 places, as a string"


def money(value: Decimal | int | None) -> str:
    return f"{Decimal(value or 0):.2f}"


class CustomerRef(OutputSchema):
    id: int
    name: str


class ContractOut(OutputSchema):
    id: int
    number: str
    title: str
    customer: CustomerRef
    opportunity_id: int | None
    owner: UserRefOut | None
    department_id: int | None
    amount: str = Field(description=MONEY)
    received: str = Field(description=MONEY)
    outstanding: str = Field(description="amount − received; " + MONEY)
    currency: str
    signed_on: dt.date | None
    starts_on: dt.date | None
    ends_on: dt.date | None
    status: str
    notes: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def contract_out(contract: Contract) -> dict[str, Any]:
    return {
        "id": contract.pk, "number": contract.number, "title": contract.title,
        "customer": {"id": contract.customer_id, "name": contract.customer.name},
        "opportunity_id": contract.opportunity_id, "owner": user_ref(contract.owner),
        "department_id": contract.department_id, "amount": money(contract.amount),
        "received": money(contract.received_amount), "outstanding": money(contract.outstanding),
        "currency": contract.currency, "signed_on": contract.signed_on, "starts_on": contract.starts_on,
        "ends_on": contract.ends_on, "status": contract.status, "notes": contract.notes,
        "version": contract.version, "created_at": contract.created_at, "updated_at": contract.updated_at,
    }


class PlanItemOut(OutputSchema):
    id: int
    contract_id: int
    sequence: int
    due_date: dt.date
    amount: str = Field(description=MONEY)
    paid: str = Field(description=MONEY)
    outstanding: str = Field(description=MONEY)
    note: str
    overdue: bool


def plan_item_out(item: PaymentPlanItem, today: dt.date) -> dict[str, Any]:
    return {"id": item.pk, "contract_id": item.contract_id, "sequence": item.sequence, "due_date": item.due_date,
            "amount": money(item.amount), "paid": money(item.paid_amount), "outstanding": money(item.outstanding),
            "note": item.note, "overdue": item.due_date < today and item.paid_amount < item.amount}


class AllocationOut(OutputSchema):
    plan_item_id: int
    sequence: int
    amount: str = Field(description=MONEY)


class PaymentOut(OutputSchema):
    id: int
    contract_id: int
    received_on: dt.date
    amount: str = Field(description=MONEY)
    method: str
    reference: str
    plan_item_id: int | None
    allocations: list[AllocationOut]


def payment_out(payment: Payment) -> dict[str, Any]:
    return {"id": payment.pk, "contract_id": payment.contract_id, "received_on": payment.received_on,
            "amount": money(payment.amount), "method": payment.method, "reference": payment.reference,
            "plan_item_id": payment.plan_item_id,
            "allocations": [{"plan_item_id": a.plan_item_id, "sequence": a.plan_item.sequence,
                             "amount": money(a.amount)} for a in payment.allocations.select_related("plan_item")]}


class ContractDetailOut(ContractOut):
    plan: list[PlanItemOut]
    payments: list[PaymentOut]


class ContractPage(OutputSchema):
    items: list[ContractOut]
    total: int
    amount: str = Field(description="Sum of the contract amounts of every matching row; " + MONEY)
    received: str = Field(description=MONEY)
    outstanding: str = Field(description=MONEY)


class ContractCreateIn(InputSchema):
    number: str | None = Field(None, description="Leave out to number by the rule")
    title: str
    customer: int
    opportunity: int | None = None
    owner: int | None = None
    amount: AmountIn = None
    currency: str | None = "CNY"
    signed_on: dt.date | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    status: str | None = "draft"
    notes: str | None = ""


class ContractPatchIn(InputSchema):
    number: str | None = None
    title: str | None = None
    customer: int | None = None
    opportunity: int | None = None
    owner: int | None = None
    amount: AmountIn = None
    currency: str | None = None
    signed_on: dt.date | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    status: str | None = None
    notes: str | None = None
    expected_version: int | None = None


class FromOpportunityIn(InputSchema):
    opportunity: int


class PlanItemIn(InputSchema):
    due_date: dt.date | str
    amount: AmountIn
    note: str | None = ""


class PlanIn(InputSchema):
    items: list[PlanItemIn]


class PaymentIn(InputSchema):
    received_on: dt.date | str
    amount: AmountIn
    method: str = "bank"
    reference: str | None = ""
    plan_item: int | None = None


class ContractListQuery(Schema):
    status: str = ""
    owner: int | None = None
    customer: int | None = None
    q: str = ""
    signed_from: dt.date | None = None
    signed_to: dt.date | None = None
    expiring_days: int | None = Field(None, ge=0, le=3650, description="Active contracts ending within N days")
    overdue: bool = Field(False, description="Only contracts with an overdue instalment")
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0)


class OwnerReceivablesOut(OutputSchema):
    owner_id: int | None
    owner_name: str
    contracts: int
    amount: str
    received: str
    outstanding: str
    overdue: str


def owner_receivables_out(row: OwnerReceivables) -> dict[str, Any]:
    return {"owner_id": row.owner_id, "owner_name": row.owner_name, "contracts": row.contracts,
            "amount": money(row.amount), "received": money(row.received), "outstanding": money(row.outstanding),
            "overdue": money(row.overdue)}
