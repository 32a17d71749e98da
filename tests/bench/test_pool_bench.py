"""`kehu bench pool` once at a tiny size, so it cannot rot. No timing assertions: only that it runs
end to end on its own database, returns the stale share, and restores the shared data."""

from __future__ import annotations

import pytest

from bench import pool as pool_bench

CUSTOMERS = 200
pytestmark = pytest.mark.django_db


@pytest.fixture
def bench_db(django_db_blocker, tmp_path):  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock():
        yield tmp_path


def test_pool_benchmark_returns_the_stale_share_and_restores(bench_db):
    result = pool_bench.run(customers=CUSTOMERS, data_dir=bench_db, log=lambda m: None)
    assert result["benchmark"] == "pool"
    scan = result["scans"]["first_run"]
    # No deals on the tiny database: every stale customer goes back to the pool.
    assert scan["returned"] == scan["selected"] == scan["in_pool"] == result["baseline_count"]["customers"] > 0
    assert scan["reminded"] > 0 and scan["second_returned"] == 0
    assert result["scans"]["nightly"]["returned"] <= scan["returned"]
    assert "scan, first run" in pool_bench.format_table(result)
    again = pool_bench.run(customers=CUSTOMERS, data_dir=bench_db, log=lambda m: None)
    assert again["scans"]["first_run"]["returned"] == scan["returned"]  # the data was restored
