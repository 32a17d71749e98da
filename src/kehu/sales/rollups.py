"""The running totals behind the kanban's column totals, the forecast and the funnel
(`OpportunityRollup`, `StageReach`), kept by the sales services inside their transactions.

Each write takes an opportunity's contribution out of its old row and puts it into its new one with
one upsert per row (`INSERT … ON CONFLICT … DO UPDATE SET count = count + excluded.count`, which
SQLite and PostgreSQL both run atomically), so concurrent writes never lose an increment.
`rollups_rebuild()` recomputes both tables from the opportunities (after a bulk load, or to check).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from kehu.sales.models import Opportunity, OpportunityRollup, Stage, StageKind, StageReach


def month_of(day: dt.date | None) -> str:
    return f"{day.year:04d}-{day.month:02d}" if day else ""


@dataclass(frozen=True)
class Contribution:
    """What one opportunity adds to the rollup: its row key and its figures."""

    pipeline_id: int
    stage_id: int
    owner_id: int
    department_id: int
    close_month: str
    amount: Decimal
    cycle_seconds: int

    @classmethod
    def of(cls, opportunity: Opportunity, stage: Stage) -> Contribution:
        cycle = 0
        if stage.kind != StageKind.OPEN and opportunity.closed_at and opportunity.created_at:
            # Whole seconds of each timestamp, as the rebuild's SQL computes them on either backend.
            cycle = max(0, int(opportunity.closed_at.timestamp()) - int(opportunity.created_at.timestamp()))
        return cls(opportunity.pipeline_id, stage.pk, opportunity.owner_id or 0, opportunity.department_id or 0,
                   month_of(opportunity.expected_close_date), Decimal(opportunity.amount or 0), cycle)


def _table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _add_rollup(rows: Sequence[tuple[Contribution, int]]) -> None:
    """Add each contribution `sign` times (+1 or -1)."""
    if not rows:
        return
    sql = (f"INSERT INTO {_table(OpportunityRollup)} "
           "(pipeline_id, stage_id, owner_id, department_id, close_month, count, amount, cycle_seconds) "
           "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
           "ON CONFLICT (stage_id, owner_id, department_id, close_month) DO UPDATE SET "
           "count = {t}.count + excluded.count, amount = {t}.amount + excluded.amount, "
           "cycle_seconds = {t}.cycle_seconds + excluded.cycle_seconds").replace("{t}", _table(OpportunityRollup))
    params = [(c.pipeline_id, c.stage_id, c.owner_id, c.department_id, c.close_month, sign,
               str(c.amount * sign), c.cycle_seconds * sign) for c, sign in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _add_reach(rows: Sequence[tuple[int, int, int, int, str, int]]) -> None:
    """(pipeline, stage, owner, department, created month, +1/-1) each."""
    if not rows:
        return
    sql = (f"INSERT INTO {_table(StageReach)} "
           "(pipeline_id, stage_id, owner_id, department_id, created_month, count) VALUES (%s, %s, %s, %s, %s, %s) "
           "ON CONFLICT (stage_id, owner_id, department_id, created_month) DO UPDATE SET "
           "count = {t}.count + excluded.count").replace("{t}", _table(StageReach))
    with connection.cursor() as cursor:
        cursor.executemany(sql, list(rows))


def reach_key(opportunity: Opportunity) -> tuple[int, int, str]:
    created = timezone.localtime(opportunity.created_at) if timezone.is_aware(opportunity.created_at) \
        else opportunity.created_at
    return opportunity.owner_id or 0, opportunity.department_id or 0, month_of(created.date())


def reach_rows(opportunity: Opportunity, stages: Iterable[Stage], sign: int) -> list[tuple[int, int, int, int, str,
                                                                                                int]]:
    owner, department, month = reach_key(opportunity)
    return [(opportunity.pipeline_id, s.pk, owner, department, month, sign) for s in stages]


@transaction.atomic
def rollups_change(before: tuple[Contribution, list[tuple]] | None, after: tuple[Contribution, list[tuple]] | None
                   ) -> None:
    """Move an opportunity's contribution from `before` to `after` (either None: created or deleted).
    Each side is (rollup contribution, reach rows already signed)."""
    rows: list[tuple[Contribution, int]] = []
    reach: list[tuple] = []
    if before is not None:
        rows.append((before[0], -1))
        reach += before[1]
    if after is not None:
        rows.append((after[0], 1))
        reach += after[1]
    if before is not None and after is not None and before[0] == after[0]:
        rows = []
    _add_rollup(rows)
    _add_reach(reach)


@transaction.atomic
def rollups_rebuild() -> dict[str, int]:
    """Recompute both tables from the opportunities with two GROUP BY queries (what the running
    totals must always equal; the tests compare them)."""
    OpportunityRollup.objects.all().delete()
    StageReach.objects.all().delete()
    opp, stage = _table(Opportunity), _table(Stage)
    month = ("to_char(o.expected_close_date, 'YYYY-MM')" if connection.vendor == "postgresql"
             else "strftime('%%Y-%%m', o.expected_close_date)")
    cycle = ("CAST(FLOOR(EXTRACT(EPOCH FROM o.closed_at)) - FLOOR(EXTRACT(EPOCH FROM o.created_at)) AS BIGINT)"
             if connection.vendor == "postgresql"
             else "CAST(strftime('%%s', o.closed_at) AS INTEGER) - CAST(strftime('%%s', o.created_at) AS INTEGER)")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_table(OpportunityRollup)} "
            "(pipeline_id, stage_id, owner_id, department_id, close_month, count, amount, cycle_seconds) "
            f"SELECT o.pipeline_id, o.stage_id, COALESCE(o.owner_id, 0), COALESCE(o.department_id, 0), "
            f"COALESCE({month}, ''), COUNT(*), SUM(o.amount), "
            f"SUM(CASE WHEN s.kind <> 'open' AND o.closed_at IS NOT NULL THEN {cycle} ELSE 0 END) "
            f"FROM {opp} o JOIN {stage} s ON s.id = o.stage_id "
            f"GROUP BY o.pipeline_id, o.stage_id, COALESCE(o.owner_id, 0), COALESCE(o.department_id, 0), "
            f"COALESCE({month}, '')", [])  # params given, so "%%" means "%" on every backend
    # Reached stages: every open or won stage up to the furthest position an opportunity reached.
    stages: dict[int, list[Stage]] = {}
    for stage_row in Stage.objects.exclude(kind=StageKind.LOST).order_by("position"):
        stages.setdefault(stage_row.pipeline_id, []).append(stage_row)
    reach: dict[tuple[int, int, int, int, str], int] = {}
    for opportunity in Opportunity.objects.only("pipeline_id", "owner_id", "department_id", "created_at",
                                                "reached_position").iterator(chunk_size=5000):
        owner, department, month_created = reach_key(opportunity)
        for passed in stages.get(opportunity.pipeline_id, []):
            if passed.position > opportunity.reached_position:
                break
            key = (opportunity.pipeline_id, passed.pk, owner, department, month_created)
            reach[key] = reach.get(key, 0) + 1
    _add_reach([(*key, n) for key, n in reach.items()])
    return {"rollup_rows": OpportunityRollup.objects.count(), "reach_rows": len(reach)}
