"""The audit log's tamper evidence and append-only guard.

Writes stay as fast as before: services (`audit.record_event`) and bulk paths (`bulk.fast_insert`)
insert rows with `seq`, `prev_hash` and `entry_hash` NULL. The sealer (`seal()`, a Huey task every
minute and the first step of `verify()`) takes the unsealed rows in id order, chunk by chunk, and
gives each the next `seq` and

    entry_hash = sha256(prev_hash + canonical JSON of the row's content)

with `prev_hash` the `entry_hash` of the row before it (GENESIS for seq 1). `verify()` walks the chain
by seq and reports the first row that changed, went missing, or whose link to the previous row is
broken. Removing the newest rows leaves a shorter but valid chain: compare the head that
`kehu audit seal`/`verify` print with a copy kept elsewhere (`--expect-head`).

Append-only in the database: triggers refuse UPDATE (except the sealer filling the three chain
columns of an unsealed row) and DELETE (and TRUNCATE on PostgreSQL). `maintenance()` lifts the guard
inside one transaction for the few deliberate bulk erasures: `kehu flush` (the test runner's
transaction-test cleanup), benchmark restores, legal erasure. It is a guard against code paths,
not against someone with the database owner's rights: the hash chain is the evidence for that.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from kehu.core.models import AuditEvent

GENESIS = "0" * 64
CHUNK = 5000
# pg_advisory_xact_lock key: one sealer at a time (SQLite: BEGIN IMMEDIATE already serialises writers).
SEAL_LOCK_KEY = 0x6B656875A0D1
MAINTENANCE_TABLE = "kehu_audit_maintenance"
PG_SETTING = "kehu.audit_maintenance"
_MAINTENANCE_TABLE_SQL = f"CREATE TABLE IF NOT EXISTS {MAINTENANCE_TABLE} (id integer PRIMARY KEY CHECK (id = 1))"

# The row's content, in the order of the canonical JSON (keys are sorted anyway).
CONTENT = ("seq", "at", "actor_id", "actor_name", "ip", "action", "object_type", "object_id", "object_repr",
           "customer_id", "changes")
_COLUMNS = ("id", *CONTENT, "prev_hash", "entry_hash")


# Hashing ---------------------------------------------------------------------------------------


def _utc(value: dt.datetime) -> str:
    if value.tzinfo is None:  # USE_TZ=False databases: stored as UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(row: dict[str, Any]) -> str:
    """The row's content as canonical JSON: sorted keys, no spaces, UTF-8, `at` in UTC ISO form."""
    content = {name: row[name] for name in CONTENT}
    content["at"] = _utc(row["at"])
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def entry_hash(prev_hash: str, row: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(row)).encode()).hexdigest()


# Sealing ---------------------------------------------------------------------------------------


def _head(using: str) -> tuple[int, str]:
    last = (AuditEvent.objects.using(using).filter(seq__isnull=False).order_by("-seq")
            .values_list("seq", "entry_hash").first())
    return (int(last[0]), str(last[1])) if last else (0, GENESIS)


def _lock(using: str) -> None:
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])


def seal(*, batch: int = CHUNK, using: str = DEFAULT_DB_ALIAS) -> int:
    """Chain every unsealed row (id order), `batch` rows a transaction; returns how many were sealed."""
    connection = connections[using]
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    sql = f"UPDATE {table} SET seq = %s, prev_hash = %s, entry_hash = %s WHERE id = %s AND entry_hash IS NULL"
    fields = [name for name in _COLUMNS if name not in ("seq", "prev_hash", "entry_hash")]
    sealed = 0
    while True:
        with transaction.atomic(using=using):
            _lock(using)
            seq, prev = _head(using)
            rows = list(AuditEvent.objects.using(using).filter(entry_hash__isnull=True).order_by("id")
                        .select_for_update().values(*fields)[:batch])
            params = []
            for row in rows:
                seq += 1
                row["seq"] = seq
                digest = entry_hash(prev, row)
                params.append((seq, prev, digest, row["id"]))
                prev = digest
            if params:
                with connection.cursor() as cursor:
                    cursor.executemany(sql, params)
        sealed += len(rows)
        if len(rows) < batch:
            return sealed


# Verifying -------------------------------------------------------------------------------------

ROW_CHANGED = "row_changed"
ROW_MISSING = "row_missing"
CHAIN_BROKEN = "chain_broken"
OUTSIDE_CHAIN = "outside_chain"


@dataclass
class Verification:
    ok: bool
    checked: int  # sealed rows whose hash was recomputed
    unsealed: int
    head_seq: int
    head_hash: str
    guard_installed: bool
    broken_seq: int | None = None
    reason: str | None = None  # ROW_CHANGED, ROW_MISSING, CHAIN_BROKEN, OUTSIDE_CHAIN
    detail: str = ""
    sealed_now: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def mark_broken(result: Verification, seq: int | None, reason: str, detail: str) -> Verification:
    result.ok, result.broken_seq, result.reason, result.detail = False, seq, reason, detail
    return result


