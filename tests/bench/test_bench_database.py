"""A reused bench database is brought up to the code's migrations, cheaply when none is pending."""

from __future__ import annotations

import pytest
from bench.common import bench_database
from django.db import connection

CUSTOMERS = 50
pytestmark = pytest.mark.django_db


@pytest.fixture
def bench_dir(django_db_blocker, tmp_path):  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock():
        yield tmp_path


def _applied(app: str, name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM django_migrations WHERE app = %s AND name = %s", [app, name])
        return cursor.fetchone() is not None


def test_reused_bench_database_applies_pending_migrations_and_only_then(bench_dir):
    # Pretend a migration arrived after the data was generated (this one is idempotent).
    with bench_database(customers=CUSTOMERS, data_dir=bench_dir, log=lambda m: None), connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'accounts' AND name = '0002_default_roles'")
    messages: list[str] = []
    with bench_database(customers=CUSTOMERS, data_dir=bench_dir, log=messages.append) as data:
        assert data.reused is True
        assert _applied("accounts", "0002_default_roles")
    assert any("pending migration(s): accounts.0002_default_roles" in m for m in messages), messages

    quiet: list[str] = []
    with bench_database(customers=CUSTOMERS, data_dir=bench_dir, log=quiet.append):
        pass
    assert not any("migrat" in m for m in quiet), quiet
