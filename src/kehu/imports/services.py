"""Imports as services: create a batch from an uploaded file, run it (chunked, resumable,
cancellable, or as a dry run), write its error file, undo it. `kehu import`, the Huey task and the
web wizard all call these."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core.errors import KehuError, PermissionDenied, ValidationFailed
from kehu.core.jobs import job_create, job_progress, run_job
from kehu.core.models import Job
from kehu.core.tabular import open_table
from kehu.imports import engine
from kehu.imports.engine import ImportOptions, ImportOptionsError, RowResult
from kehu.imports.models import ImportBatch, ImportRowLog, RowAction

IMPORT_JOB = "import"
UNDO_LIMIT_LIST = 20


class UndoRefused(KehuError):
    """Some records the batch wrote were changed since; nothing was undone."""

    http_status = 409

    def __init__(self, message: str, changed: list[tuple[int, str]]):
        super().__init__(message)
        self.changed = changed


def uploads_dir() -> Path:
    path = Path(settings.DATA_DIR) / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def errors_dir() -> Path:
    path = Path(settings.DATA_DIR) / "import_errors"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _require_importer(user: Any) -> None:
    from kehu.accounts.permissions import has_operation

    if user is None or not has_operation(user, "customer.import"):
        raise PermissionDenied(_("只有管理员和经理可以导入数据"))


def store_upload(source: Path | Any, *, original_name: str) -> Path:
    """Copy an upload under DATA_DIR/uploads/<uuid>.<ext>; the user's file name only gives the suffix."""
    suffix = Path(original_name).suffix.lower()
    if not suffix[1:].isalnum() or len(suffix) > 6:
        suffix = ""
    target = uploads_dir() / f"{uuid.uuid4().hex}{suffix}"
    if isinstance(source, str | Path):
        shutil.copyfile(source, target)
    else:  # a file object (Django UploadedFile)
        with target.open("wb") as handle:
            for piece in source.chunks() if hasattr(source, "chunks") else iter(lambda: source.read(1 << 20), b""):
                handle.write(piece)
    return target


def default_mapping(kind: str, headers: list[str]) -> dict[int, str]:
    """The automatic mapping from the headers (imports.mapping)."""
    from kehu.imports import mapping as automatic

    return engine.normalise_mapping(automatic.suggest_mapping(kind, headers))


