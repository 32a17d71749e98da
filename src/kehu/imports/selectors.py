"""Reads for the import wizard and API: who may import, which batches a user sees, a batch's
progress figures and its error file (checked to be inside the error directory, never trusted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db.models import QuerySet

from kehu.imports.models import ImportBatch


def can_import(user: Any) -> bool:
    """Roles holding "customer.import" (admins and managers by default); the service checks again."""
    from kehu.accounts.permissions import has_operation

    return bool(user is not None and user.is_authenticated and has_operation(user, "customer.import"))


def batches_visible(*, user: Any) -> QuerySet[ImportBatch]:
    """Admins see every batch; a manager sees the batches they started."""
    queryset = ImportBatch.objects.select_related("created_by", "job", "undone_by")
    if not user.is_kehu_admin:
        queryset = queryset.filter(created_by=user)
    return queryset


def batch_list(*, user: Any, limit: int = 30) -> list[ImportBatch]:
    return list(batches_visible(user=user).order_by("-created_at", "-id")[:limit])


def batch_get(*, user: Any, pk: int) -> ImportBatch | None:
    return batches_visible(user=user).filter(pk=pk).first()


def batch_figures(batch: ImportBatch) -> dict[str, Any]:
    """Rows done/total, rows per second, seconds left and percent from the batch's job."""
    from kehu.dataquality.selectors import job_figures

    job = batch.job
    if job is None:
        return {"percent": 0, "rate": 0, "eta": None, "done": batch.rows, "total": batch.total_rows}
    figures = job_figures(job)
    return {**figures, "done": job.done, "total": job.total or batch.total_rows}


def batch_problems(batch: ImportBatch, *, limit: int = 20) -> list[dict[str, Any]]:
    """The first problems (row, field, reason) the run recorded."""
    from kehu.dataquality.messages import field_label

    problems = list(((batch.job.result if batch.job else None) or {}).get("problems") or [])[:limit]
    return [{**p, "field_label": field_label(p["field"]) if p.get("field") else ""} for p in problems]


def error_file_path(batch: ImportBatch) -> Path | None:
    """The batch's XLSX error file, only if it is a file inside the error directory."""
    from kehu.imports.services import errors_dir

    if not batch.error_file:
        return None
    root = errors_dir().resolve()
    path = Path(batch.error_file).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path
