"""Display helpers of the sales pages: money with thousands separators, percentages, durations, and
the customer page's "商机" section (an inclusion tag, so the customer view needs no change)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

from kehu.sales import selectors

register = template.Library()
_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "HKD": "HK$", "JPY": "¥"}


@register.filter
def money(value: Any, currency: str = "CNY") -> str:
    """¥1,234,567 (whole yuan on boards and tables; cents only when there are any)."""
    if value in (None, ""):
        return "—"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    symbol = _SYMBOLS.get(str(currency or "CNY").upper(), f"{currency} ")
    text = f"{amount:,.2f}" if amount != amount.to_integral_value() else f"{amount:,.0f}"
    return f"{symbol}{text}"


@register.filter
def percent(value: Any) -> str:
    """0.4321 → 43.2%; None → —."""
    if value is None:
        return "—"
    return f"{float(value) * 100:.1f}%"


@register.filter
def days(seconds: Any) -> str:
    """Seconds spent in a stage as days with one decimal (blank for the creation row)."""
    if seconds in (None, ""):
        return "—"
    return f"{int(seconds) / 86400:.1f}"


@register.filter
def required_labels(fields: Any) -> str:
    """A stage's required fields as their labels: 金额、预计成交日期."""
    from kehu.sales.forms import REQUIRABLE_LABELS

    labels = {key: str(label) for key, label in REQUIRABLE_LABELS}
    return "、".join(labels.get(f, f) for f in fields or []) or "—"


@register.inclusion_tag("sales/partials/customer_deals.html", takes_context=True)
def customer_deals(context: Any, customer: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    return {"customer": customer, "deals": selectors.opportunities_of_customer(user=user, customer_id=customer.pk),
            "request": request}
