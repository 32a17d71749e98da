"""Web pages of the privacy app: one page per customer (个人信息) with its consents, the
personal-data export and erasure. Thin: parse, call one service or selector, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.errors import ValidationFailed
from kehu.customers.views import not_found_as_404

from . import selectors, services
from .api import personal_data_response
from .models import ConsentPurpose, ConsentSource


def _errors(exc: ValidationFailed) -> str:
    return "；".join(str(e.message) for e in exc.errors)


def _page(customer_id: int) -> str:
    return reverse("privacy:customer", args=[customer_id])


@login_required
@not_found_as_404
def customer_privacy(request: HttpRequest, customer_id: int) -> HttpResponse:
    user = request.user
    customer = selectors.visible_customer(user=user, customer_id=customer_id)
    contacts = selectors.contact_names(customer_id=customer.pk)
    consents = list(selectors.consents_for(user=user, customer_id=customer.pk))
    for consent in consents:
        consent.contact_name = contacts.get(consent.contact_id or 0, "")  # type: ignore[attr-defined]
    context: dict[str, Any] = {
        "customer": customer, "consents": consents, "contacts": sorted(contacts.items()),
        "purposes": ConsentPurpose.choices, "sources": ConsentSource.choices,
        "can_manage": services.can_manage_personal_data(user),
        "erasures": list(selectors.erasures_for(user=user, customer_id=customer.pk)),
    }
    return render(request, "privacy/customer.html", context)


def _int_or_none(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and int(text) < 2**63 else None


@login_required
@not_found_as_404
@require_POST
def consent_add(request: HttpRequest, customer_id: int) -> HttpResponse:
    try:
        services.consent_record(
            acting_user=request.user, customer_id=customer_id, purpose=request.POST.get("purpose", ""),
            source=request.POST.get("source", ""), granted=request.POST.get("granted", "1") == "1",
            contact_id=_int_or_none(request.POST.get("contact_id")), note=request.POST.get("note", ""),
        )
    except ValidationFailed as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("已记录同意"))
    return redirect(_page(customer_id))


@login_required
@not_found_as_404
@require_POST
def consent_withdraw(request: HttpRequest, consent_id: int) -> HttpResponse:
    consent = selectors.consent_get(user=request.user, consent_id=consent_id)
    try:
        services.consent_withdraw(acting_user=request.user, consent_id=consent.pk)
    except ValidationFailed as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("已撤回同意"))
    return redirect(_page(consent.customer_id))


@login_required
@not_found_as_404
def export(request: HttpRequest, customer_id: int, fmt: str) -> HttpResponse:
    if fmt not in ("json", "xlsx"):
        raise Http404
    return personal_data_response(user=request.user, customer_id=customer_id, fmt=fmt)


@login_required
@not_found_as_404
@require_POST
def erase(request: HttpRequest, customer_id: int) -> HttpResponse:
    try:
        erasure = services.customer_erase(acting_user=request.user, customer_id=customer_id,
                                          confirmation=request.POST.get("confirmation", ""))
    except ValidationFailed as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("已删除该客户的个人信息（记录 #%(id)s）") % {"id": erasure.pk})
    return redirect(_page(customer_id))
