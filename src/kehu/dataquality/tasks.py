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
