"""Django's `flush` (empty every table), with the audit log's append-only guard lifted for it.

Emptying the whole database is a deliberate erasure like dropping it, and the test runner uses it to
clean up after transaction tests (SQLite flushes with DELETE, which the guard trigger refuses;
PostgreSQL with TRUNCATE, refused too). Everything else stays refused: see kehu.core.audit_chain."""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush

from kehu.core import audit_chain


class Command(flush.Command):
    help = "清空数据库的全部数据（含审计日志）/ Django's flush, audit guard lifted for it"

    def handle(self, **options: Any) -> None:
        with audit_chain.maintenance(using=options["database"]):
            super().handle(**options)
