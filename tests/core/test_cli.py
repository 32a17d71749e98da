from __future__ import annotations

import os
import signal
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command

from kehu import cli
from kehu.core.management.commands import serve
from kehu.customers.models import SearchToken
from kehu.customers.search import search
from tests.factories import ContactFactory, CustomerFactory


def test_help_lists_kehu_commands(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("setup", "serve", "demo", "reindex"):
        assert f"  {command} " in out
    assert out.index("setup") < out.index("serve") < out.index("demo")
    assert "migrate" in out


def test_cli_passes_other_commands_to_django(capsys):
    assert cli.main(["check"]) == 0
    assert "System check identified no issues" in capsys.readouterr().out


def test_console_script_sets_the_settings_module():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(  # noqa: S603 — fixed argv
        [sys.executable, "-c", "import sys; from kehu.cli import main; sys.exit(main(sys.argv[1:]))", "help"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "[core]" in result.stdout and "setup" in result.stdout


def test_gunicorn_argv_runs_the_wsgi_app_with_the_given_workers():
    argv = serve.gunicorn_argv(bind="0.0.0.0:9000", workers=3)
    assert argv[:4] == [sys.executable, "-m", "gunicorn", "kehu.config.wsgi:application"]
    assert argv[argv.index("--bind") + 1] == "0.0.0.0:9000"
    assert argv[argv.index("--workers") + 1] == "3"
    assert 2 <= serve.default_workers() <= 8


def test_serve_without_worker_replaces_itself_with_gunicorn(monkeypatch):
    calls = []
    monkeypatch.setattr(serve.os, "execv", lambda path, argv: calls.append((path, argv)))
    call_command("serve", bind="127.0.0.1:8123", workers=4, no_worker=True, stdout=StringIO())
    [(path, argv)] = calls
    assert path == sys.executable
    assert argv[argv.index("--bind") + 1] == "127.0.0.1:8123"
    assert argv[argv.index("--workers") + 1] == "4"


def test_serve_runs_gunicorn_and_the_background_worker_together(monkeypatch):
    started = []
    monkeypatch.setattr(serve, "run_together", lambda commands: started.extend(commands) or 0)
    call_command("serve", bind="127.0.0.1:8124", workers=2, stdout=StringIO())
    gunicorn, worker = started
    assert "gunicorn" in gunicorn and gunicorn[gunicorn.index("--bind") + 1] == "127.0.0.1:8124"
    assert worker[-1] == "worker" and worker[0] == sys.executable


def test_run_together_stops_the_others_when_one_exits():
    code = serve.run_together([[sys.executable, "-c", "raise SystemExit(3)"],
                               [sys.executable, "-c", "import time; time.sleep(60)"]])
    assert code == 3
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored: later forks must not inherit them


def test_serve_dev_uses_runserver(monkeypatch):
    calls = []
    monkeypatch.setattr(serve, "call_command", lambda *args, **kwargs: calls.append(args))
    monkeypatch.setattr(serve.os, "execv", lambda *args: pytest.fail("gunicorn must not start in --dev"))
    call_command("serve", bind="127.0.0.1:8124", dev=True, stdout=StringIO())
    assert calls == [("runserver", "127.0.0.1:8124")]


@pytest.mark.django_db
def test_reindex_rebuilds_a_lost_index(admin_user):
    customer = CustomerFactory(name="杭州远航物流有限公司", phones=["13912345678"])
    ContactFactory(customer=customer, name="欧阳娜娜", mobile="18611112222")
    before = set(SearchToken.objects.values_list("token", "customer_id", "contact_id"))
    SearchToken.objects.all().delete()
    assert search(user=admin_user, query="远航") == []

    out = StringIO()
    call_command("reindex", stdout=out)
    assert "1 个客户" in out.getvalue()
    assert set(SearchToken.objects.values_list("token", "customer_id", "contact_id")) == before
    assert [h.customer.pk for h in search(user=admin_user, query="远航")] == [customer.pk]
    assert [h.contact.name for h in search(user=admin_user, query="2222") if h.contact] == ["欧阳娜娜"]
