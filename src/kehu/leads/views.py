"""Web pages of leads, plus the public web form. Thin: parse, call one service or selector, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kehu.accounts.selectors import users_assignable
from kehu.core.errors import ValidationFailed, VersionConflict
from kehu.customers.models import PicklistKind, PicklistOption
from kehu.customers.views import admin_required, not_found_as_404
from kehu.leads import public, selectors, services
from kehu.leads.duplicates import lead_duplicates
from kehu.leads.forms import ConvertForm, LeadEditForm, LeadFormSettingsForm, PublicLeadForm, StatusForm
from kehu.leads.models import LeadForm, LeadStatus

PAGE_SIZE = 50


def _sources() -> list[PicklistOption]:
    return list(PicklistOption.objects.filter(kind=PicklistKind.SOURCE, is_active=True))


def _can_assign(user: Any) -> bool:
    from kehu.accounts.permissions import has_operation

    return has_operation(user, "lead.assign")


def _edit_form(request: HttpRequest, **kwargs: Any) -> LeadEditForm:
    return LeadEditForm(sources=_sources(), users=users_assignable(acting_user=request.user),
                        can_assign=_can_assign(request.user), **kwargs)


@login_required
@require_GET
def lead_list(request: HttpRequest) -> HttpResponse:
    filters = selectors.LeadFilter.from_params(request.GET)
    page = Paginator(selectors.leads_filtered(user=request.user, filters=filters), PAGE_SIZE).get_page(
        request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "leads/pages/list.html", {
        "page": page, "filters": filters, "statuses": LeadStatus.choices, "sources": _sources(),
        "users": users_assignable(acting_user=request.user), "query": query.urlencode()})


@login_required
@require_http_methods(["GET", "POST"])
@not_found_as_404
def lead_create(request: HttpRequest) -> HttpResponse:
    duplicates = None
    if request.method == "POST":
        form = _edit_form(request, data=request.POST)
        if form.is_valid():
            data = form.service_data()
            try:
                # Warnings before the first save (of values that would save); "save anyway" posts again.
                if not request.POST.get("confirm_duplicates"):
                    prepared = services.lead_prepare(acting_user=request.user, data=data)
                    duplicates = lead_duplicates(services.lead_values(prepared), user=request.user)
                if not duplicates:
                    created = services.lead_create(acting_user=request.user, data=data)
            except ValidationFailed as exc:
                form.add_service_errors(exc)
            else:
                if not duplicates:
                    messages.success(request, _("已创建线索“%(name)s”") % {"name": created.lead})
                    return redirect("leads:detail", pk=created.lead.pk)
    else:
        form = _edit_form(request, initial={"owner": request.user.pk, "status": LeadStatus.NEW})
    return render(request, "leads/pages/form.html", {"form": form, "lead": None, "duplicates": duplicates})


@login_required
@require_POST
def lead_duplicate_check(request: HttpRequest) -> HttpResponse:
    """The form's live check (HTMX): the warnings a save would show."""
    values = {name: request.POST.get(name, "") for name in ("name", "company", "mobile", "phone", "email",
                                                               "province", "city")}
    exclude = request.POST.get("lead_id", "")
    duplicates = lead_duplicates(values, user=request.user, exclude_id=int(exclude) if exclude.isdigit() else None)
    return render(request, "leads/partials/duplicates.html", {"duplicates": duplicates, "live": True})


@login_required
@require_GET
@not_found_as_404
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get(user=request.user, lead_id=pk)
    duplicates = lead_duplicates(services.lead_values(lead), user=request.user, exclude_id=lead.pk) \
        if lead.status != LeadStatus.CONVERTED else None
    convert_form = ConvertForm(initial={"create_opportunity": True, "version": lead.version,
                                        "customer": (duplicates.certain_visible_customer() or "") if duplicates
                                        else ""})
    return render(request, "leads/pages/detail.html", {
        "lead": lead, "duplicates": duplicates, "history": selectors.lead_history(lead=lead, user=request.user),
        "convert_form": convert_form, "statuses": [c for c in LeadStatus.choices if c[0] != LeadStatus.CONVERTED]})


@login_required
@require_http_methods(["GET", "POST"])
@not_found_as_404
def lead_edit(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get(user=request.user, lead_id=pk, for_edit=True)
    if request.method == "POST":
        form = _edit_form(request, data=request.POST)
        if form.is_valid():
            try:
                services.lead_update(acting_user=request.user, lead_id=lead.pk, data=form.service_data(),
                                     expected_version=form.cleaned_data.get("version"))
            except (ValidationFailed, VersionConflict) as exc:
                if isinstance(exc, ValidationFailed):
                    form.add_service_errors(exc)
                else:
                    form.add_error(None, str(exc.message))
            else:
                messages.success(request, _("已保存"))
                return redirect("leads:detail", pk=lead.pk)
    else:
        initial = {name: getattr(lead, name) for name in ("name", "company", "title", "mobile", "phone", "email",
                                                          "wechat", "province", "city", "campaign", "status",
                                                          "disqualify_reason", "notes", "version")}
        initial.update(source=lead.source_id or "", owner=lead.owner_id or "")
        form = _edit_form(request, initial=initial)
    return render(request, "leads/pages/form.html", {"form": form, "lead": lead, "duplicates": None})


@login_required
@require_POST
@not_found_as_404
def lead_status(request: HttpRequest, pk: int) -> HttpResponse:
    selectors.lead_get(user=request.user, lead_id=pk, for_edit=True)  # out of scope → 404 before the form is read
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("未知的状态"))
        return redirect("leads:detail", pk=pk)
    try:
        services.lead_set_status(acting_user=request.user, lead_id=pk, status=form.cleaned_data["status"],
                                 reason=form.cleaned_data.get("reason") or "",
                                 expected_version=form.cleaned_data.get("version"))
    except (ValidationFailed, VersionConflict) as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("状态已更新"))
    return redirect("leads:detail", pk=pk)


