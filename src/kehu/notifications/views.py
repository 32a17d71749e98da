"""The notifications page: the user's notifications, newest first, unread ones highlighted; HTMX
marks one or all read and swaps the row (and the bell count) in place."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from kehu.customers.views import not_found_as_404

from . import selectors, services

PAGE = 50


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    unread_only = request.GET.get("unread") in ("1", "true", "on")
    rows = selectors.notifications_for(user=request.user, unread_only=unread_only).select_related("customer")
    page = Paginator(rows, PAGE).get_page(request.GET.get("page"))
    return render(request, "notifications/pages/list.html", {
        "page": page, "unread_only": unread_only, "unread": selectors.unread_count(user=request.user)})


@login_required
@require_POST
@not_found_as_404
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    notification = services.mark_read(acting_user=request.user, notification_id=pk)
    if _is_htmx(request):
        response = render(request, "notifications/partials/item.html", {
            "n": notification, "unread": selectors.unread_count(user=request.user), "oob_count": True})
        return response
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("notifications:list")


@login_required
@require_GET
@not_found_as_404
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Follow a notification's link and mark it read on the way."""
    notification = services.mark_read(acting_user=request.user, notification_id=pk)
    url = notification.url
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}):
        return redirect(url)
    return redirect("notifications:list")


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    services.mark_all_read(acting_user=request.user)
    if _is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return redirect("notifications:list")


@login_required
@require_GET
def unread_badge(request: HttpRequest) -> HttpResponse:
    """The bell's count alone (loaded by the bell when the page had no cached count)."""
    return render(request, "notifications/partials/badge.html",
                  {"unread": selectors.unread_count_cached(user=request.user)})
