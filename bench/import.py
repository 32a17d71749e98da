"""`kehu bench import --rows N`: import a generated messy customer CSV of N rows (11 columns, GB18030
as Chinese Excel saves it) through the import engine (the services' normalisation, validation
rules, duplicate checks on external id and credit code, owners by name, audit events, search
tokens, quality scores, row logs) into an EMPTY bench database, and measure wall time, rows/s and
peak RSS. In the same run:

- the baseline: the rows the import left in every table it wrote (customers, their tags, search
  tokens, match keys, quality issues, audit events, row logs, the batch and its job; already
  cleaned values, ids included) put back into the same, emptied tables with their indexes by a
  plain `executemany` (SQLite) or `COPY` (PostgreSQL), chunks of 10,000 rows per transaction, timed
  per table. Two ratios: ours / the customers table alone (what a plain insert of the imported
  customers costs) and ours / every table (the floor of any import that writes what this one writes);
- a smaller XLSX import (`--xlsx-rows`, default min(N, 100,000)): the workbook is written with
  openpyxl's write-only mode first (not timed);
- a profile of one slice (`profile_rows`, default 5,000 rows) of the same import under cProfile:
  the functions that take the time.

Each phase starts from a fresh copy of a migrated template database (SQLite: a file copy of
`bench/import-template.sqlite3`; PostgreSQL: `CREATE DATABASE kehu_bench_import TEMPLATE
kehu_bench_import_tpl`), so every run imports into an empty customers table.

Peak memory: as bench/export.py: each phase resets the kernel's peak-RSS mark and reads VmHWM.
"""

from __future__ import annotations

import contextlib
import cProfile
import csv
import io
import os
import pickle
import pstats
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction

from bench.common import Log, _pg_admin, _pointed_at, _reset_database, _vendor, calibration, machine, stderr_log
from bench.export import _process_peak_mb, _reset_peak, _status_mb
from bench.normalize import _address, _companies, _company_text, _email, _landline, _mobile

HEADERS = ["客户编号", "客户名称", "统一社会信用代码", "手机", "座机", "邮箱", "地址", "城市", "来源", "负责人", "备注"]
MAPPING = {0: "external_id", 1: "name", 2: "credit_code", 3: "phones", 4: "phones", 5: "emails", 6: "address",
           7: "city", 8: "source", 9: "owner", 10: "notes"}
OPTIONS = {"mode": "insert", "match_by": ["external_id", "credit_code"], "duplicates": "skip",
           "owner_policy": "column"}
REPS = 20
SOURCES = ["", "", "百度", "百度推广", "朋友介绍", "转介绍", "官网", "网站", "展会", "陌拜", "微信", "抖音",
           "Trade show", "电销", "小红书"]  # 小红书 is no known option: that row is rejected
CITY_TEXTS = ["", "北京", "北京市", "上海", "深圳市", "广州", "杭州", "成都市", "武汉", "西安", "南京市", "苏州"]
NOTES = ["", "", "", "老客户", "展会认识", "需要回访", "VIP", "=HYPERLINK(\"x\")"]
CC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
BASELINE_CHUNK = 10_000


# The file ---------------------------------------------------------------------------------------


def _credit_code(rng: random.Random, n: int) -> str:
    from kehu.dataquality.normalize.identifiers import credit_code_check_char

    first = f"91{rng.randrange(110000, 659999)}{n:09d}"[:17]
    return first + credit_code_check_char(first)


def generate_rows(rows: int, seed: int = 1) -> Iterator[list[str]]:
    """`rows` messy customer rows (HEADERS order), the same for the same seed: about 2% repeat an
    earlier credit code or external id (duplicates the import must catch), a few have no name,
    a bad credit code or an unknown source (rejected)."""
    rng = random.Random(seed)
    recent: list[tuple[str, str]] = []
    for n in range(1, rows + 1):
        company = _companies(rng, 1)[0]
        external = f"C{n:08d}"
        code = _credit_code(rng, n) if rng.random() < 0.7 else ""
        r = rng.random()
        if r < 0.01 and recent:
            code = rng.choice(recent)[1] or code  # the same company again
        elif r < 0.02 and recent:
            external = rng.choice(recent)[0]
        elif r < 0.025 and code:
            code = code[:-1] + ("X" if code[-1] != "X" else "Y")  # bad check character
        if len(recent) < 1000:
            recent.append((external, code))
        else:
            recent[rng.randrange(1000)] = (external, code)
        name = "" if rng.random() < 0.003 else _company_text(rng, company)
        yield [
            external, name, code, _mobile(rng), _landline(rng), _email(rng), _address(rng),
            rng.choice(CITY_TEXTS), rng.choice(SOURCES), f"销售{rng.randrange(REPS)}" if rng.random() < 0.8 else "",
            rng.choice(NOTES),
        ]


