"""`kehu dedupe IN.csv|IN.xlsx --out OUT.csv [--pairs PAIRS.csv]`: find duplicate rows in a file.

No database: the matching engine (`kehu.dataquality.matching`) runs on the rows. OUT keeps every
input column and appends `cluster_id` (rows with the same id are the same entity; a row without
duplicates has an id of its own) and `match_score` (the row's best score to another row of its
cluster, empty when alone). PAIRS lists the scored pairs at or above the review threshold,
strongest first, with the reasons in words. Both are UTF-8 with BOM (Chinese Excel opens them)
and formula-safe.

A row with a person's name (姓名, name, given/family name) is that person, its company the employer;
a row with a company and a contact (客户名称 + 联系人) is the company, the contact weak evidence. A
file with 联系人 but no company column is a list of persons.
"""

from __future__ import annotations

import contextlib
import csv
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kehu.core.tabular import TableError, escape_row, open_table
from kehu.dataquality.matching import CERTAIN, REVIEW, dedupe, explain
from kehu.dataquality.matching.columns import ColumnError, describe, recognise, records_from_rows
from kehu.dataquality.matching.records import ROLES

PAIR_HEADERS = ("row_a", "row_b", "cluster_id", "score", "verdict", "reasons")


@dataclass
class DedupeSummary:
    rows: int
    columns: str
    compared: int
    clusters: int  # clusters of two or more rows
    clustered_rows: int
    pairs_written: int
    seconds: float
    threshold: float

    @property
    def pairs_per_row(self) -> float:
        return self.compared / self.rows if self.rows else 0.0


def dedupe_file(
    source: str | Path,
    *,
    out: str | Path | IO[str],
    columns: str = "",
    threshold: float | None = None,
    pairs: str | Path | None = None,
    language: str = "zh",
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> DedupeSummary:
    """What the command does, callable from code (the FEBRL benchmark runs it). Raises
    `TableError` for an unreadable file and `ColumnError` for bad --columns or no usable column."""
    started = time.perf_counter()
    table = open_table(source, sheet=sheet, encoding=encoding, delimiter=delimiter)
    roles = recognise(table.headers, columns)
    if not roles:
        listed = "、".join(table.headers)
        raise ColumnError(
            f"{table.path.name}：没有识别出可用于查重的列（姓名、公司、手机、邮箱、地址……），请用 --columns 指定，"
            f"例如 --columns name=客户姓名,phone=手机。文件的列：{listed} (no usable column)"
        )
    numbered = list(table.numbered_rows())
    rows = [cells for _number, cells in numbered]
    records = records_from_rows(rows, roles)
    result = dedupe(records, threshold=threshold)
    width = len(table.headers)
    with _output(out) as handle:
        writer = csv.writer(handle)
        writer.writerow(escape_row([*table.headers, "cluster_id", "match_score"]))
        for cells, cluster, score in zip(rows, result.clusters, result.scores, strict=True):
            padded = cells[:width] + [""] * (width - len(cells))
            writer.writerow(escape_row([*padded, str(cluster), "" if score is None else f"{score:.1f}"]))
    if pairs is not None:
        with _output(pairs) as handle:
            writer = csv.writer(handle)
            writer.writerow(PAIR_HEADERS)
            for pair in result.pairs:
                same = result.clusters[pair.left] == result.clusters[pair.right]
                writer.writerow(escape_row([
                    str(numbered[pair.left][0]), str(numbered[pair.right][0]),
                    str(result.clusters[pair.left]) if same else "", f"{pair.score:.1f}", pair.verdict,
                    explain(pair.reasons, language),
                ]))  # fmt: skip
    groups = result.members()
    return DedupeSummary(
        rows=len(records),
        columns=describe(table.headers, roles),
        compared=result.compared,
        clusters=len(groups),
        clustered_rows=sum(len(m) for m in groups.values()),
        pairs_written=len(result.pairs) if pairs is not None else 0,
        seconds=time.perf_counter() - started,
        threshold=result.threshold,
    )


@contextlib.contextmanager
def _output(target: str | Path | IO[str]) -> Iterator[IO[str]]:
    if not isinstance(target, str | Path):
        yield target
        return
    if str(target) == "-":
        yield sys.stdout
        return
    with open(target, "w", encoding="utf-8-sig", newline="") as handle:
        yield handle


class Command(BaseCommand):
    help = "在 CSV/Excel 文件中查找重复记录：输出每行的 cluster_id 与 match_score，并可列出带理由的配对（无需数据库）"
    # A file in, a file out: no database, no migrations, no system checks.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("input", help="CSV (UTF-8, UTF-8 BOM, GBK/GB18030, UTF-16), XLSX or XLS")
        parser.add_argument("--out", required=True, help="output CSV: every input column + cluster_id, match_score")
        parser.add_argument(
            "--columns", action="append", default=[],
            help=f"column roles, e.g. 客户姓名=name,手机1=phone,手机2=phone (role=column works too; roles: "
                 f"{', '.join(ROLES)}; 'role=' switches one off)",
        )  # fmt: skip
        parser.add_argument(
            "--threshold", type=float, default=None,
            help=f"score at which two rows are the same entity (default {CERTAIN:g}; review pairs from {REVIEW:g})",
        )  # fmt: skip
        parser.add_argument("--pairs", default=None, help="also write the scored pairs with their reasons here")
        parser.add_argument("--language", default="zh", choices=("zh", "en"), help="language of the reasons")
        parser.add_argument("--sheet", help="Excel: sheet name or 0-based index (default: first non-empty)")
        parser.add_argument("--encoding", default=None, help="CSV: encoding (default: detected)")
        parser.add_argument("--delimiter", default=None, help="CSV: delimiter (default: sniffed)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = dedupe_file(
                options["input"], out=options["out"], columns=",".join(options["columns"]),
                threshold=options["threshold"], pairs=options["pairs"], language=options["language"],
                sheet=options["sheet"], encoding=options["encoding"], delimiter=options["delimiter"],
            )  # fmt: skip
        except TableError as exc:
            raise CommandError(exc.message) from None
        except ColumnError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"无法写入：{exc.strerror or exc} ({exc.filename or ''})") from None
        info = self.stderr if options["out"] == "-" or options["pairs"] == "-" else self.stdout
        info.write(f"识别的列 columns: {summary.columns}")
        info.write(
            f"{summary.rows} 行，比较 {summary.compared} 对（每行 {summary.pairs_per_row:.1f} 对），"
            f"{summary.clusters} 组重复共 {summary.clustered_rows} 行（阈值 {summary.threshold:g}），"
            f"用时 {summary.seconds:.1f} 秒 → {options['out']}"
            + (f"；{summary.pairs_written} 对写入 {options['pairs']}" if options["pairs"] else "")
        )
