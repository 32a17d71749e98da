"""`kehu bench search`: the search box's latency per query kind, against a plain LIKE scan.

Queries are drawn from the generated data (so every one has matches): a 2-character Chinese
name, a 3-4 character company fragment, full pinyin, initials, the last 4 phone digits, an
e-mail fragment. Each runs through `kehu.customers.search.search()` as the admin (sees all)
and, from that rep's own customers, as a sales rep with "own" scope. The baseline is the naive
implementation on the same columns: `WHERE col LIKE '%q%' ... ORDER BY updated_at DESC LIMIT 20`
on customers and on contacts, measured in the same run on fewer queries (it is slow).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import connection

from bench.common import (
    BenchData,
    Log,
    bench_database,
    calibration,
    cpu_summary,
    machine,
    ratio,
    stderr_log,
    summarise,
    timed,
    timed_cpu,
)

TARGET_P95_MS = 20.0
LIMIT = 20
KINDS = ["han_2", "company_fragment", "pinyin_full", "pinyin_initials", "phone_last4", "email_fragment"]
LABELS = {
    "han_2": "2-char Chinese name (张伟)",
    "company_fragment": "company fragment 3-4 chars (分扬科技)",
    "pinyin_full": "full pinyin (zhangwei)",
    "pinyin_initials": "initials (zw)",
    "phone_last4": "last 4 phone digits",
    "email_fragment": "e-mail fragment",
}
# The columns the naive implementation would scan for each kind: (customer columns, contact columns).
BASELINE_COLUMNS = {
    "han_2": (["name", "short_name"], ["name"]),
    "company_fragment": (["name", "short_name"], ["name"]),
    "pinyin_full": (["name_pinyin"], ["name_pinyin"]),
    "pinyin_initials": (["name_initials"], ["name_initials"]),
    "phone_last4": (["phones"], ["mobile", "phone"]),
    "email_fragment": (["emails"], ["email"]),
}


JSON_COLUMNS = {"phones", "emails"}


def _queries(*, owner_id: int | None, count: int, seed: int) -> dict[str, list[str]]:
    """`count` queries per kind from random customers (of `owner_id` when given)."""
    from kehu.customers.models import Contact, Customer
    from kehu.customers.search import _core_span

    rng = random.Random(seed * 7919 + (owner_id or 0))
    customers = Customer.objects.all() if owner_id is None else Customer.objects.filter(owner_id=owner_id)
    max_id = Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    wanted = count * 3
    if owner_id is None:
        ids = rng.sample(range(1, max_id + 1), min(wanted, max_id))
        picked = list(customers.filter(pk__in=ids).values("pk", "name", "kind"))
    else:
        picked = list(customers.order_by("?")[:wanted].values("pk", "name", "kind"))
    rng.shuffle(picked)
    contacts = {
        c["customer_id"]: c
        for c in Contact.objects.filter(customer_id__in=[p["pk"] for p in picked]).values(
            "customer_id", "name", "name_pinyin", "name_initials", "mobile", "email"
        )
    }
    out: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for row in picked:
        contact = contacts.get(row["pk"])
        if contact is None:
            continue
        out["han_2"].append(contact["name"][:2])
        if row["kind"] == "company":
            start, end = _core_span(row["name"], is_person=False)
            fragment = row["name"][start : min(end + 2, start + rng.choice((3, 4)))]
            if len(fragment) >= 3:
                out["company_fragment"].append(fragment)
        out["pinyin_full"].append(contact["name_pinyin"])
        out["pinyin_initials"].append(contact["name_initials"])
        out["phone_last4"].append(contact["mobile"][-4:])
        local = contact["email"].split("@")[0]
        out["email_fragment"].append(local[: max(5, len(local) - 2)])
    return {kind: values[:count] for kind, values in out.items()}


def _baseline_query(kind: str, query: str) -> Callable[[], int]:
    customer_cols, contact_cols = BASELINE_COLUMNS[kind]

    def run() -> int:
        found = 0
        with connection.cursor() as cursor:
            for table, columns in (("customers_customer", customer_cols), ("customers_contact", contact_cols)):
                # JSON lists (phones, emails) are scanned as their text.
                where = " OR ".join(
                    f"CAST({c} AS TEXT) LIKE %s" if c in JSON_COLUMNS else f"{c} LIKE %s" for c in columns
                )
                cursor.execute(
                    f"SELECT id FROM {table} WHERE {where} ORDER BY updated_at DESC LIMIT {LIMIT}",
                    [f"%{query}%"] * len(columns),
                )
                found += len(cursor.fetchall())
        return found

    return run


def _measure(user: Any, queries: dict[str, list[str]], baseline_count: int) -> dict[str, Any]:
    from kehu.customers.search import search

    results: dict[str, Any] = {}
    for kind in KINDS:
        samples, cpu, hits, empty = [], [], 0, 0
        for query in queries[kind]:
            ms, cpu_ms, found = timed_cpu(lambda q=query: search(user=user, query=q, limit=LIMIT))
            samples.append(ms)
            cpu.append(cpu_ms)
            hits += len(found)
            empty += not found
        baseline_samples = [timed(_baseline_query(kind, q))[0] for q in queries[kind][:baseline_count]]
        ours, base = summarise(samples), summarise(baseline_samples)
        results[kind] = {
            "label": LABELS[kind], "examples": queries[kind][:3], **ours, **cpu_summary(cpu),
            "mean_hits": round(hits / len(samples), 1) if samples else 0, "queries_without_hits": empty,
            "baseline_like": base,
            "ratio_p50": ratio(base["p50_ms"], ours["p50_ms"]) if baseline_samples else None,
            "ratio_p95": ratio(base["p95_ms"], ours["p95_ms"]) if baseline_samples else None,
            "within_target": ours["p95_ms"] <= TARGET_P95_MS,
        }
    return results


def run(
    *, customers: int = 10000, seed: int = 1, queries: int = 100, baseline_queries: int = 10,
    data_dir: Path | None = None, log: Log = stderr_log, **_: Any,
) -> dict[str, Any]:
    from kehu.accounts.models import User

    with bench_database(customers=customers, seed=seed, data_dir=data_dir, log=log) as data:
        host = machine()
        admin = User.objects.get(pk=data.admin_id)
        rep = User.objects.select_related("role").get(pk=data.rep_ids[0])
        # Warm the caches the way a running server has them warm.
        from kehu.customers.search import search

        for word in ("张", "科技", "zw", "1234"):
            search(user=admin, query=word, limit=LIMIT)
        log("bench: measuring the admin's searches")
        admin_results = _measure(admin, _queries(owner_id=None, count=queries, seed=seed), baseline_queries)
        log("bench: measuring a sales rep's own-scope searches")
        rep_queries = _queries(owner_id=rep.pk, count=max(20, queries // 2), seed=seed)
        rep_results = _measure(rep, rep_queries, 0)
        owned = rep.owned_customers.count()
        return _report(data, host, admin_results, rep_results, owned)


def _report(
    data: BenchData, host: dict[str, Any], admin: dict[str, Any], rep: dict[str, Any], owned: int
) -> dict[str, Any]:
    return {
        "benchmark": "search",
        **data.describe(),
        "machine": {**host, "calibration_end": calibration()},
        "limit": LIMIT,
        "target_p95_ms": TARGET_P95_MS,
        "admin": admin,
        "sales_rep": {"owned_customers": owned, "kinds": rep},
        "all_within_target": all(k["within_target"] for k in admin.values())
        and all(k["within_target"] for k in rep.values()),
    }


def format_table(result: dict[str, Any]) -> str:
    lines = [
        f"search benchmark: {result['customers']:,} customers + contacts, {result['search_tokens']:,} tokens, "
        f"{result['vendor']} ({result['database']})",
        f"generation: {'reused' if result['generation']['reused'] else 'generated'}, "
        f"{result['generation']['seconds']} s",
        f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores; python speed "
        f"{result['machine']['calibration_start']['python_sum_range_1e6_ms']} ms (idle ~20), "
        f"load {result['machine']['calibration_start']['load_average_1m']}",
        "",
        f"{'kind':38} {'p50 ms':>8} {'p95 ms':>8} {'LIKE p50':>9} {'LIKE p95':>9} {'x p50':>7} {'x p95':>7} "
        f"{'rep p95':>8} {'cpu p95':>8}",
    ]
    for kind, row in result["admin"].items():
        rep = result["sales_rep"]["kinds"][kind]
        lines.append(
            f"{row['label']:38} {row['p50_ms']:8.2f} {row['p95_ms']:8.2f} {row['baseline_like']['p50_ms']:9.1f} "
            f"{row['baseline_like']['p95_ms']:9.1f} {row['ratio_p50'] or 0:7.0f} {row['ratio_p95'] or 0:7.0f} "
            f"{rep['p95_ms']:8.2f} {row['cpu_p95_ms']:8.2f}"
        )
    lines.append("")
    lines.append(
        f"target p95 <= {result['target_p95_ms']} ms: {'met' if result['all_within_target'] else 'NOT met'}"
        f" (sales rep owns {result['sales_rep']['owned_customers']:,} customers)"
    )
    return "\n".join(lines)
