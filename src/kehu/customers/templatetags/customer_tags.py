"""Customer display helpers: list cells, custom field values, timeline change rows."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.template.defaultfilters import date as date_filter
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from kehu.core.templatetags.kehu_tags import EMPTY, badge, tag_chips
from kehu.customers.models import Contact, Customer, CustomerKind

register = template.Library()


@register.simple_tag
def custom_display(definition: Any, value: Any, users_by_id: dict | None = None) -> str:
    """A custom field's value as text in the current language."""
    if value in (None, "", []):
        return EMPTY
    kind = definition.field_type
    if kind == "choice":
        return definition.choice_label(value)
    if kind == "multi_choice":
        return "、".join(definition.choice_label(v) for v in value)
    if kind == "boolean":
        return _("是") if value else _("否")
    if kind == "user":
        user = (users_by_id or {}).get(value)
        return str(user) if user else f"#{value}"
    if kind == "money":
        try:
            return f"¥{Decimal(str(value)):,.2f}"
        except InvalidOperation:
            return str(value)
    return str(value)


@register.simple_tag
def list_cell(customer: Customer, key: str, definitions: dict, users_by_id: dict) -> SafeString | str:
    if key.startswith("cf_"):
        definition = definitions.get(key[3:])
        return custom_display(definition, customer.custom.get(key[3:]), users_by_id) if definition else EMPTY
    if key in ("stage", "level", "source", "industry"):
        option = getattr(customer, key)
        return badge(option) if key in ("stage", "level") else (option.label if option else EMPTY)
    if key == "kind":
        return customer.get_kind_display()
    if key == "owner":
        return str(customer.owner) if customer.owner else EMPTY
    if key == "department":
        return str(customer.department) if customer.department else EMPTY
    if key == "phones":
        return "、".join(customer.phones) or EMPTY
    if key == "tags":
        return tag_chips(customer.tag_list()) or EMPTY
    if key in ("created_at", "updated_at"):
        return date_filter(timezone.localtime(getattr(customer, key)), "Y-m-d H:i")
    return str(getattr(customer, key, "") or EMPTY)


def _field_label(name: str) -> str:
    for model in (Customer, Contact):
        try:
            return str(model._meta.get_field(name).verbose_name)
        except FieldDoesNotExist:
            continue
    return name


def _value_text(value: Any, field: str = "") -> str:
    if value in (None, "", [], {}):
        return _("空")
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if field == "kind":
        return str(CustomerKind(value).label) if value in CustomerKind.values else str(value)
    return str(value)


@register.simple_tag
def change_rows(changes: list[dict], definitions: list[Any], object_type: str = "") -> list[dict[str, str]]:
    """Timeline field changes as (label, old, new) rows; the `custom` dict is split per field. `key`
    names the field for its history (customers.history: "name", "custom.size", "contact.mobile")."""
    prefix = "contact." if object_type == "contact" else ""
    by_key = {d.key: d for d in definitions}
    rows = []
    for change in changes or []:
        field = change.get("field", "")
        old, new = change.get("old"), change.get("new")
        if field == "custom" and isinstance(old or {}, dict) and isinstance(new or {}, dict):
            old, new = old or {}, new or {}
            for key in sorted(set(old) | set(new)):
                if old.get(key) == new.get(key):
                    continue
                definition = by_key.get(key)
                label = definition.label if definition else key
                rows.append({
                    "label": label,
                    "key": f"{prefix}custom.{key}",
                    "old": custom_display(definition, old.get(key)) if definition else _value_text(old.get(key)),
                    "new": custom_display(definition, new.get(key)) if definition else _value_text(new.get(key)),
                })
            continue
        rows.append({"label": _field_label(field), "key": prefix + field, "old": _value_text(old, field),
                     "new": _value_text(new, field)})
    return rows


