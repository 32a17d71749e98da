"""The per-field history of a customer (customers.history): an HTMX panel under the timeline, or a
page of its own without JavaScript."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from kehu.core.params import query_int
from kehu.customers import history, selectors
from kehu.customers.views import not_found_as_404


@login_required
@require_GET
@not_found_as_404
def customer_field_history(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_get(user=request.user, customer_id=pk)
    field = request.GET.get("field", "")[:120]
    page = history.customer_field_history(user=request.user, customer_id=customer.pk, field=field,
                                          page=query_int(request.GET.get("page")) or 1)
    label = page.changes[0].label if field and page.changes else field
    context = {"customer": customer, "history": page, "field_label": label}
    template = ("customers/partials/field_history.html" if request.headers.get("HX-Request")
                else "customers/pages/field_history.html")
    return render(request, template, context)
