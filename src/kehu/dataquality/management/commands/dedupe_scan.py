"""`kehu dedupe_scan [--full]`: scan the stored customers for duplicates.

Incremental by default (only customers changed since the last scan are compared with everyone,
through the stored keys); `--full` re-reads the whole archive. Runs here with a progress line;
`--background` hands the job to the worker (`kehu worker`, started by `kehu serve`). The pairs
found go to the review queue (数据质量 → 疑似重复客户)."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kehu.core.models import Job
from kehu.dataquality import scanning


class Command(BaseCommand):
    help = "扫描数据库中的重复客户（默认增量，--full 全量），结果进入疑似重复复核队列"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--full", action="store_true", help="全量扫描（默认只比较上次扫描后改动的客户）")
        parser.add_argument("--background", action="store_true", help="交给后台任务进程执行")
        parser.add_argument("--workers", type=int, default=None, help="并行进程数（默认：CPU 核数）")

    def handle(self, *args: Any, full: bool, background: bool, workers: int | None, **options: Any) -> None:
        job = scanning.duplicates_scan_job_create(acting_user=None, full=full)
        if job.status != Job.Status.QUEUED:
            raise CommandError(f"scan job {job.pk} is already running")
        if background:
            from kehu.dataquality.tasks import run_duplicates_scan_job

            run_duplicates_scan_job(job.pk)
            self.stdout.write(f"job {job.pk} queued for the worker (kehu worker / kehu serve)")
            return
        started = time.perf_counter()
        job = scanning.duplicates_scan_run(job, workers=workers, on_progress=_Progress(self.stderr).show)
        self.stderr.write("")
        if job.status == Job.Status.FAILED:
            raise CommandError(job.message)
        result = job.result or {}
        seconds = result.get("seconds") or {}
        self.stdout.write("\n".join([
            f"status: {job.status} ({'full' if result.get('full') else 'incremental'} scan, "
            f"{time.perf_counter() - started:.1f} s)",
            f"customers read: {result.get('customers', 0):,}",
            f"candidate pairs compared: {result.get('compared', 0):,} "
            f"({result.get('pairs_per_record', 0)} per customer)",
            f"likely duplicates: {result.get('found', 0):,} pairs ({result.get('certain', 0):,} certain), "
            f"{result.get('clusters', 0):,} groups open for review",
            "seconds: " + ", ".join(f"{phase} {value}" for phase, value in seconds.items()),
        ]))


class _Progress:
    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.last = 0.0

    def show(self, done: int, total: int, phase: str) -> None:
        now = time.monotonic()
        if now - self.last < 0.5 and done < total:
            return
        self.last = now
        self.stream.write(f"\r{phase}: {done:,}/{total:,}      ", ending="")
        if hasattr(sys.stderr, "flush"):
            self.stream.flush()
