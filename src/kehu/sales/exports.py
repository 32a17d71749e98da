"""Export kinds of the sales app (`kehu.core.exporting`): "opportunities" and "products".

The columns an import kind reads carry that kind's own target labels (`kehu.sales.imports`), so an
exported file goes back in through the "opportunities" / "products" import as it is: the customer by
name, credit code and external id, the stage and lost reason by name, the owner by display name.
The other columns (ids, pipeline, probability, weighted amount, times) are for reading and are left
unmapped by the importer.

Opportunities take the list's and the API's filters (`OpportunityFilter`: owner incl. "me",
customer, q, close_from, close_to, overdue, status) plus `pipeline` and `stage`, within the user's
scope (`selectors.opportunities_visible`). Products are readable by everyone: `q`, `category` and
`include_inactive` (as the API's product list, inactive ones are left out unless asked for)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from kehu.core import exporting
from kehu.core.params import query_date, query_int
from kehu.sales.imports import OPPORTUNITY_TARGETS, PRODUCT_TARGETS

_HUNDRED = Decimal("100")
_KIND_LABELS = {"open": ("进行中", "Open"), "won": ("赢单", "Won"), "lost": ("输单", "Lost")}
_TRUE = ("1", "on", "true", "yes")


def _labels(targets: Any) -> dict[str, tuple[str, str]]:
    return {t.key: (t.label_zh, t.label_en) for t in targets}


def _localised(zh: str, en: str, english: bool) -> str:
    return en if english and en else zh


# Opportunities -----------------------------------------------------------------------------------

_OPP = _labels(OPPORTUNITY_TARGETS)
OPPORTUNITY_COLUMNS: list[tuple[str, str, str]] = [
    ("id", "ID", "ID"),
    ("name", *_OPP["name"]),
    ("customer_id", "客户ID", "Customer ID"),
    ("customer_name", *_OPP["customer_name"]),
    ("customer_credit_code", *_OPP["customer_credit_code"]),
    ("customer_external_id", *_OPP["customer_external_id"]),
    ("pipeline", "销售流程", "Pipeline"),
    ("stage", *_OPP["stage"]),
    ("stage_kind", "商机状态", "Deal status"),
    ("probability", "赢单概率（%）", "Win probability (%)"),
    ("amount", *_OPP["amount"]),
    ("currency", "币种", "Currency"),
    ("weighted_amount", "加权金额", "Weighted amount"),
    ("owner", *_OPP["owner"]),
    ("department", "所属部门", "Department"),
    ("expected_close_date", *_OPP["expected_close_date"]),
    ("next_step", *_OPP["next_step"]),
    ("description", *_OPP["description"]),
    ("lost_reason", *_OPP["lost_reason"]),
    ("lost_note", "输单说明", "Lost note"),
    ("stage_entered_at", "进入当前阶段时间", "Entered stage at"),
    ("closed_at", "关闭时间", "Closed at"),
    ("external_id", *_OPP["external_id"]),
    ("created_at", "创建时间", "Created at"),
    ("updated_at", "更新时间", "Updated at"),
]
_OPPORTUNITY_VALUES = (
    "id", "name", "customer_id", "customer__name", "customer__credit_code", "customer__external_id", "pipeline_id",
    "stage_id", "amount", "currency", "owner_id", "department_id", "expected_close_date", "next_step", "description",
    "lost_reason_id", "lost_note", "stage_entered_at", "closed_at", "external_id", "created_at", "updated_at",
)


def opportunity_filters(user: Any, params: Mapping[str, Any]) -> Any:
    """The list's `OpportunityFilter` from query parameters (as `sales.views._filters` reads them)."""
    from kehu.sales.models import StageKind
    from kehu.sales.selectors import OpportunityFilter

    owner = str(params.get("owner") or "").strip()
    status = str(params.get("status") or "").strip()
    return OpportunityFilter(
        owner=getattr(user, "pk", None) if owner == "me" else query_int(owner),
        customer=query_int(params.get("customer")),
        q=str(params.get("q") or "").strip()[:100],
        close_from=query_date(params.get("close_from")),
        close_to=query_date(params.get("close_to")),
        overdue=str(params.get("overdue") or "").lower() in _TRUE,
        status=status if status in StageKind.values else "",
    )


def opportunities_for_export(user: Any, params: Mapping[str, Any]) -> QuerySet:
    from kehu.sales import selectors

    rows = selectors.opportunities_filtered(user=user, filters=opportunity_filters(user, params),
                                            pipeline_id=query_int(params.get("pipeline")))
    stage = query_int(params.get("stage"))
    if stage:
        rows = rows.filter(stage_id=stage)
    return rows


@dataclass
class _SalesLookups:
    pipelines: dict[int, str]
    stages: dict[int, tuple[str, str, int]]  # id -> (label, kind, probability)
    reasons: dict[int, str]
    users: dict[int, str]
    departments: dict[int, str]


