"""/api/v1/imports: start an import from a multipart upload (the same engine, checks and
background job as the web wizard and `kehu import`), read a batch's progress and counts, undo it.
Admins and managers only; a manager sees the batches they started."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.tabular import open_table
from kehu.customers.schemas import ErrorOut
from kehu.imports import engine, selectors, services, tasks
from kehu.imports.forms import ALLOWED_SUFFIXES, max_upload_bytes
from kehu.imports.models import ImportBatch

router = Router(tags=["imports"])
ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class ProblemOut(Schema):
    row: int
    action: str
    field: str
    reason: str


class BatchOut(Schema):
    id: int
    kind: str
    status: str
    dry_run: bool
    original_name: str
    created_at: dt.datetime
    created_by: str | None
    total_rows: int
    rows_done: int
    counts: dict[str, int]
    problems: list[ProblemOut]
    error_file_xlsx: str | None
    error_file_csv: str | None
    undone_at: dt.datetime | None


class UndoOut(Schema):
    removed: int
    restored: int


def _importer(request: HttpRequest) -> Any:
    user = request.auth  # type: ignore[attr-defined]
    if not selectors.can_import(user):
        raise PermissionDenied(_("只有管理员和经理可以导入数据"))
    return user


def _batch_out(batch: ImportBatch) -> dict[str, Any]:
    job = batch.job
    has_errors = selectors.error_file_path(batch) is not None
    return {
        "id": batch.pk, "kind": batch.kind, "status": batch.status, "dry_run": batch.dry_run,
        "original_name": batch.original_name, "created_at": batch.created_at,
        "created_by": batch.created_by.username if batch.created_by else None,
        "total_rows": (job.total if job else 0) or batch.total_rows, "rows_done": job.done if job else batch.rows,
        "counts": batch.counts(),
        "problems": [{k: p.get(k, "") for k in ("row", "action", "field", "reason")}
                     for p in ((job.result if job else None) or {}).get("problems", [])],
        "error_file_xlsx": reverse("imports:error_file", args=[batch.pk, "xlsx"]) if has_errors else None,
        "error_file_csv": reverse("imports:error_file", args=[batch.pk, "csv"]) if has_errors else None,
        "undone_at": batch.undone_at,
    }


def _parse_json(raw: str | None, name: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ValidationFailed([engine.problem(name, _("不是有效的 JSON"))]) from exc
    if not isinstance(value, dict):
        raise ValidationFailed([engine.problem(name, _("应为 JSON 对象"))])
    return value


@router.post("/imports", response={201: BatchOut, **ERRORS})
def import_create(  # type: ignore[no-untyped-def]
    request: HttpRequest, file: File[UploadedFile], kind: Form[str] = "customers", sheet: Form[str] = "",
    mapping: Form[str] = "", options: Form[str] = "", dry_run: Form[bool] = False,
):
    """Upload a CSV/XLSX/XLS file and queue its import. `mapping` is JSON {column number or header text:
    field} (default: recognised from the headers); `options` is JSON {mode, match_by, duplicates,
    owner_policy, owner_users}. Poll GET /imports/{id} for progress."""
    user = _importer(request)
    if Path(file.name or "").suffix.lower() not in ALLOWED_SUFFIXES:
        raise ValidationFailed([engine.problem("file", _("只支持 Excel（.xlsx、.xls）和 CSV 文件"))])
    if file.size > max_upload_bytes():
        raise ValidationFailed([engine.problem("file", _("文件太大（上限 %(mb)s MB）")
                                               % {"mb": max_upload_bytes() // (1024 * 1024)})])
    columns = _parse_json(mapping, "mapping")
    parsed_options = _parse_json(options, "options")
    stored = services.store_upload(file, original_name=file.name or "")
    try:
        if columns and not all(str(k).isdigit() for k in columns):
            headers = [str(h) for h in open_table(stored, sheet=sheet or None).headers]
            columns = {(k if str(k).isdigit() else headers.index(k) if k in headers else k): v
                       for k, v in columns.items()}
            unknown = [str(k) for k in columns if not str(k).isdigit()]
            if unknown:
                raise ValidationFailed([engine.problem("mapping", _("文件中没有这些列：%(value)s")
                                                       % {"value": "、".join(unknown)})])
        batch = services.import_batch_create(
            acting_user=user, kind=kind, path=stored, original_name=file.name or "", sheet=sheet or None,
            mapping=columns or None, options=parsed_options, dry_run=dry_run)
    except Exception:
        stored.unlink(missing_ok=True)
        raise
    tasks.run_import_batch(batch.pk)
    batch.refresh_from_db()
    return Status(201, _batch_out(batch))


def _get(request: HttpRequest, batch_id: int) -> ImportBatch:
    batch = selectors.batch_get(user=_importer(request), pk=batch_id)
    if batch is None:
        raise NotFound(_("导入批次不存在"))
    return batch


@router.get("/imports/{int:batch_id}", response={200: BatchOut, **ERRORS})
def import_get(request: HttpRequest, batch_id: int):  # type: ignore[no-untyped-def]
    return _batch_out(_get(request, batch_id))


@router.post("/imports/{int:batch_id}/undo", response={200: UndoOut, **ERRORS})
def import_undo(request: HttpRequest, batch_id: int):  # type: ignore[no-untyped-def]
    batch = _get(request, batch_id)
    return services.import_undo(acting_user=request.auth, batch=batch)  # type: ignore[attr-defined]
