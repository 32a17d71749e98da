"""Huey tasks of the data-quality app; thin: each finds its Job and calls a service."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from kehu.core.models import Job


@db_task()
def run_normalize_job(job_id: int) -> None:
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.finished:
        return
    from kehu.dataquality import services

    services.normalize_run(job)


@db_periodic_task(crontab(hour="3", minute="10"))
def nightly_quality_check() -> None:
    """Freshness decays every day, so scores are recomputed nightly and the trend gets a point."""
    from kehu.dataquality import services

    services.quality_check_all()


@db_task()
def run_duplicates_scan_job(job_id: int) -> None:
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.finished:
        return
    from kehu.dataquality import scanning

    scanning.duplicates_scan_run(job)


@db_periodic_task(crontab(hour="3", minute="40"))
def nightly_duplicates_scan() -> None:
    """After the nightly quality check: compare the customers changed during the day (the first
    run, and one a week, scans everything: see `scanning.FULL_SCAN_MAX_AGE`)."""
    from kehu.dataquality import scanning

    job = scanning.duplicates_scan_job_create(acting_user=None, full=False)
    if job.status == Job.Status.QUEUED:  # else a scan someone started is still running: it covers the day
        scanning.duplicates_scan_run(job)
