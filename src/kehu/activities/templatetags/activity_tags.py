"""The customer page's "跟进与任务" panel (quick follow-up entry + the customer's open tasks), as an
inclusion tag so the customer view needs no change: `{% load activity_tags %}{% customer_activity customer %}`."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from kehu.activities import selectors

register = template.Library()


@register.inclusion_tag("activities/partials/customer_panel.html", takes_context=True)
def customer_activity(context: Any, customer: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    return {"customer": customer, "request": request, "csrf_token": context.get("csrf_token"),
            "kinds": list(selectors.followup_kinds()), "now": timezone.now(),
            "tasks": selectors.customer_open_tasks(user=user, customer_id=customer.pk)}
