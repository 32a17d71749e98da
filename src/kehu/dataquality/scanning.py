"""The database-wide duplicate scan: every customer through the matching engine, the pairs worth a
look stored for the review queue, each customer's blocking keys stored so the next scan is
incremental.

`duplicates_scan(full=True)` reads the customers (and their contacts' phones and e-mails) in id
order with `values_list`, builds the engine's `MatchRecord`s (in worker processes from
POOL_MIN_RECORDS customers on), blocks and scores every candidate pair (forked workers again for
the largest archives, once the index is built), and replaces the open pairs.
`duplicates_scan(full=False)` re-keys only the customers changed since the last scan
(`DedupeScan.watermark` on `updated_at`) and compares them with the customers that share a stored
key (keys shared by more than MAX_BLOCK customers give no candidates there), scoring with value
frequencies of the customers it read, where the engine's priors fill in: a borderline pair may
score a little differently than in the weekly full scan. Decisions survive every scan: a pair
marked "not a duplicate" (`DistinctPair`) is never stored again, a dismissed or merged pair keeps
its status.

Pairs use plain customer ids (a merge deletes one side); `rebuild_after_merge` is registered with
the merge registry so keys and pairs follow merges and their undo.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import hashlib
import itertools
import json
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.bulk import fast_insert
from kehu.core.crypto import PREFIX as ENCRYPTED
from kehu.core.crypto import decrypt
from kehu.core.errors import NotFound, PermissionDenied
from kehu.core.jobs import job_create, job_progress, run_job
from kehu.core.models import Job
from kehu.customers.models import Contact, Customer, CustomerKind
from kehu.dataquality.contact_duplicates import contact_duplicates_scan
from kehu.dataquality.matching import (
    REVIEW,
    CandidateIndex,
    MatchRecord,
    MatchStats,
    blocking_keys,
    build_record,
    compare,
)
from kehu.dataquality.matching.blocking import MAX_BLOCK, WEAK_BLOCK, block_cap
from kehu.dataquality.matching.engine import UnionFind
from kehu.dataquality.models import (
    DedupeKey,
    DedupeScan,
    DistinctPair,
    DuplicatePair,
    DuplicateStatus,
    MergedCustomerId,
)

SCAN_JOB = "dataquality.duplicates_scan"
CHUNK = 5000
# Below this many customers a process pool costs more (fork, pickling) than it saves. Scoring is
# cheap per record (~16 µs) next to forking a parent that holds every record, so it waits longer.
POOL_MIN_RECORDS = 20_000
SCORE_POOL_MIN_RECORDS = 200_000
WINDOW_PER_WORKER = 4
# An incremental scan that would touch more than this share of the archive runs as a full scan.
INCREMENTAL_MAX_SHARE = 0.3
# ... and so does one a week after the last full scan: value frequencies drift, and a normalisation
# run (`kehu normalize`) rewrites values without touching `updated_at`.
FULL_SCAN_MAX_AGE = dt.timedelta(days=7)
_IN_CHUNK = 900  # ids per IN (...) list: under SQLite's parameter limit everywhere

CUSTOMER_COLUMNS = ("id", "kind", "name", "phones", "emails", "province", "city", "district", "address", "birthday",
                    "credit_code", "id_number")  # fmt: skip  (id_number last: _customer_chunks decrypts it)

# (done, total, phase) — phase is "read", "compare" or "store".
Progress = Callable[[int, int, str], None]
# One customer as read from the database: the CUSTOMER_COLUMNS, then contact phones and e-mails.
CustomerRow = tuple[Any, ...]


# Customer -> role values ------------------------------------------------------------------------


def customer_role_values(
    *, kind: str, name: str, phones: Sequence[str] = (), emails: Sequence[str] = (), province: str = "",
    city: str = "", district: str = "", address: str = "", birthday: Any = None, credit_code: str = "",
    id_number: str = "", contact_phones: Sequence[str] = (), contact_emails: Sequence[str] = (),
) -> dict[str, Any]:
    """The engine's role values of a customer: a company's name is its `company`, a person's its
    `name`; the contacts' phones and e-mails count as the customer's (a company is reached through
    its people). The on-entry check should build its record the same way, so both agree."""
    values: dict[str, Any] = {
        "company" if kind == CustomerKind.COMPANY else "name": name,
        "phone": [*(phones or ()), *contact_phones],
        "email": [*(emails or ()), *contact_emails],
        "province": province, "city": city, "district": district, "address": address,
        "credit_code": credit_code, "id_number": id_number,
    }  # fmt: skip
    if birthday:
        values["birth_date"] = birthday if isinstance(birthday, str) else birthday.isoformat()
    return values


def record_of_row(row: CustomerRow) -> MatchRecord:
    (_pk, kind, name, phones, emails, province, city, district, address, birthday, credit_code, id_number,
     contact_phones, contact_emails) = row
    return build_record(customer_role_values(
        kind=kind, name=name, phones=phones or (), emails=emails or (), province=province, city=city,
        district=district, address=address, birthday=birthday, credit_code=credit_code, id_number=id_number,
        contact_phones=contact_phones, contact_emails=contact_emails,
    ))


def key_hash(key: str) -> int:
    """A blocking key as a signed 64-bit integer (what `DedupeKey.key` stores). The lowest bit
    says whether it is an identifier key (phone, e-mail, ID, credit code: the larger block cap),
    so the scan can block on the hashes alone (`hash_block_cap`)."""
    value = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
    return (value & ~1) | (block_cap(key) == MAX_BLOCK)


def hash_block_cap(value: int) -> int:
    """`block_cap` of the key a `key_hash` came from."""
    return MAX_BLOCK if value & 1 else WEAK_BLOCK


def record_key_hashes(record: MatchRecord) -> list[int]:
    return sorted({key_hash(k) for k in blocking_keys(record)})


def _build_chunk(rows: Sequence[CustomerRow]) -> tuple[list[int], list[MatchRecord], list[list[int]]]:
    """Ids, records and key hashes of a chunk of customer rows."""
    records = [record_of_row(row) for row in rows]
    return [row[0] for row in rows], records, [record_key_hashes(r) for r in records]


_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(MatchRecord))


def _build_chunk_packed(rows: Sequence[CustomerRow]) -> tuple[list[int], list[tuple], list[list[int]]]:
    """Worker: `_build_chunk` with each record as a plain tuple of its fields, which pickles in a
    fifth of the time of the dataclass (measured: 8.6 against 42 µs a record)."""
    ids, records, hashes = _build_chunk(rows)
    return ids, [tuple(getattr(r, name) for name in _RECORD_FIELDS) for r in records], hashes


def _unpack(chunk: tuple[list[int], list[tuple], list[list[int]]]) -> tuple[list[int], list[MatchRecord],
                                                                          list[list[int]]]:
    ids, packed, hashes = chunk
    return ids, [MatchRecord(*values) for values in packed], hashes


# Reading customers ------------------------------------------------------------------------------


def _attach_contacts(customers: list[tuple[Any, ...]],
                     contacts: Iterable[tuple[int, str, str, str]]) -> list[CustomerRow]:
    phones: dict[int, list[str]] = {}
    emails: dict[int, list[str]] = {}
    for customer_id, mobile, phone, email in contacts:
        found = phones.setdefault(customer_id, [])
        found += [p for p in (mobile, phone) if p]
        if email:
            emails.setdefault(customer_id, []).append(email)
    return [(*row, phones.get(row[0], ()), emails.get(row[0], ())) for row in customers]


def _json_list(value: Any) -> Any:
    """A JSON list column as a list: SQLite hands it back as text, PostgreSQL (jsonb) as a list.
    The phones and e-mails of a 1M-customer scan are two million such texts, nearly all a few
    plain strings as `json.dumps` writes them ('["138…", "010…"]'): read those by splitting, which
    costs a tenth of `json.loads`; anything else (escapes, other separators) goes to json.loads."""
    if not isinstance(value, str):
        return value
    if value == "[]":
        return []
    if value.startswith('["') and value.endswith('"]') and "\\" not in value:
        parts = value[2:-2].split('", "')
        if not any('"' in part for part in parts):
            return parts
    return json.loads(value)


def _customer_chunks(*, after_id: int = 0, chunk: int | None = None) -> Iterator[list[CustomerRow]]:
    """Every customer in id order, `chunk` (default CHUNK) at a time, with its contacts' phones and
    e-mails. Plain SQL, not `values_list`: the ORM's per-value converters cost the main process of a
    1M-customer scan ~13 s while the workers wait for rows (the rows are the same; a test holds them equal)."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(Customer._meta.get_field(c).column) for c in CUSTOMER_COLUMNS)
    customers_sql = (f"SELECT {columns} FROM {quote(Customer._meta.db_table)} WHERE {quote('id')} > %s "
                     f"ORDER BY {quote('id')} LIMIT %s")
    contacts_sql = (f"SELECT customer_id, mobile, phone, email FROM {quote(Contact._meta.db_table)} "
                    "WHERE customer_id >= %s AND customer_id <= %s")
    last = after_id
    chunk = chunk or CHUNK
    while True:
        with connection.cursor() as cursor:
            cursor.execute(customers_sql, [last, chunk])
            # id_number (the last column) is stored encrypted: plain SQL skips the field's
            # from_db_value, so open it here (only "enc1:" values; "" and legacy text pass).
            rows = [(pk, kind, name, _json_list(phones), _json_list(emails), *rest,
                     decrypt(id_number) if id_number and id_number.startswith(ENCRYPTED) else id_number)
                    for pk, kind, name, phones, emails, *rest, id_number in cursor.fetchall()]
            if not rows:
                return
            cursor.execute(contacts_sql, [rows[0][0], rows[-1][0]])
            contacts = cursor.fetchall()
        yield _attach_contacts(rows, contacts)
        last = rows[-1][0]


