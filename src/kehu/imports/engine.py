"""The import engine: a registry of importable kinds and the chunked pipeline that runs them.

A source row goes through: cells (formula escaping undone) → mapped raw values → the same
normalisers and validation rules as the customer services (`clean_customer_fields`, picklist
synonyms, custom-field cleaning, `rules.check_rules`) → a decision (create, update, skip, flag,
reject) from the mode and the match keys → bulk writes. Everything a per-row service would query
(picklists, synonyms, city aliases, rules, users, custom fields) is read once per import, and the
lookups that depend on the rows (matches, uniqueness) are one query per key kind per chunk.

A chunk (about 1000 rows) is one transaction: its records, audit events, search tokens, quality
refresh, row logs, the batch counters and the resume point (`ImportBatch.last_row`) commit
together, so a killed run resumes after the last committed row without duplicating anything.
A chunk ends early when a row would touch a record an earlier row of the same chunk created or
updated, so every decision is made against committed data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import crypto
from kehu.core.bulk import fast_insert
from kehu.core.errors import ErrorCode, FieldError
from kehu.core.models import AuditEvent
from kehu.core.tabular import unescape_formula

CHUNK_ROWS = 1000
MAX_PROBLEMS = 50
MODES = ("insert", "update", "upsert")
MATCH_KEYS = ("external_id", "mobile", "email", "credit_code")
DUPLICATE_POLICIES = ("skip", "update", "flag")
OWNER_POLICIES = ("column", "round_robin", "pool", "importer")
# Test hook for the resume test: the process exits hard (no cleanup) after this many committed chunks.
CRASH_AFTER_ENV = "KEHU_IMPORT_CRASH_AFTER_CHUNKS"
CHUNK_ROWS_ENV = "KEHU_IMPORT_CHUNK_ROWS"
SQLITE_CACHE_KB = -65536  # negative: KiB


class ImportOptionsError(ValueError):
    pass


@dataclass
class ImportOptions:
    mode: str = "insert"
    match_by: list[str] = field(default_factory=lambda: ["external_id", "credit_code"])
    duplicates: str = "skip"  # what insert mode does with a row that matches an existing record
    owner_policy: str = "column"
    owner_users: list[int] = field(default_factory=list)  # round-robin list

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ImportOptions:
        data = dict(data or {})
        options = cls(
            mode=str(data.get("mode") or "insert"),
            match_by=[str(k) for k in (data.get("match_by") or ["external_id", "credit_code"])],
            duplicates=str(data.get("duplicates") or "skip"),
            owner_policy=str(data.get("owner_policy") or "column"),
            owner_users=[int(u) for u in data.get("owner_users") or []],
        )
        options.validate()
        return options

    def validate(self) -> None:
        if self.mode not in MODES:
            raise ImportOptionsError(_("未知的导入模式：%(value)s") % {"value": self.mode})
        unknown = [k for k in self.match_by if k not in MATCH_KEYS]
        if unknown:
            raise ImportOptionsError(_("未知的匹配字段：%(value)s") % {"value": ", ".join(unknown)})
        if self.duplicates not in DUPLICATE_POLICIES:
            raise ImportOptionsError(_("未知的重复处理方式：%(value)s") % {"value": self.duplicates})
        if self.owner_policy not in OWNER_POLICIES:
            raise ImportOptionsError(_("未知的负责人分配方式：%(value)s") % {"value": self.owner_policy})
        if self.owner_policy == "round_robin" and not self.owner_users:
            raise ImportOptionsError(_("轮流分配需要至少一个用户"))
        if self.mode != "insert" and not self.match_by:
            raise ImportOptionsError(_("更新模式需要至少一个匹配字段"))

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "match_by": list(self.match_by), "duplicates": self.duplicates,
                "owner_policy": self.owner_policy, "owner_users": list(self.owner_users)}


@dataclass
class RowResult:
    """The decision about one source row."""

    row: int
    action: str  # created | updated | skipped | flagged | rejected
    cells: list[str] | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)  # (field, reason)
    obj: Any = None
    before: dict[str, Any] | None = None
    changes: list[dict] | None = None
    tags: list[str] | None = None


@dataclass
class ChunkResult:
    results: list[RowResult]
    consumed: int  # rows of the chunk handled; the rest start the next chunk


class ImportKind:
    """One importable object type. `run_chunk` decides every row and, unless `dry_run`, writes them."""

    key: str = ""
    label: str = ""
    object_type: str = ""

    def targets(self) -> list[str]:
        raise NotImplementedError

    def context(self, *, acting_user: Any, options: ImportOptions, dry_run: bool) -> Any:
        raise NotImplementedError

    def extractor(self, mapping: Mapping[int, str]) -> Callable[[Sequence[str]], dict[str, Any]]:
        """Row cells -> {target: value}; the kinds use imports.mapping.row_extractor."""
        return lambda cells: mapped_values(cells, mapping)

    def run_chunk(self, ctx: Any, rows: Sequence[tuple[int, list[str], dict[str, Any]]]) -> ChunkResult:
        raise NotImplementedError

    def end_chunk(self, ctx: Any) -> None:
        """Called after a chunk committed (real run): forget what the database now knows."""

    def undo(self, *, acting_user: Any, logs: Sequence[Any]) -> None:
        raise NotImplementedError


_REGISTRY: dict[str, ImportKind] = {}


def register(kind: ImportKind) -> ImportKind:
    _REGISTRY[kind.key] = kind
    return kind


def import_kind(key: str) -> ImportKind:
    _ensure_loaded()
    if key not in _REGISTRY:
        raise ImportOptionsError(_("未知的导入对象：%(value)s") % {"value": key})
    return _REGISTRY[key]


def import_kinds() -> dict[str, ImportKind]:
    _ensure_loaded()
    return dict(_REGISTRY)


def _ensure_loaded() -> None:
    # The built-in kinds live in kinds.py; later apps register theirs from AppConfig.ready().
    from kehu.imports import kinds  # noqa: F401


# Mapping ------------------------------------------------------------------------------------------


def mapped_values(cells: Sequence[str], mapping: Mapping[int, str]) -> dict[str, Any]:
    """{target: value} of one row (cells already unescaped); several columns mapped to the same
    list-like target (phones, emails, tags) are joined, others keep the first non-blank cell."""
    data: dict[str, Any] = {}
    for index, target in mapping.items():
        if index >= len(cells) or not target:
            continue
        value = cells[index].strip()
        if not value:
            continue
        if target in data:
            if target in ("phones", "emails", "tags"):
                data[target] = f"{data[target]}\n{value}"
            continue
        data[target] = value
    return data


def normalise_mapping(mapping: Mapping[Any, Any]) -> dict[int, str]:
    out: dict[int, str] = {}
    for index, target in mapping.items():
        if target in (None, ""):
            continue
        out[int(index)] = str(target)
    return out


# The pipeline -------------------------------------------------------------------------------------


@dataclass
class Progress:
    done: int
    total: int
    counts: dict[str, int]


def chunks(numbered: Iterator[tuple[int, list[str]]], extract: Callable[[Sequence[str]], dict[str, Any]], *,
           after_row: int) -> Iterator[tuple[int, list[str], dict[str, Any]]]:
    for number, cells in numbered:
        if number <= after_row:
            continue
        # Undo the formula escaping an export (ours, or the error file) put in front of risky cells.
        cells = [unescape_formula(cell) for cell in cells]
        yield number, cells, extract(cells)


def run_rows(
    *,
    kind: ImportKind,
    ctx: Any,
    rows: Iterator[tuple[int, list[str], dict[str, Any]]],
    dry_run: bool,
    commit: Callable[[list[RowResult], int], None],
    after_commit: Callable[[], None] | None = None,
    chunk_rows: int | None = None,
) -> None:
    """Feed `rows` to the kind chunk by chunk; `commit(results, last_row)` runs inside the chunk's
    transaction (real run) so the caller's bookkeeping commits with the chunk's records;
    `after_commit()` runs after it (progress, cancel checks: a cancel never rolls back a chunk)."""
    with _page_cache():
        _run_rows(kind=kind, ctx=ctx, rows=rows, dry_run=dry_run, commit=commit, after_commit=after_commit,
                  chunk_rows=chunk_rows)


@contextlib.contextmanager
def _page_cache() -> Iterator[None]:
    """SQLite, for the run: a 64 MB page cache (the default 2 MB thrashes once the search-token and
    customer indexes outgrow it: each chunk inserts ~35 postings a row in random index order), and
    `synchronous = NORMAL` instead of FULL: in WAL mode a commit then skips its fsync (about 30 ms
    of every chunk here, half a minute per million rows). A power cut can lose the last committed
    chunks but never corrupts the file, and a lost chunk takes its resume point with it
    (`ImportBatch.last_row` commits in the same transaction), so resuming imports it again."""
    if connection.vendor != "sqlite":
        yield
        return
    # SQLite refuses to change the safety level inside a transaction (a caller's atomic block, a test).
    relax = not connection.in_atomic_block
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        cache_before = cursor.fetchone()[0]
        cursor.execute("PRAGMA synchronous")
        synchronous_before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = {SQLITE_CACHE_KB}")
        if relax:
            cursor.execute("PRAGMA synchronous = NORMAL")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(cache_before)}")
            if relax:
                cursor.execute(f"PRAGMA synchronous = {int(synchronous_before)}")


def _run_rows(
    *,
    kind: ImportKind,
    ctx: Any,
    rows: Iterator[tuple[int, list[str], dict[str, Any]]],
    dry_run: bool,
    commit: Callable[[list[RowResult], int], None],
    after_commit: Callable[[], None] | None,
    chunk_rows: int | None,
) -> None:
    crash_after = int(os.environ.get(CRASH_AFTER_ENV) or 0)
    chunk_rows = chunk_rows or int(os.environ.get(CHUNK_ROWS_ENV) or CHUNK_ROWS)
    committed = 0
    buffer: list[tuple[int, list[str], dict[str, Any]]] = []
    exhausted = False
    while True:
        while not exhausted and len(buffer) < chunk_rows:
            item = next(rows, None)
            if item is None:
                exhausted = True
            else:
                buffer.append(item)
        if not buffer:
            break
        if dry_run:
            chunk = kind.run_chunk(ctx, buffer)
            commit(chunk.results, buffer[chunk.consumed - 1][0])
        else:
            with transaction.atomic():
                chunk = kind.run_chunk(ctx, buffer)
                commit(chunk.results, buffer[chunk.consumed - 1][0])
            kind.end_chunk(ctx)
            committed += 1
            if crash_after and committed >= crash_after:
                os._exit(17)  # simulate a killed worker: nothing after the commit runs
        buffer = buffer[chunk.consumed:]
        if after_commit is not None:
            after_commit()


# Bulk write helpers shared by the kinds (fast_insert lives in core.bulk) ----------------------------


def audit_events(*, actor: Any, items: Sequence[tuple[str, Any, int | None, list[dict]]]) -> None:
    """One insert for a chunk's events: (action, obj, customer_id, changes)."""
    actor_id = getattr(actor, "pk", None)
    name = (getattr(actor, "display_name", "") or getattr(actor, "username", "") or "") if actor_id else ""
    now = timezone.now()
    fast_insert(AuditEvent, [
        {"at": now, "actor_id": actor_id, "actor_name": name, "ip": None, "action": action,
         "object_type": obj._meta.model_name or "", "object_id": obj.pk, "object_repr": str(obj)[:300],
         "customer_id": customer_id, "changes": crypto.seal_changes(obj._meta.model_name or "", changes)}
        for action, obj, customer_id, changes in items
    ])


