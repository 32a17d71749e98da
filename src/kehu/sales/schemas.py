"""Request and response shapes of the sales API (/api/v1/opportunities, /api/v1/sales/…).

As in `kehu.customers.schemas`: input schemas check types and forbid unknown keys, the real
validation (amounts as people type them, required fields per stage, lost reasons, scope,
permissions) lives in `kehu.sales.services`. Output is built by the `*_out` functions from what the
selectors load. Money is a string with two decimals ("12800.00") so no client rounds it through a
float; dates are ISO.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from ninja import Field, Schema

from kehu.customers.schemas import DepartmentRef, InputSchema, OutputSchema, UserRefOut, user_ref
from kehu.sales.models import LostReason, Opportunity, OpportunityLine, Pipeline, Product, Stage, StageChange
from kehu.sales.selectors import Board, Column, Forecast, ForecastCell, FunnelStep, SalesFigures

_CENT = Decimal("0.01")

# Amounts may be sent as numbers or as text the way people type them (12,800 / 1.28万 / 12k).
AmountIn = str | int | float | None
MONEY = "Decimal with 2 places, as a string"


def money(value: Decimal | int | None) -> str:
    return str(Decimal(value or 0).quantize(_CENT))


def money_or_none(value: Decimal | None) -> str | None:
    return None if value is None else money(value)


# Shared pieces ---------------------------------------------------------------------------------


class Ref(OutputSchema):
    id: int
    name: str


class StageRef(OutputSchema):
    id: int
    name: str
    probability: int = Field(description="Win probability in percent (weights the forecast)")
    kind: str = Field(description="open | won | lost")
    color: str


def stage_ref(stage: Stage | None) -> dict[str, Any] | None:
    if stage is None:
        return None
    return {"id": stage.pk, "name": stage.label, "probability": stage.probability, "kind": stage.kind,
            "color": stage.color}


class LostReasonRef(OutputSchema):
    id: int
    label: str


# Opportunities ---------------------------------------------------------------------------------


class OpportunityCard(OutputSchema):
    """A kanban card (and a list row): what fits on it without loading lines or contacts."""

    id: int
    name: str
    customer: Ref
    owner: UserRefOut | None
    amount: str = Field(description=MONEY)
    currency: str
    expected_close_date: dt.date | None
    next_step: str
    stage_entered_at: dt.datetime
    version: int


def card_out(opportunity: Opportunity) -> dict[str, Any]:
    """Expects customer and owner selected (`selectors.column_cards` does)."""
    return {
        "id": opportunity.pk,
        "name": opportunity.name,
        "customer": {"id": opportunity.customer_id, "name": opportunity.customer.name},
        "owner": user_ref(opportunity.owner),
        "amount": money(opportunity.amount),
        "currency": opportunity.currency,
        "expected_close_date": opportunity.expected_close_date,
        "next_step": opportunity.next_step,
        "stage_entered_at": opportunity.stage_entered_at,
        "version": opportunity.version,
    }


class OpportunityOut(OutputSchema):
    id: int
    name: str
    customer: Ref
    owner: UserRefOut | None
    department: DepartmentRef | None
    pipeline: Ref
    stage: StageRef
    amount: str = Field(description=MONEY)
    weighted_amount: str = Field(description="amount × the stage's win probability; " + MONEY)
    currency: str
    expected_close_date: dt.date | None
    next_step: str
    description: str
    lost_reason: LostReasonRef | None
    lost_note: str
    stage_entered_at: dt.datetime
    closed_at: dt.datetime | None
    external_id: str
    custom: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int = Field(description="Send it back as expected_version (or If-Match) when editing")


def opportunity_out(opportunity: Opportunity) -> dict[str, Any]:
    """Expects customer, owner, department, pipeline, stage and lost_reason selected
    (`selectors.opportunity_get` and `opportunities_filtered` do, but for department/lost_reason)."""
    stage = opportunity.stage
    department = opportunity.department
    reason = opportunity.lost_reason
    return {
        "id": opportunity.pk,
        "name": opportunity.name,
        "customer": {"id": opportunity.customer_id, "name": opportunity.customer.name},
        "owner": user_ref(opportunity.owner),
        "department": None if department is None else {"id": department.pk, "name": department.name},
        "pipeline": {"id": opportunity.pipeline_id, "name": opportunity.pipeline.label},
        "stage": stage_ref(stage),
        "amount": money(opportunity.amount),
        "weighted_amount": money(Decimal(opportunity.amount or 0) * stage.probability / 100),
        "currency": opportunity.currency,
        "expected_close_date": opportunity.expected_close_date,
        "next_step": opportunity.next_step,
        "description": opportunity.description,
        "lost_reason": None if reason is None else {"id": reason.pk, "label": reason.label},
        "lost_note": opportunity.lost_note,
        "stage_entered_at": opportunity.stage_entered_at,
        "closed_at": opportunity.closed_at,
        "external_id": opportunity.external_id,
        "custom": dict(opportunity.custom or {}),
        "created_at": opportunity.created_at,
        "updated_at": opportunity.updated_at,
        "version": opportunity.version,
    }


class LineOut(OutputSchema):
    product: Ref
    quantity: str
    unit_price: str = Field(description=MONEY)
    discount_percent: str
    total: str = Field(description=MONEY)


def line_out(line: OpportunityLine) -> dict[str, Any]:
    return {"product": {"id": line.product_id, "name": line.product.name}, "quantity": money(line.quantity),
            "unit_price": money(line.unit_price), "discount_percent": money(line.discount_percent),
            "total": money(line.total)}


class OpportunityDetailOut(OpportunityOut):
    contacts: list[Ref]
    lines: list[LineOut]


def opportunity_detail_out(opportunity: Opportunity) -> dict[str, Any]:
    # A contact merge may leave two links to the same contact (see OpportunityContact): show it once.
    contacts = {c.pk: {"id": c.pk, "name": c.name} for c in opportunity.contacts.order_by("pk")}
    lines = [line_out(line) for line in opportunity.lines.select_related("product")]
    return {**opportunity_out(opportunity), "contacts": list(contacts.values()), "lines": lines}


class OpportunityPage(OutputSchema):
    items: list[OpportunityOut]
    next_cursor: str | None
    prev_cursor: str | None
    total: int | None = Field(description="Exact count up to 10000; null with total_capped=true above that")
    total_capped: bool


class LineIn(InputSchema):
    product: int = Field(description="Product id")
    quantity: AmountIn = Field(None, description="Default 1")
    unit_price: AmountIn = Field(None, description="Default: the product's list price")
    discount_percent: AmountIn = Field(None, description="0-100")


class OpportunityFields(InputSchema):
    owner: int | None = Field(None, description="User id; defaults to the caller on create")
    amount: AmountIn = Field(None, description="Number or text: 12800, \"12,800\", \"1.28万\", \"12k\"; "
                                               "from the lines when omitted and lines are given")
    currency: str | None = Field(None, description="Three letters, default CNY")
    expected_close_date: str | None = Field(None, description="YYYY-MM-DD")
    next_step: str | None = None
    description: str | None = None
    lost_reason: int | None = Field(None, description="Lost reason id (required when the stage is a lost stage)")
    lost_note: str | None = None
    external_id: str | None = Field(None, description="Id in the system the deal came from")
    custom: dict[str, Any] | None = None
    contacts: list[int] | None = Field(None, description="Contact ids; they must belong to the customer")
    lines: list[LineIn] | None = Field(None, description="Products; replaces all lines when given")


class OpportunityCreateIn(OpportunityFields):
    name: str
    customer: int = Field(description="Customer id (one you may see)")
    pipeline: int | None = Field(None, description="Default: the default pipeline")
    stage: int | None = Field(None, description="Default: the pipeline's first open stage")


class OpportunityPatchIn(OpportunityFields):
    name: str | None = None
    customer: int | None = None
    stage: int | None = Field(None, description="Moves the deal (required fields and lost reason apply)")
    expected_version: int | None = Field(
        None, description="The version you loaded (or send If-Match); 409 version_conflict if someone saved since")


class MoveIn(InputSchema):
    stage: int = Field(description="Target stage id in the deal's pipeline (may be its current stage)")
    before_id: int | None = Field(None, description="The card below the drop position")
    after_id: int | None = Field(None, description="The card above the drop position")
    expected_version: int | None = Field(None, description="409 version_conflict if someone saved since")
    lost_reason: int | None = Field(None, description="Required when moving to a lost stage")
    lost_note: str | None = None


class OpportunityListQuery(Schema):
    """The board's and the list's filters (`selectors.OpportunityFilter`)."""

    pipeline: int | None = Field(None, description="Pipeline id; all pipelines when omitted")
    owner: int | None = Field(None, description="Owner's user id")
    customer: int | None = Field(None, description="Customer id")
    q: str = Field("", max_length=100, description="Text in the deal's or the customer's name")
    close_from: dt.date | None = Field(None, description="Expected close date from (YYYY-MM-DD)")
    close_to: dt.date | None = None
    overdue: bool = Field(False, description="Open deals whose expected close date has passed")
    status: Literal["", "open", "won", "lost"] = ""


class StageChangeOut(OutputSchema):
    id: int
    from_stage: StageRef | None = Field(description="null for the creation")
    to_stage: StageRef
    changed_at: dt.datetime
    changed_by: UserRefOut | None
    seconds_in_previous: int | None = Field(description="Time spent in from_stage; null for the creation")
    amount: str = Field(description="The deal's amount at the change; " + MONEY)


def stage_change_out(change: StageChange) -> dict[str, Any]:
    return {"id": change.pk, "from_stage": stage_ref(change.from_stage), "to_stage": stage_ref(change.to_stage),
            "changed_at": change.changed_at, "changed_by": user_ref(change.changed_by),
            "seconds_in_previous": change.seconds_in_previous, "amount": money(change.amount)}


# Board -----------------------------------------------------------------------------------------


class ColumnOut(OutputSchema):
    stage: StageRef
    count: int
    amount: str = Field(description=MONEY)
    weighted: str = Field(description="amount × probability; " + MONEY)
    cards: list[OpportunityCard] = Field(description="The first cards in board order")
    has_more: bool = Field(description="More cards: GET /sales/board/columns/{stage_id}?offset=…")


def column_out(column: Column) -> dict[str, Any]:
    return {"stage": stage_ref(column.stage), "count": column.count, "amount": money(column.amount),
            "weighted": money(column.weighted), "cards": [card_out(c) for c in column.cards],
            "has_more": column.has_more}


class BoardOut(OutputSchema):
    pipeline: Ref
    columns: list[ColumnOut]
    total_amount: str = Field(description="Open stages only; " + MONEY)
    total_weighted: str = Field(description="Open stages only; " + MONEY)


def board_out(board: Board) -> dict[str, Any]:
    return {"pipeline": {"id": board.pipeline.pk, "name": board.pipeline.label},
            "columns": [column_out(c) for c in board.columns], "total_amount": money(board.total_amount),
            "total_weighted": money(board.total_weighted)}


class ColumnPageOut(OutputSchema):
    stage: StageRef
    offset: int
    cards: list[OpportunityCard]
    has_more: bool


class BoardQuery(Schema):
    pipeline: int | None = Field(None, description="Pipeline id; the default pipeline when omitted")
    owner: int | None = None
    customer: int | None = None
    q: str = Field("", max_length=100)
    close_from: dt.date | None = None
    close_to: dt.date | None = None
    overdue: bool = False
    status: Literal["", "open", "won", "lost"] = ""


# Forecast, funnel, figures ---------------------------------------------------------------------


class ForecastCellOut(OutputSchema):
    month: str = Field(description="YYYY-MM; empty for the undated cell")
    count: int
    amount: str = Field(description=MONEY)
    weighted: str = Field(description=MONEY)


def cell_out(cell: ForecastCell | None, month: str = "") -> dict[str, Any]:
    if cell is None:
        return {"month": month, "count": 0, "amount": money(0), "weighted": money(0)}
    return {"month": cell.month or month, "count": cell.count, "amount": money(cell.amount),
            "weighted": money(cell.weighted)}


class ForecastRowOut(OutputSchema):
    id: int = Field(description="User or department id (0 = none)")
    name: str
    cells: list[ForecastCellOut] = Field(description="One per month, in order")


class ForecastOut(OutputSchema):
    group: str = Field(description="owner | department")
    months: list[str]
    rows: list[ForecastRowOut]
    by_month: list[ForecastCellOut]
    undated: ForecastCellOut = Field(description="Open deals without an expected close date")


def forecast_out(plan: Forecast, *, group: str) -> dict[str, Any]:
    rows = [{"id": who, "name": name, "cells": [cell_out(plan.cell(m, who), m) for m in plan.months]}
            for who, name in plan.owners]
    return {"group": group, "months": plan.months, "rows": rows,
            "by_month": [cell_out(plan.by_month.get(m), m) for m in plan.months], "undated": cell_out(plan.undated)}


class ForecastQuery(Schema):
    pipeline: int | None = None
    start: dt.date | None = Field(None, description="First month (any day in it); default this month")
    months: int = Field(6, ge=1, le=24)
    group: Literal["owner", "department"] = "owner"


class FunnelStepOut(OutputSchema):
    stage: StageRef
    reached: int = Field(description="Deals (created in the period) that reached this stage")
    conversion: float | None = Field(description="Share of the previous step's deals; null for the first")


def funnel_step_out(step: FunnelStep) -> dict[str, Any]:
    return {"stage": stage_ref(step.stage), "reached": step.reached, "conversion": step.conversion}


class FunnelQuery(Schema):
    pipeline: int | None = None
    created_from: dt.date | None = None
    created_to: dt.date | None = None


class FiguresOut(OutputSchema):
    open_count: int
    open_amount: str = Field(description=MONEY)
    weighted_amount: str = Field(description=MONEY)
    won_count: int
    won_amount: str = Field(description=MONEY)
    lost_count: int
    win_rate: float | None = Field(description="won / (won + lost); null before any deal closed")
    average_deal: str | None = Field(description="Average won amount; " + MONEY)
    average_cycle_days: float | None = Field(description="Average days from creation to won")
    overdue_count: int


def figures_out(figures: SalesFigures) -> dict[str, Any]:
    return {"open_count": figures.open_count, "open_amount": money(figures.open_amount),
            "weighted_amount": money(figures.weighted_amount), "won_count": figures.won_count,
            "won_amount": money(figures.won_amount), "lost_count": figures.lost_count, "win_rate": figures.win_rate,
            "average_deal": money_or_none(figures.average_deal), "average_cycle_days": figures.average_cycle_days,
            "overdue_count": figures.overdue_count}


# Settings --------------------------------------------------------------------------------------


class StageOut(OutputSchema):
    id: int
    name: str
    name_zh: str
    name_en: str
    position: int
    probability: int
    color: str
    kind: str
    required_fields: list[str]
    is_active: bool


def stage_out(stage: Stage) -> dict[str, Any]:
    return {"id": stage.pk, "name": stage.label, "name_zh": stage.name_zh, "name_en": stage.name_en,
            "position": stage.position, "probability": stage.probability, "color": stage.color, "kind": stage.kind,
            "required_fields": list(stage.required_fields or []), "is_active": stage.is_active}


class PipelineOut(OutputSchema):
    id: int
    name: str
    name_zh: str
    name_en: str
    position: int
    is_default: bool
    is_active: bool
    stages: list[StageOut]


def pipeline_out(pipeline: Pipeline, stages: list[Stage]) -> dict[str, Any]:
    return {"id": pipeline.pk, "name": pipeline.label, "name_zh": pipeline.name_zh, "name_en": pipeline.name_en,
            "position": pipeline.position, "is_default": pipeline.is_default, "is_active": pipeline.is_active,
            "stages": [stage_out(s) for s in stages]}


class PipelineIn(InputSchema):
    """PUT replaces every field (absent ones take these defaults)."""

    name_zh: str
    name_en: str = ""
    position: int = Field(0, ge=0)
    is_default: bool = Field(False, description="Makes every other pipeline non-default")
    is_active: bool = True


class StageIn(InputSchema):
    name_zh: str
    name_en: str = ""
    position: int | None = Field(None, ge=0, description="Default: after the last stage (on create); kept on PUT")
    probability: int = Field(0, description="0-100")
    color: str = ""
    kind: str = Field("open", description="open | won | lost; only while no deal is in the stage")
    required_fields: list[str] = Field(
        [], description="Fields a deal needs to enter: amount, expected_close_date, next_step, description, "
                        "contacts, lines")
    is_active: bool = True


class LostReasonOut(OutputSchema):
    id: int
    label: str
    label_zh: str
    label_en: str
    position: int
    is_active: bool


def lost_reason_out(reason: LostReason) -> dict[str, Any]:
    return {"id": reason.pk, "label": reason.label, "label_zh": reason.label_zh, "label_en": reason.label_en,
            "position": reason.position, "is_active": reason.is_active}


class LostReasonIn(InputSchema):
    label_zh: str
    label_en: str = ""
    position: int = Field(0, ge=0)
    is_active: bool = True


class ProductOut(OutputSchema):
    id: int
    code: str
    name: str
    category: Ref | None
    unit: str
    list_price: str = Field(description=MONEY)
    currency: str
    description: str
    is_active: bool
    version: int


def product_out(product: Product) -> dict[str, Any]:
    category = product.category
    return {"id": product.pk, "code": product.code, "name": product.name,
            "category": None if category is None else {"id": category.pk, "name": category.name},
            "unit": product.unit, "list_price": money(product.list_price), "currency": product.currency,
            "description": product.description, "is_active": product.is_active, "version": product.version}


class ProductIn(InputSchema):
    code: str
    name: str
    category: int | None = Field(None, description="Product category id")
    unit: str = ""
    list_price: AmountIn = Field(None, description="Number or text (9800, \"9,800\", \"0.98万\"); default 0")
    description: str = ""
    is_active: bool = True
