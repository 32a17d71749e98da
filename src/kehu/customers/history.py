"""Per-record field history: every change of every field of a customer (its own fields, its custom
fields and the fields of its contacts), read from the append-only audit log — who, when, old → new.

The audit rows are never touched; this module only reads and flattens them. Field-level security
applies on the way out: a hidden field's changes are left out, a masked field's old and new values
are masked (kehu.core.masking when present, else "***"), exactly as on the record itself.

Field keys: "name", "phones", "custom.<key>" for the customer; "contact.mobile",
"contact.custom.<key>" for its contacts (the contact's name is in `object_repr`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Paginator
from django.utils.translation import gettext as _

from kehu.accounts.models import FieldAccess
from kehu.accounts.permissions import field_access
from kehu.core import crypto
from kehu.core.models import AuditEvent
from kehu.customers import selectors
from kehu.customers.models import Contact, Customer, CustomFieldDefinition, CustomFieldTarget
from kehu.dataquality.merging.selectors import absorbed_customer_ids

PER_PAGE = 50
MAX_PER_PAGE = 200
MASK = "***"
# The record kinds whose field history shows on a customer's page (other apps keep their own).
HISTORY_OBJECT_TYPES = ("customer", "contact")


@dataclass(frozen=True)
class FieldChange:
    at: dt.datetime
    actor: str
    action: str
    object_type: str  # "customer" / "contact"
    object_id: int
    object_repr: str
    field: str  # the key, e.g. "name", "custom.size", "contact.mobile"
    label: str
    old: Any
    new: Any
    masked: bool = False


@dataclass(frozen=True)
class FieldHistoryPage:
    changes: list[FieldChange]
    field: str
    page: int
    pages: int
    total: int

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _mask_value(object_type: str, field: str, value: Any) -> Any:
    """The masked form of one old/new value (the shared masking rules when that module exists)."""
    if value in (None, "", [], {}):
        return value
    try:
        from kehu.core import masking  # built alongside; fall back to a plain mask until it exists
    except ImportError:
        return MASK
    mask = getattr(masking, "mask_value", None)
    if mask is None:
        return MASK
    try:
        return mask(object_type, field, value)
    except Exception:  # noqa: BLE001 - an unknown signature must never leak the full value
        return MASK


def _access(user: Any, object_type: str, field: str) -> str:
    """Field access of a (possibly custom) field: "custom.<key>" falls back to the whole "custom" field."""
    access = field_access(user, object_type, field)
    if field.startswith("custom.") and access == FieldAccess.EDITABLE:
        access = field_access(user, object_type, "custom")
    return access


def _model_label(model: type, name: str) -> str:
    try:
        return str(model._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return {"tags": _("标签")}.get(name, name)


def _labels() -> dict[str, str]:
    labels = {}
    for definition in CustomFieldDefinition.objects.all():
        prefix = "custom." if definition.target == CustomFieldTarget.CUSTOMER else "contact.custom."
        labels[prefix + definition.key] = definition.label
    return labels


def _label(key: str, custom_labels: dict[str, str]) -> str:
    if key in custom_labels:
        return custom_labels[key]
    if key.startswith("contact."):
        name = key.removeprefix("contact.")
        return _("联系人") + "·" + (name.removeprefix("custom.") if name.startswith("custom.")
                                   else _model_label(Contact, name))
    if key.startswith("custom."):
        return key.removeprefix("custom.")
    return _model_label(Customer, key)


def _flatten(event: AuditEvent) -> Iterator[tuple[str, str, Any, Any]]:
    """(key, field on the object, old, new) per changed field; the custom dict split per key;
    bookkeeping marks ("_merged", "_reason" …) left out."""
    prefix = "contact." if event.object_type == "contact" else ""
    for change in crypto.unseal_changes(event.changes or []):
        name = str(change.get("field", ""))
        if not name or name.startswith("_"):
            continue
        old, new = change.get("old"), change.get("new")
        if name == "custom" and isinstance(old or {}, dict) and isinstance(new or {}, dict):
            old, new = old or {}, new or {}
            for key in sorted(set(old) | set(new)):
                if old.get(key) != new.get(key):
                    yield f"{prefix}custom.{key}", f"custom.{key}", old.get(key), new.get(key)
            continue
        if _empty(old) and _empty(new):
            continue  # a creation lists every field, blank ones too: nothing happened to them
        yield prefix + name, name, old, new


def _empty(value: Any) -> bool:
    return value in (None, "", [], {})


def _events(customer_id: int) -> Iterable[AuditEvent]:
    # A survivor's history also holds that of the customers merged into it (as its timeline does).
    ids = [customer_id, *absorbed_customer_ids(customer_id)]
    return (AuditEvent.objects.filter(customer_id__in=ids, object_type__in=HISTORY_OBJECT_TYPES)
            .order_by("-at", "-id").iterator(chunk_size=500))


def customer_field_changes(*, user: Any, customer_id: int, field: str = "") -> list[FieldChange]:
    """Every field change of the customer and its contacts, newest first, optionally of one field key.
    NotFound when the customer is outside the user's scope; no limit on fields or changes."""
    selectors.customer_get(user=user, customer_id=customer_id)
    custom_labels = _labels()
    rows: list[FieldChange] = []
    for event in _events(customer_id):
        for key, name, old, new in _flatten(event):
            if field and key != field:
                continue
            access = _access(user, event.object_type, name)
            if access == FieldAccess.HIDDEN:
                continue  # the field does not exist for this user, nor does its history
            masked = access == FieldAccess.MASKED
            if masked:
                old, new = _mask_value(event.object_type, name, old), _mask_value(event.object_type, name, new)
            rows.append(FieldChange(
                at=event.at, actor=event.actor_name, action=event.action, object_type=event.object_type,
                object_id=event.object_id, object_repr=event.object_repr, field=key,
                label=_label(key, custom_labels), old=old, new=new, masked=masked,
            ))
    return rows


