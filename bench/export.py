"""`kehu bench export --rows N`: export every customer of the N-customer bench database as the admin,
to CSV (what `export_csv` streams to the browser) and to XLSX (`XlsxStream`, written as rows come), measuring wall
time, rows/s and peak memory of each; the baseline, measured in the same run, is a plain cursor
fetch of the same columns (`SELECT ... ORDER BY id`, fetchmany) written with csv.writer, without
scope, filters, labels, formula escaping or formatting.

Peak memory: each phase resets the kernel's peak-RSS mark (`/proc/self/clear_refs`, Linux) and reads
`VmHWM` afterwards, so each phase reports its own peak (and its growth over the RSS it started
from: the process already holds Django and the bench set-up); `process_peak_rss_mb` is
`resource.getrusage` for the whole run (bench database set-up included).
"""

from __future__ import annotations

import csv
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from django.db import connection

from bench.common import Log, bench_database, calibration, machine, stderr_log

BASELINE_COLUMNS = (
    "id", "external_id", "kind", "name", "short_name", "industry_id", "level_id", "stage_id", "source_id",
    "owner_id", "department_id", "phones", "phones_e164", "emails", "website", "province", "city", "district",
    "address", "credit_code", "salutation", "gender", "birthday", "id_number", "quality_score",
    "last_activity_at", "notes", "custom", "created_at", "updated_at",
)
FETCH = 2000


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _process_peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _phase(name: str, work: Any, log: Log) -> dict[str, Any]:
    reset = _reset_peak()
    before = _status_mb("VmRSS")
    started, cpu = time.perf_counter(), time.process_time()
    rows, path = work()
    wall = time.perf_counter() - started
    result = {
        "rows": rows,
        "wall_s": round(wall, 4),
        "cpu_s": round(time.process_time() - cpu, 2),
        "rows_per_s": round(rows / wall) if wall > 0 else None,
        "peak_rss_mb": (peak := _status_mb("VmHWM") if reset else None),
        # What the phase itself added on top of the process (Django, the bench set-up) before it.
        "rss_before_mb": before,
        "peak_growth_mb": round(peak - before, 1) if peak is not None and before is not None else None,
        "file_mb": round(os.path.getsize(path) / 1024 / 1024, 1),
    }
    log(f"bench: {name}: {rows:,} rows in {wall:.1f} s ({result['rows_per_s']:,} rows/s), "
        f"peak RSS {result['peak_rss_mb']} MB (+{result['peak_growth_mb']}), {result['file_mb']} MB")
    return result


def _baseline(path: str) -> tuple[int, str]:
    quote = connection.ops.quote_name
    sql = f"SELECT {', '.join(quote(c) for c in BASELINE_COLUMNS)} FROM customers_customer ORDER BY id"
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as handle, connection.cursor() as cursor:
        writer = csv.writer(handle)
        writer.writerow(BASELINE_COLUMNS)
        cursor.execute(sql)
        while True:
            rows = cursor.fetchmany(FETCH)
            if not rows:
                break
            writer.writerows(rows)
            count += len(rows)
    return count, path


def _ratio(ours: dict[str, Any], baseline: dict[str, Any]) -> float | None:
    """How many times the baseline's wall time ours took."""
    return round(ours["wall_s"] / baseline["wall_s"], 1) if baseline["wall_s"] else None


def run(
    *, rows: int = 100_000, seed: int = 1, data_dir: Path | None = None, log: Log = stderr_log,
    xlsx: bool = True,
) -> dict[str, Any]:
    from kehu.accounts.models import User
    from kehu.customers.export import export_csv, export_spec, export_xlsx
    from kehu.customers.filters import CustomerFilter

    info = machine()
    with bench_database(customers=rows, seed=seed, data_dir=data_dir, log=log) as data, \
            tempfile.TemporaryDirectory(prefix="kehu-bench-export-") as folder:
        admin = User.objects.get(pk=data.admin_id)
        spec = export_spec(user=admin, language="zh")
        csv_path, xlsx_path, baseline_path = (os.path.join(folder, n) for n in ("out.csv", "out.xlsx", "base.csv"))

        def ours_csv() -> tuple[int, str]:
            with open(csv_path, "wb") as handle:
                for piece in export_csv(user=admin, filters=CustomerFilter(), spec=spec):
                    handle.write(piece)
            with open(csv_path, encoding="utf-8-sig", newline="") as handle:
                return sum(1 for _ in csv.reader(handle)) - 1, csv_path

        def ours_xlsx() -> tuple[int, str]:
            return export_xlsx(user=admin, filters=CustomerFilter(), path=xlsx_path, spec=spec), xlsx_path

        baseline = _phase("baseline (cursor + csv.writer)", lambda: _baseline(baseline_path), log)
        csv_result = _phase("export CSV", ours_csv, log)
        xlsx_result = _phase("export XLSX", ours_xlsx, log) if xlsx else None
        columns = len(spec.keys)
    result: dict[str, Any] = {
        "benchmark": "export",
        **data.describe(),
        "columns": columns,
        "chunk_rows": FETCH,
        "baseline": baseline,
        "csv": {**csv_result, "ratio_wall_vs_baseline": _ratio(csv_result, baseline)},
        "checks": {"csv_rows_equal_customers": csv_result["rows"] == rows,
                   "baseline_rows_equal_customers": baseline["rows"] == rows},
        "process_peak_rss_mb": _process_peak_mb(),
        "machine": {**info, "calibration_end": calibration()},
    }
    if xlsx_result is not None:
        result["xlsx"] = {**xlsx_result, "ratio_wall_vs_baseline": _ratio(xlsx_result, baseline)}
        result["checks"]["xlsx_rows_equal_customers"] = xlsx_result["rows"] == rows
    return result


def format_table(result: dict[str, Any]) -> str:
    lines = [
        f"export of {result['customers']:,} customers ({result['vendor']}, {result['columns']} columns), as admin",
        f"{'':34} {'wall s':>8} {'rows/s':>10} {'peak MB':>8} {'+MB':>6} {'file MB':>8} {'x baseline':>10}",
    ]
    for name, key in (("baseline: cursor + csv.writer", "baseline"), ("CSV (export_csv)", "csv"),
                      ("XLSX (XlsxStream)", "xlsx")):
        row = result.get(key)
        if row is None:
            continue
        ratio = row.get("ratio_wall_vs_baseline", "")
        lines.append(f"{name:34} {row['wall_s']:>8} {row['rows_per_s']:>10,} {row['peak_rss_mb']!s:>8} "
                     f"{row['peak_growth_mb']!s:>6} {row['file_mb']:>8} {ratio!s:>10}")
    lines.append(f"process peak RSS (getrusage): {result['process_peak_rss_mb']} MB; checks: {result['checks']}")
    return "\n".join(lines)