def _sales_lookups(english: bool) -> _SalesLookups:
    from kehu.sales.models import LostReason, Pipeline, Stage

    return _SalesLookups(
        pipelines={p.pk: _localised(p.name_zh, p.name_en, english) for p in Pipeline.objects.all()},
        stages={s.pk: (_localised(s.name_zh, s.name_en, english), s.kind, s.probability)
                for s in Stage.objects.all()},
        reasons={r.pk: _localised(r.label_zh, r.label_en, english) for r in LostReason.objects.all()},
        users=exporting.user_names(),
        departments=exporting.department_names(),
    )


def opportunity_row(record: dict[str, Any], ctx: exporting.ExportContext) -> dict[str, Any]:
    lookups: _SalesLookups = ctx.lookups
    stage, kind, probability = lookups.stages.get(record["stage_id"], ("", "", 0))
    amount: Decimal = record["amount"]
    return {
        "id": record["id"],
        "name": record["name"],
        "customer_id": record["customer_id"],
        "customer_name": record["customer__name"],
        "customer_credit_code": record["customer__credit_code"],
        "customer_external_id": record["customer__external_id"],
        "pipeline": lookups.pipelines.get(record["pipeline_id"], ""),
        "stage": stage,
        "stage_kind": _KIND_LABELS.get(kind, ("", ""))[1 if ctx.english else 0],
        "probability": probability,
        "amount": amount,
        "currency": record["currency"],
        "weighted_amount": (amount * probability / _HUNDRED).quantize(Decimal("0.01")),
        "owner": lookups.users.get(record["owner_id"], ""),
        "department": lookups.departments.get(record["department_id"], ""),
        "expected_close_date": record["expected_close_date"],
        "next_step": record["next_step"],
        "description": record["description"],
        "lost_reason": lookups.reasons.get(record["lost_reason_id"], ""),
        "lost_note": record["lost_note"],
        "stage_entered_at": record["stage_entered_at"],
        "closed_at": record["closed_at"],
        "external_id": record["external_id"],
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
    }


# Products ----------------------------------------------------------------------------------------

_PRODUCT = _labels(PRODUCT_TARGETS)
PRODUCT_COLUMNS: list[tuple[str, str, str]] = [
    ("id", "ID", "ID"),
    ("code", *_PRODUCT["code"]),
    ("name", *_PRODUCT["name"]),
    ("category", *_PRODUCT["category"]),
    ("unit", *_PRODUCT["unit"]),
    ("list_price", *_PRODUCT["list_price"]),
    ("currency", "币种", "Currency"),
    ("description", *_PRODUCT["description"]),
    ("is_active", *_PRODUCT["is_active"]),
    ("created_at", "创建时间", "Created at"),
    ("updated_at", "更新时间", "Updated at"),
]
_PRODUCT_VALUES = ("id", "code", "name", "category__name", "unit", "list_price", "currency", "description",
                   "is_active", "created_at", "updated_at")


def products_for_export(user: Any, params: Mapping[str, Any]) -> QuerySet:
    """The product catalogue (readable by every user, as the API's product list): `q` in the code or
    name, `category` (id), inactive products only with `include_inactive`."""
    from kehu.sales.models import Product

    rows = Product.objects.all()
    if str(params.get("include_inactive") or "").lower() not in _TRUE:
        rows = rows.filter(is_active=True)
    q = str(params.get("q") or "").strip()[:100]
    if q:
        rows = rows.filter(Q(code__icontains=q) | Q(name__icontains=q))
    category = query_int(params.get("category"))
    if category:
        rows = rows.filter(category_id=category)
    return rows


def product_row(record: dict[str, Any], ctx: exporting.ExportContext) -> dict[str, Any]:
    return {
        "id": record["id"], "code": record["code"], "name": record["name"],
        "category": record["category__name"] or "", "unit": record["unit"], "list_price": record["list_price"],
        "currency": record["currency"], "description": record["description"],
        "is_active": exporting.yes_no(record["is_active"], ctx.english),
        "created_at": record["created_at"], "updated_at": record["updated_at"],
    }


def register_export_kinds() -> None:
    """Called from `kehu.sales.registration.register()` (SalesConfig.ready)."""
    exporting.register(exporting.ExportKind(
        key="opportunities", label_zh="商机", label_en="Opportunities", columns=OPPORTUNITY_COLUMNS,
        queryset=opportunities_for_export, values=_OPPORTUNITY_VALUES, row=opportunity_row,
        lookups=_sales_lookups, object_type="opportunity",
    ))
    exporting.register(exporting.ExportKind(
        key="products", label_zh="产品", label_en="Products", columns=PRODUCT_COLUMNS,
        queryset=products_for_export, values=_PRODUCT_VALUES, row=product_row, object_type="product",
    ))
