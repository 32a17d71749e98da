"""Write audit events. Services call these inside their transaction so the record and its
history commit together or not at all."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

from kehu.core import crypto
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
        # ID numbers and other encrypted fields stay encrypted in the log (kehu.core.crypto).
        changes=crypto.seal_changes(obj._meta.model_name or "", changes or []),
    )


_THE_USER: Any = object()


def record_user_event(
    *,
    action: str,
    user: Any = None,
    username: str = "",
    ip: str | None = None,
    actor: Any = _THE_USER,
    changes: list[dict] | None = None,
) -> AuditEvent:
    """An event about a user account (login, logout, failed login, permission change): the object is
    the user (id 0 when the username matches no one); the actor is the user unless given (None for
    a failed login: nobody was authenticated)."""
    if actor is _THE_USER:
        actor = user
    has_actor = bool(getattr(actor, "pk", None))
    actor_name = (getattr(actor, "display_name", "") or getattr(actor, "username", "") or "") if has_actor else ""
    return AuditEvent.objects.create(
        actor=actor if has_actor else None,
        actor_name=str(actor_name)[:150],
        ip=ip if ip is not None else current_ip.get(),
        action=action,
        object_type="user",
        object_id=getattr(user, "pk", None) or 0,
        object_repr=str(username or getattr(user, "username", "") or "")[:300],
        customer_id=None,
        changes=changes or [],
    )


def record_permission_change(*, actor: Any, user: Any, changes: list[dict]) -> AuditEvent:
    """A role, data scope, field permission or admin flag of `user` changed (old → new in `changes`).
    For the accounts/permissions services: call it inside the same transaction as the change."""
    return record_user_event(action=AuditEvent.Action.PERMISSION, user=user, actor=actor, changes=changes)


# Authentication events: django.contrib.auth's signals (framework events, not domain logic), connected
# in CoreConfig.ready().


def _request_ip(request: Any) -> str | None:
    meta = getattr(request, "META", None) or {}
    return meta.get("REMOTE_ADDR") or current_ip.get()


def on_user_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record_user_event(action=AuditEvent.Action.LOGIN, user=user, ip=_request_ip(request))


def on_user_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None or not getattr(user, "pk", None):
        return  # a logout without a session: nobody to name
    record_user_event(action=AuditEvent.Action.LOGOUT, user=user, ip=_request_ip(request))


def on_user_login_failed(sender: Any, credentials: Mapping[str, Any], request: Any = None, **kwargs: Any) -> None:
    """Failed login: the username tried (never the password: Django has already masked it) and the IP."""
    from django.contrib.auth import get_user_model

    model = get_user_model()
    tried = str(credentials.get(model.USERNAME_FIELD) or credentials.get("username") or "")[:150]
    user = model._default_manager.filter(**{model.USERNAME_FIELD: tried}).first() if tried else None
    record_user_event(action=AuditEvent.Action.LOGIN_FAILED, user=user, username=tried, actor=None,
                      ip=_request_ip(request), changes=[{"field": "username", "old": None, "new": tried}])


def connect_auth_signals() -> None:
    from django.contrib.auth import signals

    signals.user_logged_in.connect(on_user_logged_in, dispatch_uid="kehu_audit_login")
    signals.user_logged_out.connect(on_user_logged_out, dispatch_uid="kehu_audit_logout")
    signals.user_login_failed.connect(on_user_login_failed, dispatch_uid="kehu_audit_login_failed")
