"""The admin page "审计日志": search the audit log (filters, keyset pages of 50, newest first), each
row with its field changes old → new. Admins only (403 otherwise). Thin: parse, one selector, render."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from kehu.core import audit_selectors as selectors
from kehu.core import crypto
from kehu.core.errors import ValidationFailed
from kehu.core.models import AuditEvent
from kehu.customers.views import admin_required


def _row(event: AuditEvent) -> dict[str, Any]:
    changes = [{"field": str(c.get("field", "")), "old": selectors.display_value(c.get("old")),
                "new": selectors.display_value(c.get("new"))}
               for c in crypto.masked_changes(event.changes if isinstance(event.changes, list) else [])
               if isinstance(c, dict)]
    return {"event": event, "changes": changes}


@admin_required
@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    try:
        filters = selectors.audit_filters_parse(request.GET)
    except ValidationFailed as exc:
        errors, filters = exc.by_field(), selectors.AuditFilters()
    try:
        page = selectors.audit_events_page(user=request.user, filters=filters, cursor=request.GET.get("cursor"))
    except ValidationFailed as exc:  # a mangled cursor: start again from the newest
        errors.update(exc.by_field())
        page = selectors.audit_events_page(user=request.user, filters=filters)
    except selectors.PermissionDenied as exc:
        raise DjangoPermissionDenied(str(exc)) from exc
    next_url = None
    if page.next_cursor:
        next_url = "?" + urlencode({**filters.as_params(), "cursor": page.next_cursor})
    context = {
        "rows": [_row(e) for e in page.events], "params": request.GET, "errors": errors, "next_url": next_url,
        "first_url": "?" + urlencode(filters.as_params()), "paged": bool(request.GET.get("cursor")),
        "actions": AuditEvent.Action.choices, "object_types": selectors.KNOWN_OBJECT_TYPES, "section": "audit",
        "title": _("审计日志"),
    }
    template = "core/audit/partials/results.html" if request.headers.get("HX-Request") else "core/audit/pages/list.html"
    return render(request, template, context, status=422 if errors else 200)
