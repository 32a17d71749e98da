"""Huey tasks of the imports app; thin: each finds its batch and calls the service."""

from __future__ import annotations

from huey.contrib.djhuey import db_task


@db_task()
def run_import_batch(batch_id: int) -> None:
    """Run (or resume) an import batch's job; the web wizard queues this after the upload."""
    from kehu.imports import services
    from kehu.imports.models import ImportBatch

    batch = ImportBatch.objects.select_related("job", "created_by").filter(pk=batch_id).first()
    if batch is None or batch.job is None or batch.job.finished:
        return
    services.import_run(batch)
