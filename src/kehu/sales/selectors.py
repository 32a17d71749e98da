"""Reads of the sales app: the kanban board, opportunity lists, the forecast, the funnel and the
headline figures (win rate, average deal size and cycle, overdue deals).

Column totals, forecast and funnel come from the running totals (`OpportunityRollup`,
`StageReach`) restricted to what the user may see — the same rule as `core.scoping` for
opportunities: their own, plus their department's subtree for department scope, everything for
"all". Filters the totals cannot answer (a text search, a close-date range) fall back to one
GROUP BY over the opportunities themselves.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from kehu.accounts.models import Department, User
from kehu.core.errors import NotFound
from kehu.core.scoping import has_shares, owner_scope_q, restrict, scope_for
from kehu.sales.models import (
    Opportunity,
    OpportunityRollup,
    Pipeline,
    Stage,
    StageChange,
    StageKind,
    StageReach,
)
from kehu.sales.rollups import month_of

BOARD_PAGE = 20
_HUNDRED = Decimal("100")


def opportunities_visible(*, user: Any) -> QuerySet[Opportunity]:
    return restrict(Opportunity.objects.all(), user)


def opportunity_get(*, user: Any, opportunity_id: int, for_edit: bool = False) -> Opportunity:
    """One deal the user can see; with `for_edit`, one they may change (not a read-only share)."""
    opportunity = restrict(Opportunity.objects.all(), user, write=for_edit).select_related(
        "customer", "owner", "department", "pipeline", "stage", "lost_reason").filter(pk=opportunity_id).first()
    if opportunity is None:
        raise NotFound("opportunity not found")
    return opportunity


def pipelines_active() -> list[Pipeline]:
    return list(Pipeline.objects.filter(is_active=True).order_by("-is_default", "position", "id"))


def pipeline_get(pipeline_id: int | None) -> Pipeline:
    pipeline = Pipeline.objects.filter(pk=pipeline_id, is_active=True).first() if pipeline_id else None
    pipeline = pipeline or (pipelines_active() or [None])[0]
    if pipeline is None:
        raise NotFound("no active pipeline")
    return pipeline


def stages_of(pipeline: Pipeline, *, active_only: bool = True) -> list[Stage]:
    stages = pipeline.stages.all()
    if active_only:
        stages = stages.filter(is_active=True)
    return list(stages.order_by("position", "id"))


# Scope over the running totals ---------------------------------------------------------------------


def _rollup_scope(user: Any) -> Q | None:
    """`core.scoping.scope_q` for rows keyed by owner_id/department_id; None = everything."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Q(pk__in=[])
    scope = scope_for(user, "opportunity")
    if scope == "department" and user.department_id:
        subtree = Department.objects.filter(path__startswith=user.department.path).values_list("pk", flat=True)
        return Q(owner_id=user.pk) | Q(department_id__in=list(subtree))
    return owner_scope_q(scope, user, owner="owner_id", department="department_id")


def _scoped(queryset: QuerySet, user: Any) -> QuerySet:
    condition = _rollup_scope(user)
    return queryset if condition is None else queryset.filter(condition)


# Filters -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpportunityFilter:
    """The board's and the list's filters (the API takes the same)."""

    owner: int | None = None
    customer: int | None = None
    q: str = ""
    close_from: dt.date | None = None
    close_to: dt.date | None = None
    overdue: bool = False
    status: str = ""  # "", open, won, lost

    @property
    def needs_live_totals(self) -> bool:
        """Filters the running totals cannot answer (they are kept per owner, stage and month)."""
        return bool(self.q or self.customer or self.close_from or self.close_to or self.overdue)

    def apply(self, queryset: QuerySet[Opportunity]) -> QuerySet[Opportunity]:
        if self.owner:
            queryset = queryset.filter(owner_id=self.owner)
        if self.customer:
            queryset = queryset.filter(customer_id=self.customer)
        if self.q:
            queryset = queryset.filter(Q(name__icontains=self.q) | Q(customer__name__icontains=self.q))
        if self.close_from:
            queryset = queryset.filter(expected_close_date__gte=self.close_from)
        if self.close_to:
            queryset = queryset.filter(expected_close_date__lte=self.close_to)
        if self.overdue:
            queryset = queryset.filter(expected_close_date__lt=timezone.localdate(), stage__kind=StageKind.OPEN)
        if self.status in StageKind.values:
            queryset = queryset.filter(stage__kind=self.status)
        return queryset


