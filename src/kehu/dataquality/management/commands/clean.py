"""`kehu clean IN.csv|IN.xlsx --out OUT.csv`: the normalisation engine over a file, no database.

Keeps every input column, appends the canonical ones (`kehu.dataquality.pipeline.OUTPUT_COLUMNS`),
writes UTF-8 with BOM (Chinese Excel opens it without mojibake) with every cell formula-safe, and
prints a summary. Rows go through a process pool in chunks, in order; progress on stderr.
"""

from __future__ import annotations

import contextlib
import csv
import os
import sys
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kehu.core.tabular import Table, TableError, escape_row, open_table
from kehu.dataquality.pipeline import (
    Cleaner,
    CleanSummary,
    OutputLayout,
    clean_rows,
    describe_columns,
    parse_column_overrides,
    recognise_columns,
    tune_gc,
)

KIND_LABELS = {
    "phone": "电话", "email": "邮箱", "address": "地址", "company": "公司", "name": "姓名",
    "credit_code": "信用代码", "id_number": "身份证", "website": "网址",
}
REPORT_ROWS = 20


class Command(BaseCommand):
    help = "清洗 CSV/Excel 文件：保留原有列，追加规范化后的电话、邮箱、地址、公司、姓名与拼音列（无需数据库）"
    # A file in, a file out: no database, no migrations, no system checks (works before `kehu setup`).
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("input", help="CSV (UTF-8, UTF-8 BOM, GBK/GB18030, UTF-16), XLSX or XLS")
        parser.add_argument("--out", required=True, help="output CSV (UTF-8 with BOM); '-' for stdout")
        parser.add_argument(
            "--columns", action="append", default=[],
            help="override column roles, e.g. name=客户姓名,phone=手机1,phone=手机2 (roles: name, first_name, "
                 "last_name, company, phone, email, address, province, city, district, credit_code, id_number, "
                 "website; 'role=' switches one off)",
        )
        parser.add_argument("--sheet", help="Excel: sheet name or 0-based index (default: first non-empty)")
        parser.add_argument("--encoding", default=None, help="CSV: encoding (default: detected)")
        parser.add_argument("--delimiter", default=None, help="CSV: delimiter (default: sniffed among , ; tab |)")
        parser.add_argument("--workers", type=int, default=None, help="processes (default: CPU count)")
        parser.add_argument("--report", action="store_true",
                            help="also list the first rows with problems and what each problem code means")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        try:
            table = open_table(options["input"], sheet=options["sheet"], encoding=options["encoding"],
                               delimiter=options["delimiter"])
        except TableError as exc:
            raise CommandError(exc.message) from None
        try:
            columns = recognise_columns(table.headers, parse_column_overrides(",".join(options["columns"])))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if not columns:
            raise CommandError(
                f"{table.path.name}：没有识别出任何可清洗的列（姓名、公司、电话、邮箱、地址……），"
                f"请用 --columns 指定，例如 --columns name=客户姓名,phone=手机。文件的列：{'、'.join(table.headers)}"
            )
        workers = max(1, options["workers"] or os.cpu_count() or 1)
        tune_gc()  # this process only cleans: the collector need not walk the dictionaries over and over
        to_stdout = options["out"] == "-"
        info = self.stderr if to_stdout else self.stdout
        info.write(_describe_input(table))
        info.write(f"识别的列 columns: {describe_columns(table.headers, columns)}")
        output_columns = Cleaner.output_columns_for(columns)
        layout = OutputLayout(table.headers, output_columns)
        summary = CleanSummary()
        examples: list[tuple[int, str]] = []
        longer_rows = 0
        progress = _Progress(self.stderr, total=_estimate_rows(table))
        try:
            with _open_output(options["out"], self.stdout) as handle:
                csv.writer(handle).writerow(escape_row(layout.headers))
                numbered = _Numbered(table)
                for chunk, out in clean_rows(numbered, table.headers, columns, workers=workers, summary=summary,
                                             output="csv"):
                    handle.write(out.text)
                    numbers = numbered.take(len(chunk))
                    if options["report"] and len(examples) < REPORT_ROWS:
                        wanted = out.problems[: REPORT_ROWS - len(examples)]
                        examples.extend((numbers[i], text) for i, text in wanted)
                    longer_rows += sum(1 for row in chunk if len(row) > layout.width)
                    progress.update(summary.rows)
        except TableError as exc:
            raise CommandError(exc.message) from None
        except OSError as exc:
            raise CommandError(f"无法写入 {options['out']}：{exc.strerror or exc}") from None
        progress.finish(summary.rows)
        seconds = time.perf_counter() - started
        info.write(format_summary(summary, seconds=seconds, workers=workers, out=options["out"],
                                  longer_rows=longer_rows))
        if options["report"]:
            info.write(format_report(summary, examples))


