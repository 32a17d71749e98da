"""Huey tasks of the sales app; thin: each calls a service."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(hour="4", minute="20"))
def nightly_churn_scan() -> None:
    """Customers inactive for months whose deals were lost become churned (`lifecycle.churn_scan`)."""
    from kehu.sales import lifecycle

    lifecycle.churn_scan()
