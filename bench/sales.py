"""`kehu bench sales`: the kanban board, the forecast, the funnel and the headline figures at N opportunities.

On the shared bench database (`bench.common.bench_database`, min(N, 100,000) customers unless
`sales_customers` says otherwise) N opportunities are generated over the default pipeline:
60% open (more in the early stages), 15% won, 25% lost; owners are the bench's 100 reps (with
their departments); amounts log-normal around ¥60k, clipped to ¥1k-¥2M (whole ¥10); created over
the last two years; open deals expected to close within ±12 months of today (5% of the first two
stages undated), closed deals on their close date. Each deal has its stage history: created into
the first stage, then one move per stage passed up to the furthest reached (`reached_position`),
then into won or lost, so the funnel's SQL baseline over the history counts what the running
totals count. Board positions put the newest card of a column on top, as the services do.

The opportunities stay in the bench database between runs: a `kehu_bench_meta` key records the
count, seed and generator version of a finished load, and a run asking for the same finds them
(one indexed COUNT checks the table still holds them). Anything else empties the sales tables and
loads again. Each run then recomputes the running totals with `rollups.rollups_rebuild()` (timed).

Measured, each `repetitions` times after one warm-up call, through the selectors the views use:
the kanban board (first page of each column with its totals) for the admin and for one rep, the
forecast (6 months × owner) for both, the funnel and the headline figures for the admin. The
baseline of each is the bare SQL aggregate over the opportunities (and stage changes), run as
often in the same run: ratio = baseline / ours (above 1: ours is faster). Target: p95 ≤ 200 ms
each, on SQLite at 1M opportunities (issue 6).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import connection, transaction

from bench.common import (
    Log,
    _columns,
    _db_time,
    _read_meta,
    _secondary_indexes_dropped,
    _write_meta,
    _Writer,
    bench_database,
    calibration,
    cpu_summary,
    machine,
    stderr_log,
    summarise,
    timed,
    timed_cpu,
)

TARGET_P95_MS = 200.0
MAX_CUSTOMERS = 100_000
CHUNK = 20_000
# Bumped when the generator writes different rows: a load of an older version is replaced.
SALES_GENERATION = 1
META_KEY = "sales_opportunities"
# Share of the deals in open stages (split over them, early stages fuller), won and lost.
OPEN_SHARE, WON_SHARE, LOST_SHARE = 0.60, 0.15, 0.25
UNDATED_SHARE = 0.05
DEAL_NAMES = ("年度采购", "系统升级", "续约", "扩容", "新项目", "试点", "集团推广", "维保服务", "定制开发", "培训")
POOL_AUTO_RETURN = "measured by `kehu bench pool --customers N` (bench/pool.py) on the same bench database"


# Generation -----------------------------------------------------------------------------------


def _stage_weights(stages: list[Any]) -> list[float]:
    """Open stages share OPEN_SHARE with weights 4:3:2:1…, won and lost stages their shares."""
    open_stages = [s for s in stages if s.kind == "open"]
    won = [s for s in stages if s.kind == "won"]
    lost = [s for s in stages if s.kind == "lost"]
    ranks = {s.pk: len(open_stages) - i for i, s in enumerate(open_stages)}
    rank_sum = sum(ranks.values()) or 1
    weights = []
    for stage in stages:
        if stage.kind == "open":
            weights.append(OPEN_SHARE * ranks[stage.pk] / rank_sum)
        elif stage.kind == "won":
            weights.append(WON_SHARE / len(won))
        else:
            weights.append(LOST_SHARE / len(lost))
    return weights


def _amount(rng: random.Random) -> int:
    """Log-normal around ¥60k, clipped to ¥1k-¥2M, in whole ¥10 (exact sums on either backend)."""
    value = math.exp(rng.gauss(math.log(60_000), 1.1))
    return int(min(2_000_000, max(1_000, value)) // 10 * 10)


def _empty_sales_tables() -> None:
    from kehu.sales.models import (
        Opportunity,
        OpportunityContact,
        OpportunityLine,
        OpportunityRollup,
        StageChange,
        StageReach,
    )

    # Children first: SQLite checks the foreign keys at commit.
    with transaction.atomic(), connection.cursor() as cursor:
        for model in (StageChange, OpportunityContact, OpportunityLine, Opportunity, OpportunityRollup, StageReach):
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")


def _generate(*, opportunities: int, seed: int, pipeline: Any, stages: list[Any], admin_id: int,
              log: Log) -> None:
    from django.utils import timezone

    from kehu.accounts.models import User
    from kehu.customers.models import Customer
    from kehu.sales.models import LostReason, Opportunity, StageChange

    rng = random.Random(seed * 104_729)
    reps = list(User.objects.filter(username__startswith="bench-rep-").order_by("pk").values_list(
        "pk", "department_id"))
    customer_ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    reasons = list(LostReason.objects.values_list("pk", flat=True)) or [None]
    cumulative = list(itertools.accumulate(_stage_weights(stages)))
    open_stages = [s for s in stages if s.kind == "open"]
    passable = [s for s in stages if s.kind != "lost"]  # what the funnel counts, in order
    first = open_stages[0]
    opp_cols = _columns(Opportunity)
    change_cols = _columns(StageChange, skip=("id",))
    opp_writer, change_writer = _Writer(opp_cols), _Writer(change_cols)
    now = timezone.now().replace(microsecond=0)
    today = timezone.localdate()
    two_years = 730 * 86400
    column_depth = {s.pk: 0 for s in stages}
    started = time.perf_counter()
    _empty_sales_tables()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA synchronous = OFF")
            cursor.execute("PRAGMA foreign_keys = OFF")
        else:
            cursor.execute("SET session_replication_role = replica")
    try:
        with _secondary_indexes_dropped([opp_cols.table, change_cols.table], log):
            for chunk_start in range(1, opportunities + 1, CHUNK):
                opp_rows: list[dict[str, Any]] = []
                changes: list[dict[str, Any]] = []
                for pk in range(chunk_start, min(chunk_start + CHUNK, opportunities + 1)):
                    stage = rng.choices(stages, cum_weights=cumulative)[0]
                    owner_id, department_id = reps[rng.randrange(len(reps))] if reps else (admin_id, None)
                    created = now - dt.timedelta(seconds=rng.randrange(two_years))
                    age = int((now - created).total_seconds())
                    closed_at = None
                    if stage.kind == "open":
                        entered = created + dt.timedelta(seconds=rng.randrange(age + 1))
                        undated = stage.position <= open_stages[min(1, len(open_stages) - 1)].position \
                            and "expected_close_date" not in stage.required_fields and rng.random() < UNDATED_SHARE
                        close_date = None if undated else today + dt.timedelta(days=rng.randint(-365, 365))
                        reached = stage.position
                    else:
                        closed_at = entered = created + dt.timedelta(seconds=rng.randrange(min(age, 180 * 86400) + 1))
                        close_date = timezone.localtime(closed_at).date()
                        # Lost deals mostly fall out early; won deals went through every stage.
                        reached = stage.position if stage.kind == "won" else \
                            open_stages[min(int(rng.paretovariate(1.5)) - 1, len(open_stages) - 1)].position
                    # The history: into the first stage on creation, through each stage up to the
                    # furthest reached, then into a lost stage; moves spread between creation and entry.
                    path = [s for s in passable if s.position <= reached] or [first]
                    if stage.kind == "lost":
                        path.append(stage)
                    if len(path) == 1:
                        entered = created  # still in the stage it was created in
                    amount = _amount(rng)
                    column_depth[stage.pk] += 1
                    opp_rows.append({
                        "id": pk, "name": f"{rng.choice(DEAL_NAMES)} {pk}", "customer_id": rng.choice(customer_ids),
                        "owner_id": owner_id, "department_id": department_id, "pipeline_id": pipeline.pk,
                        "stage_id": stage.pk, "amount": amount, "currency": "CNY", "expected_close_date": close_date,
                        "lost_reason_id": rng.choice(reasons) if stage.kind == "lost" else None,
                        "stage_entered_at": _db_time(entered), "reached_position": reached,
                        "closed_at": _db_time(closed_at) if closed_at else None,
                        "position": -float(column_depth[stage.pk]),  # each new card goes on top, as the services put it
                        "created_at": _db_time(created), "updated_at": _db_time(entered),
                        "created_by_id": owner_id, "updated_by_id": owner_id, "version": 1,
                    })
                    span = int((entered - created).total_seconds())
                    moments = [created] + sorted(created + dt.timedelta(seconds=rng.randrange(span + 1))
                                                 for _ in range(len(path) - 2)) + ([entered] if len(path) > 1 else [])
                    previous = None
                    for to_stage, moment in zip(path, moments, strict=True):
                        changes.append({
                            "opportunity_id": pk, "from_stage_id": previous[0].pk if previous else None,
                            "to_stage_id": to_stage.pk, "changed_at": _db_time(moment), "changed_by_id": owner_id,
                            "seconds_in_previous": int((moment - previous[1]).total_seconds()) if previous else None,
                            "amount": amount,
                        })
                        previous = (to_stage, moment)
                with transaction.atomic():
                    opp_writer.write(opp_rows)
                    change_writer.write(changes)
                done = min(chunk_start + CHUNK - 1, opportunities)
                if done % 200_000 < CHUNK or done == opportunities:
                    log(f"bench:   {done:,} opportunities, {time.perf_counter() - started:.0f} s")
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                for table in (opp_cols.table, change_cols.table):
                    cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                   f"COALESCE((SELECT max(id) FROM {table}), 1))")
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = DEFAULT")
                cursor.execute(f"ANALYZE {opp_cols.table}")  # what autovacuum does after a bulk load
                cursor.execute(f"ANALYZE {change_cols.table}")
            else:
                cursor.execute("PRAGMA foreign_keys = ON")


def _load(*, opportunities: int, seed: int, pipeline: Any, stages: list[Any], admin_id: int,
          log: Log) -> dict[str, Any]:
    """Reuse the opportunities of an earlier run when they are the ones asked for, else load them."""
    from kehu.sales.models import Opportunity, StageChange

    wanted = f"{opportunities}:{seed}:{SALES_GENERATION}"
    if _read_meta().get(META_KEY) == wanted and Opportunity.objects.count() == opportunities:
        log(f"bench: reusing {opportunities:,} opportunities")
        return {"reused": True, "seconds": float(_read_meta().get(META_KEY + "_seconds", 0)),
                "stage_changes": StageChange.objects.count()}
    log(f"bench: generating {opportunities:,} opportunities")
    _write_meta({META_KEY: ""})  # a load killed halfway is not mistaken for a finished one
    started = time.perf_counter()
    _generate(opportunities=opportunities, seed=seed, pipeline=pipeline, stages=stages, admin_id=admin_id, log=log)
    seconds = round(time.perf_counter() - started, 1)
    _write_meta({META_KEY: wanted, META_KEY + "_seconds": seconds})
    log(f"bench: generated in {seconds:.0f} s")
    return {"reused": False, "seconds": seconds, "stage_changes": StageChange.objects.count()}


# Baselines: the bare SQL aggregates -------------------------------------------------------------


def _table(name: str) -> str:
    from django.apps import apps

    return connection.ops.quote_name(apps.get_model(name)._meta.db_table)


def _fetch(sql: str, params: list[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _marks(values: list[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def _board_sql(pipeline_id: int, stage_ids: list[int], owner_id: int | None) -> dict[str, Any]:
    """Column totals in one GROUP BY, then the first 20 cards of each column with their customer
    and owner names (what the board shows)."""
    opp, customer, user = _table("sales.Opportunity"), _table("customers.Customer"), _table("accounts.User")
    mine = " AND o.owner_id = %s" if owner_id else ""
    extra = [owner_id] if owner_id else []
    totals = _fetch(f"SELECT o.stage_id, COUNT(*), SUM(o.amount) FROM {opp} o WHERE o.pipeline_id = %s{mine} "
                    "GROUP BY o.stage_id", [pipeline_id, *extra])
    cards = {}
    for stage_id in stage_ids:
        cards[stage_id] = _fetch(
            f"SELECT o.id, o.name, o.amount, o.expected_close_date, c.name, u.display_name FROM {opp} o "
            f"JOIN {customer} c ON c.id = o.customer_id LEFT JOIN {user} u ON u.id = o.owner_id "
            f"WHERE o.stage_id = %s{mine} ORDER BY o.position, o.id LIMIT 20", [stage_id, *extra])
    return {"totals": totals, "cards": cards}


def _month_sql(column: str) -> str:
    return f"to_char({column}, 'YYYY-MM')" if connection.vendor == "postgresql" else f"strftime('%%Y-%%m', {column})"


def _forecast_sql(pipeline_id: int, open_ids: list[int], before: dt.date, owner_id: int | None) -> list[tuple]:
    """Open deals by close month × owner × stage (the weights are per stage), up to the forecast's
    last month, overdue and undated ones included as the forecast counts them."""
    month = _month_sql("expected_close_date")
    mine = " AND owner_id = %s" if owner_id else ""
    return _fetch(
        f"SELECT {month}, owner_id, stage_id, COUNT(*), SUM(amount) FROM {_table('sales.Opportunity')} "
        f"WHERE pipeline_id = %s AND stage_id IN ({_marks(open_ids)}) "
        f"AND (expected_close_date IS NULL OR expected_close_date < %s){mine} GROUP BY {month}, owner_id, stage_id",
        [pipeline_id, *open_ids, before, *([owner_id] if owner_id else [])])


def _funnel_sql(counted_ids: list[int]) -> list[tuple]:
    """Deals that ever entered each open or won stage, from the stage history."""
    return _fetch(
        f"SELECT to_stage_id, COUNT(DISTINCT opportunity_id) FROM {_table('sales.StageChange')} "
        f"WHERE to_stage_id IN ({_marks(counted_ids)}) GROUP BY to_stage_id", counted_ids)


def _figures_sql(pipeline_id: int, open_ids: list[int], today: dt.date) -> list[tuple]:
    """Count, amount and created → closed seconds per stage, and the overdue open deals."""
    opp = _table("sales.Opportunity")
    cycle = ("EXTRACT(EPOCH FROM closed_at - created_at)" if connection.vendor == "postgresql"
             else "strftime('%%s', closed_at) - strftime('%%s', created_at)")
    rows = _fetch(f"SELECT stage_id, COUNT(*), SUM(amount), SUM({cycle}) FROM {opp} WHERE pipeline_id = %s "
                  "GROUP BY stage_id", [pipeline_id])
    overdue = _fetch(f"SELECT COUNT(*) FROM {opp} WHERE pipeline_id = %s AND stage_id IN ({_marks(open_ids)}) "
                     "AND expected_close_date < %s", [pipeline_id, *open_ids, today])
    return rows + overdue


# Measuring --------------------------------------------------------------------------------------


def _ratio(baseline_ms: float, ours_ms: float) -> float | None:
    # Two places, not common.ratio's one: ours is often the slower side here (0.05 is not 0.0).
    return round(baseline_ms / ours_ms, 2) if ours_ms > 0 else None


def _measure(ours: Callable[[], Any], baseline: Callable[[], Any], repetitions: int) -> dict[str, Any]:
    ours()  # warm-up: caches, prepared plans
    baseline()
    samples, cpu = [], []
    for _ in range(repetitions):
        ms, cpu_ms, _result = timed_cpu(ours)
        samples.append(ms)
        cpu.append(cpu_ms)
    ours_summary = summarise(samples)
    base = summarise([timed(baseline)[0] for _ in range(repetitions)])
    return {**ours_summary, **cpu_summary(cpu), "baseline_sql": base,
            "ratio_p50": _ratio(base["p50_ms"], ours_summary["p50_ms"]),
            "ratio_p95": _ratio(base["p95_ms"], ours_summary["p95_ms"]),
            "within_target": ours_summary["p95_ms"] <= TARGET_P95_MS}


def _first_of_next_month(month: str) -> dt.date:
    year, number = int(month[:4]), int(month[5:7])
    return dt.date(year + number // 12, number % 12 + 1, 1)


def _checks(*, admin: Any, rep: Any, pipeline: Any, stages: list[Any]) -> dict[str, bool]:
    """Ours against the bare SQL, once: the same totals, cards, forecast sums and funnel."""
    from django.utils import timezone

    from kehu.sales import selectors

    active_ids = [s.pk for s in selectors.stages_of(pipeline)]
    open_ids = [s.pk for s in stages if s.kind == "open"]
    checks: dict[str, bool] = {}
    for who, user, owner in (("admin", admin, None), ("rep", rep, rep.pk)):
        board = selectors.kanban_board(user=user, pipeline_id=pipeline.pk)
        sql = _board_sql(pipeline.pk, active_ids, owner)
        totals = {stage_id: (int(n), int(total or 0)) for stage_id, n, total in sql["totals"]}
        checks[f"board_{who}_totals_equal_sql"] = all(
            (c.count, int(c.amount)) == totals.get(c.stage.pk, (0, 0)) for c in board.columns)
        checks[f"board_{who}_cards_equal_sql"] = all(
            [o.pk for o in c.cards] == [r[0] for r in sql["cards"][c.stage.pk]] for c in board.columns)
        plan = selectors.forecast(user=user, pipeline_id=pipeline.pk, months=6)
        rows = _forecast_sql(pipeline.pk, open_ids, _first_of_next_month(plan.months[-1]), owner)
        ours = sum(c.count for c in plan.cells.values()) + plan.undated.count, \
            int(sum(c.amount for c in plan.cells.values()) + plan.undated.amount)
        checks[f"forecast_{who}_sums_equal_sql"] = ours == (sum(r[3] for r in rows), int(sum(r[4] or 0 for r in rows)))
    steps = selectors.funnel(user=admin, pipeline_id=pipeline.pk)
    history = dict(_funnel_sql([s.stage.pk for s in steps]))
    checks["funnel_equals_stage_history"] = all(s.reached == history.get(s.stage.pk, 0) for s in steps)
    figures = selectors.sales_figures(user=admin, pipeline_id=pipeline.pk)
    rows = _figures_sql(pipeline.pk, open_ids, timezone.localdate())
    by_kind = {kind: sum(r[1] for r in rows[:-1] if r[0] in {s.pk for s in stages if s.kind == kind})
               for kind in ("open", "won", "lost")}
    checks["figures_equal_sql"] = (figures.open_count, figures.won_count, figures.lost_count,
                                   figures.overdue_count) == (by_kind["open"], by_kind["won"], by_kind["lost"],
                                                              rows[-1][0])
    return checks


def run(*, opportunities: int = 100_000, repetitions: int = 50, seed: int = 1, sales_customers: int | None = None,
        data_dir: Path | None = None, log: Log = stderr_log, **_: Any) -> dict[str, Any]:
    from django.utils import timezone

    from kehu.accounts.models import User
    from kehu.sales import rollups, selectors
    from kehu.sales.models import StageReach

    customers = sales_customers or min(opportunities, MAX_CUSTOMERS)
    with bench_database(customers=customers, seed=seed, data_dir=data_dir, log=log) as data:
        host = machine()
        pipeline = selectors.pipeline_get(None)
        stages = selectors.stages_of(pipeline, active_only=False)
        load = _load(opportunities=opportunities, seed=seed, pipeline=pipeline, stages=stages,
                     admin_id=data.admin_id, log=log)
        log("bench: rebuilding the running totals")
        rebuild_ms, counts = timed(rollups.rollups_rebuild)
        admin = User.objects.get(pk=data.admin_id)
        rep = User.objects.select_related("role", "department").get(pk=data.rep_ids[0])
        active_ids = [s.pk for s in selectors.stages_of(pipeline)]
        open_ids = [s.pk for s in stages if s.kind == "open"]
        counted_ids = [s.pk for s in stages if s.kind != "lost"]
        months = selectors._months(timezone.localdate(), 6)
        before = _first_of_next_month(months[-1])
        today = timezone.localdate()
        log("bench: checking against the SQL aggregates")
        checks = _checks(admin=admin, rep=rep, pipeline=pipeline, stages=stages)
        cases: dict[str, tuple[str, Callable[[], Any], Callable[[], Any]]] = {
            "board_admin": ("kanban board, admin",
                            lambda: selectors.kanban_board(user=admin, pipeline_id=pipeline.pk),
                            lambda: _board_sql(pipeline.pk, active_ids, None)),
            "board_rep": ("kanban board, rep",
                          lambda: selectors.kanban_board(user=rep, pipeline_id=pipeline.pk),
                          lambda: _board_sql(pipeline.pk, active_ids, rep.pk)),
            "forecast_admin": ("forecast 6 months, admin",
                               lambda: selectors.forecast(user=admin, pipeline_id=pipeline.pk, months=6),
                               lambda: _forecast_sql(pipeline.pk, open_ids, before, None)),
            "forecast_rep": ("forecast 6 months, rep",
                             lambda: selectors.forecast(user=rep, pipeline_id=pipeline.pk, months=6),
                             lambda: _forecast_sql(pipeline.pk, open_ids, before, rep.pk)),
            "funnel_admin": ("funnel, admin",
                             lambda: selectors.funnel(user=admin, pipeline_id=pipeline.pk),
                             lambda: _funnel_sql(counted_ids)),
            "figures_admin": ("sales figures, admin",
                              lambda: selectors.sales_figures(user=admin, pipeline_id=pipeline.pk),
                              lambda: _figures_sql(pipeline.pk, open_ids, today)),
        }
        reads: dict[str, Any] = {}
        for key, (label, ours, baseline) in cases.items():
            log(f"bench: {label} × {repetitions}")
            reads[key] = {"label": label, **_measure(ours, baseline, repetitions)}
        rep_deals = sum(n for _s, n, _a in _board_sql(pipeline.pk, active_ids, rep.pk)["totals"])
        return {
            "benchmark": "sales",
            **data.describe(),
            "machine": {**host, "calibration_end": calibration()},
            "opportunities": opportunities,
            "stage_changes": load["stage_changes"],
            "opportunity_generation": {"reused": load["reused"], "seconds": load["seconds"]},
            "rollups_rebuild": {"ms": round(rebuild_ms, 1), "rollup_rows": counts["rollup_rows"],
                                "reach_rows": StageReach.objects.count()},
            "pipeline": {"id": pipeline.pk, "name": pipeline.name_zh, "stages": len(stages)},
            "rep": {"id": rep.pk, "data_scope": rep.data_scope, "opportunities": rep_deals},
            "repetitions": repetitions,
            "target_p95_ms": TARGET_P95_MS,
            "reads": reads,
            "checks": checks,
            "all_within_target": all(r["within_target"] for r in reads.values()),
            "pool_auto_return": POOL_AUTO_RETURN,
        }


def format_table(result: dict[str, Any]) -> str:
    generation = result["opportunity_generation"]
    rebuild = result["rollups_rebuild"]
    lines = [
        f"sales benchmark: {result['opportunities']:,} opportunities ({result['stage_changes']:,} stage changes) "
        f"on {result['customers']:,} customers, {result['vendor']} ({result['database']})",
        f"opportunities: {'reused' if generation['reused'] else 'generated'}, {generation['seconds']} s; "
        f"rollups_rebuild(): {rebuild['ms'] / 1000:.1f} s ({rebuild['rollup_rows']:,} rollup rows, "
        f"{rebuild['reach_rows']:,} reach rows)",
        f"rep: user {result['rep']['id']} (scope {result['rep']['data_scope']}), "
        f"{result['rep']['opportunities']:,} opportunities; {result['repetitions']} repetitions each",
        f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores; python speed "
        f"{result['machine']['calibration_start']['python_sum_range_1e6_ms']} ms (idle ~20), "
        f"load {result['machine']['calibration_start']['load_average_1m']}",
        "",
        f"{'read':26} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'SQL p50':>8} {'SQL p95':>8} {'x p50':>6} "
        f"{'x p95':>6}  target p95 <= {result['target_p95_ms']:g} ms",
    ]
    for row in result["reads"].values():
        base = row["baseline_sql"]
        lines.append(
            f"{row['label']:26} {row['p50_ms']:8.2f} {row['p95_ms']:8.2f} {row['max_ms']:8.2f} "
            f"{base['p50_ms']:8.2f} {base['p95_ms']:8.2f} {row['ratio_p50'] or 0:6.2f} {row['ratio_p95'] or 0:6.2f}  "
            f"{'met' if row['within_target'] else 'NOT met'}"
        )
    failed = [name for name, ok in result["checks"].items() if not ok]
    lines += [
        "",
        "x = bare SQL aggregate time / ours (above 1: ours is faster)",
        f"checks against the SQL aggregates: {'all equal' if not failed else 'DIFFER: ' + ', '.join(failed)}",
        f"pool auto-return: {result['pool_auto_return']}",
        f"target p95 <= {result['target_p95_ms']:g} ms: {'met' if result['all_within_target'] else 'NOT met'}",
    ]
    return "\n".join(lines)
