"""`{% sensitive customer "customer" "id_number" %}`: a protected field as the viewing user may see it.

Readable fields render in full (phones as tel: links, e-mails as mailto:); masked ones render their
masked value (kehu.core.masking, computed here on the server) with a "显示" button when the user may
reveal it (HTMX POST to customers:reveal, which logs the reveal and swaps in the full value); hidden
ones render "—". The full value of a masked field never reaches the page before the reveal.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from kehu.core import masking

register = template.Library()

EMPTY = "—"
_LINKS = {"phone": "tel:", "email": "mailto:"}


def _items(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, dt.date):
        return [value.isoformat()]
    return [str(v) for v in value if v] if isinstance(value, list | tuple) else [str(value)]


def render_full(object_type: str, field: str, value: Any, *, separator: str = "、") -> SafeString | str:
    """The full value as HTML (links for phones and e-mails)."""
    items = _items(value)
    if not items:
        return EMPTY
    scheme = _LINKS.get(masking.field_kind(object_type, field))
    if scheme:
        return format_html_join(separator, '<a href="{}{}">{}</a>', ((scheme, v, v) for v in items))
    return format_html_join(separator, "{}", ((v,) for v in items))


def render_field(user: Any, obj: Any, object_type: str, field: str, *, separator: str = "、") -> SafeString | str:
    value = getattr(obj, field, None)
    # No user to judge by (a template rendered without a request): fail closed.
    access = masking.FieldAccess.HIDDEN if user is None else masking.access_of(user, object_type, field)
    if access == masking.FieldAccess.HIDDEN:
        return format_html('<span class="sensitive sensitive-hidden muted" title="{}">{}</span>',
                           _("你的角色不能查看这个字段"), EMPTY)
    if access != masking.FieldAccess.MASKED or not _items(value):
        return render_full(object_type, field, value, separator=separator)
    from kehu.customers.reveal import can_reveal

    kind = masking.field_kind(object_type, field)
    masked = [("*" * 4 if kind == "date" else masking.mask_value(kind, v)) for v in _items(value)]
    text = separator.join(masked)
    if not can_reveal(user, object_type, field):
        return format_html('<span class="sensitive sensitive-masked" data-field="{}">{}</span>', field, text)
    url = reverse("customers:reveal", args=[object_type, obj.pk, field])
    return format_html(
        '<span class="sensitive sensitive-masked" data-field="{}">{} '
        '<button type="button" class="link-button reveal" hx-post="{}" hx-target="closest .sensitive" '
        'hx-swap="outerHTML" title="{}" data-testid="reveal-{}">{}</button></span>',
        field, text, url, _("查看完整信息（会记录在审计日志中）"), field, _("显示"),
    )


@register.simple_tag(takes_context=True)
def sensitive(context: Any, obj: Any, object_type: str, field: str, separator: str = "、") -> SafeString | str:
    request = context.get("request")
    return render_field(getattr(request, "user", None) if request else context.get("user"), obj, object_type,
                        field, separator=separator)


@register.simple_tag(takes_context=True)
def field_readable(context: Any, object_type: str, field: str) -> bool:
    """True unless the field is hidden for the viewing user (to leave out a whole row)."""
    request = context.get("request")
    user = getattr(request, "user", None) if request else context.get("user")
    return user is not None and masking.access_of(user, object_type, field) != masking.FieldAccess.HIDDEN
