"""A registry of exportable lists (opportunities, products, leads, contracts, payments, ...) and the
generic writers behind their downloads, API endpoints and `kehu export`.

An app describes a list once as an `ExportKind` (registered from its `registration.register()`):

- `columns`: (key, Chinese header, English header) in order. The headers of the columns an import
  kind can read are that kind's own target labels, so `kehu.imports.mapping.suggest_mapping`
  recognises our export and the file re-imports as it is;
- `queryset(user, params)`: the rows, scoped with `restrict()` and filtered by the list's own filter
  definition from the request's query parameters (the same parameters as the web list and the API);
- `values`: the columns read per row (`QuerySet.values`, "id" included), in chunks of `CHUNK_SIZE`
  by keyset on id (`kehu.customers.export.iter_chunks`: no OFFSET, no open cursor), so memory is one
  chunk whatever the size;
- `row(record, ctx)`: one record as {column key: value}; `lookups(english)` loads once per export
  what many rows share (user names, stage labels) into `ctx.lookups`.

Formula safety as in the customer export: in CSV every text cell goes through
`kehu.core.tabular.escape_formula` (the importer's `unescape_formula` reverses it exactly); in XLSX
cells are inline strings (`kehu.customers.export.XlsxStream`), so "=..." is never a formula there.
Decimals are numbers in XLSX when a float holds them exactly, dates are ISO text.

Rows are whatever `restrict()` lets the user see. `OPERATOR` stands for the operator on the command
line without `--user`: every row, as with a database dump. Every export through `export_response`
or `export_to_file` writes an "export" audit event (kind, format, filters, row count)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import get_language

from kehu.core.tabular import escape_formula

logger = logging.getLogger("kehu.export")

CHUNK_SIZE = 2000
FORMATS = ("csv", "xlsx")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Query parameters that choose the file, not the rows (never recorded as filters).
NON_FILTER_PARAMS = frozenset({"format", "columns", "lang", "page", "limit", "offset", "cursor", "sort"})


class _Operator:
    """The command line's operator without `--user`: scope "all", no user row behind it."""

    pk = None
    id = None
    is_authenticated = True
    is_active = True
    is_kehu_admin = True
    data_scope = "all"
    department_id = None
    display_name = ""
    username = ""

    def __str__(self) -> str:
        return "kehu export"


OPERATOR = _Operator()


@dataclass
class ExportContext:
    """What a row function may need beyond the record: the header language, the exporting user
    and whatever the kind's `lookups` loaded once for this export."""

    user: Any
    english: bool
    lookups: Any = None


RowFunction = Callable[[dict[str, Any], ExportContext], Mapping[str, Any]]


@dataclass
class ExportKind:
    key: str
    label_zh: str
    label_en: str
    columns: Sequence[tuple[str, str, str]]
    queryset: Callable[[Any, Mapping[str, Any]], QuerySet]
    values: Sequence[str]
    row: RowFunction
    lookups: Callable[[bool], Any] | None = None
    object_type: str = ""  # the audit event's object type (the model's name)
    chunk_size: int = CHUNK_SIZE

    def label(self, english: bool | None = None) -> str:
        english = is_english() if english is None else english
        return self.label_en if english else self.label_zh

    def column_keys(self) -> list[str]:
        return [key for key, _zh, _en in self.columns]

    def headers(self, keys: Sequence[str], english: bool) -> list[str]:
        texts = {key: (en if english else zh) for key, zh, en in self.columns}
        return [texts[key] for key in keys]

    def select(self, columns: Sequence[str] | None) -> list[str]:
        """The keys of `columns` (unknown ones ignored) in the kind's order, or every column."""
        every = self.column_keys()
        if not columns:
            return every
        wanted = set(columns)
        return [key for key in every if key in wanted] or every

    def iter_records(self, queryset: QuerySet, chunk_size: int | None = None) -> Iterator[dict[str, Any]]:
        from kehu.customers.export import iter_chunks

        values = list(dict.fromkeys(["id", *self.values]))
        for chunk in iter_chunks(queryset, values, chunk_size or self.chunk_size):
            yield from chunk


_KINDS: dict[str, ExportKind] = {}

# The named operation a download of each kind needs (accounts/permissions.py).
EXPORT_OPERATIONS: dict[str, str] = {
    "customers": "customer.export", "contacts": "contact.export", "opportunities": "opportunity.export",
    "products": "product.export", "leads": "lead.export", "contracts": "contract.export",
    "payments": "payment.export", "payment_plans": "payment.export",
}


def register(kind: ExportKind) -> ExportKind:
    """Add (or replace: a re-run `ready()` in tests) an export kind."""
    _KINDS[kind.key] = kind
    return kind


def export_kind(key: str) -> ExportKind:
    try:
        return _KINDS[key]
    except KeyError:
        raise ValueError(f"unknown export kind {key!r}; kinds: {', '.join(sorted(_KINDS))}") from None


