"""`kehu bench sales` once at a tiny size, so it cannot rot. No timing assertions: only that it runs
end to end on its own database, reports every read with its SQL baseline, agrees with the SQL
aggregates, reuses its opportunities and leaves the test database alone."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from bench import sales as sales_bench
from kehu.sales.models import Opportunity, OpportunityRollup, StageChange, StageReach

OPPORTUNITIES = 300
REPETITIONS = 3
READS = {"board_admin", "board_rep", "forecast_admin", "forecast_rep", "funnel_admin", "figures_admin"}
pytestmark = pytest.mark.django_db


@pytest.fixture
def bench_db(django_db_blocker, tmp_path):  # type: ignore[no-untyped-def]
    """The bench opens its own database (a file under tmp_path on SQLite, kehu_bench_300_s1 on
    PostgreSQL), never the test database."""
    with django_db_blocker.unblock():
        yield tmp_path


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def test_sales_benchmark_reports_each_read_with_its_sql_baseline(bench_db):
    result = sales_bench.run(opportunities=OPPORTUNITIES, repetitions=REPETITIONS, data_dir=bench_db,
                             log=lambda m: None)
    assert result["benchmark"] == "sales"
    assert result["opportunities"] == OPPORTUNITIES and result["customers"] == OPPORTUNITIES
    # Creation plus one row per later stage passed: more history rows than deals.
    assert result["stage_changes"] > OPPORTUNITIES
    assert result["opportunity_generation"]["reused"] is False
    rebuild = result["rollups_rebuild"]
    assert _is_number(rebuild["ms"]) and rebuild["rollup_rows"] > 0 and rebuild["reach_rows"] > 0
    assert result["rep"]["data_scope"] == "own" and result["rep"]["opportunities"] > 0
    assert set(result["reads"]) == READS
    for key, row in result["reads"].items():
        assert row["n"] == REPETITIONS and row["baseline_sql"]["n"] == REPETITIONS, key
        assert all(_is_number(row[k]) for k in ("p50_ms", "p95_ms", "max_ms", "cpu_p95_ms")), key
        assert all(_is_number(row["baseline_sql"][k]) for k in ("p50_ms", "p95_ms")), key
        assert _is_number(row["ratio_p95"]) and isinstance(row["within_target"], bool), key
    # Ours and the bare SQL agree: totals, cards, forecast sums, funnel, figures.
    assert result["checks"] and all(result["checks"].values()), result["checks"]
    assert "kehu bench pool" in result["pool_auto_return"]
    table = sales_bench.format_table(result)
    assert "kanban board, admin" in table and "target p95 <= 200 ms" in table and "pool auto-return" in table
    json.dumps(result)
    # The test database is untouched.
    assert Opportunity.objects.count() == StageChange.objects.count() == 0
    assert OpportunityRollup.objects.count() == StageReach.objects.count() == 0


def test_sales_bench_command_reuses_its_opportunities_and_reloads_another_count(bench_db):
    def bench(opportunities: int) -> dict:
        out = StringIO()
        call_command("bench", "sales", opportunities=opportunities, repetitions=1, sales_customers=OPPORTUNITIES,
                     json=True, data_dir=bench_db, stdout=out, stderr=StringIO())
        return json.loads(out.getvalue())

    first = bench(OPPORTUNITIES)
    again = bench(OPPORTUNITIES)
    assert again["generation"]["reused"] is True and again["opportunity_generation"]["reused"] is True
    assert again["stage_changes"] == first["stage_changes"]
    fewer = bench(OPPORTUNITIES // 2)
    assert fewer["opportunity_generation"]["reused"] is False and fewer["opportunities"] == OPPORTUNITIES // 2
    assert fewer["customers"] == OPPORTUNITIES  # --sales-customers kept the same bench database
    assert all(fewer["checks"].values()), fewer["checks"]
    assert Opportunity.objects.count() == 0
