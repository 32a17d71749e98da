"""Web pages of data quality: the overview, the review queues with their bulk actions, the
customer panel action, and the admin settings (aliases, synonyms, rules, settings, normalisation
runs). Views stay thin: parse input, call one service or selector, render."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kehu.accounts.permissions import has_operation
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.models import Job
from kehu.customers import selectors as customer_selectors
from kehu.customers.models import CustomFieldTarget, PicklistKind
from kehu.dataquality import quality, selectors, services, tasks
from kehu.dataquality.forms import (
    CityAliasForm,
    NormalizeForm,
    QualitySettingsForm,
    QueueActionForm,
    SynonymForm,
    ValidationRuleForm,
)
from kehu.dataquality.models import PicklistSynonym, ValidationRule

PAGE_SIZE = 50


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not has_operation(request.user, "settings.manage"):
            raise DjangoPermissionDenied(_("只有管理员可以访问设置"))
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def _can_assign(user: Any) -> bool:
    return has_operation(user, "customer.assign")


# Overview and queues --------------------------------------------------------------------------


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    data = selectors.overview(user=request.user)
    chart = {
        "buckets": {"labels": [b["label"] for b in data["buckets"]], "counts": [b["count"] for b in data["buckets"]]},
        "trend": {"days": [t["day"] for t in data["trend"]], "average": [t["average"] for t in data["trend"]],
                  "issues": [t["issues"] for t in data["trend"]]},
        "labels": {"customers": _("客户数"), "average": _("平均分"), "issues": _("问题数")},
    }
    return render(request, "dataquality/pages/overview.html", {
        "data": data, "chart": chart, "queues": selectors.queues(user=request.user),
    })


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "1")
    # Capped so the offset stays a sane number whatever is typed into the URL.
    return min(max(1, int(raw)), 100_000) if raw.isdigit() and len(raw) < 10 else 1


@login_required
@require_GET
def queue(request: HttpRequest, key: str) -> HttpResponse:
    titles = selectors.queue_titles()
    if key not in titles:
        raise Http404(_("没有这个复核队列"))
    page = _page_number(request)
    rows, has_more = selectors.queue_page(user=request.user, key=key, offset=(page - 1) * PAGE_SIZE,
                                          limit=PAGE_SIZE)
    issues = selectors.queue_issues_for(customers=rows, key=key)
    context = {
        "key": key, "title": titles[key], "page": page, "has_more": has_more,
        "rows": [(c, [(quality.issue_label(i), i.value) for i in issues.get(c.pk, [])]) for c in rows],
        "queues": selectors.queues(user=request.user),
        "actions": _queue_actions(request.user, key),
        "stale_days": quality.quality_settings().stale_days,
        "prev_url": f"?{urlencode({'page': page - 1})}" if page > 1 else "",
        "next_url": f"?{urlencode({'page': page + 1})}" if has_more else "",
    }
    template = "dataquality/partials/queue_rows.html" if _is_htmx(request) else "dataquality/pages/queue.html"
    return render(request, template, context)


def _queue_actions(user: Any, key: str) -> list[tuple[str, str]]:
    labels = dict(QueueActionForm.ACTIONS)
    actions = []
    if _can_assign(user):
        actions.append(QueueActionForm.ASSIGN)
    if key == selectors.QUEUE_STALE:
        actions.append(QueueActionForm.REVIEWED)
    if key == selectors.QUEUE_INVALID_EMAILS:
        actions.append(QueueActionForm.EMAIL_FIXES)
    return [(a, str(labels[a])) for a in actions]


@login_required
@require_POST
def queue_action(request: HttpRequest, key: str) -> HttpResponse:
    if key not in selectors.queue_titles():
        raise Http404(_("没有这个复核队列"))
    back = reverse("dataquality:queue", args=[key])
    form = QueueActionForm(request.POST)
    if not form.is_valid() or not form.cleaned_data["ids"]:
        messages.error(request, _("请先勾选客户，并选择一个操作"))
        return redirect(back)
    action, ids = form.cleaned_data["action"], form.cleaned_data["ids"]
    try:
        if action == QueueActionForm.ASSIGN:
            changed = services.issues_assign_to_owner(acting_user=request.user, customer_ids=ids)
            messages.success(request, _("已把 %(count)s 个问题分派给负责人") % {"count": changed})
        elif action == QueueActionForm.REVIEWED:
            changed = services.customers_mark_reviewed(acting_user=request.user, customer_ids=ids)
            messages.success(request, _("已标记 %(count)s 个客户为已复核") % {"count": changed})
        else:
            changed = services.customers_apply_email_suggestions(acting_user=request.user, customer_ids=ids)
            messages.success(request, _("已修正 %(count)s 个客户的邮箱") % {"count": changed})
    except PermissionDenied as exc:
        messages.error(request, exc.message)
    except ValidationFailed as exc:
        messages.error(request, _("未能保存：%(error)s") % {"error": exc.message})
    except NotFound as exc:
        messages.error(request, exc.message)
    return redirect(back)


# The customer 360° panel ----------------------------------------------------------------------


@login_required
@require_POST
def customer_mark_reviewed(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        customer = customer_selectors.customer_get(user=request.user, customer_id=pk, for_edit=True)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    services.customers_mark_reviewed(acting_user=request.user, customer_ids=[customer.pk])
    if _is_htmx(request):
        customer.refresh_from_db()
        return render(request, "dataquality/partials/customer_panel.html", {
            "customer": customer, "quality": selectors.customer_quality(customer=customer), "just_reviewed": True,
        })
    messages.success(request, _("已标记为已复核"))
    return redirect("customers:detail", pk=customer.pk)


# Admin settings -------------------------------------------------------------------------------


def _settings_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    jobs = selectors.normalize_jobs(limit=5)
    wanted = request.GET.get("job", "")
    current = selectors.job_get(user=request.user, job_id=int(wanted)) if wanted.isdigit() else None
    if current is None and jobs:
        current = jobs[0]
    return {"jobs": jobs, "current_job": job_context(current) if current else None, **extra}


@admin_required
@require_http_methods(["GET", "POST"])
def settings_general(request: HttpRequest) -> HttpResponse:
    current = quality.quality_settings()
    custom = customer_selectors.custom_field_definitions(target=CustomFieldTarget.CUSTOMER)
    extra = [*current.key_fields_company, *current.key_fields_person]
    initial = {"stale_days": current.stale_days, "key_fields_company": current.key_fields_company,
               "key_fields_person": current.key_fields_person,
               "duplicate_block_certain": current.duplicate_block_certain}
    form = QualitySettingsForm(request.POST or None, initial=initial, custom=custom, extra=extra)
    if request.method == "POST" and form.is_valid():
        try:
            services.quality_settings_update(
                acting_user=request.user, stale_days=form.cleaned_data.get("stale_days") or 0,
                key_fields_company=form.cleaned_data["key_fields_company"],
                key_fields_person=form.cleaned_data["key_fields_person"],
                duplicate_block_certain=form.cleaned_data["duplicate_block_certain"],
            )
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("已保存"))
            return redirect("dataquality:settings")
    return render(request, "dataquality/pages/settings_general.html", _settings_context(
        request, form=form, normalize_form=NormalizeForm(), section="general"))


@admin_required
@require_http_methods(["GET", "POST"])
def settings_aliases(request: HttpRequest) -> HttpResponse:
    form = CityAliasForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            item = services.city_alias_save(acting_user=request.user, alias=form.cleaned_data["alias"],
                                            canonical=form.cleaned_data["canonical"])
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("已添加别名“%(alias)s”→ %(canonical)s") % {
                "alias": item.alias, "canonical": item.canonical})
            return redirect("dataquality:settings_aliases")
    return render(request, "dataquality/pages/settings_aliases.html", {
        "form": form, "aliases": selectors.city_aliases_all(), "section": "aliases"})


@admin_required
@require_POST
def settings_alias_delete(request: HttpRequest, pk: int) -> HttpResponse:
    services.city_alias_delete(acting_user=request.user, alias_id=pk)
    messages.success(request, _("已删除"))
    return redirect("dataquality:settings_aliases")


def _synonym_options() -> list[Any]:
    return [o for o in customer_selectors.picklist_options() if o.kind != PicklistKind.CONTACT_ROLE]


@admin_required
@require_http_methods(["GET", "POST"])
def settings_synonyms(request: HttpRequest) -> HttpResponse:
    form = SynonymForm(request.POST or None, options=_synonym_options(), initial={"option": request.GET.get("option")})
    if request.method == "POST" and form.is_valid():
        option = form.selected_option()
        if option is None:
            form.add_error("option", _("请选择选项"))
        else:
            try:
                synonym = services.picklist_synonym_add(acting_user=request.user, option=option,
                                                        text=form.cleaned_data["text"])
            except ValidationFailed as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("已添加同义词“%(text)s”→ %(option)s") % {
                    "text": synonym.text, "option": option.label})
                return redirect("dataquality:settings_synonyms")
    kinds = dict(PicklistKind.choices)
    grouped: dict[str, dict[Any, list[PicklistSynonym]]] = {}
    for synonym in selectors.picklist_synonyms_all():
        grouped.setdefault(str(kinds.get(synonym.kind, synonym.kind)), {}).setdefault(synonym.option, []).append(
            synonym)
    return render(request, "dataquality/pages/settings_synonyms.html", {
        "form": form, "section": "synonyms",
        "groups": [(kind, list(options.items())) for kind, options in grouped.items()],
    })


@admin_required
@require_POST
def settings_synonym_delete(request: HttpRequest, pk: int) -> HttpResponse:
    services.picklist_synonym_delete(acting_user=request.user, synonym_id=pk)
    messages.success(request, _("已删除"))
    return redirect("dataquality:settings_synonyms")


@admin_required
@require_GET
def settings_rules(request: HttpRequest) -> HttpResponse:
    return render(request, "dataquality/pages/settings_rules.html", {
        "rules": selectors.validation_rules_all(), "section": "rules"})


@admin_required
@require_http_methods(["GET", "POST"])
def settings_rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    rule = None
    initial: dict[str, Any] = {"is_active": True, "severity": "error"}
    if pk is not None:
        rule = ValidationRule.objects.filter(pk=pk).first()
        if rule is None:
            raise Http404(_("规则不存在"))
        initial = ValidationRuleForm.initial_for(rule)
    form = ValidationRuleForm(
        request.POST or None, initial=initial,
        stages=customer_selectors.picklist_options(kind=PicklistKind.STAGE, active_only=False),
        custom=customer_selectors.custom_field_definitions(target=CustomFieldTarget.CUSTOMER)
        + customer_selectors.custom_field_definitions(target=CustomFieldTarget.CONTACT),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.validation_rule_save(acting_user=request.user, data=form.service_data(),
                                          rule_id=rule.pk if rule else None)
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("已保存"))
            return redirect("dataquality:settings_rules")
    status = 422 if request.method == "POST" else 200
    return render(request, "dataquality/pages/settings_rule_edit.html", {
        "form": form, "rule": rule, "section": "rules"}, status=status)


@admin_required
@require_POST
def settings_rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    services.validation_rule_delete(acting_user=request.user, rule_id=pk)
    messages.success(request, _("已删除"))
    return redirect("dataquality:settings_rules")


# Normalisation runs ---------------------------------------------------------------------------


@admin_required
@require_POST
def normalize_start(request: HttpRequest) -> HttpResponse:
    form = NormalizeForm(request.POST)
    form.is_valid()
    job = services.normalize_job_create(acting_user=request.user, dry_run=bool(form.cleaned_data.get("dry_run")))
    # Outside a transaction here (no ATOMIC_REQUESTS), so the worker already sees the committed row.
    tasks.run_normalize_job(job.pk)
    job.refresh_from_db()  # with an inline queue (tests, HUEY_IMMEDIATE) the run has already finished
    if _is_htmx(request):
        return render(request, "dataquality/partials/job_progress.html", job_context(job))
    messages.success(request, _("已开始数据标准化"))
    return redirect(reverse("dataquality:settings") + f"?job={job.pk}#normalize")


def job_context(job: Job, now: dt.datetime | None = None) -> dict[str, Any]:
    """Progress figures for the job partial: rows done/total, rows per second, seconds left."""
    result = job.result or {}
    return {
        "job": job, **selectors.job_figures(job, now=now),
        "fields": sorted((result.get("fields") or {}).items(), key=lambda kv: -kv[1]),
        "problems": sorted((result.get("problems") or {}).items(), key=lambda kv: -kv[1])[:20],
        "has_report": job.finished and selectors.job_report_path(job) is not None,
    }


@admin_required
@require_GET
def job_progress(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.job_get(user=request.user, job_id=pk)
    if job is None or job.kind != services.NORMALIZE_JOB:
        raise Http404(_("任务不存在"))
    return render(request, "dataquality/partials/job_progress.html", job_context(job))


@admin_required
@require_GET
def job_report(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.job_get(user=request.user, job_id=pk)
    path = selectors.job_report_path(job) if job is not None else None
    if path is None:
        raise Http404(_("报告不存在"))
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name, content_type="text/csv")


# Merge and unmerge (kehu.dataquality.merging) -----------------------------------------------------

from django.utils.http import url_has_allowed_host_and_scheme  # noqa: E402 - this section's own imports

from kehu.core import masking  # noqa: E402
from kehu.core.errors import KehuError  # noqa: E402
from kehu.customers.search import search as search_customers  # noqa: E402
from kehu.dataquality.merging import selectors as merge_selectors  # noqa: E402
from kehu.dataquality.merging import services as merge_services  # noqa: E402


def _merge_ids(values: list[str]) -> list[int]:
    ids = []
    for value in values:
        for part in value.split(","):
            if part.strip().isdigit():
                ids.append(int(part))
    return list(dict.fromkeys(ids))


def _back(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


@login_required
@require_GET
def merge_pick(request: HttpRequest, pk: int) -> HttpResponse:
    """Step 1 from a customer page: find the other record with the search box."""
    try:
        customer = customer_selectors.customer_get(user=request.user, customer_id=pk, for_edit=True)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    query = request.GET.get("q", "").strip()[:100]
    hits = []
    if query:
        seen: set[int] = {customer.pk}
        for hit in search_customers(user=request.user, query=query, limit=20):
            if hit.customer.pk not in seen:
                seen.add(hit.customer.pk)
                hits.append(hit.customer)
    masking.mask_instances(request.user, "customer", hits)  # field-level security on the search results
    context = {"customer": customer, "query": query, "hits": hits}
    if _is_htmx(request):
        return render(request, "dataquality/merge_pick_results.html", context)
    return render(request, "dataquality/merge_pick.html", context)


def _merge_form_values(request: HttpRequest, preview: merge_services.MergePreview) -> dict[str, int]:
    """The radio buttons the user changed from the defaults: {field: customer id}."""
    chosen = {}
    for row in preview.fields:
        value = request.POST.get(f"choice_{row.name}", "")
        if value.isdigit():
            chosen[row.name] = int(value)
    return chosen


@login_required
@require_http_methods(["GET", "POST"])
def merge_compare(request: HttpRequest) -> HttpResponse:
    """Step 2: the records side by side, a radio per field for the surviving value, confirm."""
    source = request.POST if request.method == "POST" else request.GET
    ids = _merge_ids(source.getlist("ids"))
    survivor = source.get("survivor", "")
    survivor_id = int(survivor) if survivor.isdigit() and int(survivor) in ids else None
    try:
        preview = merge_services.merge_preview(acting_user=request.user, ids=ids, survivor_id=survivor_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except KehuError as exc:
        messages.error(request, exc.message)
        return redirect(_back(request, reverse("customers:list")))
    error = ""
    choices = dict(preview.choices)
    if request.method == "POST":
        choices.update(_merge_form_values(request, preview))
        versions = {int(k.removeprefix("version_")): int(v) for k, v in request.POST.items()
                    if k.startswith("version_") and v.isdigit() and k.removeprefix("version_").isdigit()}
        try:
            merge = merge_services.customers_merge(
                acting_user=request.user, survivor_id=preview.survivor_id,
                merged_ids=[c.pk for c in preview.customers if c.pk != preview.survivor_id],
                field_choices=choices, expected_versions=versions,
            )
        except ValidationFailed as exc:
            error = "；".join(str(e.message) for e in exc.errors)
        except KehuError as exc:  # a version conflict, a record merged or hidden meanwhile
            error = exc.message
        else:
            messages.success(request, _("已合并 %(count)s 个重复客户，30 天内可以撤销")
                             % {"count": len(merge.merged_ids)})
            return redirect("customers:detail", pk=merge.survivor_id)
    # Fields empty on every record have nothing to show or choose.
    rows = [{"row": _masked_row(request.user, row), "chosen": choices.get(row.name, row.default)}
            for row in preview.fields if not all(cell.empty for cell in row.cells)]
    return render(request, "dataquality/merge_compare.html", {
        "preview": preview, "rows": rows, "error": error, "ids": ",".join(str(c.pk) for c in preview.customers),
        "phones": masking.mask_field(request.user, "customer", "phones", preview.phones) or [],
        "emails": masking.mask_field(request.user, "customer", "emails", preview.emails) or [],
        "survivor": preview.customers[0],  # the preview lists the survivor first
        "related": [preview.related_counts[c.pk] for c in preview.customers],
    }, status=422 if error else 200)


def _masked_row(user: Any, row: Any) -> Any:
    """A compared field as the user may see it: the radio still picks a record, never a value, so a
    masked (or hidden) value is only ever shown masked (or not at all)."""
    if masking.protected_field("customer", row.name) is None:
        return row
    cells = [dataclasses.replace(cell, text="" if cell.empty else str(
        masking.mask_field(user, "customer", row.name, cell.text) or "—")) for cell in row.cells]
    return dataclasses.replace(row, cells=cells)


@login_required
@require_GET
def merge_record(request: HttpRequest, pk: int) -> HttpResponse:
    """What a merge did, with the undo button while it can be undone."""
    try:
        merge = merge_selectors.merge_get(user=request.user, merge_id=pk)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    return render(request, "dataquality/merge_record.html", {
        "merge": merge,
        "merged": merge_selectors.merged_names(merge),
        "can_undo": merge_services.may_undo(merge, request.user),
        "undo_until": merge_services.undo_deadline(merge),
    })


@login_required
@require_POST
def merge_undo(request: HttpRequest, pk: int) -> HttpResponse:
    back = _back(request, reverse("dataquality:merge_record", args=[pk]))
    try:
        result = merge_services.merge_undo(acting_user=request.user, merge_id=pk)
    except merge_services.UnmergeConflict as exc:
        messages.error(request, _("无法撤销合并：合并后以下内容又被修改过，请先改回或手工拆分：%(items)s")
                       % {"items": "；".join(str(c.message) for c in exc.conflicts)})
        return redirect(back)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except KehuError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    names = "、".join(c.name for c in result.restored)
    messages.success(request, _("已撤销合并，恢复了客户 %(names)s") % {"names": names})
    return redirect("customers:detail", pk=result.survivor.pk)


@login_required
@require_POST
def not_duplicate(request: HttpRequest) -> HttpResponse:
    ids = _merge_ids(request.POST.getlist("ids"))
    back = _back(request, reverse("customers:detail", args=[ids[0]]) if ids else reverse("customers:list"))
    if len(ids) != 2:
        messages.error(request, _("请选择两个客户"))
        return redirect(back)
    try:
        merge_services.pair_mark_distinct(acting_user=request.user, a_id=ids[0], b_id=ids[1])
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except KehuError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    messages.success(request, _("已记录：这两个客户不是重复客户，不会再被提示"))
    return redirect(back)


# Duplicate scan and review queue (kehu.dataquality.scanning) --------------------------------------

from kehu.dataquality import scan_selectors, scanning  # noqa: E402 - this section's own imports
from kehu.dataquality.models import DuplicateStatus  # noqa: E402

DUPLICATE_CLUSTERS_PAGE = 20


def _duplicate_filters(request: HttpRequest) -> dict[str, str]:
    verdict = request.GET.get("verdict", "")
    status = request.GET.get("status", DuplicateStatus.OPEN)
    return {"verdict": verdict if verdict in scan_selectors.VERDICTS else "",
            "status": status if status in DuplicateStatus.values else DuplicateStatus.OPEN}


def _scan_job_context(job: Job | None) -> dict[str, Any]:
    if job is None:
        return {"job": None}
    return {"job": job, **selectors.job_figures(job)}


@login_required
@require_GET
def duplicates(request: HttpRequest) -> HttpResponse:
    """The review queue: clusters of likely duplicate customers, strongest first, with reasons."""
    filters = _duplicate_filters(request)
    page = _page_number(request)
    clusters, has_more = scan_selectors.duplicate_clusters_page(
        user=request.user, verdict=filters["verdict"] or None, status=filters["status"],
        offset=(page - 1) * DUPLICATE_CLUSTERS_PAGE, limit=DUPLICATE_CLUSTERS_PAGE)
    context = {
        "clusters": clusters, "filters": filters, "page": page,
        "counts": scan_selectors.duplicate_counts(user=request.user),
        "statuses": DuplicateStatus.choices, "scan": scan_selectors.scan_status(),
        "prev_url": f"?{urlencode({**filters, 'page': page - 1})}" if page > 1 else "",
        "next_url": f"?{urlencode({**filters, 'page': page + 1})}" if has_more else "",
        "queue_url": request.get_full_path(),
    }
    if has_operation(request.user, "settings.manage"):
        job = Job.objects.filter(kind=scanning.SCAN_JOB).order_by("-created_at", "-id").first()
        context.update(_scan_job_context(job))
    template = "dataquality/partials/duplicate_results.html" if _is_htmx(request) else \
        "dataquality/pages/duplicates.html"
    return render(request, template, context)


@login_required
@require_POST
def duplicate_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    """"不是重复": remembered for good; the pair's row is swapped for its new state (HTMX)."""
    view = scan_selectors.duplicate_pair_get(user=request.user, pair_id=pk)
    if view is None:
        raise Http404(_("疑似重复记录不存在"))
    try:
        scanning.duplicate_pair_dismiss(acting_user=request.user, pair_id=pk)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    view = scan_selectors.duplicate_pair_get(user=request.user, pair_id=pk)
    if _is_htmx(request):
        return render(request, "dataquality/partials/duplicate_pair.html", {
            "view": view, "queue_url": _back(request, reverse("dataquality:duplicates")), "just_dismissed": True})
    messages.success(request, _("已记录：这两个客户不是重复客户，不会再被提示"))
    return redirect(_back(request, reverse("dataquality:duplicates")))


@admin_required
@require_POST
def duplicates_scan_start(request: HttpRequest) -> HttpResponse:
    job = scanning.duplicates_scan_job_create(acting_user=request.user, full=request.POST.get("full") == "1")
    if job.status == Job.Status.QUEUED:
        tasks.run_duplicates_scan_job(job.pk)
        job.refresh_from_db()  # with an inline queue (tests, HUEY_IMMEDIATE) the scan has already finished
    if _is_htmx(request):
        return render(request, "dataquality/partials/scan_progress.html", _scan_job_context(job))
    messages.success(request, _("已开始扫描重复客户"))
    return redirect("dataquality:duplicates")


@admin_required
@require_GET
def duplicates_scan_progress(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.job_get(user=request.user, job_id=pk)
    if job is None or job.kind != scanning.SCAN_JOB:
        raise Http404(_("任务不存在"))
    return render(request, "dataquality/partials/scan_progress.html", _scan_job_context(job))
