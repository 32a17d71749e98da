"""Each benchmark once at a tiny size, so `kehu bench` cannot rot. No timing assertions: only
that it runs end to end on its own database and reports the expected figures."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from bench import list as list_bench
from bench import search as search_bench
from kehu.customers.models import Customer

CUSTOMERS = 300
pytestmark = pytest.mark.django_db


@pytest.fixture
def bench_db(django_db_blocker, tmp_path):  # type: ignore[no-untyped-def]
    """The bench opens its own database (a file under tmp_path on SQLite, kehu_bench_300_s1 on
    PostgreSQL), never the test database."""
    with django_db_blocker.unblock():
        yield tmp_path


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def test_search_benchmark_reports_every_query_kind(bench_db):
    result = search_bench.run(customers=CUSTOMERS, queries=5, baseline_queries=2, data_dir=bench_db, log=lambda m: None)
    assert result["benchmark"] == "search"
    assert result["customers"] == CUSTOMERS
    assert result["search_tokens"] > CUSTOMERS * 10
    assert set(result["admin"]) == set(search_bench.KINDS)
    for kind, row in result["admin"].items():
        assert row["n"] == 5, kind
        assert row["queries_without_hits"] == 0, kind  # every query is drawn from the data
        assert all(_is_number(row[key]) for key in ("p50_ms", "p95_ms", "mean_hits")), kind
        assert row["baseline_like"]["n"] == 2
        assert _is_number(row["ratio_p95"])
    rep = result["sales_rep"]
    assert rep["owned_customers"] > 0
    assert set(rep["kinds"]) == set(search_bench.KINDS)
    assert all(r["queries_without_hits"] == 0 for r in rep["kinds"].values())
    json.dumps(result)  # machine-readable as is


def test_search_benchmark_reuses_its_data_and_leaves_the_test_database_alone(bench_db):
    search_bench.run(customers=CUSTOMERS, queries=2, baseline_queries=1, data_dir=bench_db, log=lambda m: None)
    again = search_bench.run(customers=CUSTOMERS, queries=2, baseline_queries=1, data_dir=bench_db, log=lambda m: None)
    assert again["generation"]["reused"] is True
    assert Customer.objects.count() == 0


def test_list_benchmark_reports_page_one_and_a_deep_page(bench_db):
    result = list_bench.run(customers=CUSTOMERS, requests=3, baseline_requests=2, data_dir=bench_db, log=lambda m: None)
    assert result["benchmark"] == "list"
    assert result["checks"] == {"page_1_matches_offset_query": True, "deep_page_matches_offset_query": True}
    first, deep = result["pages"]["page_1"], result["pages"]["deep_page"]
    assert deep["offset"] > 0
    for page in (first, deep):
        assert page["n"] == 3
        assert all(_is_number(page[key]) for key in ("p50_ms", "p95_ms", "requests_per_s"))
        assert _is_number(page["ratio_p95"])
    json.dumps(result)


def test_bench_command_prints_only_json_on_stdout(bench_db):
    out, err = StringIO(), StringIO()
    call_command(
        "bench", "search", customers=CUSTOMERS, queries=2, baseline_queries=1, json=True, data_dir=bench_db,
        stdout=out, stderr=err,
    )
    result = json.loads(out.getvalue())
    assert result["benchmark"] == "search"
    assert "reusing" in err.getvalue() or "generating" in err.getvalue()


def test_normalize_benchmark_reports_pipeline_baseline_ratio_and_memory():
    from bench import normalize as normalize_bench

    result = normalize_bench.run(rows=300, workers=2, log=lambda m: None)
    assert result["benchmark"] == "normalize"
    assert (result["rows"], result["workers"]) == (300, 2)
    pipeline, baseline = result["pipeline"], result["baseline"]
    assert pipeline["rows"] == 300
    assert pipeline["summary"]["rows"] == 300
    assert pipeline["single_process_rows"] == 300
    assert 0 < pipeline["summary"]["rows_with_problems"] < 300  # the generator's invalid values are found
    assert set(pipeline["summary"]["fixed"]) <= {"phone", "email", "address", "company", "name"}
    assert all(_is_number(pipeline[k]) and pipeline[k] > 0 for k in ("rows_per_s", "single_process_rows_per_s"))
    assert (baseline["rows_sampled"], baseline["address_rows_sampled"]) == (300, 300)
    assert all(_is_number(baseline[k]) and baseline[k] > 0 for k in ("phone_us", "email_us", "address_us",
                                                                        "pinyin_us", "rows_per_s"))
    assert _is_number(result["ratio"]) and _is_number(result["ratio_single_process"])
    assert all(_is_number(v) and v > 0 for v in result["memory"].values())
    assert normalize_bench.generate_rows(50, seed=3) == normalize_bench.generate_rows(50, seed=3)
    assert "pipeline, 2 processes" in normalize_bench.format_table(result)
    json.dumps(result)


def test_export_benchmark_reports_csv_xlsx_baseline_and_memory(bench_db):
    from bench import export as export_bench

    result = export_bench.run(rows=CUSTOMERS, data_dir=bench_db, log=lambda m: None)
    assert result["benchmark"] == "export"
    assert result["customers"] == CUSTOMERS
    assert result["checks"] == {"csv_rows_equal_customers": True, "baseline_rows_equal_customers": True,
                                "xlsx_rows_equal_customers": True}
    for part in ("baseline", "csv", "xlsx"):
        assert result[part]["rows"] == CUSTOMERS
        assert all(_is_number(result[part][k]) for k in ("wall_s", "rows_per_s", "file_mb"))
    assert _is_number(result["csv"]["ratio_wall_vs_baseline"]) and _is_number(result["process_peak_rss_mb"])
    assert "XLSX" in export_bench.format_table(result)
    json.dumps(result)


def test_import_benchmark_reports_engine_baseline_xlsx_and_profile(bench_db):
    import importlib

    import_bench = importlib.import_module("bench.import")  # `import` is a keyword
    result = import_bench.run(rows=CUSTOMERS, xlsx_rows=50, profile_rows=100, data_dir=bench_db, log=lambda m: None)
    assert result["benchmark"] == "import"
    assert result["checks"] == {"every_row_decided": True, "table_holds_created_rows": True,
                                "baseline_rows_equal": True, "some_rejected_and_skipped": True}
    assert result["import_csv"]["counts"]["rows"] == CUSTOMERS and result["import_xlsx"]["counts"]["rows"] == 50
    assert result["baseline"]["rows"] == result["import_csv"]["counts"]["created"]
    assert _is_number(result["ratio_wall_vs_baseline"]) and result["profile"]["rows"] == 100
    assert list(import_bench.generate_rows(20, seed=3)) == list(import_bench.generate_rows(20, seed=3))
    assert "baseline executemany" in import_bench.format_table(result) or result["vendor"] == "postgresql"
    assert Customer.objects.count() == 0  # the test database is untouched
    json.dumps(result)