def insert_search_tokens(customers: Sequence[Any], contacts: Sequence[Any] = ()) -> None:
    """Search postings of new or changed records in one executemany (COPY on PostgreSQL), from the
    same token builders the services use (the pattern of customers/demo.py `_index`)."""
    from kehu.customers import search
    from kehu.customers.models import SearchToken

    fields = [f for f in SearchToken._meta.concrete_fields if not f.primary_key]
    columns = [f.column for f in fields]
    token_at = columns.index("token")
    owners = {c.pk: c.owner_id for c in customers}
    rows: list[tuple[Any, ...]] = []

    def add(tokens: set[str], values: dict[str, Any]) -> None:
        row = [values.get(c) for c in columns]
        for token in sorted(tokens):
            row[token_at] = token
            rows.append(tuple(row))

    for customer in customers:
        add(search.customer_tokens(customer), {"customer_id": customer.pk, "contact_id": None,
                                               "owner_id": customer.owner_id,
                                               "rank": search.rank_of(customer.updated_at)})
    for contact in contacts:
        add(search.contact_tokens(contact), {
            "customer_id": contact.customer_id, "contact_id": contact.pk,
            "owner_id": owners.get(contact.customer_id, getattr(contact, "owner_id_for_index", None)),
            "rank": search.rank_of(contact.updated_at)})
    # In token order: the (token, rank) index takes the chunk's postings in one ordered pass over its
    # pages instead of a page per posting (6% of a 30k-row import, more as the index grows).
    rows.sort(key=lambda row: row[token_at])
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(SearchToken._meta.db_table)
    names = ", ".join(quote(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"
            for start in range(0, len(rows), 5000):
                cursor.executemany(sql, rows[start:start + 5000])


def json_value(value: Any) -> Any:
    """A field value as stored in a row log's `before` (restorable by undo)."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def field_errors_as_problems(errors: Sequence[FieldError]) -> list[tuple[str, str]]:
    return [(e.field, str(e.message)) for e in errors]


def problem(field_name: str, message: str, code: ErrorCode = ErrorCode.INVALID) -> FieldError:
    return FieldError(field=field_name, code=code, message=message)
