"""`kehu bench automation`: the automation engine at N customers.

On the shared bench database (`bench.common.bench_database`), this run gives 30 % of the customers a
birthday and every customer a last follow-up 0-89 days ago (from a backup table, restored
afterwards), then measures:

- evaluation of two time-based rules over the whole table, each one set query
  (`kehu.automation.triggers.time_selection` on the rule's audience): a birthday greeting
  ("today, every year": `birthday IN (<the date in every year>)`) and "no follow-up for 30 days"
  (first pass: the whole idle backlog; the daily pass: only customers that crossed the line since
  yesterday's pass). Each: COUNT of the selection and fetching the selected ids (what a pass reads),
  best of 3. Baseline: a plain `SELECT COUNT(*)` of the customer table in the same run.
  Target: ≤ 2 s per rule at 1M customers on SQLite.
- record-triggered rules through a real worker process (`kehu worker`, its Huey queue in a
  temporary SQLite file, the bench database as DATABASE_URL): a burst of "customer.updated" events
  for a rule that notifies the owner; events per second from the first enqueue to the last action
  logged; then events one by one (50 ms apart) for the latency from enqueue (the commit: services
  publish after commit) to the action's log row, p50/p95. The worker's idle polling (Huey's
  back-off, up to its max_delay) is part of that latency, as in production.

The shared data is restored (birthdays, follow-up times); the rules, runs, logs and notifications
the run created are deleted.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from bench.common import Log, bench_database, machine, percentile, stderr_log

BACKUP = "kehu_automation_bench_backup"
BIRTHDAY_PER_MILLE = 300
IDLE_DAYS = 30
BURST = 200
LATENCY_EVENTS = 40
KEHU = [sys.executable, "-c", "import sys; from kehu.cli import main; sys.exit(main(sys.argv[1:]))"]


def _customer_table() -> str:
    from kehu.customers.models import Customer

    return Customer._meta.db_table


def _backup_exists() -> bool:
    return BACKUP in connection.introspection.table_names()


def _cleanup(log: Log) -> None:
    from kehu.automation.models import Rule
    from kehu.notifications.models import Notification

    table = _customer_table()
    with transaction.atomic(), connection.cursor() as cursor:
        if _backup_exists():
            log("bench: restoring customers from the automation bench backup")
            cursor.execute(f"UPDATE {table} SET birthday = b.birthday, last_activity_at = b.last_activity_at "
                           f"FROM {BACKUP} b WHERE b.id = {table}.id")
            cursor.execute(f"DROP TABLE {BACKUP}")
        rules = list(Rule.objects.filter(name__startswith="bench:").values_list("pk", flat=True))
        for pk in rules:
            Notification.objects.filter(key__startswith=f"{pk}:").delete()
        Rule.objects.filter(pk__in=rules).delete()


def _prepare(now: dt.datetime) -> None:
    table = _customer_table()
    stamp = connection.ops.adapt_datetimefield_value(now)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {BACKUP} AS SELECT id, birthday, last_activity_at FROM {table}")
        if connection.vendor == "sqlite":
            cursor.execute(f"UPDATE {table} SET birthday = CASE WHEN id %% 1000 < %s THEN "
                           f"date('1950-01-01', '+' || ((id * 7919) %% 25000) || ' days') ELSE NULL END, "
                           f"last_activity_at = datetime(%s, '-' || (id %% 90) || ' days', '-' || (id %% 1440) "
                           f"|| ' minutes')", [BIRTHDAY_PER_MILLE, stamp])
        else:
            cursor.execute(f"UPDATE {table} SET birthday = CASE WHEN id %% 1000 < %s THEN "
                           f"DATE '1950-01-01' + ((id * 7919) %% 25000)::int ELSE NULL END, "
                           f"last_activity_at = %s::timestamptz - (id %% 90) * interval '1 day' "
                           f"- (id %% 1440) * interval '1 minute'", [BIRTHDAY_PER_MILLE, stamp])


def _rule(admin: Any, name: str, **data: Any) -> Any:
    from kehu.automation import services

    # Paused: the evaluation reads the rule, and a running worker's clock must not act on it.
    return services.rule_create(acting_user=admin, data={"name": f"bench:{name}", "object_type": "customer",
                                                         "conditions": {}, "is_active": False, **data})


def _best_of(fn: Any, repeat: int = 3) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def _evaluate(rule: Any, now: dt.datetime, since: dt.datetime | None = None) -> dict[str, Any]:
    from kehu.automation import objects, triggers

    def selection() -> Any:
        audience = objects.audience(rule.object_type, rule.conditions, rule.actor)
        return triggers.time_selection(rule, audience, now=now, since=since)[0]

    count_s, count = _best_of(lambda: selection().count())
    ids_s, ids = _best_of(lambda: len(list(selection().values_list("pk", flat=True))))
    return {"count_s": round(count_s, 3), "fetch_ids_s": round(ids_s, 3), "selected": count, "fetched": ids}


def _baseline() -> tuple[float, int]:
    def count() -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {_customer_table()}")
            return cursor.fetchone()[0]

    return _best_of(count)


def _database_url() -> str:
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    auth = params.get("USER") or ""
    if params.get("PASSWORD"):
        auth += f":{params['PASSWORD']}"
    host = f"{params.get('HOST') or '127.0.0.1'}:{params.get('PORT') or 5432}"
    return f"postgres://{auth}@{host}/{params['NAME']}" if auth else f"postgres://{host}/{params['NAME']}"


def _done_count(rule_id: int) -> int:
    from kehu.automation.models import ActionLog

    return ActionLog.objects.filter(rule_id=rule_id).exclude(status="pending").count()


def _wait_for(rule_id: int, expected: int, worker: subprocess.Popen, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    done = _done_count(rule_id)
    while done < expected and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.05)
        done = _done_count(rule_id)
    return done


def _worker_phase(admin: Any, customer_ids: list[int], log: Log) -> dict[str, Any]:
    from huey import SqliteHuey
    from huey.contrib.djhuey import HUEY

    from kehu.automation import engine, tasks
    from kehu.automation.models import ActionLog
    from kehu.core.events import DomainEvent

    rule = _rule(admin, "record", trigger="updated",
                 actions=[{"type": "notify", "params": {"to": "owner", "title": "bench {{ customer.name }}"}}])
    rule.is_active = True
    rule.save(update_fields=["is_active"])
    folder = Path(tempfile.mkdtemp(prefix="kehu-automation-bench-"))
    queue = SqliteHuey(settings.HUEY["name"], filename=str(folder / "huey.sqlite3"))
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "HUEY_IMMEDIATE",
                                                            "HUEY_REDIS_URL")}
    env.update({"KEHU_DATA_DIR": str(folder), "DATABASE_URL": _database_url(), "KEHU_WORKERS": "2",
                "SECRET_KEY": "bench-only"})
    ids = iter(customer_ids * 100)

    def send() -> None:
        customer_id = next(ids)
        event = DomainEvent(name="customer.updated", object_type="customer", object_id=customer_id,
                            customer_id=customer_id, changes={"notes": ("", "bench")})
        task = tasks.handle_event_task.s(engine.event_payload(event), 1)
        queue.storage.enqueue(HUEY.serialize_task(task), task.priority)  # the worker's queue, not this process's

    worker_log = (folder / "worker.log").open("w")
    worker = subprocess.Popen(KEHU + ["worker"], env=env, stdout=worker_log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        send()  # warm-up: the worker is up once it has handled one event
        if _wait_for(rule.pk, 1, worker, 120) < 1:
            raise RuntimeError(f"the worker did not start: {(folder / 'worker.log').read_text()[-2000:]}")
        connection.close()  # no read snapshot held while the worker writes (SQLite WAL)
        log(f"bench: {BURST} events in a burst through the worker")
        started = time.perf_counter()
        for _ in range(BURST):
            send()
        done = _wait_for(rule.pk, 1 + BURST, worker, 600)
        burst_s = time.perf_counter() - started
        log(f"bench: {LATENCY_EVENTS} events one by one (latency)")
        for _ in range(LATENCY_EVENTS):
            send()
            time.sleep(0.05)
        _wait_for(rule.pk, 1 + BURST + LATENCY_EVENTS, worker, 600)
        logs = list(ActionLog.objects.filter(rule_id=rule.pk).order_by("pk").values_list("period", "at", "status"))
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        worker_log.close()
    latencies = []
    for period, at, _status in logs[1 + BURST:]:
        published = dt.datetime.fromisoformat(period.split("@", 1)[1])
        latencies.append((at - published).total_seconds() * 1000)
    return {"burst_events": BURST, "burst_done": min(done - 1, BURST), "burst_s": round(burst_s, 3),
            "events_per_s": round((done - 1) / burst_s, 1) if burst_s > 0 else None,
            "statuses": sorted({s for _p, _a, s in logs}),
            "latency_events": len(latencies), "latency_p50_ms": round(percentile(latencies, 50), 1),
            "latency_p95_ms": round(percentile(latencies, 95), 1),
            "latency_max_ms": round(max(latencies), 1) if latencies else 0.0}


def run(*, customers: int = 10000, seed: int = 1, data_dir: Any = None, log: Log = stderr_log,
        worker: bool = True, **_: Any) -> dict[str, Any]:
    from kehu.accounts.models import User
    from kehu.customers.models import Customer

    with bench_database(customers=customers, seed=seed, data_dir=data_dir, log=log) as data:
        host = machine()
        _cleanup(log)  # a previous run killed midway
        now = timezone.now()
        admin = User.objects.get(pk=data.admin_id)
        try:
            _prepare(now)
            base_s, base_count = _baseline()
            birthday = _rule(admin, "birthday", trigger="date_offset",
                             trigger_params={"field": "birthday", "days": 0, "direction": "before"},
                             actions=[{"type": "add_tag", "params": {"tag": "生日"}}])
            idle = _rule(admin, "idle", trigger="inactive", trigger_params={"anchor": "last_activity",
                                                                            "days": IDLE_DAYS},
                         actions=[{"type": "add_tag", "params": {"tag": "待跟进"}}])
            log("bench: evaluating the time-based rules")
            rules = {"birthday": _evaluate(birthday, now),
                     "no_followup_30_days_first_pass": _evaluate(idle, now),
                     "no_followup_30_days_daily_pass": _evaluate(idle, now, since=now - dt.timedelta(days=1))}
            records: dict[str, Any] = {"skipped": True}
            if worker:
                sample = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:BURST])
                records = _worker_phase(admin, sample, log)
        finally:
            _cleanup(log)
        return {
            "benchmark": "automation", "customers": customers, "vendor": data.vendor, "database": data.database,
            "machine": host, "birthday_per_mille": BIRTHDAY_PER_MILLE, "time_rules": rules,
            "baseline_count": {"wall_s": round(base_s, 3), "customers": base_count},
            "record_rules": records, "target_s_per_rule_at_1m": 2.0,
        }


def format_table(result: dict[str, Any]) -> str:
    base = result["baseline_count"]
    lines = [
        f"automation benchmark: {result['customers']:,} customers, {result['vendor']} ({result['database']})",
        f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores; python speed "
        f"{result['machine']['calibration_start']['python_sum_range_1e6_ms']} ms (idle ~20), "
        f"load {result['machine']['calibration_start']['load_average_1m']}",
        "",
        f"{'time-based rule (one set query)':44} {'count s':>8} {'ids s':>8} {'selected':>10}",
    ]
    for name, row in result["time_rules"].items():
        lines.append(f"{name:44} {row['count_s']:8.3f} {row['fetch_ids_s']:8.3f} {row['selected']:10,}")
    lines.append(f"{'baseline plain SELECT COUNT(*)':44} {base['wall_s']:8.3f} {'':8} {base['customers']:10,}")
    records = result["record_rules"]
    if not records.get("skipped"):
        lines += ["", f"record rule through the worker: {records['burst_done']}/{records['burst_events']} events in "
                      f"{records['burst_s']} s = {records['events_per_s']} events/s",
                  f"commit → action latency ({records['latency_events']} events): p50 {records['latency_p50_ms']} ms, "
                  f"p95 {records['latency_p95_ms']} ms, max {records['latency_max_ms']} ms"]
    lines.append(f"target at 1M customers: {result['target_s_per_rule_at_1m']} s per rule")
    return "\n".join(lines)
