"""Web pages of the recycle bin (回收站): the list, restore and (administrators) permanent delete.
Thin: parse, call one selector or service, render. Restore and purge answer HTMX with the row's
replacement and a plain POST with a redirect and a message."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kehu.accounts.permissions import has_operation
from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.customers.views import not_found_as_404

from . import kinds, selectors, services

PAGE_SIZE = 50


def _int_or_none(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and 0 < int(text) < 2**63 else None


def record_url(object_type: str, record: Any) -> str:
    """Where a restored record lives (a contact on its customer's page)."""
    if object_type == "contact":
        return reverse("customers:detail", args=[record.customer_id])
    name = {"customer": "customers:detail", "lead": "leads:detail", "opportunity": "sales:detail",
            "contract": "contracts:detail"}[object_type]
    return reverse(name, args=[record.pk])


@login_required
@require_GET
def bin_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    object_type = request.GET.get("type", "")
    if kinds.get(object_type) is None:
        object_type = ""
    q = request.GET.get("q", "")[:200]
    page = selectors.entry_page(user=user, object_type=object_type, q=q, after=_int_or_none(request.GET.get("after")),
                                limit=PAGE_SIZE)
    type_labels = dict(kinds.labels())
    for entry in page.entries:
        entry.type_label = type_labels.get(entry.object_type, entry.object_type)  # type: ignore[attr-defined]
        entry.can_restore = has_operation(user, f"{entry.object_type}.restore")  # type: ignore[attr-defined]
    return render(request, "recyclebin/list.html", {
        "page": page, "types": kinds.labels(), "object_type": object_type, "q": q,
        "days": services.retention_days(), "can_purge": user.is_kehu_admin,
    })


def _answer(request: HttpRequest, entry_id: int, *, ok: bool, message: str, link: str = "") -> HttpResponse:
    if request.headers.get("HX-Request"):
        return render(request, "recyclebin/partials/result_row.html",
                      {"entry_id": entry_id, "ok": ok, "message": message, "link": link},
                      )  # htmx swaps 2xx only: a refusal is shown in the row too
    (messages.success if ok else messages.error)(request, message)
    return redirect(link if ok and link else reverse("recyclebin:list"))


@login_required
@require_POST
@not_found_as_404
def bin_restore(request: HttpRequest, entry_id: int) -> HttpResponse:
    try:
        record = services.entry_restore(acting_user=request.user, entry_id=entry_id)
    except ValidationFailed as exc:
        return _answer(request, entry_id, ok=False,
                       message=_("无法恢复：") + "；".join(str(e.message) for e in exc.errors))
    except PermissionDenied as exc:
        return _answer(request, entry_id, ok=False, message=str(exc.message))
    object_type = record._meta.model_name or ""
    return _answer(request, entry_id, ok=True, message=_("已恢复：%(name)s") % {"name": record},
                   link=record_url(object_type, record))


@login_required
@require_POST
@not_found_as_404
def bin_purge(request: HttpRequest, entry_id: int) -> HttpResponse:
    services.entry_purge(acting_user=request.user, entry_id=entry_id)
    return _answer(request, entry_id, ok=True, message=_("已彻底删除"))
