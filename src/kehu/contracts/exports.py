"""Export kinds of the contracts app (`kehu.core.exporting`): "contracts", "payments" (payments
received, each with its contract number and customer) and "payment_plans" (the instalments of the
payment plans, with what is paid and outstanding).

All three start from the contract list's filters (`views.list_filters`: status, owner incl. "me",
customer, q, signed_from, signed_to, expiring, overdue) within the user's scope
(`selectors.contracts_filtered`, i.e. `restrict()` on contracts): a payment or an instalment is
exported when its contract is. Payments also take `received_from` / `received_to` / `method`,
instalments `due_from` / `due_to`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from kehu.core import exporting

_STATUS_LABELS = {
    "draft": ("草稿", "Draft"), "active": ("执行中", "Active"), "completed": ("已完成", "Completed"),
    "terminated": ("已终止", "Terminated"),
}
_METHOD_LABELS = {
    "bank": ("银行转账", "Bank transfer"), "cash": ("现金", "Cash"), "wechat": ("微信", "WeChat"),
    "alipay": ("支付宝", "Alipay"), "other": ("其他", "Other"),
}


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value or "").strip())
    except ValueError:
        return None


def _contracts(user: Any, params: Mapping[str, Any]) -> QuerySet:
    from kehu.contracts import selectors
    from kehu.contracts.views import list_filters

    if params.get("expiring_days") and not params.get("expiring"):  # the API's name of the list's "expiring"
        params = {**{key: params.get(key) for key in params}, "expiring": params.get("expiring_days")}
    return selectors.contracts_filtered(user=user, filters=list_filters(params, user))  # type: ignore[arg-type]


def _label(labels: dict[str, tuple[str, str]], value: str, english: bool) -> str:
    return labels.get(value, (value, value))[1 if english else 0]


@dataclass
class _Lookups:
    users: dict[int, str]
    departments: dict[int, str]
    today: dt.date


def _lookups(english: bool) -> _Lookups:
    return _Lookups(users=exporting.user_names(), departments=exporting.department_names(),
                    today=timezone.localdate())


# Contracts ---------------------------------------------------------------------------------------

CONTRACT_COLUMNS: list[tuple[str, str, str]] = [
    ("id", "ID", "ID"),
    ("number", "合同编号", "Contract number"),
    ("title", "合同名称", "Contract title"),
    ("customer_id", "客户ID", "Customer ID"),
    ("customer", "客户名称", "Customer name"),
    ("customer_credit_code", "客户统一社会信用代码", "Customer credit code"),
    ("opportunity", "商机名称", "Opportunity"),
    ("owner", "负责人", "Owner"),
    ("department", "所属部门", "Department"),
    ("amount", "合同金额", "Contract amount"),
    ("currency", "币种", "Currency"),
    ("signed_on", "签约日期", "Signed on"),
    ("starts_on", "开始日期", "Starts on"),
    ("ends_on", "结束日期", "Ends on"),
    ("status", "合同状态", "Contract status"),
    ("received", "已回款", "Received"),
    ("outstanding", "未回款", "Outstanding"),
    ("notes", "备注", "Notes"),
    ("created_at", "创建时间", "Created at"),
    ("updated_at", "更新时间", "Updated at"),
]
_CONTRACT_VALUES = (
    "id", "number", "title", "customer_id", "customer__name", "customer__credit_code", "opportunity__name",
    "owner_id", "department_id", "amount", "currency", "signed_on", "starts_on", "ends_on", "status",
    "received_amount", "notes", "created_at", "updated_at",
)


def contract_row(record: dict[str, Any], ctx: exporting.ExportContext) -> dict[str, Any]:
    lookups: _Lookups = ctx.lookups
    return {
        "id": record["id"], "number": record["number"], "title": record["title"],
        "customer_id": record["customer_id"], "customer": record["customer__name"],
        "customer_credit_code": record["customer__credit_code"], "opportunity": record["opportunity__name"] or "",
        "owner": lookups.users.get(record["owner_id"], ""),
        "department": lookups.departments.get(record["department_id"], ""),
        "amount": record["amount"], "currency": record["currency"], "signed_on": record["signed_on"],
        "starts_on": record["starts_on"], "ends_on": record["ends_on"],
        "status": _label(_STATUS_LABELS, record["status"], ctx.english),
        "received": record["received_amount"], "outstanding": record["amount"] - record["received_amount"],
        "notes": record["notes"], "created_at": record["created_at"], "updated_at": record["updated_at"],
    }


# Payments received -------------------------------------------------------------------------------

PAYMENT_COLUMNS: list[tuple[str, str, str]] = [
    ("id", "ID", "ID"),
    ("contract_number", "合同编号", "Contract number"),
    ("contract_title", "合同名称", "Contract title"),
    ("customer", "客户名称", "Customer name"),
    ("owner", "负责人", "Owner"),
    ("received_on", "回款日期", "Received on"),
    ("amount", "回款金额", "Amount"),
    ("currency", "币种", "Currency"),
    ("method", "回款方式", "Method"),
    ("reference", "流水号/备注", "Reference"),
    ("plan_sequence", "对应期次", "Instalment"),
    ("created_by", "登记人", "Recorded by"),
    ("created_at", "登记时间", "Recorded at"),
]
_PAYMENT_VALUES = (
    "id", "contract__number", "contract__title", "contract__customer__name", "contract__owner_id", "received_on",
    "amount", "contract__currency", "method", "reference", "plan_item__sequence", "created_by_id", "created_at",
)


def payments_for_export(user: Any, params: Mapping[str, Any]) -> QuerySet:
    from kehu.contracts.models import Payment

    rows = Payment.objects.filter(contract_id__in=_contracts(user, params).values("pk"))
    received_from, received_to = _date(params.get("received_from")), _date(params.get("received_to"))
    if received_from:
        rows = rows.filter(received_on__gte=received_from)
    if received_to:
        rows = rows.filter(received_on__lte=received_to)
    method = str(params.get("method") or "").strip()
    if method in _METHOD_LABELS:
        rows = rows.filter(method=method)
    return rows


def payment_row(record: dict[str, Any], ctx: exporting.ExportContext) -> dict[str, Any]:
    lookups: _Lookups = ctx.lookups
    return {
        "id": record["id"], "contract_number": record["contract__number"],
        "contract_title": record["contract__title"], "customer": record["contract__customer__name"],
        "owner": lookups.users.get(record["contract__owner_id"], ""), "received_on": record["received_on"],
        "amount": record["amount"], "currency": record["contract__currency"],
        "method": _label(_METHOD_LABELS, record["method"], ctx.english), "reference": record["reference"],
        "plan_sequence": record["plan_item__sequence"] or "",
        "created_by": lookups.users.get(record["created_by_id"], ""), "created_at": record["created_at"],
    }


# Payment plan items ------------------------------------------------------------------------------

PLAN_COLUMNS: list[tuple[str, str, str]] = [
    ("id", "ID", "ID"),
    ("contract_number", "合同编号", "Contract number"),
    ("contract_title", "合同名称", "Contract title"),
    ("customer", "客户名称", "Customer name"),
    ("owner", "负责人", "Owner"),
    ("sequence", "期次", "Instalment"),
    ("due_date", "计划回款日期", "Due date"),
    ("amount", "计划金额", "Planned amount"),
    ("currency", "币种", "Currency"),
    ("paid", "已回款", "Paid"),
    ("outstanding", "未回款", "Outstanding"),
    ("overdue", "是否逾期", "Overdue"),
    ("note", "说明", "Note"),
]
_PLAN_VALUES = (
    "id", "contract__number", "contract__title", "contract__customer__name", "contract__owner_id",
    "contract__status", "contract__currency", "sequence", "due_date", "amount", "paid_amount", "note",
)


def plan_items_for_export(user: Any, params: Mapping[str, Any]) -> QuerySet:
    from kehu.contracts.models import PaymentPlanItem

    rows = PaymentPlanItem.objects.filter(contract_id__in=_contracts(user, params).values("pk"))
    due_from, due_to = _date(params.get("due_from")), _date(params.get("due_to"))
    if due_from:
        rows = rows.filter(due_date__gte=due_from)
    if due_to:
        rows = rows.filter(due_date__lte=due_to)
    return rows


def plan_row(record: dict[str, Any], ctx: exporting.ExportContext) -> dict[str, Any]:
    from kehu.contracts.selectors import LIVE_STATUSES

    lookups: _Lookups = ctx.lookups
    outstanding = record["amount"] - record["paid_amount"]
    overdue = record["due_date"] < lookups.today and outstanding > 0 and record["contract__status"] in LIVE_STATUSES
    return {
        "id": record["id"], "contract_number": record["contract__number"],
        "contract_title": record["contract__title"], "customer": record["contract__customer__name"],
        "owner": lookups.users.get(record["contract__owner_id"], ""), "sequence": record["sequence"],
        "due_date": record["due_date"], "amount": record["amount"], "currency": record["contract__currency"],
        "paid": record["paid_amount"], "outstanding": outstanding, "overdue": exporting.yes_no(overdue, ctx.english),
        "note": record["note"],
    }


def register_export_kinds() -> None:
    """Called from `kehu.contracts.registration.register()` (ContractsConfig.ready)."""
    exporting.register(exporting.ExportKind(
        key="contracts", label_zh="合同", label_en="Contracts", columns=CONTRACT_COLUMNS, queryset=_contracts,
        values=_CONTRACT_VALUES, row=contract_row, lookups=_lookups, object_type="contract",
    ))
    exporting.register(exporting.ExportKind(
        key="payments", label_zh="回款", label_en="Payments", columns=PAYMENT_COLUMNS, queryset=payments_for_export,
        values=_PAYMENT_VALUES, row=payment_row, lookups=_lookups, object_type="payment",
    ))
    exporting.register(exporting.ExportKind(
        key="payment_plans", label_zh="回款计划", label_en="Payment plans", columns=PLAN_COLUMNS,
        queryset=plan_items_for_export, values=_PLAN_VALUES, row=plan_row, lookups=_lookups,
        object_type="paymentplanitem",
    ))
