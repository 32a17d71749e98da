"""`kehu bench shares`: a sales rep's customer list when some customers are shared with them.

Scoping ORs shared records into every read (`core/scoping.py`). On the list page that would turn
"my customers, newest first" (one ordered range of the (owner, updated_at, id) index) into
`owner = me OR id IN (…)`, which both databases answer by collecting and sorting all the rep's
customers. The list therefore reads the rep's own page and the shared rows apart, each in index
order, and merges them (`scoping.split_shared`, `keyset_page(shared=…)`).

Measured on the bench database, for the rep owning the most customers, page 1 and a deep page
(the row 2,000 down, by cursor), through `customer_list_page` (filters, scoping, keyset page, capped
count, owner and tags loaded):

- without shares;
- with 3 customers of other owners shared with the rep (the merged reads);
- baseline, same run: the same pages from one query with the OR-ed condition (what `restrict()`
  gives), through the same keyset code.

The rows of the merged page are checked against the baseline's.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from django.db.models import Count

from bench.common import Log, bench_database, calibration, machine, ratio, stderr_log, summarise, timed

SHARED = 3
DEEP_ROW = 2000
PAGE_SIZE = 50
TARGET_P95_MS = 50.0


def run(*, customers: int = 10000, seed: int = 1, requests: int = 200, data_dir: Path | None = None,
        log: Log = stderr_log) -> dict[str, Any]:
    from kehu.accounts.models import RecordShare, User
    from kehu.customers import selectors
    from kehu.customers.filters import CustomerFilter
    from kehu.customers.models import Customer

    with bench_database(customers=customers, seed=seed, data_dir=data_dir, log=log) as data:
        host = machine()
        owner_id = Customer.objects.values("owner").annotate(n=Count("id")).order_by("-n")[0]["owner"]
        owned = Customer.objects.filter(owner_id=owner_id).count()
        rows = list(Customer.objects.filter(owner_id=owner_id).order_by("-updated_at", "-id")
                    .values_list("updated_at", "id")[min(DEEP_ROW, owned - 1):][:1])
        deep_cursor = selectors._encode_cursor(rows[0][0], rows[0][1], "next") if rows else None
        others = list(Customer.objects.exclude(owner_id=owner_id).values_list("pk", flat=True)[:2000])
        shared_ids = random.Random(seed).sample(others, min(SHARED, len(others)))

        def rep() -> Any:  # a fresh user each request, as in a request: nothing cached on it
            return User.objects.select_related("role", "department").get(pk=owner_id)

        def page(cursor: str | None, *, one_query: bool = False) -> Any:
            if one_query:
                user = rep()
                queryset = selectors.customers_filtered(user=user, filters=CustomerFilter()).select_related("owner")
                return selectors.keyset_page(queryset, sort="-updated_at", cursor=cursor, limit=PAGE_SIZE)
            return selectors.customer_list_page(user=rep(), filters=CustomerFilter(), cursor=cursor, limit=PAGE_SIZE)

        def measure(cursor: str | None, *, one_query: bool = False) -> dict[str, Any]:
            page(cursor, one_query=one_query)  # warm
            return summarise([timed(lambda: page(cursor, one_query=one_query))[0] for _ in range(requests)])

        cursors = {"page_1": None, "deep_page": deep_cursor}
        RecordShare.objects.filter(user_id=owner_id).delete()
        try:
            log(f"bench: rep {owner_id} with {owned:,} customers, no shares")
            plain = {name: measure(cursor) for name, cursor in cursors.items()}
            for pk in shared_ids:
                RecordShare.objects.create(object_type="customers.customer", object_id=pk, user_id=owner_id)
            log(f"bench: {len(shared_ids)} customers shared with the rep: merged reads")
            merged = {name: measure(cursor) for name, cursor in cursors.items()}
            log("bench: baseline, one OR-ed query")
            baseline = {name: measure(cursor, one_query=True) for name, cursor in cursors.items()}
            same_rows = all([r.pk for r in page(c).rows] == [r.pk for r in page(c, one_query=True).rows]
                            for c in cursors.values())
        finally:
            RecordShare.objects.filter(user_id=owner_id).delete()
        pages = {
            name: {"no_shares": plain[name], "shared_merged": merged[name], "baseline_one_query": baseline[name],
                   "ratio_p95_baseline_to_merged": ratio(baseline[name]["p95_ms"], merged[name]["p95_ms"]),
                   "within_target": merged[name]["p95_ms"] <= TARGET_P95_MS}
            for name in cursors
        }
        return {
            "benchmark": "shares",
            **data.describe(),
            "machine": {**host, "calibration_end": calibration()},
            "rep_customers": owned,
            "shared": len(shared_ids),
            "deep_row": DEEP_ROW if deep_cursor else None,
            "page_size": PAGE_SIZE,
            "target_p95_ms": TARGET_P95_MS,
            "pages": pages,
            "merged_rows_match_baseline": same_rows,
            "all_within_target": all(p["within_target"] for p in pages.values()),
        }


def format_table(result: dict[str, Any]) -> str:
    lines = [
        f"shares benchmark: {result['customers']:,} customers, {result['vendor']} ({result['database']})",
        f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores; python speed "
        f"{result['machine']['calibration_start']['python_sum_range_1e6_ms']} ms (idle ~20), "
        f"load {result['machine']['calibration_start']['load_average_1m']}",
        f"a rep with {result['rep_customers']:,} customers, {result['shared']} more shared with them; "
        f"{result['page_size']} rows a page",
        "",
        f"{'page':12} {'no shares p50/p95':>20} {'merged p50/p95':>20} {'one query p50/p95':>20} {'x p95':>7}",
    ]
    for name, row in result["pages"].items():
        label = "page 1" if name == "page_1" else f"row {result['deep_row']:,}"

        def pair(stats: dict[str, Any]) -> str:
            return f"{stats['p50_ms']:.2f} / {stats['p95_ms']:.2f}"

        lines.append(f"{label:12} {pair(row['no_shares']):>20} {pair(row['shared_merged']):>20} "
                     f"{pair(row['baseline_one_query']):>20} {row['ratio_p95_baseline_to_merged'] or 0:7.1f}")
    lines.append("")
    lines.append(f"merged rows = one-query rows: {result['merged_rows_match_baseline']}")
    lines.append(f"target p95 <= {result['target_p95_ms']} ms (merged): "
                 f"{'met' if result['all_within_target'] else 'NOT met'}")
    return "\n".join(lines)