@login_required
@require_POST
@not_found_as_404
def lead_convert(request: HttpRequest, pk: int) -> HttpResponse:
    selectors.lead_get(user=request.user, lead_id=pk, for_edit=True)  # out of scope → 404 before the form is read
    form = ConvertForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请检查转化选项"))
        return redirect("leads:detail", pk=pk)
    try:
        result = services.lead_convert(
            acting_user=request.user, lead_id=pk, customer_id=form.customer_id(),
            create_opportunity=form.cleaned_data.get("create_opportunity") or False,
            opportunity_name=form.cleaned_data.get("opportunity_name") or "",
            amount=form.cleaned_data.get("amount") or None, expected_version=form.cleaned_data.get("version"))
    except (ValidationFailed, VersionConflict) as exc:
        errors = exc.errors if isinstance(exc, ValidationFailed) else []
        messages.error(request, "；".join(str(e.message) for e in errors) or str(exc.message))
        return redirect("leads:detail", pk=pk)
    if result.customer_created:
        messages.success(request, _("已转化为新客户“%(name)s”") % {"name": result.customer.name})
    else:
        messages.success(request, _("已转化到已有客户“%(name)s”") % {"name": result.customer.name})
    return redirect("customers:detail", pk=result.customer.pk)


@login_required
@require_POST
@not_found_as_404
def lead_delete(request: HttpRequest, pk: int) -> HttpResponse:
    services.lead_delete(acting_user=request.user, lead_id=pk)
    messages.success(request, _("已删除线索"))
    return redirect("leads:list")


@admin_required
@require_http_methods(["GET", "POST"])
def lead_forms(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Settings: the public web forms, with the embed snippet of each; a form to add or edit one."""
    current = LeadForm.objects.filter(pk=pk).first() if pk else None
    kwargs = {"sources": _sources(), "users": users_assignable(acting_user=request.user)}
    if request.method == "POST":
        form = LeadFormSettingsForm(request.POST, **kwargs)
        if form.is_valid():
            try:
                services.lead_form_save(acting_user=request.user, data=form.cleaned_data,
                                        form_id=current.pk if current else None)
            except ValidationFailed as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("已保存"))
                return redirect("leads:forms")
    elif current is not None:
        form = LeadFormSettingsForm(initial={
            "slug": current.slug, "title": current.title, "intro": current.intro, "fields": current.fields,
            "default_owner": current.default_owner_id or "", "default_source": current.default_source_id or "",
            "campaign": current.campaign, "thank_you": current.thank_you, "is_active": current.is_active}, **kwargs)
    else:
        form = LeadFormSettingsForm(**kwargs)
    web_forms = list(LeadForm.objects.select_related("default_owner", "default_source"))
    return render(request, "leads/pages/forms.html", {
        "form": form, "current": current, "web_forms": web_forms,
        "base_url": request.build_absolute_uri("/")[:-1]})


# The public web form ----------------------------------------------------------------------------


def _client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


@csrf_exempt  # stands in: the signed timestamp (public.py); the page lives in other sites' iframes
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
@not_found_as_404
def public_form(request: HttpRequest, slug: str) -> HttpResponse:
    web_form = selectors.lead_form_public(slug=slug)
    context: dict[str, Any] = {"web_form": web_form}
    if request.method == "POST":
        if public.over_rate_limit(slug, _client_ip(request)):
            return render(request, "leads/public/form.html", {**context, "blocked": _("提交过于频繁，请稍后再试")},
                          status=429)
        if request.POST.get(public.HONEYPOT) or public.token_problem(slug, request.POST.get(public.TOKEN_FIELD, "")):
            blocked = _("提交未通过校验，请刷新页面后重试")
            return render(request, "leads/public/form.html", {**context, "blocked": blocked}, status=400)
        form = PublicLeadForm(request.POST, shown=web_form.shown_fields)
        if form.is_valid():
            try:
                services.lead_submit_public(web_form=web_form, data=form.cleaned_data)
            except ValidationFailed as exc:
                for error in exc.errors:
                    form.add_error(error.field if error.field in form.fields else None, str(error.message))
            else:
                return render(request, "leads/public/thanks.html", context)
        status = 422
    else:
        form = PublicLeadForm(shown=web_form.shown_fields)
        status = 200
    context.update(form=form, token=public.issue_token(slug), honeypot=public.HONEYPOT,
                   token_field=public.TOKEN_FIELD)
    return render(request, "leads/public/form.html", context, status=status)


@login_required
@require_GET
def lead_export(request: HttpRequest) -> HttpResponse:
    """The list as CSV/XLSX (`format`): its filters from the query string, the user's scope, audited."""
    from kehu.core.exporting import export_response, requested_columns

    return export_response("leads", user=request.user, params=request.GET, fmt=request.GET.get("format", "csv"),
                           columns=requested_columns(request.GET))
