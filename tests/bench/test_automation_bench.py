"""`kehu bench automation` once at a tiny size, so it cannot rot. No timing assertions: only that it
runs end to end on its own database (with a real worker process), selects what the data says, and
restores the shared data."""

from __future__ import annotations

import pytest
from bench.common import bench_database

from bench import automation as automation_bench

CUSTOMERS = 200
pytestmark = pytest.mark.django_db


@pytest.fixture
def bench_db(django_db_blocker, tmp_path):  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock():
        yield tmp_path


def test_automation_benchmark_evaluates_and_runs_through_the_worker(bench_db):
    result = automation_bench.run(customers=CUSTOMERS, data_dir=bench_db, log=lambda m: None)
    assert result["benchmark"] == "automation" and result["baseline_count"]["customers"] == CUSTOMERS
    rules = result["time_rules"]
    # Last follow-ups are spread over 0-89 days (id % 90): 30+ days ago for about two thirds.
    first = rules["no_followup_30_days_first_pass"]
    assert first["selected"] == first["fetched"] and CUSTOMERS // 2 < first["selected"] < CUSTOMERS
    assert rules["no_followup_30_days_daily_pass"]["selected"] < first["selected"]
    assert rules["birthday"]["selected"] == rules["birthday"]["fetched"]
    records = result["record_rules"]
    assert records["burst_done"] == records["burst_events"] and records["statuses"] == ["done"]
    assert records["latency_events"] == automation_bench.LATENCY_EVENTS
    assert "record rule through the worker" in automation_bench.format_table(result)
    with bench_database(customers=CUSTOMERS, data_dir=bench_db, log=lambda m: None):
        from kehu.automation.models import ActionLog, Rule
        from kehu.customers.models import Customer

        # Restored: the generated data has no birthdays and no follow-ups; the run's rules are gone.
        assert not Customer.objects.filter(birthday__isnull=False).exists()
        assert not Customer.objects.filter(last_activity_at__isnull=False).exists()
        assert not Rule.objects.exists() and not ActionLog.objects.exists()
