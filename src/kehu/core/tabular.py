"""Read a spreadsheet or CSV as header + rows of text, fast, whatever Chinese Excel saved it as.

`open_table(path)` returns a `Table`: `headers` (the first non-blank row, stripped), `rows()`
(every later non-blank row as a list of str, padded to the header width) and what was detected
(`format`, `encoding`, `delimiter`, `sheet`, `sheet_names`). One reader behind `kehu clean` and
the importer, so a file that one accepts the other accepts too.

CSV: UTF-8 with or without BOM, UTF-16 with BOM, otherwise GB18030 (a superset of GBK, what
Chinese Excel writes) when the first megabyte is not valid UTF-8; delimiter sniffed among
`,` `;` tab `|`; quoted cells may hold newlines.

XLSX / XLSM / XLS / ODS: python-calamine (Rust, ~10x faster than openpyxl), openpyxl in read-only
mode as the fallback for XLSX when calamine is missing. Cells come back as the text a person
sees: integers without ".0" (13812345678.0 -> "13812345678": phones and IDs typed as numbers),
dates as ISO "2024-01-02", date-times as "2024-01-02 03:04:05", booleans as TRUE/FALSE.

Errors are `TableError` (a KehuError) naming the file, the row when there is one, and the reason.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kehu.core.errors import KehuError

SAMPLE_BYTES = 1 << 20
DELIMITERS = (",", ";", "\t", "|")
CSV_SUFFIXES = {".csv", ".tsv", ".txt", ".tab"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
# A real spreadsheet of a million rows unpacks to well under this; a zip bomb does not.
MAX_UNCOMPRESSED_BYTES = 4 << 30
MAX_ZIP_ENTRIES = 10_000
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class TableError(KehuError):
    """The file cannot be read as a table; the message says which file, where, and why."""

    def __init__(self, path: str | Path, reason: str, *, row: int | None = None):
        name = Path(path).name
        where = f" 第 {row} 行" if row is not None else ""
        super().__init__(f"{name}{where}：{reason}", field="file")
        self.path = str(path)
        self.row = row
        self.reason = reason


@dataclass
class Table:
    """An opened table. `rows()` can be iterated more than once (each call re-reads the file)."""

    path: Path
    format: str  # "csv" | "xlsx" | "xls" | "ods" | "xlsb"
    headers: list[str]
    encoding: str | None = None  # CSV only: the codec used
    delimiter: str | None = None  # CSV only
    sheet: str | None = None  # Excel only: the sheet read
    sheet_names: list[str] = field(default_factory=list)
    row_count: int | None = None  # data rows (blank ones included) when known without reading: Excel only
    header_row: int = 1  # 1-based number of the header row in the file
    _reader: Any = field(default=None, repr=False)

    def rows(self) -> Iterator[list[str]]:
        """Data rows as text cells, blank rows skipped, each at least `len(headers)` long."""
        for _number, cells in self._reader():
            yield cells

    def numbered_rows(self) -> Iterator[tuple[int, list[str]]]:
        """(row number in the file or sheet, 1-based, cells): what an error report points at.
        For CSV the number is the line the row ends on (a quoted cell may span lines)."""
        return self._reader()


def open_table(
    path: str | Path, *, sheet: str | int | None = None, encoding: str | None = None, delimiter: str | None = None
) -> Table:
    """Open `path` as a table. `sheet` (Excel) is a name or a 0-based index, default the first
    sheet with data; `encoding` and `delimiter` (CSV) override the detection."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise TableError(path, "文件不存在 (file not found)") from None
    except OSError as exc:
        raise TableError(path, f"无法读取文件 (cannot read): {exc.strerror or exc}") from None
    if not path.is_file():
        raise TableError(path, "不是文件 (not a file)")
    if size == 0:
        raise TableError(path, "文件是空的 (empty file)")
    with path.open("rb") as handle:
        head = handle.read(8)
    suffix = path.suffix.lower()
    if head.startswith(_ZIP_MAGIC):
        kind = "ods" if suffix == ".ods" else "xlsb" if suffix == ".xlsb" else "xlsx"
        _check_zip(path)
    elif head.startswith(_OLE_MAGIC):
        kind = "xls"
    elif suffix in EXCEL_SUFFIXES:
        raise TableError(path, f"不是有效的 {suffix[1:].upper()} 文件 (not a valid {suffix[1:]} file)")
    elif suffix in CSV_SUFFIXES or suffix == "":
        return _open_csv(path, encoding=encoding, delimiter=delimiter)
    else:
        raise TableError(path, f"不支持的文件格式 {suffix or '(无扩展名)'}：请使用 CSV、XLSX 或 XLS (unknown format)")
    if sheet is not None and isinstance(sheet, str) and sheet.strip().isdigit():
        sheet = int(sheet.strip())
    return _open_excel(path, kind=kind, sheet=sheet)


