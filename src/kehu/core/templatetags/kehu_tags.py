"""Generic display helpers for templates. Everything user-supplied is escaped with format_html; colours
are checked against a strict pattern before they reach a style attribute."""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

register = template.Library()

_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
DEFAULT_COLOR = "#8c8c8c"
EMPTY = "—"


@register.filter
def safe_color(value: Any) -> str:
    text = str(value or "")
    return text if _COLOR.match(text) else DEFAULT_COLOR


@register.simple_tag
def badge(option: Any) -> SafeString | str:
    if option is None:
        return EMPTY
    return format_html('<span class="badge" style="--c:{}">{}</span>', safe_color(option.color), option.label)


@register.simple_tag
def tag_chips(tags: Any) -> SafeString | str:
    tags = list(tags)
    if not tags:
        return ""
    return format_html_join(
        "", '<span class="chip" style="--c:{}">{}</span>', ((safe_color(t.color), t.name) for t in tags)
    )


@register.simple_tag
def sort_link_value(current: str, column: str) -> str:
    """The sort value a header link should request: toggles direction on the active column;
    names start ascending, dates newest first."""
    if current == column:
        return f"-{column}"
    if current == f"-{column}":
        return column
    return column if column == "name" else f"-{column}"


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    return mapping.get(key) if hasattr(mapping, "get") else None