@transaction.atomic
def import_batch_create(
    *,
    acting_user: Any,
    kind: str,
    path: Path,
    original_name: str,
    sheet: str | None = None,
    mapping: Mapping[Any, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    dry_run: bool = False,
    language: str | None = None,
) -> ImportBatch:
    """Open the stored upload (checks the file), fix mapping and options, and queue a job."""
    _require_importer(acting_user)
    import_kind = engine.import_kind(kind)
    table = open_table(path, sheet=sheet)
    try:
        parsed = ImportOptions.from_dict(options)
    except ImportOptionsError as exc:
        raise ValidationFailed([engine.problem("options", str(exc))]) from exc
    columns = engine.normalise_mapping(mapping) if mapping else default_mapping(kind, table.headers)
    known = set(import_kind.targets())
    unknown = sorted({t for t in columns.values() if t not in known})
    if unknown:
        message = _("未知的导入字段：%(value)s") % {"value": ", ".join(unknown)}
        raise ValidationFailed([engine.problem("mapping", message)])
    if not columns:
        raise ValidationFailed([engine.problem("mapping", _("没有任何列对应到导入字段"))])
    job = job_create(kind=IMPORT_JOB, created_by=acting_user, params={"kind": kind, "dry_run": dry_run},
                     total=table.row_count or 0)
    batch = ImportBatch.objects.create(
        kind=kind, created_by=acting_user, original_name=Path(original_name).name[:255], stored_path=str(path),
        file_format=table.format, encoding=table.encoding or "", sheet=table.sheet or "", headers=table.headers,
        mapping={str(k): v for k, v in columns.items()}, options=parsed.as_dict(), dry_run=dry_run,
        language=language or translation.get_language() or settings.LANGUAGE_CODE, job=job,
    )
    Job.objects.filter(pk=job.pk).update(params={"kind": kind, "dry_run": dry_run, "batch": batch.pk})
    job.params["batch"] = batch.pk
    return batch


def import_run(batch: ImportBatch, *, on_progress: Callable[[ImportBatch, Job], None] | None = None) -> ImportBatch:
    """Run (or resume) the batch's job to its end; returns the batch with its counts."""
    job = batch.job
    assert job is not None
    with translation.override(batch.language or settings.LANGUAGE_CODE):
        try:
            run_job(job, lambda j: _import_work(batch, j, on_progress))
        finally:
            job.refresh_from_db()
            status = {Job.Status.DONE: ImportBatch.Status.DONE, Job.Status.CANCELLED: ImportBatch.Status.CANCELLED,
                      Job.Status.RUNNING: ImportBatch.Status.RUNNING}.get(job.status, ImportBatch.Status.FAILED)
            ImportBatch.objects.filter(pk=batch.pk).update(status=status)
    batch.refresh_from_db()
    return batch


def _import_work(batch: ImportBatch, job: Job, on_progress: Callable[[ImportBatch, Job], None] | None
                 ) -> dict[str, Any]:
    kind = engine.import_kind(batch.kind)
    options = ImportOptions.from_dict(batch.options)
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportBatch.Status.RUNNING)
    path = Path(batch.stored_path)
    if not path.exists():
        raise KehuError(_("导入文件已不存在，无法继续"))
    table = open_table(path, sheet=batch.sheet or None, encoding=batch.encoding or None)
    total = table.row_count or sum(1 for _ in table.numbered_rows())
    if batch.total_rows != total:
        ImportBatch.objects.filter(pk=batch.pk).update(total_rows=total)
        batch.total_rows = total
    job_progress(job, done=batch.rows, total=total)
    ctx = kind.context(acting_user=batch.created_by, options=options, dry_run=batch.dry_run)
    mapping = engine.normalise_mapping(batch.mapping)
    rows = engine.chunks(table.numbered_rows(), kind.extractor(mapping), after_row=batch.last_row)
    problems: list[dict[str, Any]] = list((job.result or {}).get("problems", []))

    def commit(results: list[RowResult], last_row: int) -> None:
        counts = {name: 0 for name in ("created", "updated", "skipped", "flagged", "rejected")}
        for result in results:
            counts[result.action] += 1
            if result.action in ("rejected", "flagged") and len(problems) < engine.MAX_PROBLEMS:
                for field, reason in result.problems or [("", "")]:
                    problems.append({"row": result.row, "action": result.action, "field": field, "reason": reason})
        logs = [_row_log(batch, kind.object_type, r) for r in results]
        if batch.dry_run:
            # Only rejected and flagged rows are kept (for the error file); nothing else is written.
            logs = [log for log in logs if log["action"] in (RowAction.REJECTED, RowAction.FLAGGED)]
        engine.fast_insert(ImportRowLog, logs)
        ImportBatch.objects.filter(pk=batch.pk).update(
            last_row=last_row, rows=F("rows") + len(results), **{k: F(k) + v for k, v in counts.items()})
        batch.refresh_from_db(fields=["rows", "created", "updated", "skipped", "flagged", "rejected", "last_row"])
        result_state = {"batch": batch.pk, "counts": batch.counts(), "problems": problems, "last_row": last_row}
        Job.objects.filter(pk=job.pk).update(result=result_state, done=batch.rows)
        job.result = result_state

    def after_commit() -> None:
        if on_progress:
            on_progress(batch, job)
        job_progress(job, done=batch.rows, total=total)  # raises JobCancelled between chunks

    engine.run_rows(kind=kind, ctx=ctx, rows=rows, dry_run=batch.dry_run, commit=commit, after_commit=after_commit)
    error_file = write_error_file(batch)
    _discard_upload(batch)
    ImportBatch.objects.filter(pk=batch.pk).update(error_file=str(error_file or ""))
    batch.refresh_from_db()
    return {"batch": batch.pk, "counts": batch.counts(), "problems": problems, "last_row": batch.last_row,
            "error_file": batch.error_file, "dry_run": batch.dry_run}


def _row_log(batch: ImportBatch, object_type: str, result: RowResult) -> dict[str, Any]:
    obj = result.obj
    saved = obj is not None and obj.pk is not None
    keep_cells = result.action in (RowAction.REJECTED, RowAction.FLAGGED)
    return {
        "batch_id": batch.pk, "row_number": result.row, "action": result.action,
        "object_type": object_type if saved else "", "object_id": obj.pk if saved else None,
        "before": result.before if result.action == RowAction.UPDATED else None,
        "version_after": getattr(obj, "version", None) if saved else None,
        "cells": list(result.cells) if keep_cells and result.cells is not None else None,
        "problems": [list(p) for p in result.problems] if result.problems else None,
    }


def _discard_upload(batch: ImportBatch) -> None:
    path = Path(batch.stored_path) if batch.stored_path else None
    if path is not None and path.parent == uploads_dir():
        path.unlink(missing_ok=True)
    ImportBatch.objects.filter(pk=batch.pk).update(stored_path="")
    batch.stored_path = ""


def import_cancel(*, acting_user: Any, batch: ImportBatch) -> None:
    from kehu.core.jobs import job_request_cancel

    _require_importer(acting_user)
    if batch.job is not None:
        job_request_cancel(job=batch.job)


# Error file -----------------------------------------------------------------------------------------------


