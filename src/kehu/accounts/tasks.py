"""Huey tasks of the accounts app; thin: each calls a service. (djhuey discovers `tasks` modules.)"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(hour="4", minute="50"))
def nightly_security_cleanup() -> None:
    """Expired sessions and sign-in attempts older than KEHU_LOGIN_ATTEMPT_DAYS (the audit log keeps its own record)."""
    from kehu.accounts import services

    services.security_cleanup()
