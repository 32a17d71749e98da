"""The merge panel of the customer page: standing merges into the customer with their undo button."""

from __future__ import annotations

from typing import Any

from django import template

from kehu.dataquality.merging import selectors, services

register = template.Library()


@register.inclusion_tag("dataquality/merge_panel.html", takes_context=True)
def merge_panel(context: dict[str, Any], customer: Any) -> dict[str, Any]:
    user = context["request"].user
    merges = [m for m in selectors.merges_of_customer(user=user, customer_id=customer.pk) if m.undone_at is None]
    return {
        "merges": [
            {"merge": m, "merged": selectors.merged_names(m), "can_undo": services.may_undo(m, user),
             "undo_until": services.undo_deadline(m)}
            for m in merges[:5]
        ],
        "csrf_token": context.get("csrf_token"),
    }