class _Numbered:
    """The table's rows; their numbers in the file wait in a queue until their chunk comes back
    (chunks come back in order, so the queue never holds more than the rows in flight)."""

    def __init__(self, table: Table) -> None:
        self._table = table
        self._numbers: deque[int] = deque()

    def __iter__(self) -> Iterator[list[str]]:
        append = self._numbers.append
        for number, cells in self._table.numbered_rows():
            append(number)
            yield cells

    def take(self, count: int) -> list[int]:
        pop = self._numbers.popleft
        return [pop() for _ in range(count)]


def _describe_input(table: Table) -> str:
    if table.format == "csv":
        delimiter = {"\t": "tab"}.get(table.delimiter or ",", table.delimiter)
        return f"{table.path.name}: CSV, 编码 {table.encoding}, 分隔符 {delimiter!r}, {len(table.headers)} 列"
    return f"{table.path.name}: {table.format.upper()}, 工作表 {table.sheet!r}（共 {len(table.sheet_names)} 个）, " \
           f"{len(table.headers)} 列"


def _estimate_rows(table: Table) -> int | None:
    """Excel knows its row count; for CSV count newlines (fast, bytes only; quoted newlines make it
    an upper bound, good enough for an ETA)."""
    if table.row_count is not None:
        return table.row_count
    count = 0
    with contextlib.suppress(OSError), table.path.open("rb") as handle:
        while block := handle.read(1 << 20):
            count += block.count(b"\n")
    return max(count - table.header_row, 1) if count else None


@contextlib.contextmanager
def _open_output(target: str, stdout: Any) -> Iterator[IO[str]]:
    if target == "-":
        stream = getattr(stdout, "_out", sys.stdout)
        yield stream
        stream.flush()
        return
    path = Path(target)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        yield handle


class _Progress:
    """Rows done, rows/s and ETA on stderr, at most twice a second on a terminal, every 5 s otherwise."""

    def __init__(self, stream: Any, total: int | None) -> None:
        self.stream = stream
        self.total = total
        self.started = time.perf_counter()
        self.tty = bool(getattr(getattr(stream, "_out", stream), "isatty", lambda: False)())
        self.every = 0.5 if self.tty else 5.0
        self.last = self.started
        self.shown = False

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if now - self.last < self.every:
            return
        self.last = now
        elapsed = now - self.started
        rate = done / elapsed if elapsed else 0.0
        line = f"已处理 {done:,} 行，{rate:,.0f} 行/秒"
        if self.total and rate:
            left = max(self.total - done, 0) / rate
            line += f"，约 {done * 100 // max(self.total, 1)}%，剩余约 {left:,.0f} 秒"
        self.shown = True
        if self.tty:
            self.stream.write("\r" + line.ljust(60), ending="")
        else:
            self.stream.write(line)
        self.stream.flush()

    def finish(self, done: int) -> None:
        if self.shown and self.tty:
            self.stream.write("")


def format_summary(summary: CleanSummary, *, seconds: float, workers: int, out: str, longer_rows: int = 0) -> str:
    from kehu.dataquality.pipeline import _messages

    messages = _messages()
    rate = summary.rows / seconds if seconds > 0 else 0.0
    lines = [
        f"输出 output: {out}",
        f"行数 rows: {summary.rows:,}",
        f"有修正的行 rows changed: {summary.rows_changed:,}",
        f"有问题的行 rows with problems: {summary.rows_with_problems:,}",
    ]
    if summary.fixed:
        fixed = "，".join(f"{KIND_LABELS.get(k, k)} {n:,}" for k, n in summary.fixed.most_common())
        lines.append(f"修正 fixed: {fixed}")
    if summary.problems:
        lines.append("问题 problems:")
        width = max(len(code) for code in summary.problems)
        for code, count in summary.problems.most_common():
            lines.append(f"  {code:<{width}}  {count:>8,}  {messages.get(code, '')}")
    if longer_rows:
        lines.append(f"注意：{longer_rows:,} 行的单元格多于表头，多出的单元格写在规范化列之后")
    lines.append(f"用时 {seconds:.1f} 秒，{rate:,.0f} 行/秒，{workers} 个进程")
    return "\n".join(lines)


def format_report(summary: CleanSummary, examples: list[tuple[int, str]]) -> str:
    if not examples:
        return "没有发现问题 no problems found"
    lines = [f"前 {len(examples)} 个有问题的行 first rows with problems（行号为文件中的行）:"]
    lines += [f"  第 {number} 行: {text}" for number, text in examples]
    return "\n".join(lines)
