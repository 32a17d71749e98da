"""The contacts section of the customer page: open pairs of likely duplicate contacts with a merge
link each, and standing contact merges with their undo button."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from kehu.dataquality import scan_selectors
from kehu.dataquality.contact_views import merge_item
from kehu.dataquality.merging import contacts as contact_merging

register = template.Library()

SHOWN_PAIRS = 10
SHOWN_MERGES = 5


@register.inclusion_tag("dataquality/contacts/partials/customer_notice.html", takes_context=True)
def contact_duplicates_notice(context: dict[str, Any], customer: Any) -> dict[str, Any]:
    user = context["request"].user
    # Both reads keep to the user's scope: nothing shows for a customer they may not see.
    pairs, more = scan_selectors.contact_pairs_page(user=user, customer_id=customer.pk, limit=SHOWN_PAIRS)
    merges = contact_merging.contact_merges_of_customer(user=user, customer_id=customer.pk)
    # Also rendered by the contacts section's own HTMX URL: come back to the customer page itself.
    here = reverse("customers:detail", args=[customer.pk])
    return {
        "customer": customer,
        "pairs": pairs,
        "pair_count": scan_selectors.contact_pairs(user=user, customer_id=customer.pk).count() if more else len(pairs),
        "merges": [merge_item(m, user) for m in merges[:SHOWN_MERGES]],
        "next": here,
        "csrf_token": context.get("csrf_token"),
    }


@register.simple_tag(takes_context=True)
def open_contact_pair_count(context: dict[str, Any]) -> int:
    """Open contact pairs the user may see, for the link from the customer duplicate queue."""
    return sum(scan_selectors.contact_pair_counts(user=context["request"].user).values())
