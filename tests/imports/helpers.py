"""Files and runs shared by the import tests."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kehu.dataquality.normalize.identifiers import credit_code_check_char
from kehu.imports import services
from kehu.imports.models import ImportBatch


def credit_code(n: int) -> str:
    """A valid 统一社会信用代码 numbered n."""
    first = f"91110108{n:09d}"
    return first + credit_code_check_char(first)


def write_csv(path: Path, rows: Sequence[Sequence[Any]], *, encoding: str = "utf-8", delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        for row in rows:
            writer.writerow(row)
    return path


def write_xlsx(path: Path, rows: Sequence[Sequence[Any]]) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def run_import(user: Any, path: Path, *, mapping: Mapping[int, str] | None = None, dry_run: bool = False,
               **options: Any) -> ImportBatch:
    stored = services.store_upload(path, original_name=path.name)
    batch = services.import_batch_create(acting_user=user, kind="customers", path=stored, original_name=path.name,
                                         mapping=mapping, options=options, dry_run=dry_run)
    return services.import_run(batch)


def error_rows(batch: ImportBatch) -> list[list[str]]:
    from openpyxl import load_workbook

    workbook = load_workbook(batch.error_file, read_only=True)
    return [["" if c is None else str(c) for c in row] for row in workbook.worksheets[0].iter_rows(values_only=True)]
