"""`kehu bench dedupe` once at a tiny size, so it cannot rot. No timing assertions: only that it
runs end to end on its own database and reports the figures the issue asks for."""

from __future__ import annotations

import json

import pytest

from bench import dedupe as dedupe_bench
from kehu.customers.models import Customer
from kehu.dataquality.models import DedupeKey

CUSTOMERS = 300
pytestmark = pytest.mark.django_db


@pytest.fixture
def bench_db(django_db_blocker, tmp_path):  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock():
        yield tmp_path


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def test_dedupe_benchmark_reports_scan_check_and_baseline(bench_db):
    result = dedupe_bench.run(customers=CUSTOMERS, checks=5, accuracy=False, data_dir=bench_db, log=lambda m: None)
    assert result["benchmark"] == "dedupe"
    full, incremental = result["full_scan"], result["incremental_scan"]
    assert full["full"] is True and full["customers"] == CUSTOMERS
    assert full["keys"] > CUSTOMERS * 3  # phones, e-mails, credit code, company core ... per customer
    assert full["compared"] >= full["found"] >= full["certain"]
    for key in ("wall_s", "customers_per_s", "pairs_per_record", "peak_rss_mb", "worker_peak_rss_mb"):
        assert _is_number(full[key]), key
    # The 1% most recently updated customers count as changed: 3 of 300.
    assert incremental["full"] is False
    assert incremental["changed_customers"] == incremental["customers"] == 3
    baseline = result["baseline_exact_group_by"]
    assert set(baseline["by_key"]) == set(dedupe_bench.BASELINE_QUERIES)
    assert _is_number(baseline["seconds"]) and _is_number(baseline["pairs"])
    entry = result["on_entry_check"]
    assert entry.get("n") == 5 or "skipped" in entry
    assert result["accuracy"] == {"skipped": "accuracy=False"}
    json.dumps(result)
    assert "full scan" in dedupe_bench.format_table(result)
    assert Customer.objects.count() == 0 and DedupeKey.objects.count() == 0  # the test database is untouched


def test_contact_dedupe_benchmark_reports_pass_baseline_and_accuracy(bench_db):
    from bench import dedupe_contacts
    from kehu.customers.models import Contact

    result = dedupe_contacts.run(customers=CUSTOMERS, data_dir=bench_db, log=lambda m: None)
    assert result["benchmark"] == "dedupe_contacts"
    assert result["contacts"] == CUSTOMERS + result["contacts_added"] and result["contacts_added"] > CUSTOMERS
    ours, base = result["contact_pass"], result["baseline_exact_group_by"]
    assert ours["customers_with_several_contacts"] > 0
    assert ours["accuracy"]["true_pairs"] > 0
    # The planted duplicates the exact baseline cannot see (honorifics, pinyin names, another column)
    # are what the engine is for: it finds more of them.
    assert ours["accuracy"]["recall"] > base["accuracy"]["recall"]
    for key in ("wall_s", "contacts_per_s"):
        assert _is_number(ours[key]), key
    assert _is_number(base["wall_s"])
    json.dumps(result)
    assert "contact pass" in dedupe_contacts.format_table(result)
    assert Contact.objects.count() == 0  # the test database is untouched