def verify(*, seal_first: bool = True, chunk: int = CHUNK, using: str = DEFAULT_DB_ALIAS) -> Verification:
    """Recompute the chain from seq 1; stop at the first broken seq."""
    sealed_now = seal(using=using) if seal_first else 0
    events = AuditEvent.objects.using(using)
    result = Verification(ok=True, checked=0, unsealed=events.filter(entry_hash__isnull=True).count(),
                          head_seq=0, head_hash=GENESIS, guard_installed=guard_installed(using=using),
                          sealed_now=sealed_now)
    expected, prev = 1, GENESIS
    fields = list(_COLUMNS)
    while True:
        rows = list(events.filter(seq__isnull=False, seq__gte=expected).order_by("seq").values(*fields)[:chunk])
        for row in rows:
            if row["seq"] != expected:
                return mark_broken(result, expected, ROW_MISSING,
                               f"seq {expected} is missing (the next sealed row is seq {row['seq']}, id {row['id']})")
            if row["prev_hash"] != prev:
                return mark_broken(result, expected, CHAIN_BROKEN,
                               f"seq {expected} (id {row['id']}): prev_hash does not match the hash of seq "
                               f"{expected - 1} (that row was rewritten with a new hash, or this one replaced)")
            if row["entry_hash"] != entry_hash(prev, row):
                return mark_broken(result, expected, ROW_CHANGED,
                               f"seq {expected} (id {row['id']}): the content no longer matches its hash")
            prev = row["entry_hash"]
            result.checked += 1
            result.head_seq, result.head_hash = expected, prev
            expected += 1
        if len(rows) < chunk:
            break
    stray = events.filter(seq__isnull=True, entry_hash__isnull=False).values_list("id", flat=True).first()
    if stray is None:
        stray = events.filter(seq__isnull=False, entry_hash__isnull=True).values_list("id", flat=True).first()
    if stray is not None:
        return mark_broken(result, None, OUTSIDE_CHAIN,
                           f"id {stray}: chain columns half set (not written by the sealer)")
    return result


def head(*, using: str = DEFAULT_DB_ALIAS) -> tuple[int, str]:
    """(seq, entry_hash) of the newest sealed row: keep a copy outside the database."""
    return _head(using)


# The append-only guard -------------------------------------------------------------------------

_CONTENT_COLUMNS = ("id", "at", "actor_id", "actor_name", "ip", "action", "object_type", "object_id", "object_repr",
                    "customer_id", "changes")


def _sqlite_guard_sql(table: str) -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _CONTENT_COLUMNS)
    off = f"NOT EXISTS (SELECT 1 FROM {MAINTENANCE_TABLE})"
    return [
        _MAINTENANCE_TABLE_SQL,
        f"DROP TRIGGER IF EXISTS {table}_no_update",
        f"DROP TRIGGER IF EXISTS {table}_no_delete",
        # Sealing (filling seq/prev_hash/entry_hash of an unsealed row) is the only update allowed.
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"WHEN {off} AND (OLD.entry_hash IS NOT NULL OR {changed}) "
        f"BEGIN SELECT RAISE(ABORT, 'kehu: audit events are append-only (UPDATE refused)'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} WHEN {off} "
        f"BEGIN SELECT RAISE(ABORT, 'kehu: audit events are append-only (DELETE refused)'); END",
    ]


def _postgresql_guard_sql(table: str) -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _CONTENT_COLUMNS)
    return [
        f"""CREATE OR REPLACE FUNCTION kehu_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('{PG_SETTING}', true), '') = 'on' THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF OLD.entry_hash IS NULL AND NOT ({changed}) THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'kehu: audit events are append-only (% refused)', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END
$$""",
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION kehu_audit_append_only()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION kehu_audit_append_only()",
    ]


def install_guard(connection: Any) -> None:
    """Create (or re-create) the triggers. Called by migration core 0004; a later migration that
    rebuilds the audit table (SQLite AlterField copies the table and drops its triggers) must call it again."""
    table = AuditEvent._meta.db_table
    if connection.vendor == "sqlite":
        statements = _sqlite_guard_sql(table)
    elif connection.vendor == "postgresql":
        statements = _postgresql_guard_sql(table)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        return
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def remove_guard(connection: Any) -> None:
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
            cursor.execute(f"DROP TABLE IF EXISTS {MAINTENANCE_TABLE}")
        elif connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            cursor.execute("DROP FUNCTION IF EXISTS kehu_audit_append_only()")


def guard_installed(*, using: str = DEFAULT_DB_ALIAS) -> bool:
    connection = connections[using]
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s "
                           "AND name IN (%s, %s)", [table, f"{table}_no_update", f"{table}_no_delete"])
            return cursor.fetchone()[0] == 2
        if connection.vendor == "postgresql":
            cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal "
                           "AND tgname IN (%s, %s)", [table, f"{table}_append_only", f"{table}_no_truncate"])
            return cursor.fetchone()[0] == 2
    return False


@contextlib.contextmanager
def maintenance(*, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Lift the append-only guard for the statements inside, in one transaction (a failure rolls
    the lift back with everything else). ONLY for deliberate bulk erasure: `kehu flush`, benchmark
    restores, legal erasure. Deleting or changing sealed rows breaks the chain from there on, and
    `verify()` will say so."""
    connection = connections[using]
    pg = connection.vendor == "postgresql"
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            if pg:
                cursor.execute("SELECT set_config(%s, 'on', true)", [PG_SETTING])
            else:  # IF NOT EXISTS: also works on a database migrated only part of the way
                cursor.execute(_MAINTENANCE_TABLE_SQL)
                cursor.execute(f"INSERT OR IGNORE INTO {MAINTENANCE_TABLE} (id) VALUES (1)")
        yield
        with connection.cursor() as cursor:
            if pg:
                cursor.execute("SELECT set_config(%s, '', true)", [PG_SETTING])
            else:
                cursor.execute(f"DELETE FROM {MAINTENANCE_TABLE}")