# The kanban board --------------------------------------------------------------------------------


@dataclass
class Column:
    stage: Stage
    count: int
    amount: Decimal
    cards: list[Opportunity] = field(default_factory=list)

    @property
    def weighted(self) -> Decimal:
        return (self.amount * self.stage.probability / _HUNDRED).quantize(Decimal("0.01"))

    @property
    def has_more(self) -> bool:
        return self.count > len(self.cards)


@dataclass
class Board:
    pipeline: Pipeline
    columns: list[Column]

    @property
    def total_amount(self) -> Decimal:
        return sum((c.amount for c in self.columns if c.stage.kind == StageKind.OPEN), Decimal("0"))

    @property
    def total_weighted(self) -> Decimal:
        return sum((c.weighted for c in self.columns if c.stage.kind == StageKind.OPEN), Decimal("0"))


def column_totals(*, user: Any, pipeline: Pipeline, filters: OpportunityFilter) -> dict[int, tuple[int, Decimal]]:
    """{stage id: (count, amount)} for the board's column headers."""
    # Shared opportunities are not in the roll-ups (kept per owner/department): count live then.
    shared = (getattr(user, "is_authenticated", False) and scope_for(user, "opportunity") != "all"
              and has_shares(user, "sales.opportunity"))
    if filters.needs_live_totals or shared:
        rows = filters.apply(opportunities_visible(user=user).filter(pipeline=pipeline)).order_by().values(
            "stage_id").annotate(n=Count("id"), total=Sum("amount"))
        return {r["stage_id"]: (r["n"], r["total"] or Decimal("0")) for r in rows}
    rollup = _scoped(OpportunityRollup.objects.filter(pipeline_id=pipeline.pk), user)
    if filters.owner:
        rollup = rollup.filter(owner_id=filters.owner)
    if filters.status in StageKind.values:
        rollup = rollup.filter(stage_id__in=Stage.objects.filter(pipeline=pipeline, kind=filters.status).values("pk"))
    rows = rollup.order_by().values("stage_id").annotate(n=Sum("count"), total=Sum("amount"))
    return {r["stage_id"]: (int(r["n"] or 0), r["total"] or Decimal("0")) for r in rows}


def column_cards(*, user: Any, stage: Stage, filters: OpportunityFilter, offset: int = 0,
                 limit: int = BOARD_PAGE) -> list[Opportunity]:
    cards = filters.apply(opportunities_visible(user=user).filter(stage=stage))
    return list(cards.select_related("customer", "owner").order_by("position", "id")[offset:offset + limit])


def kanban_board(*, user: Any, pipeline_id: int | None = None, filters: OpportunityFilter | None = None,
                 per_column: int = BOARD_PAGE) -> Board:
    """Each active stage of the pipeline with its count and amount (and weighted amount) and its first
    `per_column` cards in board order."""
    filters = filters or OpportunityFilter()
    pipeline = pipeline_get(pipeline_id)
    totals = column_totals(user=user, pipeline=pipeline, filters=filters)
    columns = []
    for stage in stages_of(pipeline):
        count, amount = totals.get(stage.pk, (0, Decimal("0")))
        cards = column_cards(user=user, stage=stage, filters=filters, limit=per_column) if count else []
        columns.append(Column(stage, count, amount, cards))
    return Board(pipeline, columns)


def opportunities_filtered(*, user: Any, filters: OpportunityFilter, pipeline_id: int | None = None
                           ) -> QuerySet[Opportunity]:
    queryset = opportunities_visible(user=user)
    if pipeline_id:
        queryset = queryset.filter(pipeline_id=pipeline_id)
    return filters.apply(queryset).select_related("customer", "owner", "stage", "pipeline")


# Forecast, funnel and figures ----------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastCell:
    month: str
    owner_id: int
    count: int
    amount: Decimal
    weighted: Decimal


