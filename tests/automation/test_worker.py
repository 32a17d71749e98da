"""A real worker process: `kehu worker` (Huey consumer, SQLite queue in a temporary data folder)
against a file SQLite database. A second `kehu` process creates a customer through the service;
the event goes through the queue to the worker, which runs the rule. The test polls the database
until the action is logged (bounded by a timeout), never asserting after a fixed sleep."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

KEHU = [sys.executable, "-c", "import sys; from kehu.cli import main; sys.exit(main(sys.argv[1:]))"]
TIMEOUT_SECONDS = 120

SETUP = """
from django.db import transaction
from kehu.accounts.models import User
from kehu.automation import services
from kehu.customers.services import customer_create
admin = User.objects.create_superuser("boss", "boss@example.com", "pw-for-test-only")
services.rule_create(acting_user=admin, data={"name": "worker", "object_type": "customer", "trigger": "created",
    "actions": [{"type": "add_tag", "params": {"tag": "worker"}}]})
with transaction.atomic():
    customer = customer_create(acting_user=admin, data={"name": "进程测试公司"})
print("customer", customer.pk)
"""


def _kehu(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(KEHU + args, env=env, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603


def _query(db: Path, sql: str) -> list[tuple]:
    connection = sqlite3.connect(db, timeout=20)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def test_the_worker_process_runs_a_record_rule(tmp_path):
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "HUEY_IMMEDIATE", "HUEY_REDIS_URL")}
    env.update({"KEHU_DATA_DIR": str(data), "KEHU_WORKERS": "1"})
    migrated = _kehu(["migrate", "--noinput"], env)
    assert migrated.returncode == 0, migrated.stderr
    db = data / "kehu.sqlite3"
    log = (tmp_path / "worker.log").open("w")  # a file, not a pipe: a chatty worker never blocks on it
    worker = subprocess.Popen(KEHU + ["worker", "--workers", "1"], env=env, stdout=log,  # noqa: S603
                              stderr=subprocess.STDOUT, text=True)
    try:
        created = _kehu(["shell", "-c", SETUP], env)
        assert created.returncode == 0, created.stderr
        customer_id = int(created.stdout.split("customer", 1)[1].split()[0])
        deadline = time.monotonic() + TIMEOUT_SECONDS
        rows: list[tuple] = []
        while time.monotonic() < deadline and worker.poll() is None:
            rows = _query(db, f"SELECT status, action_type, error FROM automation_actionlog "
                              f"WHERE record_id = {customer_id}")
            if rows and rows[0][0] in ("done", "failed"):  # a transient failure is retried by the worker
                break
            time.sleep(0.2)  # polling interval, not an assertion delay
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()
        assert rows == [("done", "add_tag", "")], (rows, (tmp_path / "worker.log").read_text()[-3000:])
        tags = _query(db, "SELECT t.name FROM customers_tag t JOIN customers_customer_tags ct ON ct.tag_id = t.id "
                          f"WHERE ct.customer_id = {customer_id}")
        assert tags == [("worker",)]
        [(trigger, status, acted)] = _query(db, "SELECT trigger, status, acted FROM automation_rulerun")
        assert (trigger, status, acted) == ("customer.created", "done", 1)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=20)
        log.close()