def write_csv(path: Path, rows: int, seed: int, *, prefix: Path | None = None, prefix_rows: int = 0) -> None:
    with path.open("w", encoding="gb18030", newline="") as handle, contextlib.ExitStack() as stack:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        head = None
        if prefix is not None:
            head = csv.writer(stack.enter_context(prefix.open("w", encoding="gb18030", newline="")))
            head.writerow(HEADERS)
        for i, row in enumerate(generate_rows(rows, seed)):
            writer.writerow(row)
            if head is not None and i < prefix_rows:
                head.writerow(row)


def write_xlsx(path: Path, rows: int, seed: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("客户")
    sheet.append(HEADERS)
    for row in generate_rows(rows, seed + 1):
        sheet.append(row)
    workbook.save(path)


# The database: a migrated template, copied fresh for every phase ------------------------------------------


def _names(data_dir: Path | None) -> tuple[str, str]:
    if _vendor() == "sqlite":
        folder = (data_dir or Path(settings.DATA_DIR)) / "bench"
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder / "import.sqlite3"), str(folder / "import-template.sqlite3")
    return "kehu_bench_import", "kehu_bench_import_tpl"


def _make_template(template: str, log: Log) -> None:
    from kehu.accounts.models import Role, User
    from kehu.accounts.services import roles_ensure_defaults

    _reset_database(template)
    started = time.perf_counter()
    with _pointed_at(template):
        call_command("migrate", interactive=False, verbosity=0, stdout=io.StringIO())
        roles_ensure_defaults()
        admin = User(username="bench-admin", display_name="管理员", is_superuser=True, is_staff=True)
        admin.set_unusable_password()
        admin.save()
        sales = Role.objects.get(code="sales")
        reps = [User(username=f"bench-rep-{i:03d}", display_name=f"销售{i}", role=sales) for i in range(REPS)]
        for rep in reps:
            rep.set_unusable_password()
        User.objects.bulk_create(reps)
    log(f"bench: template database {template} migrated in {time.perf_counter() - started:.1f} s")


@contextlib.contextmanager
def _fresh(name: str, template: str) -> Iterator[None]:
    """The bench database as an exact copy of the template (empty customers table), connected."""
    if _vendor() == "sqlite":
        for suffix in ("-wal", "-shm"):
            Path(name + suffix).unlink(missing_ok=True)
        shutil.copyfile(template, name)
    else:
        from psycopg import sql as pgsql

        ident = pgsql.Identifier(name).as_string(None)
        _pg_admin(f"DROP DATABASE IF EXISTS {ident} WITH (FORCE)", dbname=name)
        _pg_admin(f"CREATE DATABASE {ident} TEMPLATE {pgsql.Identifier(template).as_string(None)}", dbname=name)
    with _pointed_at(name):
        yield


# Phases -------------------------------------------------------------------------------------------------


def _measure(name: str, work: Callable[[], dict[str, Any]], rows: int, log: Log) -> dict[str, Any]:
    reset = _reset_peak()
    before = _status_mb("VmRSS")
    started, cpu = time.perf_counter(), time.process_time()
    extra = work()
    wall = time.perf_counter() - started
    peak = _status_mb("VmHWM") if reset else None
    result = {
        "rows": rows, "wall_s": round(wall, 2), "cpu_s": round(time.process_time() - cpu, 2),
        "rows_per_s": round(rows / wall) if wall > 0 else None, "peak_rss_mb": peak, "rss_before_mb": before,
        "peak_growth_mb": round(peak - before, 1) if peak is not None and before is not None else None, **extra,
    }
    log(f"bench: {name}: {rows:,} rows in {wall:.1f} s ({result['rows_per_s']:,} rows/s), peak RSS {peak} MB")
    return result


def _import(path: Path) -> dict[str, Any]:
    from kehu.accounts.models import User
    from kehu.customers.models import Customer
    from kehu.imports import services

    admin = User.objects.get(username="bench-admin")
    batch = services.import_batch_create(acting_user=admin, kind="customers", path=path, original_name=path.name,
                                         mapping=MAPPING, options=OPTIONS)
    batch = services.import_run(batch)
    return {"status": batch.status, "counts": batch.counts(), "customers_in_table": Customer.objects.count(),
            "file_format": batch.file_format, "encoding": batch.encoding}


def _written_models() -> list[Any]:
    """Every table an import writes, parents first (the order a plain insert must follow)."""
    from kehu.core.models import AuditEvent, Job
    from kehu.customers.models import Customer, SearchToken
    from kehu.dataquality.models import MatchKey, QualityIssue
    from kehu.imports.models import ImportBatch, ImportRowLog

    return [Job, ImportBatch, Customer, Customer.tags.through, SearchToken, MatchKey, QualityIssue, AuditEvent,
            ImportRowLog]