def export_kinds() -> dict[str, ExportKind]:
    return dict(_KINDS)


def is_english(language: str | None = None) -> bool:
    return (language or get_language() or "").startswith("en")


# Rows ------------------------------------------------------------------------------------------


def principal(user: Any) -> Any:
    """The user whose scope applies: `OPERATOR` (everything) for None."""
    return OPERATOR if user is None else user


def scoped_rows(kind: ExportKind, *, user: Any, params: Mapping[str, Any] | None = None) -> QuerySet:
    return kind.queryset(principal(user), params or {})


def export_rows(
    kind: ExportKind, *, user: Any, params: Mapping[str, Any] | None = None, columns: Sequence[str] | None = None,
    language: str | None = None, chunk_size: int | None = None,
) -> Iterator[list[Any]]:
    """The header row, then one row of values per record in id order. A generator: nothing is read
    before the first row is asked for, then one chunk at a time."""
    from kehu.core import masking

    english = is_english(language)
    user = principal(user)
    # Field-level security: hidden columns left out, masked ones masked (kehu.core.masking).
    rules = masking.policy(user, kind.object_type) if kind.object_type else {}
    keys = [key for key in kind.select(columns) if rules.get(key) != "hidden"]
    yield kind.headers(keys, english)
    ctx = ExportContext(user=user, english=english, lookups=kind.lookups(english) if kind.lookups else None)
    row = kind.row
    for record in kind.iter_records(kind.queryset(user, params or {}), chunk_size):
        values = row(record, ctx)
        if rules:
            masking.apply_policy(rules, kind.object_type, values)
        yield [values.get(key, "") for key in keys]


def when(value: dt.datetime | None) -> str:
    """A date-time as local "YYYY-MM-DD HH:MM:SS" (what the importer reads back)."""
    if value is None:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def yes_no(value: bool, english: bool) -> str:
    if english:
        return "Yes" if value else "No"
    return "是" if value else "否"


def user_names() -> dict[int, str]:
    """User id -> display name (or username): the owner columns, loaded once per export."""
    from kehu.accounts.models import User

    return {pk: display or username for pk, display, username in User.objects.values_list(
        "id", "display_name", "username")}


def department_names() -> dict[int, str]:
    from kehu.accounts.models import Department

    return dict(Department.objects.values_list("id", "name"))


# Writers ---------------------------------------------------------------------------------------


def _text(value: Any) -> Any:
    """A value as a CSV cell (before formula escaping): dates as ISO text, decimals exact."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return when(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def csv_cell(value: Any) -> Any:
    value = _text(value)
    return escape_formula(value) if isinstance(value, str) else value


def xlsx_cell(value: Any) -> Any:
    """A value for `XlsxStream` (which types text as inline strings): a decimal as a number when a
    float holds it exactly (amounts), otherwise as text."""
    if isinstance(value, Decimal):
        number = float(value)
        return number if Decimal(repr(number)) == value else str(value)
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return _text(value)


def write_csv(rows: Iterator[list[Any]], *, piece_bytes: int = 64 * 1024) -> Iterator[bytes]:
    """CSV as UTF-8 bytes with a BOM (Chinese Excel opens it without mojibake), about 64 KB a
    piece: for a StreamingHttpResponse or a file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield b"\xef\xbb\xbf"
    for row in rows:
        writer.writerow([csv_cell(c) for c in row])
        if buffer.tell() > piece_bytes:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def write_xlsx(rows: Iterator[list[Any]], path: str | io.BytesIO, *, sheet: str) -> int:
    """Write the rows (header first) as one sheet; returns the number of data rows."""
    from kehu.customers.export import XlsxStream

    count = -1
    with XlsxStream(path) as book:
        book.sheet(sheet[:31])
        for row in rows:
            book.append([xlsx_cell(c) for c in row])
            count += 1
    return max(count, 0)


def export_filename(kind: str, extension: str) -> str:
    return f"kehu-{kind}-{timezone.localtime().strftime('%Y%m%d-%H%M%S')}.{extension}"


# Audit -----------------------------------------------------------------------------------------


def filters_of(params: Mapping[str, Any]) -> dict[str, str]:
    """The filter part of the query parameters, as recorded in the audit event."""
    return {str(k): str(params.get(k)) for k in params if k not in NON_FILTER_PARAMS and str(params.get(k) or "")}


