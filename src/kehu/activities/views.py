"""Web pages of follow-ups and tasks: "My day" (今天), the calendar (month/week, HTMX navigation),
the follow-up form (quick entry from the customer page and list, location check-in), task lists and
forms, the follow-up kinds settings and the secret iCalendar feed. Thin: parse, call one service
or selector, render; service errors become form errors or messages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kehu.accounts.selectors import users_assignable
from kehu.core.errors import ValidationFailed
from kehu.core.params import query_date, query_int
from kehu.customers import selectors as customer_selectors
from kehu.customers.views import admin_required, not_found_as_404

from . import selectors, services
from .forms import FollowUpForm, FollowUpKindForm, TaskForm
from .models import FollowUpKind, TaskStatus

PAGE_SIZE = 100


def _next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _errors(exc: ValidationFailed) -> str:
    return "；".join(str(e.message) for e in exc.errors)


# My day -----------------------------------------------------------------------------------------


@login_required
@require_GET
def my_day(request: HttpRequest) -> HttpResponse:
    day = selectors.my_day(user=request.user)
    return render(request, "activities/pages/my_day.html", {
        "day": day, "feed": selectors.calendar_feed_of(user=request.user),
        "new_feed_url": request.session.pop("activities_feed_url", None),
    })


# Calendar ---------------------------------------------------------------------------------------


@login_required
@require_GET
def calendar(request: HttpRequest) -> HttpResponse:
    mode = "week" if request.GET.get("mode") == "week" else "month"
    anchor = query_date(request.GET.get("date")) or timezone.localdate()
    view = selectors.calendar_view(user=request.user, mode=mode, anchor=anchor)
    context = {"cal": view, "today": timezone.localdate(),
               "weekdays": [_("周一"), _("周二"), _("周三"), _("周四"), _("周五"), _("周六"), _("周日")]}
    if _is_htmx(request):
        return render(request, "activities/partials/calendar_grid.html", context)
    return render(request, "activities/pages/calendar.html", context)


@login_required
@require_POST
def feed_regenerate(request: HttpRequest) -> HttpResponse:
    token = services.calendar_feed_regenerate(acting_user=request.user)
    url = request.build_absolute_uri(reverse("activities:ical", args=[token]))
    request.session["activities_feed_url"] = url  # shown once on the next page, then dropped
    messages.success(request, _("已生成新的日历订阅地址，旧地址已失效。"))
    return redirect(_next(request, reverse("activities:my_day")) + "#calendar-feed")


@login_required
@require_POST
def feed_revoke(request: HttpRequest) -> HttpResponse:
    if services.calendar_feed_revoke(acting_user=request.user):
        messages.success(request, _("已停用日历订阅地址。"))
    return redirect(_next(request, reverse("activities:my_day")) + "#calendar-feed")


@require_http_methods(["GET", "HEAD"])
def ical(request: HttpRequest, token: str) -> HttpResponse:
    """The secret iCalendar feed: no login; the token alone names the user."""
    feed = selectors.calendar_feed_by_token(token=token)
    if feed is None:
        raise Http404("no such feed")
    services.calendar_feed_touch(feed)
    body = selectors.ical_feed(user=feed.user, base_url=request.build_absolute_uri("/").rstrip("/"),
                               todo=request.GET.get("todo") == "1")
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="kehu.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response


# Follow-ups -------------------------------------------------------------------------------------


def _followup_form(request: HttpRequest, customer: Any, data: Any = None, initial: Any = None) -> FollowUpForm:
    from kehu.sales.selectors import opportunities_of_customer

    return FollowUpForm(data, initial=initial, kinds=selectors.followup_kinds(),
                        contacts=customer.contacts.all() if customer else [],
                        opportunities=opportunities_of_customer(user=request.user, customer_id=customer.pk)
                        if customer else [])


@login_required
@not_found_as_404
@require_GET
def followup_list(request: HttpRequest) -> HttpResponse:
    filters = selectors.FollowUpFilter(
        customer=query_int(request.GET.get("customer")), kind=request.GET.get("kind", "")[:30],
        owner=request.user.pk if request.GET.get("mine") else query_int(request.GET.get("owner")),
        date_from=query_date(request.GET.get("from")), date_to=query_date(request.GET.get("to")),
        q=request.GET.get("q", "").strip()[:100])
    page = Paginator(selectors.followups_filtered(user=request.user, filters=filters), PAGE_SIZE).get_page(
        query_int(request.GET.get("page")) or 1)
    return render(request, "activities/pages/followup_list.html", {
        "rows": page.object_list, "page": page, "filters": filters, "kinds": selectors.followup_kinds(),
        "mine": bool(request.GET.get("mine"))})


@login_required
@not_found_as_404
@require_http_methods(["GET", "POST"])
def followup_new(request: HttpRequest) -> HttpResponse:
    customer_id = query_int(request.POST.get("customer") or request.GET.get("customer"))
    customer = customer_selectors.customer_get(user=request.user, customer_id=customer_id) if customer_id else None
    fallback = reverse("customers:detail", args=[customer.pk]) if customer else reverse("activities:my_day")
    if request.method == "POST" and customer is not None:
        form = _followup_form(request, customer, request.POST)
        if form.is_valid():
            try:
                services.followup_create(acting_user=request.user, customer_id=customer.pk, **form.service_data())
            except ValidationFailed as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("已记录跟进：%(name)s") % {"name": customer.name})
                return redirect(_next(request, fallback))
    else:
        kind = request.GET.get("kind") or "call"
        form = _followup_form(request, customer, initial={
            "kind": kind, "occurred_at": timezone.localtime().replace(second=0, microsecond=0),
            "contact_ids": [c for c in [request.GET.get("contact")] if c],
            "opportunity_id": request.GET.get("opportunity") or ""})
    customers = [] if customer else list(customer_selectors.customers_visible(user=request.user)
                                         .order_by("-updated_at", "-id").only("id", "name")[:200])
    return render(request, "activities/pages/followup_form.html", {
        "form": form, "customer": customer, "customers": customers, "followup": None,
        "next": _next(request, fallback), "check_in_kinds": [k.code for k in form.kind_objects if k.allows_check_in]})


@login_required
@not_found_as_404
@require_http_methods(["GET", "POST"])
def followup_edit(request: HttpRequest, followup_id: int) -> HttpResponse:
    followup = selectors.followup_get(user=request.user, followup_id=followup_id, for_edit=True)
    customer = followup.customer
    fallback = reverse("customers:detail", args=[customer.pk])
    if request.method == "POST":
        form = _followup_form(request, customer, request.POST)
        if form.is_valid():
            try:
                services.followup_update(acting_user=request.user, followup_id=followup.pk,
                                         data=form.service_data(), version=query_int(request.POST.get("version")))
            except ValidationFailed as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("已保存跟进记录"))
                return redirect(_next(request, fallback))
    else:
        form = _followup_form(request, customer, initial={
            "kind": followup.kind.code, "content": followup.content, "outcome": followup.outcome,
            "occurred_at": timezone.localtime(followup.occurred_at),
            "contact_ids": [str(c.pk) for c in followup.contacts.all()],
            "opportunity_id": str(followup.opportunity_id or ""), "next_step": followup.next_step,
            "next_followup_at": timezone.localtime(followup.next_followup_at) if followup.next_followup_at else None,
            "latitude": followup.latitude, "longitude": followup.longitude, "accuracy": followup.accuracy_m,
            "address": followup.address})
    return render(request, "activities/pages/followup_form.html", {
        "form": form, "customer": customer, "followup": followup, "next": _next(request, fallback),
        "check_in_kinds": [k.code for k in form.kind_objects if k.allows_check_in]})


@login_required
@not_found_as_404
@require_POST
def followup_delete(request: HttpRequest, followup_id: int) -> HttpResponse:
    followup = selectors.followup_get(user=request.user, followup_id=followup_id)
    services.followup_delete(acting_user=request.user, followup_id=followup.pk)
    messages.success(request, _("已删除跟进记录"))
    return redirect(_next(request, reverse("customers:detail", args=[followup.customer_id])))


# Tasks ------------------------------------------------------------------------------------------


@login_required
@not_found_as_404
@require_GET
def task_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "open")
    status = status if status in (*TaskStatus.values, "") else "open"
    scope = request.GET.get("scope", "mine")
    filters = selectors.TaskFilter(
        mine=scope == "mine", status=status, customer=query_int(request.GET.get("customer")),
        assignee=query_int(request.GET.get("assignee")) if scope != "mine" else None,
        due_from=query_date(request.GET.get("from")), due_to=query_date(request.GET.get("to")),
        overdue=bool(request.GET.get("overdue")), q=request.GET.get("q", "").strip()[:100])
    page = Paginator(selectors.tasks_filtered(user=request.user, filters=filters), PAGE_SIZE).get_page(
        query_int(request.GET.get("page")) or 1)
    return render(request, "activities/pages/task_list.html", {
        "rows": page.object_list, "page": page, "filters": filters, "status": status, "scope": scope,
        "now": timezone.now(), "statuses": TaskStatus.choices})


def _task_form(request: HttpRequest, data: Any = None, initial: Any = None) -> TaskForm:
    return TaskForm(data, initial=initial, assignees=users_assignable(acting_user=request.user))


@login_required
@not_found_as_404
@require_http_methods(["GET", "POST"])
def task_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = _task_form(request, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                task = services.task_create(
                    acting_user=request.user, assignee=int(data["assignee"]), title=data["title"],
                    due_at=data.get("due_at"), priority=data["priority"], description=data.get("description") or "",
                    customer_id=data.get("customer_id"), opportunity_id=data.get("opportunity_id"),
                    contract_id=data.get("contract_id"))
            except ValidationFailed as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("已创建任务：%(title)s") % {"title": task.title})
                return redirect(_next(request, reverse("activities:tasks")))
    else:
        tomorrow = (timezone.localtime() + dt.timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
        form = _task_form(request, initial={
            "assignee": str(request.user.pk), "due_at": tomorrow,
            "customer_id": query_int(request.GET.get("customer")),
            "opportunity_id": query_int(request.GET.get("opportunity")),
            "contract_id": query_int(request.GET.get("contract"))})
    customer_id = query_int(form["customer_id"].value())
    customer = customer_selectors.customer_get(user=request.user, customer_id=customer_id) if customer_id else None
    return render(request, "activities/pages/task_form.html", {
        "form": form, "task": None, "customer": customer, "next": _next(request, "")})


@login_required
@not_found_as_404
@require_http_methods(["GET", "POST"])
def task_edit(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.task_get(user=request.user, task_id=task_id)
    if request.method == "POST":
        form = _task_form(request, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.task_update(acting_user=request.user, task_id=task.pk,
                                     version=query_int(request.POST.get("version")),
                                     data={"title": data["title"], "due_at": data.get("due_at"),
                                           "priority": data["priority"], "assignee": int(data["assignee"]),
                                           "description": data.get("description") or ""})
            except ValidationFailed as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("已保存任务"))
                return redirect(_next(request, reverse("activities:tasks")))
    else:
        form = _task_form(request, initial={
            "title": task.title, "due_at": timezone.localtime(task.due_at) if task.due_at else None,
            "priority": task.priority, "assignee": str(task.assignee_id), "description": task.description,
            "customer_id": task.customer_id})
    return render(request, "activities/pages/task_form.html", {
        "form": form, "task": task, "customer": task.customer, "next": _next(request, "")})


def _task_status_change(request: HttpRequest, task_id: int, action: str) -> HttpResponse:
    change = {"complete": services.task_complete, "reopen": services.task_reopen, "cancel": services.task_cancel}
    task = change[action](acting_user=request.user, task_id=task_id)
    if _is_htmx(request):
        task = selectors.task_get(user=request.user, task_id=task.pk)
        response = render(request, "activities/partials/task_row.html", {"task": task, "now": timezone.now()})
        response["HX-Trigger"] = "timelineChanged"
        return response
    return redirect(_next(request, reverse("activities:tasks")))


@login_required
@not_found_as_404
@require_POST
def task_complete(request: HttpRequest, task_id: int) -> HttpResponse:
    return _task_status_change(request, task_id, "complete")


@login_required
@not_found_as_404
@require_POST
def task_reopen(request: HttpRequest, task_id: int) -> HttpResponse:
    return _task_status_change(request, task_id, "reopen")


@login_required
@not_found_as_404
@require_POST
def task_cancel(request: HttpRequest, task_id: int) -> HttpResponse:
    return _task_status_change(request, task_id, "cancel")


# Settings: follow-up kinds ----------------------------------------------------------------------


@admin_required
@require_http_methods(["GET", "POST"])
def kinds_settings(request: HttpRequest) -> HttpResponse:
    edit_id = query_int(request.POST.get("kind_id") or request.GET.get("edit"))
    editing = FollowUpKind.objects.filter(pk=edit_id).first() if edit_id else None
    if request.method == "POST":
        form = FollowUpKindForm(request.POST)
        if form.is_valid():
            try:
                services.followup_kind_save(acting_user=request.user, kind_id=editing.pk if editing else None,
                                            **form.cleaned_data)
            except ValidationFailed as exc:
                for error in exc.errors:
                    form.add_error(error.field if error.field in form.fields else None, str(error.message))
            else:
                messages.success(request, _("已保存跟进方式"))
                return redirect("activities:kinds")
    elif editing is not None:
        form = FollowUpKindForm(initial={f: getattr(editing, f) for f in FollowUpKindForm.base_fields})
    else:
        form = FollowUpKindForm()
    return render(request, "activities/pages/kinds.html", {
        "kinds": selectors.followup_kinds(active_only=False), "form": form, "editing": editing})
