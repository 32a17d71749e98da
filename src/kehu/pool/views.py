"""Web pages of the pool (公海): the members' list with claim (and assign for admins), the
"即将退回公海" reminders, the release form and the admin settings of pools and rules. Thin: parse,
call one service or selector, render; service errors become messages or form errors."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from kehu.accounts.selectors import users_assignable
from kehu.core.errors import ValidationFailed
from kehu.customers.views import admin_required, not_found_as_404

from . import selectors, services
from .forms import RULE_FIELDS, PoolForm, ReleaseForm
from .models import CustomerPool


def _int(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def _errors(exc: ValidationFailed) -> str:
    return "；".join(str(e.message) for e in exc.errors)


@login_required
@not_found_as_404
def pool_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    pools = selectors.my_pools(user=user)
    wanted = _int(request.GET.get("pool"))
    current = next((p for p in pools if p.pk == wanted), pools[0] if pools else None)
    context: dict[str, Any] = {"pools": pools, "current": current, "q": request.GET.get("q", "")[:100],
                               "reminders": selectors.reminders_for(user=user)}
    if current is not None:
        context["page"] = selectors.pool_customers(user=user, pool=current, q=context["q"],
                                                   page=_int(request.GET.get("page")) or 1)
        context["allowance"] = selectors.claim_allowance(user=user, pool=current)
        context["can_assign"] = services.is_pool_admin(user, current)
        if context["can_assign"]:
            context["assignees"] = users_assignable(acting_user=user)
    return render(request, "pool/list.html", context)


def _back(pool_id: int) -> str:
    return f"{reverse('pool:list')}?pool={pool_id}"


@login_required
@not_found_as_404
@require_POST
def claim(request: HttpRequest, pool_id: int, customer_id: int) -> HttpResponse:
    selectors.pool_get(user=request.user, pool_id=pool_id)
    try:
        customer = services.pool_claim(acting_user=request.user, customer_id=customer_id, pool_id=pool_id)
    except ValidationFailed as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("已领取客户 %(name)s") % {"name": customer.name})
    return redirect(_back(pool_id))


@login_required
@not_found_as_404
@require_POST
def assign(request: HttpRequest, pool_id: int, customer_id: int) -> HttpResponse:
    selectors.pool_get(user=request.user, pool_id=pool_id)
    try:
        customer = services.pool_assign(acting_user=request.user, customer_id=customer_id, pool_id=pool_id,
                                        user_id=_int(request.POST.get("user_id")) or 0)
    except ValidationFailed as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("已将客户 %(name)s 分配给 %(user)s") % {"name": customer.name,
                                                                       "user": customer.owner})
    return redirect(_back(pool_id))


@login_required
@not_found_as_404
@require_http_methods(["GET", "POST"])
def release(request: HttpRequest, customer_id: int) -> HttpResponse:
    from kehu.customers import selectors as customer_selectors

    customer = customer_selectors.customer_get(user=request.user, customer_id=customer_id, for_edit=True)
    form = ReleaseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.pool_release(acting_user=request.user, customer_id=customer.pk,
                                  reason=form.cleaned_data["reason"])
        except ValidationFailed as exc:
            for error in exc.errors:
                form.add_error(error.field if error.field in form.fields else None, str(error.message))
        else:
            messages.success(request, _("客户 %(name)s 已退回公海") % {"name": customer.name})
            return redirect("pool:list")
    return render(request, "pool/release.html", {"customer": customer, "form": form})


@admin_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest, pool_id: int | None = None) -> HttpResponse:
    pool = CustomerPool.objects.filter(pk=pool_id).first() if pool_id else None
    form = PoolForm(request.POST or None, instance=pool)
    if request.method == "POST" and form.is_valid():
        data = {f: form.cleaned_data[f] for f in RULE_FIELDS}
        try:
            saved = services.pool_save(acting_user=request.user, pool=pool, data=data,
                                       members=form.cleaned_data["members"],
                                       member_departments=form.cleaned_data["member_departments"],
                                       admins=form.cleaned_data["admins"])
        except ValidationFailed as exc:
            for error in exc.errors:
                form.add_error(error.field if error.field in form.fields else None, str(error.message))
        else:
            messages.success(request, _("已保存公海 %(name)s") % {"name": saved.name})
            return redirect("pool:settings_edit", pool_id=saved.pk)
    if pool is not None and request.method == "GET":
        form.initial.update(members=list(pool.members.all()), member_departments=list(pool.member_departments.all()),
                            admins=list(pool.admins.all()))
    return render(request, "pool/settings.html", {"form": form, "pool": pool, "pools": selectors.pools_all()})


@admin_required
@require_POST
def run_scan(request: HttpRequest) -> HttpResponse:
    result = services.auto_return_run(acting_user=request.user)
    messages.success(request, _("扫描完成：退回 %(returned)s 个客户，新提醒 %(reminded)s 个") % result)
    return redirect("pool:settings")