def customer_rows(ids: Iterable[int]) -> list[CustomerRow]:
    """The given customers (those that still exist), with their contacts' phones and e-mails."""
    wanted = sorted(set(ids))
    out: list[CustomerRow] = []
    for start in range(0, len(wanted), _IN_CHUNK):
        part = wanted[start:start + _IN_CHUNK]
        rows = list(Customer.objects.filter(pk__in=part).order_by("pk").values_list(*CUSTOMER_COLUMNS))
        contacts = Contact.objects.filter(customer_id__in=part).values_list("customer_id", "mobile", "phone", "email")
        out += _attach_contacts(rows, contacts)
    return out


_WARM_UP_ROW: CustomerRow = (0, "person", "张伟先生", ["010-65529988"], ["zhang.wei@qq.com"], "北京", "北京市",
                             "朝阳区",
                             "建国路88号", "1990-03-07", "91110105MA01ABCD2X", "110101199003071234",
                             ["13812345678"], ["info@fenyang.com"])


def _fork_pool(workers: int) -> Any:
    from kehu.dataquality.pipeline import tune_gc  # freeze the inherited heap: the GC would walk it all

    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    return context.Pool(workers, initializer=tune_gc)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """A full scan keeps a million small records alive: each cyclic-GC pass would walk all of them
    (records hold no reference cycles, so nothing piles up while it is off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _bounded(pool: Any, function: Callable[[Any], Any], items: Iterable[Any], window: int) -> Iterator[Any]:
    """Results of `function` over `items` in order, at most `window` in flight (bounded memory)."""
    pending: deque[Any] = deque()
    for item in items:
        pending.append(pool.apply_async(function, (item,)))
        if len(pending) >= window:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


# Storing keys -----------------------------------------------------------------------------------


def _replace_keys(ids: Sequence[int], hashes: Sequence[Sequence[int]], *, id_range: bool,
                  key_index: bool = True) -> int:
    """Replace the stored keys of `ids` (for a contiguous chunk of a full scan, by id range).
    `key_index`: whether the key index is in place (see `_insert_keys`)."""
    if id_range and ids:
        DedupeKey.objects.filter(customer_id__gte=ids[0], customer_id__lte=ids[-1]).delete()
    else:
        for start in range(0, len(ids), _IN_CHUNK):
            DedupeKey.objects.filter(customer_id__in=ids[start:start + _IN_CHUNK]).delete()
    rows = [(h, pk) for pk, record_hashes in zip(ids, hashes, strict=True) for h in record_hashes]
    _insert_keys(rows, key_order=key_index)
    return len(rows)


def _insert_keys(rows: list[tuple[int, int]], *, key_order: bool = True) -> None:
    """(key hash, customer id) rows as plain integers (no per-value field preparation): a full scan
    writes ~6.4 keys a customer, ~6.4 million rows at 1M customers. With the key index in place
    they go in key order, so that index takes a chunk's entries in one ordered pass; without it (a
    large full scan drops it) they stay in customer order, which is the order of the customer
    index: sorting them by key made that index take them at random pages, 2.4 times the insert
    time (measured on 640,000 rows: 2.37 s against 0.97 s)."""
    if not rows:
        return
    if key_order:
        rows.sort()
    quote = connection.ops.quote_name
    table = quote(DedupeKey._meta.db_table)
    columns = f"({quote('key')}, {quote('customer_id')})"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} {columns} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            for start in range(0, len(rows), 10_000):
                cursor.executemany(f"INSERT INTO {table} {columns} VALUES (%s, %s)", rows[start:start + 10_000])


# A full scan of at least this many customers rebuilds the key index once at the end.
KEY_INDEX_DEFER_MIN = 50_000
KEY_INDEX = "dedupe_key_key"  # DedupeKey.Meta.indexes


def _key_index_sql(action: str) -> str:
    quote = connection.ops.quote_name
    if action == "drop":
        return f"DROP INDEX IF EXISTS {quote(KEY_INDEX)}"
    return f"CREATE INDEX IF NOT EXISTS {quote(KEY_INDEX)} ON {quote(DedupeKey._meta.db_table)} ({quote('key')})"


def _key_index_exists() -> bool:
    with connection.cursor() as cursor:
        return KEY_INDEX in connection.introspection.get_constraints(cursor, DedupeKey._meta.db_table)


def key_index_ensure() -> None:
    """The key index exists (a scan killed while it was dropped left it missing)."""
    if _key_index_exists():
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and connection.in_atomic_block:
            # PostgreSQL refuses CREATE INDEX on a table with deferred foreign-key checks pending in
            # the transaction (a caller's atomic block): run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(_key_index_sql("create"))


@contextlib.contextmanager
def _key_index_deferred() -> Iterator[None]:
    """A full scan rewrites every customer's keys: without the key index during the inserts, and
    the index built once at the end from sorted keys, instead of updated for ~6.4 million keys in
    random order (the main process's largest cost at 1M customers: the read phase took 103 s with
    it, 70 s without). Only scans read the table by key (the candidates of an incremental scan),
    and only one scan runs at a time; merges re-key customers through the customer index, which
    stays."""
    with connection.cursor() as cursor:
        cursor.execute(_key_index_sql("drop"))
    try:
        yield
    finally:
        key_index_ensure()


def customers_rekey(customer_ids: Iterable[int]) -> int:
    """Recompute the stored blocking keys of some customers (after a merge, an unmerge, an edit)."""
    rows = customer_rows(customer_ids)
    ids, _records, hashes = _build_chunk(rows)
    with transaction.atomic():
        gone = sorted(set(customer_ids) - set(ids))
        if gone:
            DedupeKey.objects.filter(customer_id__in=gone).delete()
        return _replace_keys(ids, hashes, id_range=False)


# Scoring ----------------------------------------------------------------------------------------


@dataclass
class ScanResult:
    full: bool
    customers: int = 0  # customers (re)keyed
    compared: int = 0  # candidate pairs scored
    found: int = 0  # pairs at or above the review threshold, after "not a duplicate" decisions
    certain: int = 0
    stored: int = 0  # open pairs written
    keys: int = 0  # key rows written
    clusters: int = 0  # clusters of two or more customers among open pairs, archive-wide
    contact_customers: int = 0  # customers whose contacts were compared among themselves
    contact_pairs: int = 0  # open duplicate-contact pairs of those customers
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"full": self.full, "customers": self.customers, "compared": self.compared, "found": self.found,
                "certain": self.certain, "stored": self.stored, "keys": self.keys, "clusters": self.clusters,
                "contact_customers": self.contact_customers, "contact_pairs": self.contact_pairs,
                "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
                "pairs_per_record": round(self.compared / self.customers, 2) if self.customers else 0.0}


# Set in the parent just before the scoring pool forks; the children read it copy-on-write.
_SCORING: tuple[Sequence[MatchRecord], CandidateIndex, MatchStats] | None = None


def _score_positions(span: tuple[int, int]) -> tuple[int, list[tuple[int, int, float]]]:
    """Worker: (pairs compared, pairs at or above REVIEW) for the records in positions [start, stop)."""
    assert _SCORING is not None
    records, index, stats = _SCORING
    found: list[tuple[int, int, float]] = []
    compared = 0
    for position in range(*span):
        left = records[position]
        for other in index.candidates_of(position):
            compared += 1
            score = compare(left, records[other], stats, explain=False).score
            if score >= REVIEW:
                found.append((position, other, score))
    return compared, found


def _score_all(records: Sequence[MatchRecord], stats: MatchStats, *, workers: int,
               progress: Callable[[int], None], index: CandidateIndex | None = None,
               ) -> tuple[int, list[tuple[int, int, float]]]:
    global _SCORING
    index = index if index is not None else CandidateIndex(records)
    total = len(records)
    spans = [(start, min(start + CHUNK, total)) for start in range(0, total, CHUNK)]
    compared, found = 0, []
    _SCORING = (records, index, stats)
    try:
        if workers > 1 and total >= SCORE_POOL_MIN_RECORDS:
            with _fork_pool(workers) as pool:
                for (_start, stop), (count, pairs) in zip(spans, pool.imap(_score_positions, spans), strict=True):
                    compared += count
                    found += pairs
                    progress(stop)
        else:
            for start, stop in spans:
                count, pairs = _score_positions((start, stop))
                compared += count
                found += pairs
                progress(stop)
    finally:
        _SCORING = None
    return compared, found


def _reasons_json(record_a: MatchRecord, record_b: MatchRecord, stats: MatchStats) -> tuple[float, str, list]:
    scored = compare(record_a, record_b, stats)
    return scored.score, scored.verdict, [[r.code, list(r.args), r.weight] for r in scored.reasons]


def _distinct_among(pairs: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    wanted = set(pairs)
    if not wanted:
        return set()
    lows = sorted({low for low, _high in wanted})
    found: set[tuple[int, int]] = set()
    for start in range(0, len(lows), _IN_CHUNK):
        found.update(DistinctPair.objects.filter(low_id__in=lows[start:start + _IN_CHUNK])
                     .values_list("low_id", "high_id"))
    return found & wanted


def _decided_among(pairs: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    """Pairs among `pairs` someone already dismissed or merged."""
    wanted = set(pairs)
    if not wanted:
        return set()
    lows = sorted({low for low, _high in wanted})
    found: set[tuple[int, int]] = set()
    for start in range(0, len(lows), _IN_CHUNK):
        found.update(DuplicatePair.objects.filter(low_id__in=lows[start:start + _IN_CHUNK])
                     .exclude(status=DuplicateStatus.OPEN).values_list("low_id", "high_id"))
    return found & wanted


def _store_pairs(scored: list[tuple[int, int, float, str, list]], *, now: Any) -> int:
    rows = [{"low_id": low, "high_id": high, "score": round(score, 2), "verdict": verdict, "reasons": reasons,
             "status": DuplicateStatus.OPEN, "cluster_id": low, "found_at": now}
            for low, high, score, verdict, reasons in scored]
    fast_insert(DuplicatePair, rows)
    return len(rows)


def _open_pairs_between(ids: Sequence[int]) -> Iterator[QuerySet[DuplicatePair]]:
    """Open pairs that involve any of `ids` (a queryset per IN chunk)."""
    for start in range(0, len(ids), _IN_CHUNK):
        part = ids[start:start + _IN_CHUNK]
        yield DuplicatePair.objects.filter(status=DuplicateStatus.OPEN, low_id__in=part)
        yield DuplicatePair.objects.filter(status=DuplicateStatus.OPEN, high_id__in=part)


def clusters_refresh() -> int:
    """Number the connected groups of open pairs by their smallest customer id; returns how many
    groups there are. Decided pairs each stand alone (cluster = their smaller id)."""
    pairs = list(DuplicatePair.objects.filter(status=DuplicateStatus.OPEN).values_list("id", "low_id", "high_id",
                                                                                        "cluster_id"))
    ids = sorted({pk for _id, low, high, _c in pairs for pk in (low, high)})
    position = {pk: n for n, pk in enumerate(ids)}
    union = UnionFind(len(ids))
    for _id, low, high, _cluster in pairs:
        union.union(position[low], position[high])
    smallest: dict[int, int] = {}
    for pk in ids:  # ascending, so the first id seen in a group is its smallest
        smallest.setdefault(union.find(position[pk]), pk)
    changed: dict[int, list[int]] = {}
    for pair_id, low, _high, cluster in pairs:
        wanted = smallest[union.find(position[low])]
        if wanted != cluster:
            changed.setdefault(wanted, []).append(pair_id)
    with transaction.atomic():
        for cluster, pair_ids in changed.items():
            for start in range(0, len(pair_ids), _IN_CHUNK):
                DuplicatePair.objects.filter(pk__in=pair_ids[start:start + _IN_CHUNK]).update(cluster_id=cluster)
    return len(smallest)


# The scan ---------------------------------------------------------------------------------------


def scan_state() -> DedupeScan:
    state, _created = DedupeScan.objects.get_or_create(pk=1)
    return state


def _noop(done: int, total: int, phase: str) -> None:
    return None


def duplicates_scan(*, full: bool, progress: Progress | None = None, workers: int | None = None) -> ScanResult:
    """Scan the archive for duplicate customers (see the module docstring). An incremental scan
    runs as a full one when no full scan has run yet, when the last one is older than
    FULL_SCAN_MAX_AGE, or when most of the archive changed."""
    progress = progress or _noop
    workers = _workers() if workers is None else workers
    key_index_ensure()
    state = scan_state()
    started = timezone.now()
    if not full and (state.full_scan_at is None or started - state.full_scan_at > FULL_SCAN_MAX_AGE):
        full = True
    if full:
        with _gc_paused():
            result = _full_scan(progress, workers, started)
    else:
        changed = _changed_since(state.watermark) if state.watermark else []
        total = Customer.objects.count()
        if total and len(changed) > INCREMENTAL_MAX_SHARE * total:
            with _gc_paused():
                result = _full_scan(progress, workers, started)
        else:
            result = _incremental_scan(changed, progress, started)
    moment = time.perf_counter()
    pairs_housekeeping()
    result.clusters = clusters_refresh()
    result.seconds["clusters"] = time.perf_counter() - moment
    # Two contacts of one customer that are one person: every customer with several contacts on a
    # full scan, those whose contacts changed otherwise (the contact services refresh on every
    # save; this catches imports and writes that bypass them).
    moment = time.perf_counter()
    contacts = contact_duplicates_scan(changed_since=None if result.full else state.watermark)
    result.contact_customers, result.contact_pairs = contacts["customers"], contacts["pairs"]
    result.seconds["contacts"] = time.perf_counter() - moment
    fields: dict[str, Any] = {"watermark": started, "last_scan_at": timezone.now(), "last_full": result.full,
                              "last_figures": result.as_dict()}
    if result.full:
        fields["full_scan_at"] = started
    DedupeScan.objects.filter(pk=state.pk).update(**fields)
    return result


def _changed_since(moment: Any) -> list[int]:
    """Customers saved after `moment`, and those whose contacts were (a contact's edit does not
    touch its customer's `updated_at`, but its phones and e-mails are part of the record)."""
    ids = set(Customer.objects.filter(updated_at__gt=moment).values_list("pk", flat=True))
    ids.update(Contact.objects.filter(updated_at__gt=moment).values_list("customer_id", flat=True))
    return sorted(ids)


def _full_scan(progress: Progress, workers: int, now: Any) -> ScanResult:
    result = ScanResult(full=True)
    total = Customer.objects.count()
    ids: list[int] = []
    records: list[MatchRecord] = []
    moment = time.perf_counter()
    chunks = _customer_chunks()
    head = list(itertools.islice(chunks, 2))
    use_pool = workers > 1 and total >= POOL_MIN_RECORDS and len(head) > 1
    if use_pool:  # load the normalisers' lazy dictionaries once, so the forked workers share them
        record_of_row(_WARM_UP_ROW)
    pool = _fork_pool(workers) if use_pool else None
    # Filled chunk by chunk while the workers build the next records (the main process would
    # otherwise wait for them), from the key hashes they computed.
    index = CandidateIndex(())
    try:
        built = map(_unpack, _bounded(pool, _build_chunk_packed, itertools.chain(head, chunks),
                                      workers * WINDOW_PER_WORKER)) \
            if pool is not None else map(_build_chunk, itertools.chain(head, chunks))
        deferred = _key_index_deferred() if total >= KEY_INDEX_DEFER_MIN else contextlib.nullcontext()
        with deferred:
            _read_all(built, ids, records, result, progress, total, index,
                      key_index=total < KEY_INDEX_DEFER_MIN)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    if ids:  # keys of customers deleted since the last scan (the cascade removed most; this is the rest)
        DedupeKey.objects.filter(customer_id__gt=ids[-1]).delete()
    result.customers = len(ids)
    result.seconds["read"] = time.perf_counter() - moment
    return _score_and_store(result, ids, records, progress, workers, now, index)


def _read_all(built: Iterable[tuple[list[int], list[MatchRecord], list[list[int]]]], ids: list[int],
              records: list[MatchRecord], result: ScanResult, progress: Progress, total: int,
              index: CandidateIndex, *, key_index: bool) -> None:
    for chunk_ids, chunk_records, hashes in built:
        with transaction.atomic():  # each chunk's keys commit with it: the table is never half empty
            result.keys += _replace_keys(chunk_ids, hashes, id_range=True, key_index=key_index)
        index.extend(chunk_records, keys=hashes, cap_of=hash_block_cap)
        ids += chunk_ids
        records += chunk_records
        progress(len(ids), total, "read")


def _score_and_store(result: ScanResult, ids: list[int], records: list[MatchRecord], progress: Progress,
                     workers: int, now: Any, index: CandidateIndex) -> ScanResult:
    moment = time.perf_counter()
    stats = MatchStats.from_records(records)
    index.finish(records)
    compared, found = _score_all(records, stats, workers=workers, index=index,
                                 progress=lambda done: progress(done, len(records), "compare"))
    result.compared = compared
    result.seconds["compare"] = time.perf_counter() - moment

    moment = time.perf_counter()
    pairs = {(ids[i], ids[j]) if ids[i] < ids[j] else (ids[j], ids[i]): (i, j) for i, j, _score in found}
    skip = _distinct_among(pairs) | _decided_among(pairs)
    scored = []
    for (low, high), (i, j) in pairs.items():
        if (low, high) in skip:
            continue
        left, right = (records[i], records[j]) if ids[i] == low else (records[j], records[i])
        scored.append((low, high, *_reasons_json(left, right, stats)))
    _count_found(result, scored)
    with transaction.atomic():
        DuplicatePair.objects.filter(status=DuplicateStatus.OPEN).delete()
        result.stored = _store_pairs(scored, now=now)
    progress(len(records), len(records), "store")
    result.seconds["store"] = time.perf_counter() - moment
    return result


def _count_found(result: ScanResult, scored: Sequence[tuple[int, int, float, str, list]]) -> None:
    result.found = len(scored)
    result.certain = sum(1 for item in scored if item[3] == "certain")


def _incremental_scan(changed: list[int], progress: Progress, now: Any) -> ScanResult:
    """Re-key the changed customers and compare each with every customer sharing a key with it."""
    result = ScanResult(full=False)
    moment = time.perf_counter()
    rows = customer_rows(changed)
    ids, records, hashes = _build_chunk(rows)
    built = dict(zip(ids, records, strict=True))
    with transaction.atomic():
        gone = sorted(set(changed) - set(ids))
        if gone:
            DedupeKey.objects.filter(customer_id__in=gone).delete()
        result.keys = _replace_keys(ids, hashes, id_range=False)
    result.customers = len(ids)
    progress(len(ids), len(ids), "read")
    # Keys shared by more customers than a block may hold (张伟 in 北京) give no candidates here,
    # as in the full scan's blocks; the full scan still looks at their nearest neighbours.
    wanted = sorted({h for record_hashes in hashes for h in record_hashes})
    holders: dict[int, list[int]] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        part = wanted[start:start + _IN_CHUNK]
        small = [key for key, n in DedupeKey.objects.filter(key__in=part).values_list("key").annotate(n=Count("id"))
                 .values_list("key", "n") if 1 < n <= MAX_BLOCK]
        for key, customer_id in DedupeKey.objects.filter(key__in=small).values_list("key", "customer_id"):
            holders.setdefault(key, []).append(customer_id)
    others = sorted({pk for members in holders.values() for pk in members} - set(built))
    for row in customer_rows(others):
        built[row[0]] = record_of_row(row)
    result.seconds["read"] = time.perf_counter() - moment

    moment = time.perf_counter()
    stats = MatchStats.from_records(built.values())
    stats.population = max(stats.population, Customer.objects.count())
    candidates: set[tuple[int, int]] = set()
    for pk, record_hashes in zip(ids, hashes, strict=True):
        for key in record_hashes:
            for other in holders.get(key, ()):
                if other != pk and other in built:
                    candidates.add((pk, other) if pk < other else (other, pk))
    result.compared = len(candidates)
    found = [(low, high) for low, high in sorted(candidates)
             if compare(built[low], built[high], stats, explain=False).score >= REVIEW]
    skip = _distinct_among(found) | _decided_among(found)
    scored = [(low, high, *_reasons_json(built[low], built[high], stats)) for low, high in found
              if (low, high) not in skip]
    _count_found(result, scored)
    progress(len(ids), len(ids), "compare")
    result.seconds["compare"] = time.perf_counter() - moment

    moment = time.perf_counter()
    with transaction.atomic():
        for queryset in _open_pairs_between(changed):
            queryset.delete()
        result.stored = _store_pairs(scored, now=now)
    result.seconds["store"] = time.perf_counter() - moment
    return result


# Jobs -------------------------------------------------------------------------------------------


def duplicates_scan_job_create(*, acting_user: Any, full: bool) -> Job:
    """A scan job (admins only); while one is queued or running, that one is returned instead."""
    from kehu.accounts.permissions import has_operation

    if acting_user is not None and not has_operation(acting_user, "settings.manage"):
        raise PermissionDenied(_("只有管理员可以扫描重复客户"))
    running = Job.objects.filter(kind=SCAN_JOB, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).first()
    if running is not None:
        return running
    return job_create(kind=SCAN_JOB, created_by=acting_user, params={"full": bool(full)},
                      total=Customer.objects.count())


PHASE_MESSAGES = {"read": "读取客户并生成查重键", "compare": "比较候选客户对", "store": "保存疑似重复"}


def duplicates_scan_run(job: Job, *, workers: int | None = None, on_progress: Progress | None = None) -> Job:
    """Run a scan job, reporting progress on the job row (one update per chunk) and to
    `on_progress` (the command's progress line)."""

    def report(done: int, total: int, phase: str) -> None:
        job_progress(job, done=done, total=total, message=PHASE_MESSAGES[phase])
        if on_progress is not None:
            on_progress(done, total, phase)

    return run_job(job, lambda j: duplicates_scan(full=bool(j.params.get("full")), progress=report,
                                                  workers=workers).as_dict())


# Decisions and merges --------------------------------------------------------------------------


@transaction.atomic
def duplicate_pair_dismiss(*, acting_user: Any, pair_id: int) -> DuplicatePair:
    """"Not a duplicate": remembered as a `DistinctPair` (so no scan suggests it again, through the
    merge app's service, which checks the user may see both customers and audits it) and the
    pair leaves the open queue."""
    from kehu.dataquality.merging.services import pair_mark_distinct

    pair = DuplicatePair.objects.select_for_update().filter(pk=pair_id).first()
    if pair is None:
        raise NotFound(_("疑似重复记录不存在"))
    pair_mark_distinct(acting_user=acting_user, a_id=pair.low_id, b_id=pair.high_id)
    DuplicatePair.objects.filter(pk=pair.pk).update(status=DuplicateStatus.DISMISSED, decided_at=timezone.now(),
                                                    decided_by=acting_user, cluster_id=pair.low_id)
    pair.refresh_from_db()
    return pair


def _pairs_touching(ids: Sequence[int], statuses: Sequence[str]) -> list[DuplicatePair]:
    found: dict[int, DuplicatePair] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        part = ids[start:start + _IN_CHUNK]
        for column in ("low_id", "high_id"):
            for pair in DuplicatePair.objects.filter(status__in=statuses, **{f"{column}__in": part}):
                found[pair.pk] = pair
    return list(found.values())


def rebuild_after_merge(customers: Sequence[Any]) -> None:
    """Registered with the merge registry, called after a merge (with the survivor) and after an
    unmerge (survivor and restored customers): re-key them; an open pair of one of them whose
    other side has just vanished was merged into it; a merged pair whose two sides both exist
    again was split by an unmerge and is open again."""
    ids = sorted({int(c.pk) for c in customers})
    customers_rekey(ids)
    pairs = _pairs_touching(ids, [DuplicateStatus.OPEN, DuplicateStatus.MERGED])
    involved = {pk for pair in pairs for pk in (pair.low_id, pair.high_id)}
    existing = set(Customer.objects.filter(pk__in=involved).values_list("pk", flat=True)) if involved else set()
    now = timezone.now()
    with transaction.atomic():
        for pair in pairs:
            both = pair.low_id in existing and pair.high_id in existing
            if pair.status == DuplicateStatus.MERGED and both:
                DuplicatePair.objects.filter(pk=pair.pk).update(status=DuplicateStatus.OPEN, decided_at=None,
                                                                decided_by=None)
            elif pair.status == DuplicateStatus.OPEN and not both and (pair.low_id in existing
                                                                       or pair.high_id in existing):
                DuplicatePair.objects.filter(pk=pair.pk).update(status=DuplicateStatus.MERGED, decided_at=now,
                                                                cluster_id=pair.low_id)
    clusters_refresh()


def pairs_housekeeping() -> int:
    """Drop open pairs whose customer no longer exists (deleted, or merged away into a third
    record: the survivor is compared again when its keys change), and merged pairs whose vanished
    side was deleted rather than merged. Returns the rows removed."""
    existing = Customer.objects.values("pk")
    orphans = DuplicatePair.objects.exclude(status=DuplicateStatus.DISMISSED).exclude(
        low_id__in=existing, high_id__in=existing)
    removed = 0
    absorbed_ids = MergedCustomerId.objects.values("customer_id")
    removed += orphans.filter(status=DuplicateStatus.OPEN).delete()[0]
    removed += orphans.filter(status=DuplicateStatus.MERGED).exclude(low_id__in=absorbed_ids).exclude(
        high_id__in=absorbed_ids).delete()[0]
    return removed