# CSV ------------------------------------------------------------------------------------------


def detect_encoding(sample: bytes, *, complete: bool = False) -> str:
    """The codec for a CSV whose first bytes are `sample`: BOMs first, then strict UTF-8 (a cut
    multi-byte character at the end of the sample is fine unless `complete`), else GB18030."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")("strict").decode(sample, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def _sniff_delimiter(text: str) -> str:
    """The candidate that splits the sample's rows into the same number (>1) of cells most
    consistently; ties go to the wider split, then to the order of DELIMITERS."""
    lines = text.splitlines(keepends=True)
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may end mid-row
    lines = lines[:200]
    best, best_score = ",", (0.0, 0)
    for candidate in DELIMITERS:
        try:
            widths = [len(r) for r in csv.reader(io.StringIO("".join(lines)), delimiter=candidate) if r]
        except csv.Error:
            continue
        if not widths:
            continue
        width = max(set(widths), key=widths.count)
        if width < 2:
            continue
        score = (widths.count(width) / len(widths), width)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _open_csv(path: Path, *, encoding: str | None, delimiter: str | None) -> Table:
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
        complete = not handle.read(1)
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise TableError(path, f"未知的编码 {encoding!r} (unknown encoding)") from None
        if encoding.lower().replace("_", "-") in {"utf-8", "utf8"} and sample.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
    else:
        encoding = detect_encoding(sample, complete=complete)
    try:
        text = codecs.getincrementaldecoder(encoding)("strict").decode(sample, final=complete)
    except UnicodeDecodeError as exc:
        line = sample[: exc.start].count(b"\n") + 1
        hint = "" if encoding != "gb18030" else "既不是 UTF-8 也不是 GBK/GB18030，"
        raise TableError(
            path, f"无法按 {encoding} 解码，{hint}请用 --encoding 指定编码 (undecodable bytes)", row=line
        ) from None
    if not text.strip("\ufeff \t\r\n"):
        raise TableError(path, "文件是空的 (empty file)")
    if delimiter is None:
        delimiter = _sniff_delimiter(text)
    elif delimiter in {"\\t", "tab", "TAB"}:
        delimiter = "\t"
    if len(delimiter) != 1:
        raise TableError(path, f"分隔符必须是一个字符，而不是 {delimiter!r} (delimiter must be one character)")
    codec, sep = encoding, delimiter

    def read() -> Iterator[tuple[int, list[str]]]:
        with path.open("r", encoding=codec, errors="strict", newline="") as handle:
            reader = csv.reader(handle, delimiter=sep)
            try:
                for cells in reader:
                    if not cells or not any(cells):
                        continue
                    yield reader.line_num, cells
            except UnicodeDecodeError:
                raise TableError(
                    path, f"无法按 {codec} 解码，请用 --encoding 指定编码 (undecodable bytes)",
                    row=_first_bad_line(path, codec),
                ) from None
            except csv.Error as exc:
                raise TableError(path, f"CSV 格式错误 (malformed CSV): {exc}", row=reader.line_num) from None

    return _with_headers(Table(path=path, format="csv", headers=[], encoding=codec, delimiter=sep), read)


def _first_bad_line(path: Path, codec: str) -> int | None:
    """The 1-based line holding the first undecodable bytes (the text reader decodes in blocks,
    so its own position is no help); only run on the error path."""
    if codec.startswith("utf-16"):
        return None
    decoder = codecs.getincrementaldecoder(codec)("strict")
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError:
                return number
    return None


# Excel ----------------------------------------------------------------------------------------


def _check_zip(path: Path) -> None:
    """Refuse a zip bomb before any parser unpacks it: count entries, sum declared sizes."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile:
        raise TableError(path, "不是有效的 Excel 文件：压缩包已损坏 (corrupt xlsx/zip)") from None
    if len(infos) > MAX_ZIP_ENTRIES:
        raise TableError(path, f"文件包含 {len(infos)} 个条目，超过上限 {MAX_ZIP_ENTRIES} (too many zip entries)")
    total = sum(info.file_size for info in infos)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise TableError(path, f"解压后 {total >> 20} MB，超过上限 {MAX_UNCOMPRESSED_BYTES >> 20} MB (too large)")


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a person sees in it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        if not (value.hour or value.minute or value.second or value.microsecond):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds" if not value.microsecond else "auto")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def _pick_sheet(path: Path, names: list[str], sheet: str | int | None, is_empty: Any) -> str:
    if not names:
        raise TableError(path, "工作簿中没有工作表 (no sheets)")
    if isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise TableError(path, f"没有第 {sheet} 个工作表（共 {len(names)} 个，从 0 开始）(no such sheet)")
        return names[sheet]
    if sheet is not None:
        if sheet in names:
            return sheet
        folded = {n.strip().casefold(): n for n in names}
        if sheet.strip().casefold() in folded:
            return folded[sheet.strip().casefold()]
        raise TableError(path, f"没有名为 {sheet!r} 的工作表，可选：{'、'.join(names)} (no such sheet)")
    for name in names:
        if not is_empty(name):
            return name
    raise TableError(path, "所有工作表都是空的 (every sheet is empty)")