def record_export(*, user: Any, kind: ExportKind, fmt: str, params: Mapping[str, Any], rows: int) -> Any:
    """Who exported which list, in which format, with which filters and how many rows: an "export"
    audit event (object id 0: a list, not one record; on no customer's timeline)."""
    from kehu.core.models import AuditEvent
    from kehu.core.request_context import current_ip

    actor = user if getattr(user, "pk", None) else None
    event = AuditEvent.objects.create(
        actor=actor,
        actor_name=(getattr(user, "display_name", "") or getattr(user, "username", "") or str(principal(user)))[:150],
        ip=current_ip.get(),
        action=AuditEvent.Action.EXPORT,
        object_type=kind.object_type or kind.key,
        object_id=0,
        object_repr=f"{kind.label_zh}（{kind.key}）"[:300],
        customer_id=None,
        changes=[
            {"field": "kind", "old": None, "new": kind.key},
            {"field": "format", "old": None, "new": fmt},
            {"field": "filters", "old": None, "new": filters_of(params)},
            {"field": "rows", "old": None, "new": rows},
        ],
    )
    logger.info("export: user=%s kind=%s format=%s rows=%s", getattr(user, "pk", None), kind.key, fmt, rows)
    return event


# Files and responses ---------------------------------------------------------------------------


def export_to_file(
    key: str, *, user: Any, path: str, fmt: str | None = None, params: Mapping[str, Any] | None = None,
    columns: Sequence[str] | None = None, language: str | None = None, audit: bool = True,
) -> int:
    """Write the export of kind `key` to `path` (format from `fmt` or the extension); returns the
    number of data rows. For `kehu export` and jobs."""
    kind = export_kind(key)
    params = params or {}
    fmt = (fmt or path.rsplit(".", 1)[-1]).lower()
    if fmt not in FORMATS:
        raise ValueError("format must be csv or xlsx")
    rows = export_rows(kind, user=user, params=params, columns=columns, language=language)
    if fmt == "xlsx":
        count = write_xlsx(rows, path, sheet=kind.label(is_english(language)))
    else:
        counter = [0]
        with open(path, "wb") as handle:
            for piece in write_csv(_counting(rows, counter)):
                handle.write(piece)
        count = counter[0]
    if audit:
        record_export(user=user, kind=kind, fmt=fmt, params=params, rows=count)
    return count


def _counting(rows: Iterator[list[Any]], counter: list[int]) -> Iterator[list[Any]]:
    """The rows as they are, counting the data rows (after the header) into `counter[0]`."""
    yield next(rows)
    for row in rows:
        counter[0] += 1
        yield row


def temporary_xlsx(kind: ExportKind, **kwargs: Any) -> tuple[Any, int]:
    """The XLSX in a temporary file: the open file (already unlinked, gone when closed) and the row
    count. A zip cannot be streamed row by row; the file holds it, not the memory."""
    handle, path = tempfile.mkstemp(suffix=".xlsx", prefix="kehu-export-")
    os.close(handle)
    try:
        count = write_xlsx(export_rows(kind, **kwargs), path, sheet=kind.label())
        opened = open(path, "rb")  # noqa: SIM115 - handed to FileResponse, which closes it
    finally:
        os.unlink(path)
    return opened, count


def export_response(
    key: str, *, user: Any, params: Mapping[str, Any], fmt: str = "csv", columns: Sequence[str] | None = None,
) -> Any:
    """The export of kind `key` as a download, for the web views and the API: CSV streamed as it is
    produced, XLSX from a temporary file. `params` are the list's query parameters; the rows are
    the user's scope. Writes the audit event before the first byte goes out."""
    from django.http import FileResponse, StreamingHttpResponse

    from kehu.accounts.permissions import require_operation

    kind = export_kind(key)
    if key in EXPORT_OPERATIONS:
        require_operation(user, EXPORT_OPERATIONS[key])
    fmt = "xlsx" if fmt == "xlsx" else "csv"
    if fmt == "xlsx":
        handle, count = temporary_xlsx(kind, user=user, params=params, columns=columns)
        record_export(user=user, kind=kind, fmt=fmt, params=params, rows=count)
        return FileResponse(handle, as_attachment=True, filename=export_filename(key, "xlsx"),
                            content_type=XLSX_CONTENT_TYPE)
    count = scoped_rows(kind, user=user, params=params).count()
    record_export(user=user, kind=kind, fmt=fmt, params=params, rows=count)
    response = StreamingHttpResponse(write_csv(export_rows(kind, user=user, params=params, columns=columns)),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export_filename(key, "csv")}"'
    return response


def requested_columns(params: Mapping[str, Any]) -> list[str] | None:
    """`columns=a,b,c` of a request, or None for every column."""
    text = str(params.get("columns") or "")
    columns = [c.strip() for c in text.split(",") if c.strip()]
    return columns or None


__all__ = [
    "CHUNK_SIZE", "FORMATS", "OPERATOR", "ExportContext", "ExportKind", "department_names", "export_kind",
    "export_kinds", "export_response", "export_rows", "export_to_file", "record_export", "register",
    "requested_columns", "scoped_rows", "user_names", "when", "write_csv", "write_xlsx", "yes_no",
]