def write_error_file(batch: ImportBatch) -> Path | None:
    """Every rejected or flagged row: its original cells (formula-escaped) and row/field/reason columns,
    so the user can fix the file and import it again with the same mapping."""
    from kehu.core.tabular import escape_row

    logs = ImportRowLog.objects.filter(batch=batch, action__in=[RowAction.REJECTED, RowAction.FLAGGED]).order_by(
        "row_number", "id")
    if not logs.exists():
        return None
    english = (batch.language or "").startswith("en")
    extra = ["Row", "Field", "Reason"] if english else ["行号", "字段", "原因"]
    target = errors_dir() / f"import-{batch.pk}-errors.xlsx"
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("errors" if english else "错误行")
    width = len(batch.headers)
    sheet.append(escape_row([*batch.headers, *extra]))
    from kehu.dataquality.messages import field_label

    with translation.override(batch.language or settings.LANGUAGE_CODE):
        for log in logs.iterator(chunk_size=2000):
            cells = list(log.cells or [])[:width]
            cells += [""] * (width - len(cells))
            problems = log.problems or [["", ""]]
            fields = "; ".join(field_label(f) if f else "" for f, _reason in problems)
            reasons = "; ".join(reason for _f, reason in problems)
            sheet.append(escape_row([*cells, str(log.row_number), fields.strip("; "), reasons]))
    workbook.save(target)
    return target


# Undo ---------------------------------------------------------------------------------------------------------


@transaction.atomic
def import_undo(*, acting_user: Any, batch: ImportBatch) -> dict[str, int]:
    """Remove what the batch created and restore what it updated, if no record was changed since
    (its version is still the one the import left); otherwise refuse and name the changed records."""
    _require_importer(acting_user)
    locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
    if locked.undone_at is not None:
        raise KehuError(_("该导入已撤销"))
    if locked.dry_run:
        raise KehuError(_("试运行没有写入任何数据，无需撤销"))
    if locked.job is not None and not locked.job.finished:
        raise KehuError(_("导入仍在进行，请先取消或等待完成"))
    kind = engine.import_kind(locked.kind)
    logs = list(ImportRowLog.objects.filter(
        batch=locked, action__in=[RowAction.CREATED, RowAction.UPDATED, RowAction.FLAGGED],
        object_id__isnull=False).order_by("row_number"))
    # The version an object must still have: the last one this batch left on it.
    expected: dict[int, int] = {}
    for log in logs:
        expected[log.object_id] = log.version_after
    current = kind.current_versions(list(expected))  # type: ignore[attr-defined]
    changed = [(pk, current[pk][1]) for pk, version in expected.items() if pk in current and current[pk][0] != version]
    changed += [item for item in kind.undo_blockers(logs) if item not in changed]  # type: ignore[attr-defined]
    if changed:
        names = "、".join(f"{name}（#{pk}）" for pk, name in changed[:UNDO_LIMIT_LIST])
        more = _("等 %(count)s 条") % {"count": len(changed)} if len(changed) > UNDO_LIMIT_LIST else ""
        raise UndoRefused(_("以下记录在导入后又被修改过，无法撤销：%(names)s%(more)s") % {"names": names, "more": more},
                          changed)
    kind.undo(acting_user=acting_user, logs=[log for log in logs if log.object_id in current])
    ImportBatch.objects.filter(pk=locked.pk).update(undone_at=timezone.now(), undone_by=acting_user,
                                                    status=ImportBatch.Status.UNDONE)
    batch.refresh_from_db()
    return {"removed": sum(1 for log in logs if log.action != RowAction.UPDATED),
            "restored": sum(1 for log in logs if log.action == RowAction.UPDATED)}


# Mapping templates ----------------------------------------------------------------------------------------------


@transaction.atomic
def mapping_template_save(*, acting_user: Any, kind: str, name: str, mapping: Mapping[Any, str],
                          headers: list[str]) -> Any:
    from kehu.imports.mapping import template_from_mapping
    from kehu.imports.models import MappingTemplate

    _require_importer(acting_user)
    clean = (name or "").strip()[:100]
    if not clean:
        raise ValidationFailed([engine.problem("name", _("模板名称不能为空"))])
    template, _created = MappingTemplate.objects.update_or_create(
        kind=kind, name=clean,
        defaults={"mapping": template_from_mapping(engine.normalise_mapping(mapping), headers),
                  "created_by": acting_user},
    )
    return template


def mapping_from_template(*, kind: str, name: str, headers: list[str]) -> dict[int, str]:
    from kehu.imports.mapping import template_apply
    from kehu.imports.models import MappingTemplate

    template = MappingTemplate.objects.filter(kind=kind, name=name).first()
    if template is None:
        raise ValidationFailed([engine.problem("template", _("没有名为“%(name)s”的导入模板") % {"name": name})])
    return template_apply(template.mapping, headers, kind=kind)
