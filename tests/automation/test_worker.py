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
from typing import Any

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


KILL_SETUP = """
from kehu.accounts.models import User
from kehu.automation import services
from kehu.customers.models import Customer
admin = User.objects.create_superuser("boss", "boss@example.com", "pw-for-test-only")
Customer.objects.bulk_create([Customer(name="客户%d" % i, owner=admin) for i in range({n})])
rule = services.rule_create(acting_user=admin, data={{"name": "kill", "object_type": "customer",
    "trigger": "schedule", "trigger_params": {{"at": "00:00"}},
    "actions": [{{"type": "add_tag", "params": {{"tag": "once"}}}}]}})
print("rule", rule.pk)
"""
RUN_NOW = "from kehu.automation.tasks import run_rule_now_task; run_rule_now_task({rule})"
KILL_CUSTOMERS = 600


def _start_worker(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen[str], Any]:
    log = log_path.open("a")
    worker = subprocess.Popen(KEHU + ["worker", "--workers", "1"], env=env, stdout=log,  # noqa: S603
                              stderr=subprocess.STDOUT, text=True)
    return worker, log


def _done(db: Path) -> int:
    return _query(db, "SELECT COUNT(*) FROM automation_actionlog WHERE status = 'done'")[0][0]


def _wait_for(db: Path, condition: Any, worker: subprocess.Popen[str], log_path: Path) -> int:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        done = _done(db)
        if condition(done):
            return done
        assert worker.poll() is None, log_path.read_text()[-3000:]
        time.sleep(0.05)  # polling interval, not an assertion delay
    raise AssertionError(f"timed out at {_done(db)} done actions\n{log_path.read_text()[-3000:]}")


def test_a_worker_killed_mid_pass_resumes_without_acting_twice(tmp_path):
    """SIGKILL the worker in the middle of a daily pass over 600 customers, start a new worker and run
    the pass again: every customer is tagged exactly once, each action logged once with one attempt
    (the action and its "done" mark commit in one transaction under a unique key)."""
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "HUEY_IMMEDIATE", "HUEY_REDIS_URL")}
    env.update({"KEHU_DATA_DIR": str(data), "KEHU_WORKERS": "1"})
    assert _kehu(["migrate", "--noinput"], env).returncode == 0
    db = data / "kehu.sqlite3"
    created = _kehu(["shell", "-c", KILL_SETUP.format(n=KILL_CUSTOMERS)], env)
    assert created.returncode == 0, created.stderr
    rule_id = int(created.stdout.split("rule", 1)[1].split()[0])
    log_path = tmp_path / "worker.log"
    worker, log = _start_worker(env, log_path)
    try:
        assert _kehu(["shell", "-c", RUN_NOW.format(rule=rule_id)], env).returncode == 0
        _wait_for(db, lambda done: done >= 50, worker, log_path)
        worker.kill()  # SIGKILL: no clean-up, no acknowledgement, mid-transaction if it was in one
        worker.wait(timeout=20)
    finally:
        log.close()
    at_kill = _done(db)
    assert 50 <= at_kill < KILL_CUSTOMERS, "the pass finished before the kill: nothing was tested"

    worker, log = _start_worker(env, log_path)
    try:
        assert _kehu(["shell", "-c", RUN_NOW.format(rule=rule_id)], env).returncode == 0
        _wait_for(db, lambda done: done >= KILL_CUSTOMERS, worker, log_path)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=20)
        log.close()
    logs = _query(db, "SELECT record_id, status, attempts FROM automation_actionlog")
    assert len(logs) == KILL_CUSTOMERS == len({record for record, _status, _attempts in logs})
    assert {(status, attempts) for _record, status, attempts in logs} == {("done", 1)}
    tagged = _query(db, "SELECT ct.customer_id, COUNT(*) FROM customers_customer_tags ct "
                        "JOIN customers_tag t ON t.id = ct.tag_id WHERE t.name = 'once' GROUP BY ct.customer_id")
    assert len(tagged) == KILL_CUSTOMERS and {count for _customer, count in tagged} == {1}
    runs = _query(db, "SELECT status FROM automation_rulerun ORDER BY id")
    assert runs[-1] == ("done",) and len(runs) == 2  # the killed pass never finished; the second did
