"""Web pages of data quality: the overview, the review queues with their bulk actions, the
customer panel action, and the admin settings (aliases, synonyms, rules, settings, normalisation
runs). Views stay thin: parse input, call one service or selector, render."""

from __future__ import annotations

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
        if not request.user.is_kehu_admin:  # type: ignore[union-attr]
            raise DjangoPermissionDenied(_("只有管理员可以访问设置"))
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def _can_assign(user: Any) -> bool:
    return bool(user.is_kehu_admin or user.data_scope != "own")


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
        customer = customer_selectors.customer_get(user=request.user, customer_id=pk)
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
               "key_fields_person": current.key_fields_person}
    form = QualitySettingsForm(request.POST or None, initial=initial, custom=custom, extra=extra)
    if request.method == "POST" and form.is_valid():
        try:
            services.quality_settings_update(
                acting_user=request.user, stale_days=form.cleaned_data.get("stale_days") or 0,
                key_fields_company=form.cleaned_data["key_fields_company"],
                key_fields_person=form.cleaned_data["key_fields_person"],
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
