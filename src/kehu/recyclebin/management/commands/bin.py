"""`kehu bin purge`: remove recycle-bin entries past their purge date now (the worker does it nightly)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "回收站 / recycle bin: `kehu bin purge` removes entries past their purge date"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["purge"])

    def handle(self, *args: Any, **options: Any) -> None:
        from kehu.recyclebin import services

        removed = services.purge_expired()
        self.stdout.write(f"purged {removed} recycle-bin entries (older than {services.retention_days()} days)")
