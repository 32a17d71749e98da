"""Reading the audit log (admins only): one filter definition for the admin page and GET /api/v1/audit,
keyset pagination newest first (stable while new events arrive, cheap on millions of rows)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.errors import ErrorCode, FieldError, PermissionDenied, ValidationFailed
from kehu.core.models import AuditEvent

PAGE = 50
MAX_PAGE = 200
# Object types offered in the filter's suggestions (any value may be typed).
KNOWN_OBJECT_TYPES = ("customer", "contact", "user", "lead", "opportunity", "contract", "payment", "followup", "task",
                      "poolmove", "rule", "note")


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""  # a user id, or part of the actor's name / the username (failed logins: the name tried)
    action: str = ""
    object_type: str = ""
    object_id: int | None = None
    customer: int | None = None
    date_from: dt.date | None = None  # local dates, both inclusive
    date_to: dt.date | None = None
    q: str = ""  # text in the changes (field names, old and new values) or the object's name

    def as_params(self) -> dict[str, str]:
        """The non-empty filters as query-string values (the page's "next" link)."""
        values = {"actor": self.actor, "action": self.action, "object_type": self.object_type,
                  "object_id": self.object_id, "customer": self.customer, "date_from": self.date_from,
                  "date_to": self.date_to, "q": self.q}
        return {k: str(v) for k, v in values.items() if v not in (None, "")}


@dataclass
class AuditPage:
    events: list[AuditEvent]
    next_cursor: str | None
    filters: AuditFilters = field(default_factory=AuditFilters)


def _int(name: str, value: Any, errors: list[FieldError]) -> int | None:
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    if text.isdigit():
        return int(text)
    errors.append(FieldError(name, ErrorCode.INVALID, _("请输入数字")))
    return None


def _date(name: str, value: Any, errors: list[FieldError]) -> dt.date | None:
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors.append(FieldError(name, ErrorCode.INVALID, _("日期格式应为 YYYY-MM-DD")))
        return None


def audit_filters_parse(params: Mapping[str, Any]) -> AuditFilters:
    """Filters from a query string (the page) or the API's query schema; ValidationFailed on bad input."""
    errors: list[FieldError] = []
    action = str(params.get("action") or "").strip()
    if action and action not in AuditEvent.Action.values:
        errors.append(FieldError("action", ErrorCode.UNKNOWN_CHOICE, _("未知的操作类型")))
    filters = AuditFilters(
        actor=str(params.get("actor") or "").strip()[:150],
        action=action,
        object_type=str(params.get("object_type") or "").strip()[:50],
        object_id=_int("object_id", params.get("object_id"), errors),
        customer=_int("customer", params.get("customer"), errors),
        date_from=_date("date_from", params.get("date_from"), errors),
        date_to=_date("date_to", params.get("date_to"), errors),
        q=str(params.get("q") or "").strip()[:200],
    )
    if errors:
        raise ValidationFailed(errors)
    return filters


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _filtered(filters: AuditFilters) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.all()
    if filters.actor:
        if filters.actor.isdigit():
            qs = qs.filter(actor_id=int(filters.actor))
        else:
            qs = qs.filter(Q(actor_name__icontains=filters.actor) | Q(actor__username__iexact=filters.actor)
                           | Q(action=AuditEvent.Action.LOGIN_FAILED, object_repr__iexact=filters.actor))
    if filters.action:
        qs = qs.filter(action=filters.action)
    if filters.object_type:
        qs = qs.filter(object_type=filters.object_type)
    if filters.object_id is not None:
        qs = qs.filter(object_id=filters.object_id)
    if filters.customer is not None:
        qs = qs.filter(customer_id=filters.customer)
    if filters.date_from:
        qs = qs.filter(at__gte=_local_midnight(filters.date_from))
    if filters.date_to:
        qs = qs.filter(at__lt=_local_midnight(filters.date_to + dt.timedelta(days=1)))
    if filters.q:
        # JSON text: SQLite keeps non-ASCII as \\uXXXX escapes, PostgreSQL (jsonb) as the characters.
        escaped = json.dumps(filters.q)[1:-1]
        text = Q(changes__icontains=filters.q) | Q(object_repr__icontains=filters.q)
        if escaped != filters.q:
            text |= Q(changes__icontains=escaped)
        qs = qs.filter(text)
    return qs


def encode_cursor(event: AuditEvent) -> str:
    micros = int(event.at.timestamp()) * 1_000_000 + event.at.microsecond
    return f"{micros}.{event.pk}"


def _decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    micros, _sep, pk = cursor.partition(".")
    if not micros.lstrip("-").isdigit() or not pk.isdigit():
        raise ValidationFailed([FieldError("cursor", ErrorCode.INVALID, _("分页游标无效"))])
    value = int(micros)
    at = dt.datetime.fromtimestamp(value // 1_000_000, tz=dt.UTC).replace(microsecond=value % 1_000_000)
    return at, int(pk)


def audit_require_admin(user: Any) -> None:
    from kehu.accounts.permissions import has_operation

    if not has_operation(user, "audit.view"):
        raise PermissionDenied(_("只有管理员可以查看审计日志"))


def audit_events_page(*, user: Any, filters: AuditFilters, cursor: str | None = None,
                      limit: int = PAGE) -> AuditPage:
    """One page, newest first (time, then id); `next_cursor` continues after the last row."""
    audit_require_admin(user)
    limit = max(1, min(limit, MAX_PAGE))
    qs = _filtered(filters).order_by("-at", "-id")
    if cursor:
        at, pk = _decode_cursor(cursor)
        qs = qs.filter(Q(at__lt=at) | Q(at=at, id__lt=pk))
    events = list(qs[:limit + 1])
    more = len(events) > limit
    events = events[:limit]
    return AuditPage(events=events, next_cursor=encode_cursor(events[-1]) if more and events else None,
                     filters=filters)


def display_value(value: Any) -> str:
    """An old/new value as one line of text (lists joined, objects as JSON, nothing as —)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return "、".join(display_value(v) for v in value) or "—"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bool):
        return _("是") if value else _("否")
    return str(value)
