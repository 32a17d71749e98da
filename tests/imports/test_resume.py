"""A killed import resumes from its last committed chunk without duplicating rows: the import runs
in a real `kehu` process that exits hard (os._exit, no cleanup) after two chunks, then
`kehu import --resume` finishes it; the outcome equals an uninterrupted run of the same file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kehu.customers.models import Customer
from kehu.imports.engine import CHUNK_ROWS_ENV, CRASH_AFTER_ENV
from tests.imports.helpers import credit_code, run_import, write_csv

KEHU = [sys.executable, "-c", "import sys; from kehu.cli import main; sys.exit(main(sys.argv[1:]))"]


def _rows() -> list[list[str]]:
    rows = [["编号", "名称", "电话", "信用代码"]]
    for i in range(23):
        rows.append([f"E{i % 20}", f"客户{i % 20}号有限公司", f"1381234{i:04d}", credit_code(100 + i % 20)])
    rows.insert(8, ["E99", "", "", ""])  # rejected: no name
    return rows


def _kehu(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(KEHU + args, env=env, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603


def _query(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


@pytest.mark.django_db
def test_resume_after_a_hard_kill_matches_an_uninterrupted_run(admin_user, tmp_path):
    path = write_csv(tmp_path / "c.csv", _rows())
    mapping = '{"0": "external_id", "1": "name", "2": "phones", "3": "credit_code"}'
    reference = run_import(admin_user, path, mapping={0: "external_id", 1: "name", 2: "phones", 3: "credit_code"},
                           mode="upsert", match_by=["external_id"])
    expected_names = sorted(Customer.objects.values_list("name", "external_id", "phones"))

    data = tmp_path / "proc"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update({"KEHU_DATA_DIR": str(data), "DJANGO_SUPERUSER_PASSWORD": "pw-for-test-only", CHUNK_ROWS_ENV: "5"})
    for args in (["migrate", "--noinput"], ["createsuperuser", "--noinput", "--username", "boss",
                                             "--email", "boss@example.com"]):
        done = _kehu(args, env)
        assert done.returncode == 0, done.stderr
    db = data / "kehu.sqlite3"

    killed = _kehu(["import", str(path), "--mapping", mapping, "--mode", "upsert", "--match-by", "external_id",
                    "--user", "boss"], {**env, CRASH_AFTER_ENV: "2"})
    assert killed.returncode == 17, killed.stderr
    [(batch_id, last_row, rows, status)] = _query(db, "SELECT id, last_row, rows, status FROM imports_importbatch")
    assert status == "running" and rows >= 10 and last_row >= 11
    committed = _query(db, "SELECT COUNT(*) FROM customers_customer")[0][0]
    assert 0 < committed < len(expected_names)
    uploads = list((data / "uploads").iterdir())
    assert len(uploads) == 1  # kept for the resume

    resumed = _kehu(["import", "--resume", str(batch_id), "--user", "boss"], env)
    assert resumed.returncode == 0, resumed.stderr
    assert "status: done" in resumed.stdout

    [counts] = _query(db, "SELECT rows, created, updated, skipped, flagged, rejected, status "
                          "FROM imports_importbatch")
    assert counts == (reference.rows, reference.created, reference.updated, reference.skipped, reference.flagged,
                      reference.rejected, "done")
    got = sorted((name, ext, json.loads(phones)) for name, ext, phones in _query(
        db, "SELECT name, external_id, phones FROM customers_customer"))
    assert got == expected_names
    logs = _query(db, "SELECT row_number, COUNT(*) FROM imports_importrowlog GROUP BY row_number HAVING COUNT(*) > 1")
    assert logs == []  # no row handled twice
    assert list((data / "uploads").iterdir()) == []