@dataclass
class Forecast:
    months: list[str]
    owners: list[tuple[int, str]]
    cells: dict[tuple[str, int], ForecastCell]
    by_month: dict[str, ForecastCell]
    undated: ForecastCell  # open deals without an expected close date

    def cell(self, month: str, owner_id: int) -> ForecastCell | None:
        return self.cells.get((month, owner_id))


def _months(start: dt.date, count: int) -> list[str]:
    out = []
    year, month = start.year, start.month
    for _i in range(count):
        out.append(f"{year:04d}-{month:02d}")
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return out


def forecast(*, user: Any, pipeline_id: int | None = None, start: dt.date | None = None, months: int = 6,
             group: str = "owner") -> Forecast:
    """Open deals by expected close month × owner (or department with `group="department"`):
    count, amount, and amount weighted by each stage's win probability. Deals whose close month
    has passed are counted in the first month (they are overdue, still open)."""
    pipeline = pipeline_get(pipeline_id)
    month_list = _months(start or timezone.localdate(), months)
    probability = {s.pk: Decimal(s.probability) for s in stages_of(pipeline, active_only=False)
                   if s.kind == StageKind.OPEN}
    rows = _scoped(OpportunityRollup.objects.filter(pipeline_id=pipeline.pk, stage_id__in=list(probability)), user)
    key = "department_id" if group == "department" else "owner_id"
    sums: dict[tuple[str, int], list[Any]] = defaultdict(lambda: [0, Decimal("0"), Decimal("0")])
    undated = [0, Decimal("0"), Decimal("0")]
    first, last = month_list[0], month_list[-1]
    for row in rows.filter(Q(close_month="") | Q(close_month__lte=last)).values_list(
            "close_month", key, "stage_id", "count", "amount"):
        month, who, stage_id, count, amount = row
        weighted = amount * probability[stage_id] / _HUNDRED
        target = undated if not month else sums[(max(month, first), who)]
        target[0] += count
        target[1] += amount
        target[2] += weighted
    cells = {k: ForecastCell(k[0], k[1], v[0], v[1], v[2].quantize(Decimal("0.01"))) for k, v in sums.items()}
    by_month: dict[str, ForecastCell] = {}
    for month in month_list:
        parts = [c for (m, _w), c in cells.items() if m == month]
        by_month[month] = ForecastCell(month, 0, sum(c.count for c in parts),
                                       sum((c.amount for c in parts), Decimal("0")),
                                       sum((c.weighted for c in parts), Decimal("0")))
    ids = sorted({who for (_m, who) in cells})
    if group == "department":
        names = dict(Department.objects.filter(pk__in=ids).values_list("pk", "name"))
    else:
        names = {u.pk: str(u) for u in User.objects.filter(pk__in=ids)}
    owners = sorted(((i, names.get(i, "—")) for i in ids), key=lambda item: item[1])
    return Forecast(month_list, owners, cells, by_month,
                    ForecastCell("", 0, undated[0], undated[1], undated[2].quantize(Decimal("0.01"))))


@dataclass(frozen=True)
class FunnelStep:
    stage: Stage
    reached: int
    conversion: float | None  # share of the previous step's deals that reached this one


def funnel(*, user: Any, pipeline_id: int | None = None, created_from: dt.date | None = None,
           created_to: dt.date | None = None) -> list[FunnelStep]:
    """How many deals (created in the period) reached each open and won stage, and the conversion
    from one step to the next."""
    pipeline = pipeline_get(pipeline_id)
    rows = _scoped(StageReach.objects.filter(pipeline_id=pipeline.pk), user)
    if created_from:
        rows = rows.filter(created_month__gte=month_of(created_from))
    if created_to:
        rows = rows.filter(created_month__lte=month_of(created_to))
    reached = dict(rows.order_by().values("stage_id").annotate(n=Sum("count")).values_list("stage_id", "n"))
    steps: list[FunnelStep] = []
    previous: int | None = None
    for stage in stages_of(pipeline, active_only=False):
        if stage.kind == StageKind.LOST:
            continue
        count = int(reached.get(stage.pk) or 0)
        conversion = round(count / previous, 4) if previous else None
        steps.append(FunnelStep(stage, count, conversion))
        previous = count
    return steps