def customer_field_history(*, user: Any, customer_id: int, field: str = "", page: int = 1,
                           per_page: int = PER_PAGE) -> FieldHistoryPage:
    """One page of `customer_field_changes` (page numbers out of range land on the last page)."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    rows = customer_field_changes(user=user, customer_id=customer_id, field=field.strip())
    paginator = Paginator(rows, per_page, allow_empty_first_page=True)
    current = paginator.get_page(page)
    return FieldHistoryPage(changes=list(current.object_list), field=field.strip(), page=current.number,
                            pages=paginator.num_pages, total=paginator.count)


def mask_timeline_changes(*, user: Any, object_type: str, changes: list[dict]) -> list[dict]:
    """Timeline change dicts with field-level security applied (hidden fields dropped, masked
    fields' values masked); the custom dict is filtered per key. No user (an internal caller): as is."""
    if user is None:
        return list(changes)
    out = []
    for change in crypto.unseal_changes(list(changes)):  # encrypted ID numbers: masked below per policy
        name = str(change.get("field", ""))
        old, new = change.get("old"), change.get("new")
        if name == "custom" and isinstance(old or {}, dict) and isinstance(new or {}, dict):
            old, new = dict(old or {}), dict(new or {})
            for key in set(old) | set(new):
                access = _access(user, object_type, f"custom.{key}")
                if access == FieldAccess.HIDDEN:
                    old.pop(key, None)
                    new.pop(key, None)
                elif access == FieldAccess.MASKED:
                    if key in old:
                        old[key] = _mask_value(object_type, f"custom.{key}", old[key])
                    if key in new:
                        new[key] = _mask_value(object_type, f"custom.{key}", new[key])
            out.append({**change, "old": old, "new": new})
            continue
        access = _access(user, object_type, name)
        if access == FieldAccess.HIDDEN:
            continue
        if access == FieldAccess.MASKED:
            change = {**change, "old": _mask_value(object_type, name, old), "new": _mask_value(object_type, name, new)}
        out.append(change)
    return out
