"""`kehu bench shares` once at a tiny size, so it cannot rot. No timing assertions: only that it runs
end to end on its own database, that the merged list gives the one-query rows, and that it removes
the shares it made."""

from __future__ import annotations

import pytest

from bench import shares as shares_bench

CUSTOMERS = 300
pytestmark = pytest.mark.django_db


@pytest.fixture
def bench_db(django_db_blocker, tmp_path):  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock():
        yield tmp_path


def test_shares_benchmark_merges_the_same_rows_and_cleans_up(bench_db):
    result = shares_bench.run(customers=CUSTOMERS, requests=3, data_dir=bench_db, log=lambda m: None)
    assert result["benchmark"] == "shares" and result["shared"] == shares_bench.SHARED
    assert result["merged_rows_match_baseline"] is True
    assert set(result["pages"]) == {"page_1", "deep_page"}
    assert result["pages"]["page_1"]["shared_merged"]["n"] == 3
    assert "merged rows = one-query rows: True" in shares_bench.format_table(result)
    again = shares_bench.run(customers=CUSTOMERS, requests=1, data_dir=bench_db, log=lambda m: None)
    assert again["merged_rows_match_baseline"] is True  # the first run's shares were removed
