"""Reveal: show the full value of a masked field, on purpose and on the record.

A role that sees a field masked (accounts/permissions.py `field_access`) may still look at the full
value of one record when it holds the "customer.reveal" / "contact.reveal" operation and the record
is in its data scope. Every reveal writes an audit event (action "reveal", the field's name; never
the value), and reveals are rate-limited per user so the button is no way around masking.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.permissions import has_operation
from kehu.core import audit, masking
from kehu.core.errors import ErrorCode, FieldError, NotFound, PermissionDenied, ValidationFailed
from kehu.core.models import AuditEvent
from kehu.core.scoping import restrict
from kehu.customers.models import Contact, Customer


def _model(object_type: str) -> Any:
    if object_type == "lead":
        from kehu.leads.models import Lead

        return Lead
    return {"customer": Customer, "contact": Contact}.get(object_type)


class RevealLimited(PermissionDenied):
    """Too many reveals in the last hour (429)."""

    http_status = 429


def reveal_limit() -> int:
    return int(getattr(settings, "KEHU_REVEAL_PER_HOUR", 100))


def can_reveal(user: Any, object_type: str, field: str) -> bool:
    """May `user` reveal `field` of `object_type` records at all (scope aside)? Only masked fields
    need it; hidden ones cannot be revealed."""
    return (masking.protected_field(object_type, field) == field
            and masking.access_of(user, object_type, field) == masking.FieldAccess.MASKED
            and has_operation(user, f"{object_type}.reveal"))


def _display(field: str, value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return list(value) if isinstance(value, list | tuple) else value


@transaction.atomic
def field_reveal(*, acting_user: Any, object_type: str, object_id: int, field: str) -> Any:
    """The full value of `field` of one record, logged. Raises NotFound outside the user's scope,
    ValidationFailed for a field that is not protected, PermissionDenied without the reveal
    operation or for a hidden field, RevealLimited over the hourly limit. A denied reveal writes
    nothing."""
    model = _model(object_type)
    if model is None:
        raise NotFound(_("记录不存在或无权查看"))
    record = restrict(model.objects.all(), acting_user).filter(pk=object_id).first()
    if record is None:
        raise NotFound(_("记录不存在或无权查看"))
    if masking.protected_field(object_type, field) != field:
        message = _("这个字段不需要也不能“显示完整值”：%(field)s") % {"field": field}
        raise ValidationFailed([FieldError(field="field", code=ErrorCode.INVALID, message=message)])
    access = masking.access_of(acting_user, object_type, field)
    if access == masking.FieldAccess.HIDDEN:
        raise PermissionDenied(_("你的角色不能查看这个字段"), field=field)
    if access != masking.FieldAccess.MASKED:
        return _display(field, getattr(record, field))  # already readable in full: nothing to reveal or log
    if not has_operation(acting_user, f"{object_type}.reveal"):
        raise PermissionDenied(_("你的角色没有“查看完整敏感信息”的权限"), field=field)
    since = timezone.now() - dt.timedelta(hours=1)
    recent = AuditEvent.objects.filter(actor_id=acting_user.pk, action=AuditEvent.Action.REVEAL, at__gte=since).count()
    if recent >= reveal_limit():
        raise RevealLimited(_("一小时内查看完整信息的次数过多，请稍后再试"), field=field)
    customer_id = {"customer": record.pk, "contact": getattr(record, "customer_id", None)}.get(object_type)
    # Who, when (the event's time and IP) and which field; never the value itself.
    audit.record_event(actor=acting_user, action=AuditEvent.Action.REVEAL, obj=record, customer_id=customer_id,
                       changes=[{"field": field, "old": None, "new": None}])
    return _display(field, getattr(record, field))