def _dump_tables(path: Path) -> dict[str, tuple[list[str], int]]:
    """The rows the import wrote, every table of `_written_models()`, pickled chunk by chunk as
    (table, rows) so they stay out of memory; {table: (columns, row count)}."""
    quote = connection.ops.quote_name
    cast = "::text" if connection.vendor == "postgresql" else ""
    dumped: dict[str, tuple[list[str], int]] = {}
    with path.open("wb") as handle:
        for model in _written_models():
            table = model._meta.db_table
            columns = [f.column for f in model._meta.concrete_fields]
            sql = f"SELECT {', '.join(quote(c) + cast for c in columns)} FROM {quote(table)} ORDER BY {quote('id')}"
            count = 0
            with connection.cursor() as cursor:
                cursor.execute(sql)
                while rows := cursor.fetchmany(BASELINE_CHUNK):
                    pickle.dump((table, rows), handle, protocol=pickle.HIGHEST_PROTOCOL)
                    count += len(rows)
            dumped[table] = (columns, count)
    return dumped


def _baseline_insert(path: Path, dumped: dict[str, tuple[list[str], int]]) -> dict[str, Any]:
    """executemany / COPY of the dumped rows into the same tables and indexes, 10,000 rows a
    transaction; only the inserts and commits are timed (not unpickling). Per table seconds, so
    the customers table alone (the first baseline of this benchmark) stays comparable."""
    from kehu.customers.models import Customer

    quote = connection.ops.quote_name
    seconds: dict[str, float] = {table: 0.0 for table in dumped}
    with path.open("rb") as handle:
        while True:
            try:
                table, rows = pickle.load(handle)  # noqa: S301  (our own temp file, written above)
            except EOFError:
                break
            columns = dumped[table][0]
            names = ", ".join(quote(c) for c in columns)
            started = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    with cursor.cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                else:
                    cursor.executemany(
                        f"INSERT INTO {quote(table)} ({names}) VALUES ({', '.join(['%s'] * len(columns))})", rows)
            seconds[table] += time.perf_counter() - started
    customers = Customer._meta.db_table
    return {"insert_s": round(seconds[customers], 2), "all_tables_insert_s": round(sum(seconds.values()), 2),
            "tables": {table: {"rows": dumped[table][1], "insert_s": round(seconds[table], 2)} for table in dumped},
            "customers_in_table": Customer.objects.count()}


def _profile(path: Path, top: int = 25) -> dict[str, Any]:
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    outcome = _import(path)
    profiler.disable()
    wall = time.perf_counter() - started
    stats = pstats.Stats(profiler)
    entries = []
    for (filename, line, function), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        short = filename.split("/site-packages/")[-1].split("/src/")[-1]
        entries.append({"function": f"{short}:{line}({function})", "calls": calls, "tottime_s": round(tottime, 3),
                        "cumtime_s": round(cumtime, 3)})
    by_self = sorted(entries, key=lambda e: -e["tottime_s"])[:top]
    by_cumulative = sorted((e for e in entries if "imports/" in e["function"] or "dataquality/" in e["function"]
                            or "customers/" in e["function"]), key=lambda e: -e["cumtime_s"])[:top]
    return {"rows": outcome["counts"]["rows"], "wall_s_under_profiler": round(wall, 2), "top_self_time": by_self,
            "top_cumulative_kehu": by_cumulative}


