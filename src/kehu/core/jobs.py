"""Writes and reads of `Job` rows. Workers report progress through these functions so a job's row
is the one place the web page, the API and the terminal read from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from kehu.core.models import Job


class JobCancelled(Exception):
    """Raised inside a job's work when someone asked it to stop; the runner marks it cancelled."""


def job_create(*, kind: str, created_by: Any = None, params: Mapping[str, Any] | None = None, total: int = 0) -> Job:
    return Job.objects.create(kind=kind, created_by=created_by, params=dict(params or {}), total=total)


def job_start(job: Job, *, total: int | None = None) -> None:
    now = timezone.now()
    fields: dict[str, Any] = {"status": Job.Status.RUNNING, "heartbeat_at": now}
    if job.started_at is None:  # a resumed job keeps its original start
        fields["started_at"] = now
    if total is not None:
        fields["total"] = total
    Job.objects.filter(pk=job.pk).update(**fields)
    for key, value in fields.items():
        setattr(job, key, value)


def job_progress(job: Job, *, done: int, total: int | None = None, message: str | None = None) -> None:
    """Record progress; raises JobCancelled when a stop was requested, so work ends at a chunk
    boundary with everything before it committed."""
    fields: dict[str, Any] = {"done": done, "heartbeat_at": timezone.now()}
    if total is not None:
        fields["total"] = total
    if message is not None:
        fields["message"] = message
    Job.objects.filter(pk=job.pk).update(**fields)
    for key, value in fields.items():
        setattr(job, key, value)
    if Job.objects.filter(pk=job.pk, cancel_requested=True).exists():
        raise JobCancelled


def job_finish(job: Job, *, result: Mapping[str, Any] | None = None, status: str = Job.Status.DONE,
               message: str = "") -> None:
    fields: dict[str, Any] = {"status": status, "finished_at": timezone.now(), "message": message}
    if result is not None:
        fields["result"] = dict(result)
    Job.objects.filter(pk=job.pk).update(**fields)
    for key, value in fields.items():
        setattr(job, key, value)


@transaction.atomic
def job_request_cancel(*, job: Job) -> None:
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
        status=Job.Status.CANCELLED, finished_at=timezone.now()
    )


def run_job(job: Job, work: Any) -> Job:
    """Run `work(job)` and record its outcome; `work` returns the result dict."""
    job_start(job)
    try:
        result = work(job)
    except JobCancelled:
        job_finish(job, status=Job.Status.CANCELLED, result=job.result)
    except Exception as exc:
        job_finish(job, status=Job.Status.FAILED, message=f"{type(exc).__name__}: {exc}")
        raise
    else:
        job_finish(job, result=result or {})
    job.refresh_from_db()
    return job
