"""A reused bench database is brought up to the code's migrations, cheaply when none is pending."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import bench.common
import pytest
from bench.common import bench_database
from django.db.migrations.executor import MigrationExecutor

CUSTOMERS = 50
pytestmark = pytest.mark.django_db


@pytest.fixture
def bench_dir(django_db_blocker, tmp_path):  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock():
        yield tmp_path


@dataclass
class _Pending:
    app_label: str
    name: str


def test_reused_bench_database_migrates_only_when_a_migration_is_pending(bench_dir, monkeypatch):
    with bench_database(customers=CUSTOMERS, data_dir=bench_dir, log=lambda m: None):
        pass  # generated (and migrated) once
    migrate_calls: list[tuple[Any, ...]] = []

    def recording_call_command(*args: Any, **kwargs: Any) -> None:
        migrate_calls.append(args)  # recorded, not run: the pending migration below is made up

    monkeypatch.setattr(bench.common, "call_command", recording_call_command)
    quiet: list[str] = []
    with bench_database(customers=CUSTOMERS, data_dir=bench_dir, log=quiet.append) as data:
        assert data.reused is True
    assert migrate_calls == [] and not any("migrat" in m for m in quiet), quiet

    # A migration that arrived after the data was generated (another app's new column).
    monkeypatch.setattr(
        MigrationExecutor, "migration_plan", lambda self, targets, **kw: [(_Pending("dataquality", "0009_new"), False)]
    )
    messages: list[str] = []
    with bench_database(customers=CUSTOMERS, data_dir=bench_dir, log=messages.append) as data:
        assert data.reused is True
    assert migrate_calls == [("migrate",)]
    assert any("1 pending migration(s): dataquality.0009_new" in m for m in messages), messages
