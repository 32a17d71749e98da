"""`kehu normalize`: re-run normalisation over the stored customers and contacts.

Runs here with a progress line by default; `--background` hands it to the worker (`kehu worker`,
started by `kehu serve`) and `--follow` then shows its progress. `--resume JOB` continues a run
that was killed, from the last committed chunk. Every change goes into a CSV report."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kehu.core.models import Job
from kehu.dataquality import services


class Command(BaseCommand):
    help = "重新规范化已存储的客户与联系人数据（后台任务，带进度），并生成变更报告"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="只报告会改什么，不写入")
        parser.add_argument("--background", action="store_true", help="交给后台任务进程执行")
        parser.add_argument("--follow", action="store_true", help="与 --background 同用：显示进度直到完成")
        parser.add_argument("--resume", type=int, default=None, metavar="JOB", help="继续一个中断的任务")

    def handle(self, *args: Any, dry_run: bool, background: bool, follow: bool, resume: int | None,
               **options: Any) -> None:
        if resume is not None:
            job = Job.objects.filter(pk=resume, kind=services.NORMALIZE_JOB).first()
            if job is None:
                raise CommandError(f"no normalisation job {resume}")
            if job.status == Job.Status.DONE:
                raise CommandError(f"job {resume} already finished")
        else:
            job = services.normalize_job_create(acting_user=None, dry_run=dry_run)
        if background:
            from kehu.dataquality.tasks import run_normalize_job

            run_normalize_job(job.pk)
            self.stdout.write(f"job {job.pk} queued for the worker (kehu worker / kehu serve)")
            if follow:
                self._follow(job)
            return
        self.stderr.write(f"job {job.pk}: normalising {job.total:,} customers")
        job = services.normalize_run(job, on_progress=_Progress(self.stderr).show)
        self._summary(job)

    def _follow(self, job: Job) -> None:
        progress = _Progress(self.stderr)
        while True:
            job.refresh_from_db()
            progress.show(job)
            if job.finished:
                break
            time.sleep(1)
        self._summary(job)

    def _summary(self, job: Job) -> None:
        result = job.result or {}
        self.stderr.write("")
        lines = [
            f"status: {job.status}",
            f"customers checked: {result.get('done', 0):,}",
            f"records changed: {result.get('changed_records', 0):,}" + ("  (dry run: nothing written)"
                                                                        if result.get("dry_run") else ""),
        ]
        for field, count in sorted((result.get("fields") or {}).items(), key=lambda kv: -kv[1]):
            lines.append(f"  changed {field}: {count:,}")
        for code, count in sorted((result.get("problems") or {}).items(), key=lambda kv: -kv[1]):
            lines.append(f"  problem {code}: {count:,}")
        lines.append(f"report: {result.get('report', '-')}")
        if job.message:
            lines.append(job.message)
        self.stdout.write("\n".join(lines))
        if job.status == Job.Status.FAILED:
            raise CommandError(job.message)


class _Progress:
    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.last = 0.0

    def show(self, job: Job) -> None:
        now = time.monotonic()
        if now - self.last < 0.5 and not job.finished:
            return
        self.last = now
        eta = job.eta_seconds
        line = f"\r{job.done:,}/{job.total:,} ({job.percent}%)  {job.rate:,.0f} rows/s"
        if eta is not None:
            line += f"  ETA {eta // 60}:{eta % 60:02d}"
        self.stream.write(line, ending="")
        if hasattr(sys.stderr, "flush"):
            self.stream.flush()
