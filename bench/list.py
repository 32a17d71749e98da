"""`kehu bench list`: the customer list API (50 rows, one filter, sorted) on page 1 and deep.

Requests go through Django's test Client, logged in as the admin, to
`GET /api/v1/customers?limit=50&stage=<id>&sort=-updated_at[&cursor=...]` — the whole stack:
middleware, auth, filter, scoping, keyset page, capped count, JSON. The deep page is reached
with the cursor of the row at that depth (what following `next_cursor` ~10,000 times gives),
and the first row of the answer is checked against the OFFSET query. The baseline is the same
page from a plain `ORDER BY updated_at DESC, id DESC LIMIT 50 OFFSET k` query, measured in the
same run (fewer repetitions on the deep page: it is slow).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.db import connection
from django.test import Client

from bench.common import (
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

TARGET_P95_MS = 50.0
PAGE_SIZE = 50
DEEP_PAGE = 10_000
URL = "/api/v1/customers"


def _offset_sql(stage_id: int, offset: int) -> tuple[str, list[Any]]:
    return (
        "SELECT id, name, updated_at FROM customers_customer WHERE stage_id = %s "
        f"ORDER BY updated_at DESC, id DESC LIMIT {PAGE_SIZE} OFFSET {int(offset)}",
        [stage_id],
    )


def _offset_page(stage_id: int, offset: int) -> list[tuple]:
    sql, params = _offset_sql(stage_id, offset)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _cursor_at(stage_id: int, offset: int) -> str:
    """The `next_cursor` a client holds after reading `offset` rows: built from the last row read."""
    from kehu.customers.models import Customer
    from kehu.customers.selectors import _encode_cursor

    sql, params = _offset_sql(stage_id, offset - 1)
    with connection.cursor() as cursor:
        cursor.execute(sql.replace(f"LIMIT {PAGE_SIZE}", "LIMIT 1"), params)
        pk = cursor.fetchone()[0]
    row = Customer.objects.only("updated_at").get(pk=pk)
    return _encode_cursor(row.updated_at, row.pk, "next")


def _measure(client: Client, url: str, requests: int) -> tuple[dict[str, Any], dict[str, Any]]:
    response = client.get(url)  # warm-up, and the answer we check
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} -> {response.status_code}: {response.content[:300]!r}")
    samples, cpu = [], []
    started = time.perf_counter()
    for _ in range(requests):
        ms, cpu_ms, answer = timed_cpu(lambda: client.get(url))
        assert answer.status_code == 200
        samples.append(ms)
        cpu.append(cpu_ms)
    elapsed = time.perf_counter() - started
    return {
        **summarise(samples), **cpu_summary(cpu), "requests_per_s": round(requests / elapsed, 1)
    }, response.json()


def run(
    *, customers: int = 10000, seed: int = 1, requests: int = 200, baseline_requests: int = 20,
    data_dir: Path | None = None, log: Log = stderr_log, **_: Any,
) -> dict[str, Any]:
    from kehu.accounts.models import User
    from kehu.customers.models import Customer

    with bench_database(customers=customers, seed=seed, data_dir=data_dir, log=log) as data:
        host = machine()
        stage_id = data.stage_ids[0]
        in_stage = Customer.objects.filter(stage_id=stage_id).count()
        # Page 10,000 when the stage has that many rows, else 4/5 of the way down.
        deep_offset = min((DEEP_PAGE - 1) * PAGE_SIZE, in_stage * 4 // 5)
        deep_page = deep_offset // PAGE_SIZE + 1
        client = Client()
        client.force_login(User.objects.get(pk=data.admin_id))
        base_url = f"{URL}?limit={PAGE_SIZE}&stage={stage_id}&sort=-updated_at"
        log(f"bench: page 1 of {in_stage:,} customers in stage {stage_id}")
        first, first_body = _measure(client, base_url, requests)
        deep_url = base_url + (f"&cursor={_cursor_at(stage_id, deep_offset)}" if deep_offset else "")
        log(f"bench: page {deep_page:,} (row {deep_offset + 1:,})")
        deep, deep_body = _measure(client, deep_url, requests)

        expected_first = [r[0] for r in _offset_page(stage_id, 0)]
        expected_deep = [r[0] for r in _offset_page(stage_id, deep_offset)]
        checks = {
            "page_1_matches_offset_query": [i["id"] for i in first_body["items"]] == expected_first,
            "deep_page_matches_offset_query": [i["id"] for i in deep_body["items"]] == expected_deep,
        }
        log("bench: OFFSET baseline")
        base_first = summarise([timed(lambda: _offset_page(stage_id, 0))[0] for _ in range(requests)])
        base_deep = summarise(
            [timed(lambda: _offset_page(stage_id, deep_offset))[0] for _ in range(baseline_requests)]
        )
        pages = {
            "page_1": {**first, "offset": 0, "baseline_offset": base_first,
                       "ratio_p50": ratio(base_first["p50_ms"], first["p50_ms"]),
                       "ratio_p95": ratio(base_first["p95_ms"], first["p95_ms"]),
                       "within_target": first["p95_ms"] <= TARGET_P95_MS},
            "deep_page": {**deep, "page": deep_page, "offset": deep_offset, "baseline_offset": base_deep,
                          "ratio_p50": ratio(base_deep["p50_ms"], deep["p50_ms"]),
                          "ratio_p95": ratio(base_deep["p95_ms"], deep["p95_ms"]),
                          "within_target": deep["p95_ms"] <= TARGET_P95_MS},
        }
        return {
            "benchmark": "list",
            **data.describe(),
            "machine": {**host, "calibration_end": calibration()},
            "request": f"GET {base_url}&cursor=...",
            "stage_id": stage_id,
            "customers_in_stage": in_stage,
            "page_size": PAGE_SIZE,
            "target_p95_ms": TARGET_P95_MS,
            "pages": pages,
            "checks": checks,
            "all_within_target": all(p["within_target"] for p in pages.values()),
        }


def format_table(result: dict[str, Any]) -> str:
    lines = [
        f"list benchmark: {result['customers']:,} customers, {result['vendor']} ({result['database']})",
        f"generation: {'reused' if result['generation']['reused'] else 'generated'}, "
        f"{result['generation']['seconds']} s",
        f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores; python speed "
        f"{result['machine']['calibration_start']['python_sum_range_1e6_ms']} ms (idle ~20), "
        f"load {result['machine']['calibration_start']['load_average_1m']}",
        f"{result['request']}  ({result['customers_in_stage']:,} rows in the stage)",
        "",
        f"{'page':18} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8} {'OFFSET p50':>11} {'OFFSET p95':>11} "
        f"{'x p50':>7} {'x p95':>7} {'cpu p95':>8}",
    ]
    for key, row in result["pages"].items():
        label = "page 1" if key == "page_1" else f"page {row['page']:,}"
        lines.append(
            f"{label:18} {row['p50_ms']:8.2f} {row['p95_ms']:8.2f} {row['requests_per_s']:8.1f} "
            f"{row['baseline_offset']['p50_ms']:11.2f} {row['baseline_offset']['p95_ms']:11.2f} "
            f"{row['ratio_p50'] or 0:7.1f} {row['ratio_p95'] or 0:7.1f} {row['cpu_p95_ms']:8.2f}"
        )
    lines.append("")
    lines.append(f"checks: {result['checks']}")
    lines.append(f"target p95 <= {result['target_p95_ms']} ms: {'met' if result['all_within_target'] else 'NOT met'}")
    return "\n".join(lines)
