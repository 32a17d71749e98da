"""Huey tasks of the core app; thin: each calls one function."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="*"))
def audit_seal() -> None:
    """Chain the audit events written since the last run (kehu.core.audit_chain)."""
    from kehu.core import audit_chain

    audit_chain.seal()


def _backup_due(timestamp):  # type: ignore[no-untyped-def]
    """Huey asks once a minute whether the daily backup is due (kehu.core.backup.backup_due)."""
    from kehu.core.backup import backup_due

    return backup_due(timestamp)


@db_periodic_task(_backup_due)
def scheduled_backup() -> None:
    """The daily backup at KEHU_BACKUP_SCHEDULE (site time) into KEHU_BACKUP_DIR, keeping the newest
    KEHU_BACKUP_KEEP (kehu.core.backup.backup_scheduled, docs/backup.md)."""
    from kehu.core import backup

    backup.backup_scheduled()