@dataclass(frozen=True)
class SalesFigures:
    open_count: int
    open_amount: Decimal
    weighted_amount: Decimal
    won_count: int
    won_amount: Decimal
    lost_count: int
    win_rate: float | None
    average_deal: Decimal | None
    average_cycle_days: float | None
    overdue_count: int


def sales_figures(*, user: Any, pipeline_id: int | None = None) -> SalesFigures:
    pipeline = pipeline_get(pipeline_id)
    stages = {s.pk: s for s in stages_of(pipeline, active_only=False)}
    rows = _scoped(OpportunityRollup.objects.filter(pipeline_id=pipeline.pk), user).order_by().values(
        "stage_id").annotate(n=Sum("count"), total=Sum("amount"), cycle=Sum("cycle_seconds"))
    open_count = won_count = lost_count = 0
    open_amount = weighted = won_amount = Decimal("0")
    won_cycle = 0
    for row in rows:
        stage = stages.get(row["stage_id"])
        if stage is None:
            continue
        count, amount = int(row["n"] or 0), row["total"] or Decimal("0")
        if stage.kind == StageKind.OPEN:
            open_count += count
            open_amount += amount
            weighted += amount * stage.probability / _HUNDRED
        elif stage.kind == StageKind.WON:
            won_count += count
            won_amount += amount
            won_cycle += int(row["cycle"] or 0)
        else:
            lost_count += count
    closed = won_count + lost_count
    return SalesFigures(
        open_count=open_count, open_amount=open_amount, weighted_amount=weighted.quantize(Decimal("0.01")),
        won_count=won_count, won_amount=won_amount, lost_count=lost_count,
        win_rate=round(won_count / closed, 4) if closed else None,
        average_deal=(won_amount / won_count).quantize(Decimal("0.01")) if won_count else None,
        average_cycle_days=round(won_cycle / won_count / 86400, 1) if won_count else None,
        overdue_count=overdue_count(user=user, pipeline=pipeline),
    )


def overdue_count(*, user: Any, pipeline: Pipeline, today: dt.date | None = None) -> int:
    """Open deals whose expected close date has passed: whole past months from the running totals,
    the current month's days before today from the opportunities (an indexed range)."""
    today = today or timezone.localdate()
    open_ids = [s.pk for s in stages_of(pipeline, active_only=False) if s.kind == StageKind.OPEN]
    past = _scoped(OpportunityRollup.objects.filter(pipeline_id=pipeline.pk, stage_id__in=open_ids), user).filter(
        close_month__gt="", close_month__lt=month_of(today)).aggregate(n=Sum("count"))["n"] or 0
    this_month = opportunities_visible(user=user).filter(
        pipeline=pipeline, stage_id__in=open_ids, expected_close_date__gte=today.replace(day=1),
        expected_close_date__lt=today).count()
    return int(past) + this_month


def stage_history(*, user: Any, opportunity_id: int) -> list[StageChange]:
    opportunity = opportunity_get(user=user, opportunity_id=opportunity_id)
    return list(opportunity.stage_changes.select_related("from_stage", "to_stage", "changed_by").order_by(
        "changed_at", "id"))


def opportunities_of_customer(*, user: Any, customer_id: int) -> list[Opportunity]:
    return list(opportunities_visible(user=user).filter(customer_id=customer_id).select_related(
        "stage", "owner", "pipeline").order_by("-updated_at", "-id")[:50])


def rollup_matches_data() -> Mapping[str, Any]:
    """For tests and `kehu sales_check`: the running totals against a fresh GROUP BY."""
    live = {(r["stage_id"], r["owner_id"] or 0): (r["n"], r["total"]) for r in Opportunity.objects.order_by()
            .values("stage_id", "owner_id").annotate(n=Count("id"), total=Sum("amount"))}
    kept = {(r["stage_id"], r["owner_id"]): (int(r["n"]), r["total"]) for r in OpportunityRollup.objects.order_by()
            .values("stage_id", "owner_id").annotate(n=Sum("count"), total=Sum("amount")) if r["n"]}
    return {"equal": live == kept, "live": live, "kept": kept}
