"""The web import wizard: upload → map → dry run → import with a progress bar → error file and
undo, plus the list of recent imports. Admins and managers only (checked here and again in the
services). Views stay thin: parse input, call one service or selector, render.

Between the steps the upload lives in the session as {token: stored path, file name, kind,
sheet}; the path is made by `services.store_upload` (DATA_DIR/uploads/<uuid>.<ext>) and only
ever read back from the session, never from the request. A dry run imports a copy (a run deletes
its file when it ends); the real import takes the upload itself."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterator
from functools import wraps
from itertools import islice
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kehu.core.errors import KehuError, ValidationFailed
from kehu.core.tabular import TableError, open_table
from kehu.imports import selectors, services, tasks
from kehu.imports.forms import OptionsForm, UploadForm
from kehu.imports.mapping import suggest_mapping, targets_for, unmapped_columns, validate_mapping
from kehu.imports.models import ImportBatch, MappingTemplate

SESSION_KEY = "kehu_imports"
SESSION_KEEP = 5
SAMPLE_ROWS = 5


def importer_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not selectors.can_import(request.user):
            raise DjangoPermissionDenied(_("只有管理员和经理可以导入数据"))
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


# The upload in the session ------------------------------------------------------------------------


def _uploads(request: HttpRequest) -> dict[str, dict[str, Any]]:
    return dict(request.session.get(SESSION_KEY) or {})


def _upload_get(request: HttpRequest, token: str) -> dict[str, Any]:
    entry = _uploads(request).get(token)
    if entry is None or not Path(entry["path"]).is_file():
        raise Http404(_("上传的文件已过期，请重新上传"))
    return entry


def _upload_put(request: HttpRequest, token: str, entry: dict[str, Any] | None) -> None:
    uploads = _uploads(request)
    if entry is None:
        uploads.pop(token, None)
    else:
        uploads[token] = entry
        # Keep the last few; older ones are forgotten (their files are removed).
        for old in list(uploads)[:-SESSION_KEEP]:
            Path(uploads.pop(old)["path"]).unlink(missing_ok=True)
    request.session[SESSION_KEY] = uploads


# Step 1: the list and the upload ----------------------------------------------------------------------


@importer_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "imports/pages/index.html",
                  {"form": UploadForm(), "batches": selectors.batch_list(user=request.user)})


@importer_required
@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "imports/pages/index.html",
                      {"form": form, "batches": selectors.batch_list(user=request.user)}, status=422)
    file = form.cleaned_data["file"]
    stored = services.store_upload(file, original_name=file.name)
    try:
        open_table(stored)  # checks the file (encoding, zip bomb, empty) before anyone maps it
    except TableError as exc:
        stored.unlink(missing_ok=True)
        form.add_error("file", str(exc.message))
        return render(request, "imports/pages/index.html",
                      {"form": form, "batches": selectors.batch_list(user=request.user)}, status=422)
    token = uuid.uuid4().hex
    _upload_put(request, token, {"path": str(stored), "name": Path(file.name).name[:255],
                                 "kind": form.cleaned_data["kind"], "sheet": ""})
    return redirect("imports:map", token=token)


# Step 2: the mapping and options ------------------------------------------------------------------------


def _table_preview(entry: dict[str, Any]) -> tuple[Any, list[list[str]]]:
    table = open_table(Path(entry["path"]), sheet=entry.get("sheet") or None)
    samples = [cells for _number, cells in islice(table.numbered_rows(), SAMPLE_ROWS)]
    return table, samples


def _map_context(request: HttpRequest, token: str, entry: dict[str, Any], *, mapping: dict[int, str],
                 form: OptionsForm, problems: list[str]) -> dict[str, Any]:
    table, samples = _table_preview(entry)
    kind = entry["kind"]
    targets = targets_for(kind)
    columns = []
    for index, header in enumerate(table.headers):
        values = [row[index] if index < len(row) else "" for row in samples]
        columns.append({"index": index, "header": header, "samples": [v for v in values if v][:SAMPLE_ROWS],
                        "target": mapping.get(index, "")})
    return {
        "token": token, "entry": entry, "kind": kind, "table": table, "columns": columns, "targets": targets,
        "form": form, "problems": problems, "unmapped": unmapped_columns(mapping, table.headers),
        "templates": MappingTemplate.objects.filter(kind=kind).order_by("name"),
        "template": request.GET.get("template", ""),
    }


def _posted_mapping(request: HttpRequest, width: int) -> dict[int, str]:
    mapping: dict[int, str] = {}
    for index in range(width):
        target = request.POST.get(f"col_{index}", "").strip()
        if target:
            mapping[index] = target
    return mapping


@importer_required
@require_http_methods(["GET", "POST"])
def map_columns(request: HttpRequest, token: str) -> HttpResponse:
    entry = _upload_get(request, token)
    if request.method == "GET" and "sheet" in request.GET:
        sheet = request.GET["sheet"]
        names = open_table(Path(entry["path"])).sheet_names
        if sheet in names:
            entry = {**entry, "sheet": sheet}
            _upload_put(request, token, entry)
    try:
        table, _samples = _table_preview(entry)
    except TableError as exc:
        messages.error(request, str(exc.message))
        return redirect("imports:index")
    kind = entry["kind"]
    if request.method == "GET":
        name = request.GET.get("template", "")
        if name:
            try:
                mapping = services.mapping_from_template(kind=kind, name=name, headers=table.headers)
            except ValidationFailed as exc:
                messages.error(request, str(exc.message))
                mapping = suggest_mapping(kind, table.headers)
        else:
            mapping = suggest_mapping(kind, table.headers)
        context = _map_context(request, token, entry, mapping=mapping, form=OptionsForm(), problems=[])
        return render(request, "imports/pages/map.html", context)

    mapping = _posted_mapping(request, len(table.headers))
    form = OptionsForm(request.POST)
    problems: list[str] = []
    if form.is_valid():
        problems = validate_mapping(kind, mapping, table.headers, insert=form.cleaned_data["mode"] != "update")
    if not form.is_valid() or problems:
        context = _map_context(request, token, entry, mapping=mapping, form=form, problems=problems)
        return render(request, "imports/pages/map.html", context, status=422)
    dry_run = request.POST.get("action") == "dry_run"
    try:
        if form.cleaned_data.get("template_name"):
            services.mapping_template_save(acting_user=request.user, kind=kind,
                                           name=form.cleaned_data["template_name"], mapping=mapping,
                                           headers=table.headers)
        batch = _start(request, token, entry, mapping=mapping, options=form.options(), dry_run=dry_run)
    except KehuError as exc:
        context = _map_context(request, token, entry, mapping=mapping, form=form, problems=[str(exc.message)])
        return render(request, "imports/pages/map.html", context, status=422)
    return redirect("imports:detail", pk=batch.pk)


def _start(request: HttpRequest, token: str, entry: dict[str, Any], *, mapping: dict[int, str],
           options: dict[str, Any], dry_run: bool) -> ImportBatch:
    """Create the batch and queue it. A dry run works on a copy, so the upload stays for the real run."""
    source = Path(entry["path"])
    path = services.store_upload(source, original_name=source.name) if dry_run else source
    try:
        batch = services.import_batch_create(
            acting_user=request.user, kind=entry["kind"], path=path, original_name=entry["name"],
            sheet=entry.get("sheet") or None, mapping=mapping, options=options, dry_run=dry_run)
    except Exception:
        if dry_run:
            path.unlink(missing_ok=True)
        raise
    if dry_run:
        _upload_put(request, token, {**entry, "dry_run": batch.pk})
    else:
        _upload_put(request, token, None)
    tasks.run_import_batch(batch.pk)
    return batch


# Step 3 and 4: dry-run result, progress, summary ---------------------------------------------------------


def _batch_or_404(request: HttpRequest, pk: int) -> ImportBatch:
    batch = selectors.batch_get(user=request.user, pk=pk)
    if batch is None:
        raise Http404(_("导入批次不存在"))
    return batch


def _token_of_dry_run(request: HttpRequest, batch: ImportBatch) -> str | None:
    for token, entry in _uploads(request).items():
        if entry.get("dry_run") == batch.pk and Path(entry["path"]).is_file():
            return token
    return None


def _progress_context(request: HttpRequest, batch: ImportBatch, **extra: Any) -> dict[str, Any]:
    if batch.job is not None:
        batch.job.refresh_from_db()
    finished = batch.job is None or batch.job.finished
    return {
        "batch": batch, "figures": selectors.batch_figures(batch), "finished": finished,
        "problems": selectors.batch_problems(batch) if finished else [],
        "has_errors": finished and selectors.error_file_path(batch) is not None,
        "can_undo": finished and not batch.dry_run and batch.undone_at is None
        and batch.status in (ImportBatch.Status.DONE, ImportBatch.Status.CANCELLED, ImportBatch.Status.FAILED),
        "dry_run_token": _token_of_dry_run(request, batch) if finished and batch.dry_run else None,
        **extra,
    }


@importer_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _batch_or_404(request, pk)
    return render(request, "imports/pages/detail.html", _progress_context(request, batch))


@importer_required
@require_GET
def progress(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _batch_or_404(request, pk)
    return render(request, "imports/partials/progress.html", _progress_context(request, batch))


@importer_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _batch_or_404(request, pk)
    services.import_cancel(acting_user=request.user, batch=batch)
    if _is_htmx(request):
        return render(request, "imports/partials/progress.html", _progress_context(request, batch))
    messages.info(request, _("已请求取消导入，当前批次写完后停止"))
    return redirect("imports:detail", pk=batch.pk)


@importer_required
@require_POST
def confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """Run for real what a dry run checked: same file, mapping and options."""
    dry = _batch_or_404(request, pk)
    token = _token_of_dry_run(request, dry) if dry.dry_run else None
    if token is None:
        messages.error(request, _("上传的文件已过期，请重新上传"))
        return redirect("imports:index")
    entry = _upload_get(request, token)
    try:
        batch = _start(request, token, entry, mapping=dry.mapping, options=dry.options, dry_run=False)
    except KehuError as exc:
        messages.error(request, str(exc.message))
        return redirect("imports:map", token=token)
    return redirect("imports:detail", pk=batch.pk)


@importer_required
@require_POST
def undo(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _batch_or_404(request, pk)
    extra: dict[str, Any] = {}
    try:
        result = services.import_undo(acting_user=request.user, batch=batch)
    except services.UndoRefused as exc:
        extra = {"undo_error": str(exc.message), "undo_changed": exc.changed[:services.UNDO_LIMIT_LIST]}
    except KehuError as exc:
        extra = {"undo_error": str(exc.message)}
    else:
        extra = {"undo_result": result}
    batch.refresh_from_db()
    status = 409 if "undo_error" in extra else 200
    if _is_htmx(request):
        return render(request, "imports/partials/progress.html", _progress_context(request, batch, **extra),
                      status=status)
    return render(request, "imports/pages/detail.html", _progress_context(request, batch, **extra), status=status)


# Step 5: the error file ------------------------------------------------------------------------------------


@importer_required
@require_GET
def error_file(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """The rejected and flagged rows as XLSX (as written by the run) or CSV (the same cells, BOM for Excel);
    only the batch's owner or an admin (batch_get's scope)."""
    batch = _batch_or_404(request, pk)
    if fmt not in ("xlsx", "csv"):
        raise Http404(_("没有错误文件"))
    path = selectors.error_file_path(batch)
    if path is None:
        raise Http404(_("没有错误文件"))
    name = f"import-{batch.pk}-errors"
    if fmt == "xlsx":
        return FileResponse(path.open("rb"), as_attachment=True, filename=f"{name}.xlsx",
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    table = open_table(path)

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        yield "\ufeff"
        for cells in (table.headers, *(cells for _n, cells in table.numbered_rows())):
            writer.writerow(cells)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response
