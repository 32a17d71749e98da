"""`kehu worker`: the background worker (Huey consumer) that runs imports, cleaning runs,
automation and reminders. `kehu serve` starts one beside the web server."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "后台任务进程（Huey）：导入、数据清洗、自动化、提醒"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workers", type=int, default=None, help="并发线程数（默认 KEHU_WORKERS 或 2）")

    def handle(self, *args: Any, workers: int | None = None, **options: Any) -> None:
        storage = settings.HUEY.get("filename") or settings.HUEY.get("url")
        self.stdout.write(f"Kehu worker: queue {settings.HUEY['huey_class']} ({storage})")
        self.stdout.flush()
        kwargs: dict[str, Any] = {}
        if workers:
            kwargs["workers"] = workers
        call_command("run_huey", **kwargs)