def run(
    *, rows: int = 100_000, seed: int = 1, data_dir: Path | None = None, log: Log = stderr_log,
    xlsx_rows: int | None = None, profile_rows: int = 5000,
) -> dict[str, Any]:
    info = machine()
    xlsx_rows = min(rows, 100_000) if xlsx_rows is None else xlsx_rows
    profile_rows = min(profile_rows, rows)
    name, template = _names(data_dir)
    with tempfile.TemporaryDirectory(prefix="kehu-bench-import-") as folder:
        csv_path, head_path = Path(folder) / "customers.csv", Path(folder) / "head.csv"
        xlsx_path, dump_path = Path(folder) / "customers.xlsx", Path(folder) / "customers.pickle"
        started = time.perf_counter()
        write_csv(csv_path, rows, seed, prefix=head_path, prefix_rows=profile_rows)
        log(f"bench: wrote {rows:,} rows ({csv_path.stat().st_size / 2**20:.0f} MB GB18030 CSV) in "
            f"{time.perf_counter() - started:.0f} s")
        if xlsx_rows:
            started = time.perf_counter()
            write_xlsx(xlsx_path, xlsx_rows, seed)
            log(f"bench: wrote {xlsx_rows:,} rows XLSX in {time.perf_counter() - started:.0f} s")
        _make_template(template, log)

        with _fresh(name, template):
            ours = _measure("import CSV (engine)", lambda: _import(csv_path), rows, log)
            tables = _dump_tables(dump_path)
        from kehu.customers.models import Customer

        dumped = tables[Customer._meta.db_table][1]
        with _fresh(name, template):
            baseline = _measure(f"baseline ({'COPY' if _vendor() == 'postgresql' else 'executemany'}, every table)",
                                lambda: _baseline_insert(dump_path, tables), dumped, log)
        xlsx = None
        if xlsx_rows:
            with _fresh(name, template):
                xlsx = _measure("import XLSX (engine)", lambda: _import(xlsx_path), xlsx_rows, log)
        profile = None
        if profile_rows:
            with _fresh(name, template):
                profile = _profile(head_path)
            log(f"bench: profiled {profile_rows:,} rows in {profile['wall_s_under_profiler']} s")
        csv_mb = round(csv_path.stat().st_size / 2**20, 1)
        xlsx_mb = round(xlsx_path.stat().st_size / 2**20, 1) if xlsx_rows else None
    counts = ours["counts"]
    return {
        "benchmark": "import",
        "vendor": _vendor(), "database": name, "rows": rows, "seed": seed, "columns": len(HEADERS),
        "csv_mb": csv_mb, "xlsx_mb": xlsx_mb,
        "chunk_rows": int(os.environ.get("KEHU_IMPORT_CHUNK_ROWS") or 1000),
        "import_csv": ours,
        "baseline": {**baseline, "method": "COPY" if _vendor() == "postgresql" else "executemany"},
        "ratio_wall_vs_baseline": round(ours["wall_s"] / baseline["insert_s"], 1) if baseline["insert_s"] else None,
        "ratio_wall_vs_all_tables_baseline": (round(ours["wall_s"] / baseline["all_tables_insert_s"], 1)
                                              if baseline["all_tables_insert_s"] else None),
        "import_xlsx": xlsx,
        "profile": profile,
        "targets": {"csv_1m_s": 60, "peak_rss_mb": 1536, "xlsx_100k_s": 10},
        "checks": {
            "every_row_decided": sum(v for k, v in counts.items() if k != "rows") == counts["rows"] == rows,
            "table_holds_created_rows": ours["customers_in_table"] == counts["created"] + counts["flagged"],
            "baseline_rows_equal": baseline["customers_in_table"] == dumped,
            "some_rejected_and_skipped": counts["rejected"] > 0 and counts["skipped"] > 0,
        },
        "process_peak_rss_mb": _process_peak_mb(),
        "machine": {**info, "calibration_end": calibration()},
    }


def format_table(result: dict[str, Any]) -> str:
    lines = [f"import of {result['rows']:,} messy customer rows ({result['vendor']}, {result['columns']} columns, "
             f"{result['csv_mb']} MB CSV)",
             f"{'':30} {'rows':>10} {'wall s':>8} {'rows/s':>9} {'peak MB':>8} {'+MB':>7}"]
    for label, key in (("import CSV (engine)", "import_csv"), ("baseline " + result["baseline"]["method"], "baseline"),
                       ("import XLSX (engine)", "import_xlsx")):
        row = result.get(key)
        if row:
            lines.append(f"{label:30} {row['rows']:>10,} {row['wall_s']:>8} {row['rows_per_s']!s:>9} "
                         f"{row['peak_rss_mb']!s:>8} {row['peak_growth_mb']!s:>7}")
    baseline = result["baseline"]
    lines.append(f"baseline inserts, customers table: {baseline['insert_s']} s (ours / that: "
                 f"{result['ratio_wall_vs_baseline']}x); every table the import wrote "
                 f"({sum(t['rows'] for t in baseline['tables'].values()):,} rows): {baseline['all_tables_insert_s']} s "
                 f"(ours / that: {result['ratio_wall_vs_all_tables_baseline']}x)")
    lines += [f"  {table:32} {t['rows']:>10,} rows {t['insert_s']:>8} s" for table, t in baseline["tables"].items()]
    lines.append(f"counts: {result['import_csv']['counts']}")
    if result.get("profile"):
        lines.append(f"profile of {result['profile']['rows']:,} rows, top self time:")
        lines += [f"  {e['tottime_s']:>7} s  {e['calls']:>9,}  {e['function']}"
                  for e in result["profile"]["top_self_time"][:12]]
    lines.append(f"checks: {result['checks']}")
    return "\n".join(lines)
