"""Old/new values of the field history (customers.history) as one line of text."""

from __future__ import annotations

from typing import Any

from django import template

from kehu.core.audit_selectors import display_value

register = template.Library()


@register.filter
def history_value(value: Any) -> str:
    return display_value(value)