def _open_excel(path: Path, *, kind: str, sheet: str | int | None) -> Table:
    try:
        import python_calamine
    except ImportError:  # pragma: no cover - calamine is a dependency; openpyxl keeps XLSX working without it
        if kind != "xlsx":
            raise TableError(path, f"读取 {kind.upper()} 需要 python-calamine (pip install python-calamine)") from None
        return _open_openpyxl(path, sheet=sheet)
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error classes (CalamineError, ZipError, XmlError ...)
        raise TableError(path, f"无法读取 Excel 文件 (cannot read workbook): {exc}") from None
    names = [m.name for m in workbook.sheets_metadata if getattr(m.typ, "name", "WorkSheet") == "WorkSheet"] or list(
        workbook.sheet_names
    )
    loaded: dict[str, Any] = {}  # a sheet is parsed whole on access: never parse one twice

    def load(n: str) -> Any:
        if n not in loaded:
            try:
                loaded[n] = workbook.get_sheet_by_name(n)
            except Exception as exc:
                raise TableError(path, f"无法读取工作表 {n!r} (cannot read sheet): {exc}") from None
        return loaded[n]

    name = _pick_sheet(path, names, sheet, lambda n: load(n).height == 0)
    data = load(name)
    first_row = (data.start or (0, 0))[0] + 1
    first_col = (data.start or (0, 0))[1]

    def read() -> Iterator[tuple[int, list[str]]]:
        text = cell_text
        for number, values in enumerate(data.iter_rows(), start=first_row):
            cells = [v if isinstance(v, str) else text(v) for v in values]
            if first_col:
                cells = [""] * first_col + cells
            if any(cells):
                yield number, cells

    table = Table(path=path, format=kind, headers=[], sheet=name, sheet_names=names, row_count=data.height)
    return _with_headers(table, read)


