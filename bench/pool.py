"""`kehu bench pool`: the customer pool's (公海) nightly auto-return scan at N customers.

On the shared bench database (`bench.common.bench_database`, N customers owned by the bench reps),
this run sets up one pool with every bench rep as a member (return after 90 days without a
follow-up, remind 7 days before) and gives the customers a spread of last follow-ups: a share stale
(200 days ago), 3 % due within the reminder window (85 days ago), the rest fresh (10 days ago).
Two scans (`kehu.pool.services.auto_return_scan`: selection, bulk owner update, pool entries,
moves, audit events and reminders in one transaction), each on freshly prepared data:

- nightly: 0.5 % stale (a night's crossing of the line), both exemptions on (the bench's open deals
  and live contracts keep their customers);
- first run: 20 % stale, exemptions off: the write-heavy scan right after the rules are switched on.

Each reports wall time, customers returned per second, the selection alone and a second scan with
nothing left to return. Baseline: a plain `SELECT COUNT(*)` of the first-run stale set (owner among
the reps, last follow-up or creation before the cut-off), no exemptions, no writes.

Everything is restored afterwards (owners, departments, versions, follow-up times, token owners;
pool rows and their audit events removed), so the shared data is unchanged; a run killed midway is
repaired by the next one from the backup table it leaves behind.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from bench.common import Log, bench_database, machine, stderr_log

BACKUP = "kehu_pool_bench_backup"
FOLLOWUP_DAYS = 90
REMIND_DAYS = 7
DUE_PER_MILLE = 30  # within the reminder window
# (name, stale customers per mille, exemptions): a night's crossing of the 90-day line with the rules as
# configured, and the first scan after the rules are switched on with no exemptions (the write-heavy case).
SCANS = (("nightly", 5, True), ("first_run", 200, False))


def _tables() -> dict[str, str]:
    from kehu.core.models import AuditEvent
    from kehu.customers.models import Customer, SearchToken
    from kehu.pool.models import CustomerPool, PoolEntry, PoolMove, ReturnReminder

    return {"customer": Customer._meta.db_table, "token": SearchToken._meta.db_table,
            "audit": AuditEvent._meta.db_table, "pool": CustomerPool._meta.db_table,
            "entry": PoolEntry._meta.db_table, "move": PoolMove._meta.db_table,
            "reminder": ReturnReminder._meta.db_table, "members": CustomerPool.members.through._meta.db_table,
            "departments": CustomerPool.member_departments.through._meta.db_table,
            "admins": CustomerPool.admins.through._meta.db_table}


def _backup_exists() -> bool:
    return BACKUP in connection.introspection.table_names()


def _restore(log: Log) -> None:
    """Put the customers back as they were and remove everything the run added."""
    t = _tables()
    with transaction.atomic(), connection.cursor() as cursor:
        if _backup_exists():
            log("bench: restoring customers from the pool bench backup")
            cursor.execute(
                f"UPDATE {t['customer']} SET owner_id = b.owner_id, department_id = b.department_id, "
                f"version = b.version, updated_at = b.updated_at, last_activity_at = b.last_activity_at "
                f"FROM {BACKUP} b WHERE b.id = {t['customer']}.id")
            cursor.execute(
                f"UPDATE {t['token']} SET owner_id = (SELECT c.owner_id FROM {t['customer']} c "
                f"WHERE c.id = {t['token']}.customer_id) "
                f"WHERE customer_id IN (SELECT customer_id FROM {t['move']})")
            cursor.execute(f"DROP TABLE {BACKUP}")
        from kehu.core import audit_chain

        with audit_chain.maintenance():  # the run's own audit rows: lift the append-only guard for them
            cursor.execute(f"DELETE FROM {t['audit']} WHERE object_type = 'poolmove'")
        for name in ("reminder", "entry", "move", "members", "departments", "admins", "pool"):
            cursor.execute(f"DELETE FROM {t[name]}")


def _prepare(rep_ids: list[int], now: dt.datetime, *, exemptions: bool, stale: int) -> Any:
    from kehu.pool.models import CustomerPool

    t = _tables()
    adapt = connection.ops.adapt_datetimefield_value
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {BACKUP} AS SELECT id, owner_id, department_id, version, updated_at, "
                       f"last_activity_at FROM {t['customer']}")
        cursor.execute(
            f"UPDATE {t['customer']} SET last_activity_at = CASE WHEN id %% 1000 < %s THEN %s "
            f"WHEN id %% 1000 < %s THEN %s ELSE %s END",
            [stale, adapt(now - dt.timedelta(days=200)), stale + DUE_PER_MILLE,
             adapt(now - dt.timedelta(days=FOLLOWUP_DAYS - REMIND_DAYS + 2)), adapt(now - dt.timedelta(days=10))])
        pool = CustomerPool.objects.create(name="基准公海", is_default=True, return_no_followup_days=FOLLOWUP_DAYS,
                                           remind_days_before=REMIND_DAYS, reclaim_cooldown_days=7,
                                           daily_claim_limit=20, holding_cap=0,
                                           exempt_open_opportunity=exemptions, exempt_live_contract=exemptions)
        pool.members.set(rep_ids)
    return pool


def _baseline(rep_ids: list[int], now: dt.datetime) -> tuple[float, int]:
    t = _tables()
    cut = connection.ops.adapt_datetimefield_value(now - dt.timedelta(days=FOLLOWUP_DAYS))
    marks = ", ".join(["%s"] * len(rep_ids))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {t['customer']} WHERE owner_id IN ({marks}) "
                       f"AND COALESCE(last_activity_at, created_at) < %s", [*rep_ids, cut])
        count = cursor.fetchone()[0]
    return time.perf_counter() - started, count


def _scan_once(rep_ids: list[int], now: dt.datetime, *, exemptions: bool, stale: int, log: Log) -> dict[str, Any]:
    from kehu.pool.models import PoolEntry
    from kehu.pool.services import auto_return_scan, stale_customers

    try:
        pool = _prepare(rep_ids, now, exemptions=exemptions, stale=stale)
        started = time.perf_counter()
        selected = stale_customers(pool, now=now).count()
        select_s = time.perf_counter() - started
        log(f"bench: scanning, {stale / 10:g}% stale, exemptions {'on' if exemptions else 'off'} "
            f"({selected:,} to return)")
        started, cpu = time.perf_counter(), time.process_time()
        figures = auto_return_scan(now=now)
        wall = time.perf_counter() - started
        cpu_s = time.process_time() - cpu
        in_pool = PoolEntry.objects.count()
        again_started = time.perf_counter()
        again = auto_return_scan(now=now)  # nothing left to return: the steady nightly case
        again_s = time.perf_counter() - again_started
    finally:
        _restore(log)
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu_s, 3), "returned": figures["returned"],
            "reminded": figures["reminded"], "in_pool": in_pool,
            "returned_per_s": round(figures["returned"] / wall) if wall > 0 else None,
            "selection_s": round(select_s, 3), "selected": selected,
            "second_scan_s": round(again_s, 3), "second_returned": again["returned"]}


def run(*, customers: int = 10000, seed: int = 1, data_dir: Any = None, log: Log = stderr_log,
        **_: Any) -> dict[str, Any]:
    with bench_database(customers=customers, seed=seed, data_dir=data_dir, log=log) as data:
        host = machine()
        _restore(log)  # a previous run killed midway
        now = timezone.now()
        try:
            _prepare(data.rep_ids, now, exemptions=True, stale=SCANS[-1][1])
            base_s, base_count = _baseline(data.rep_ids, now)
        finally:
            _restore(log)
        # With the exemptions the bench's deals (open ones on most customers when `kehu bench sales`
        # ran on this database) keep most stale customers; without them the write path carries the
        # whole stale share.
        scans = {name: {"stale_per_mille": stale, "exemptions": exemptions,
                        **_scan_once(data.rep_ids, now, exemptions=exemptions, stale=stale, log=log)}
                 for name, stale, exemptions in SCANS}
        return {
            "benchmark": "pool", "customers": customers, "vendor": data.vendor, "database": data.database,
            "machine": host, "rules": {"return_no_followup_days": FOLLOWUP_DAYS, "remind_days_before": REMIND_DAYS,
                                       "due_per_mille": DUE_PER_MILLE},
            "scans": scans,
            "baseline_count": {"wall_s": round(base_s, 3), "customers": base_count},
            "target_s_at_1m": 5.0,
        }


def format_table(result: dict[str, Any]) -> str:
    base = result["baseline_count"]
    lines = [
        f"pool benchmark: {result['customers']:,} customers, {result['vendor']} ({result['database']})",
        f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores; python speed "
        f"{result['machine']['calibration_start']['python_sum_range_1e6_ms']} ms (idle ~20), "
        f"load {result['machine']['calibration_start']['load_average_1m']}",
        "",
        f"{'phase':58} {'seconds':>8} {'customers':>10} {'returned/s':>11} {'reminded':>9}",
    ]
    for name, scan in result["scans"].items():
        label = f"{name.replace('_', ' ')} ({scan['stale_per_mille'] / 10:g}% stale, exemptions " \
                f"{'on' if scan['exemptions'] else 'off'})"
        lines += [
            f"{'scan, ' + label:58} {scan['wall_s']:8.3f} {scan['returned']:10,} "
            f"{scan['returned_per_s'] or 0:11,} {scan['reminded']:9,}",
            f"{'  selection only':58} {scan['selection_s']:8.3f} {scan['selected']:10,}",
            f"{'  second scan (nothing left)':58} {scan['second_scan_s']:8.3f} {scan['second_returned']:10,}",
        ]
    lines += [f"{'baseline plain SELECT COUNT (first-run stale set)':58} {base['wall_s']:8.3f} {base['customers']:10,}",
              f"target at 1M customers: {result['target_s_at_1m']} s"]
    return "\n".join(lines)
