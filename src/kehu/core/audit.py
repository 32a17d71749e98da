"""Write audit events. Services call these inside their transaction so the record and its
history commit together or not at all."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

from kehu.core.models import AuditEvent
from kehu.core.request_context import current_ip


def audit_value(value: Any) -> Any:
    """A JSON-safe, human-readable form of a field value."""
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(audit_value(v) for v in value)
    if isinstance(value, list | tuple):
        return [audit_value(v) for v in value]
    return value


def diff_values(before: Mapping[str, Any], after: Mapping[str, Any], fields: Iterable[str]) -> list[dict]:
    changes = []
    for field in fields:
        old, new = audit_value(before.get(field)), audit_value(after.get(field))
        if old != new:
            changes.append({"field": field, "old": old, "new": new})
    return changes


def record_event(
    *,
    actor: Any,
    action: str,
    obj: models.Model,
    customer_id: int | None,
    changes: list[dict] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=getattr(actor, "display_name", "") or getattr(actor, "username", "") or "",
        ip=current_ip.get(),
        action=action,
        object_type=obj._meta.model_name or "",
        object_id=obj.pk,
        object_repr=str(obj)[:300],
        customer_id=customer_id,
        changes=changes or [],
    )