def _open_openpyxl(path: Path, *, sheet: str | int | None) -> Table:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise TableError(path, f"无法读取 Excel 文件 (cannot read workbook): {exc}") from None
    names = list(workbook.sheetnames)

    def is_empty(n: str) -> bool:
        return next(workbook[n].iter_rows(values_only=True), None) is None

    name = _pick_sheet(path, names, sheet, is_empty)
    worksheet = workbook[name]

    def read() -> Iterator[tuple[int, list[str]]]:
        for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
            cells = [cell_text(v) for v in values]
            if any(cells):
                yield number, cells

    rows = worksheet.max_row if worksheet.max_row and worksheet.max_row > 1 else None
    table = Table(path=path, format="xlsx", headers=[], sheet=name, sheet_names=names, row_count=rows)
    return _with_headers(table, read)


# Headers --------------------------------------------------------------------------------------


def _with_headers(table: Table, read: Any) -> Table:
    """Take the first non-blank row as the header; later rows are padded to its width."""
    first = next(read(), None)
    if first is None:
        raise TableError(table.path, "没有任何数据 (no rows)" if table.format == "csv" else
                         f"工作表 {table.sheet!r} 是空的 (empty sheet)")
    header_row, raw_headers = first
    headers = [h.strip().lstrip("\ufeff").strip() for h in raw_headers]
    while headers and not headers[-1]:
        headers.pop()  # trailing empty header cells (Excel's formatted-but-empty columns)
    width = len(headers)
    table.headers = headers
    table.header_row = header_row
    if table.row_count is not None:
        table.row_count = max(0, table.row_count - header_row)

    def data_rows() -> Iterator[tuple[int, list[str]]]:
        rows = read()
        for number, _cells in rows:
            if number == header_row:
                break
        for number, cells in rows:
            missing = width - len(cells)
            if missing > 0:
                cells.extend([""] * missing)
            elif missing < 0 and not any(cells[width:]):
                del cells[width:]  # empty cells right of the header (Excel's formatted-but-empty columns)
            yield number, cells

    table._reader = data_rows
    return table


# Writing: formula-injection safety ------------------------------------------------------------

# A spreadsheet treats a cell starting with one of these as a formula (or DDE call): "=cmd|..."
FORMULA_START = frozenset("=+-@\t\r")
_RISKY_START = FORMULA_START | {"'"}
# Digits with phone/number punctuation only ("+8613812345678", "-12.5", "+86 10 6552 9988; +8613...")
# cannot call anything; they stay as they are so phones and negative numbers remain data.
_HARMLESS = re.compile(r"[+\-]?[0-9][0-9 ().;,+\-]*")


def _needs_escape(cell: str) -> bool:
    body = cell.lstrip("'")
    return body[:1] in FORMULA_START and _HARMLESS.fullmatch(body) is None


def escape_formula(cell: str) -> str:
    """`'` before a cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first),
    except plain numbers and phone numbers. Apostrophes already in front of such a cell are
    escaped too, so `unescape_formula` gives back exactly the original: `'=x` <-> `=x`,
    `''=x` <-> `'=x`, and `'abc` stays `'abc` both ways."""
    if cell[:1] in _RISKY_START and _needs_escape(cell):
        return "'" + cell
    return cell


def unescape_formula(cell: str) -> str:
    """The inverse of `escape_formula` (what an importer applies to every cell it reads back)."""
    if cell[:1] == "'" and _needs_escape(cell[1:]):
        return cell[1:]
    return cell


def escape_row(cells: list[str]) -> list[str]:
    risky = _RISKY_START
    return [("'" + c) if c[:1] in risky and _needs_escape(c) else c for c in cells]
