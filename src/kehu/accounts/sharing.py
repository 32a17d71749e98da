"""Sharing one record (a customer, an opportunity, a lead) with a user or a department.

A share makes the record visible to the recipient whatever their data scope says (a department
share reaches its members and the members of its sub-departments); `can_edit` lets them change
it too. `core/scoping.restrict()` ORs the shares in, so shared records appear in the recipient's
lists, search, detail pages, exports and reports with nothing else to do.

Who may share or revoke: the record's owner, admins, and holders of "<object>.assign" who can see
the record. Every share and revoke records a "permission" audit event on the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models import Model
from django.utils.translation import gettext as _

from kehu.accounts.models import Department, RecordShare, User
from kehu.accounts.permissions import has_operation
from kehu.core import audit
from kehu.core.errors import ErrorCode, FieldError, NotFound, PermissionDenied, ValidationFailed
from kehu.core.scoping import SHAREABLE, object_code, restrict


@dataclass(frozen=True)
class ShareKind:
    kind: str  # the API path segment: customers, opportunities, leads
    label: str  # model label_lower, RecordShare.object_type
    model: type[Model]
    code: str  # the permission object: customer, opportunity, lead


def share_kind(kind: str) -> ShareKind:
    label = SHAREABLE.get(kind)
    if label is None:
        raise NotFound(_("该类型的记录不能共享"))
    model = apps.get_model(label)
    return ShareKind(kind=kind, label=label, model=model, code=object_code(model) or "")


def _record(user: Any, kind: ShareKind, object_id: int) -> Model:
    record = restrict(kind.model.objects.all(), user).filter(pk=object_id).first()
    if record is None:
        raise NotFound(_("记录不存在或无权查看"))
    return record


def can_share(user: Any, kind: ShareKind, record: Model) -> bool:
    """The owner, admins, and those who may assign this kind of record."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if getattr(user, "is_kehu_admin", False) or getattr(record, "owner_id", None) == user.pk:
        return True
    # Assigning is a write: a record someone only shared read-only with this user is not theirs to pass on.
    return has_operation(user, f"{kind.code}.assign") and restrict(
        kind.model.objects.all(), user, write=True).filter(pk=record.pk).exists()


def shares_of(*, user: Any, kind: str, object_id: int) -> list[RecordShare]:
    """The record's shares (for those who may manage them; others see none)."""
    share = share_kind(kind)
    record = _record(user, share, object_id)
    if not can_share(user, share, record):
        return []
    return list(RecordShare.objects.filter(object_type=share.label, object_id=record.pk)
                .select_related("user", "department", "created_by").order_by("created_at", "id"))


def _target(share: RecordShare) -> str:
    who = str(share.user) if share.user_id else f"{_('部门')}:{share.department}"
    return f"{who} ({_('可编辑') if share.can_edit else _('只读')})"


def _customer_id(record: Model) -> int | None:
    if record._meta.label_lower == "customers.customer":
        return record.pk
    return getattr(record, "customer_id", None)


@transaction.atomic
def share_create(*, acting_user: Any, kind: str, object_id: int, user_id: int | None = None,
                 department_id: int | None = None, can_edit: bool = False) -> RecordShare:
    """Share the record with one user or one department; sharing again with the same target
    updates read/edit instead of adding a second row."""
    share_type = share_kind(kind)
    record = _record(acting_user, share_type, object_id)
    if not can_share(acting_user, share_type, record):
        raise PermissionDenied(_("只有负责人、管理员或有分配权限的人可以共享这条记录"))
    if bool(user_id) == bool(department_id):
        raise ValidationFailed([FieldError("target", ErrorCode.REQUIRED, _("请选择一个用户或一个部门"))])
    target: dict[str, Any] = {}
    if user_id:
        recipient = User.objects.filter(pk=user_id, is_active=True).first()
        if recipient is None:
            raise ValidationFailed([FieldError("user_id", ErrorCode.INVALID, _("用户不存在或已停用"))])
        if recipient.pk == getattr(record, "owner_id", None):
            raise ValidationFailed([FieldError("user_id", ErrorCode.INVALID, _("不能共享给负责人本人"))])
        target["user"] = recipient
    else:
        department = Department.objects.filter(pk=department_id).first()
        if department is None:
            raise ValidationFailed([FieldError("department_id", ErrorCode.INVALID, _("部门不存在"))])
        target["department"] = department
    share = RecordShare.objects.filter(object_type=share_type.label, object_id=record.pk, **target).first()
    old = _target(share) if share is not None else None
    if share is None:
        share = RecordShare.objects.create(object_type=share_type.label, object_id=record.pk, can_edit=can_edit,
                                           created_by=acting_user, **target)
    elif share.can_edit != can_edit:
        share.can_edit = can_edit
        share.save(update_fields=["can_edit"])
    else:
        return share
    audit.record_event(actor=acting_user, action="permission", obj=record, customer_id=_customer_id(record),
                       changes=[{"field": "share", "old": old, "new": _target(share)}])
    return share


@transaction.atomic
def share_revoke(*, acting_user: Any, kind: str, object_id: int, share_id: int) -> None:
    share_type = share_kind(kind)
    record = _record(acting_user, share_type, object_id)
    if not can_share(acting_user, share_type, record):
        raise PermissionDenied(_("只有负责人、管理员或有分配权限的人可以取消共享"))
    share = RecordShare.objects.filter(pk=share_id, object_type=share_type.label, object_id=record.pk).first()
    if share is None:
        raise NotFound(_("共享不存在"))
    audit.record_event(actor=acting_user, action="permission", obj=record, customer_id=_customer_id(record),
                       changes=[{"field": "share", "old": _target(share), "new": None}])
    share.delete()
