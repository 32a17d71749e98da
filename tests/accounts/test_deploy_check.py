"""`check --deploy` is clean with production settings (DEBUG off, a real SECRET_KEY, KEHU_HTTPS=1).

The one silenced check, security.W021 (HSTS preload), is silenced in settings only while
KEHU_HSTS_PRELOAD is off: preloading commits the domain (and its subdomains) to HTTPS in browsers
for months, so it has to be an explicit decision (docs/security.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_check(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEHU_", "DJANGO_", "SECURE_"))}
    env.pop("DATABASE_URL", None)
    env.update({
        "DJANGO_SETTINGS_MODULE": "kehu.config.settings",
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]),
        "KEHU_DATA_DIR": str(tmp_path),
        "SECRET_KEY": "x7Qm2-production-secret-that-is-long-and-random-9f3KdP0zLr8wT5vYb1NcHs4",
        "DEBUG": "0",
        "KEHU_HTTPS": "1",
        "ALLOWED_HOSTS": "crm.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://crm.example.com",
        **extra,
    })
    return subprocess.run([sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False)


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = run_check(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (1 silenced)" in result.stdout


def test_with_preload_on_nothing_is_silenced(tmp_path):
    result = run_check(tmp_path, KEHU_HSTS_PRELOAD="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout


@pytest.mark.parametrize("missing", ["KEHU_HTTPS", "DEBUG"])
def test_without_https_or_with_debug_the_check_complains(tmp_path, missing):
    """The test above would pass vacuously if the check didn't look: it does."""
    result = run_check(tmp_path, **({"KEHU_HTTPS": "0"} if missing == "KEHU_HTTPS" else {"DEBUG": "1"}))
    assert result.returncode != 0
    assert "security.W" in result.stderr + result.stdout
