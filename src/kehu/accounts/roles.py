"""The role editor's reads and writes: a role's names, default data scope, per-object scopes,
granted operations, field access for the sensitive fields, and the two-factor requirement.

Only holders of "settings.manage" (admins by default) edit roles. Every save records one
"permission" audit event on the role with each changed part as old → new.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.models import DataScope, FieldAccess, Role
from kehu.accounts.permissions import (
    OBJECT_OPERATIONS,
    OBJECTS,
    OPERATION_LABELS,
    OPERATIONS,
    has_operation,
    role_field_access,
    role_permissions,
)
from kehu.core import audit
from kehu.core.errors import ErrorCode, FieldError, NotFound, PermissionDenied, ValidationFailed

# The objects whose rows are scoped (core/scoping.py); the others only carry operations.
SCOPED_OBJECTS: tuple[str, ...] = ("customer", "lead", "opportunity", "contract", "task")

# The sensitive fields whose access the editor sets ("<object>.<field>" → label).
EDITOR_FIELDS: dict[str, Any] = {
    "customer.phones": gettext_lazy("客户·电话"),
    "customer.emails": gettext_lazy("客户·邮箱"),
    "customer.id_number": gettext_lazy("客户·身份证号"),
    "customer.address": gettext_lazy("客户·地址"),
    "customer.birthday": gettext_lazy("客户·生日"),
    "contact.mobile": gettext_lazy("联系人·手机"),
    "contact.phone": gettext_lazy("联系人·座机"),
    "contact.email": gettext_lazy("联系人·邮箱"),
    "contact.wechat": gettext_lazy("联系人·微信"),
    "contact.birthday": gettext_lazy("联系人·生日"),
    "lead.mobile": gettext_lazy("线索·手机"),
    "lead.phone": gettext_lazy("线索·座机"),
    "lead.email": gettext_lazy("线索·邮箱"),
    "lead.wechat": gettext_lazy("线索·微信"),
}

ROLE_PARTS = ("code", "name_zh", "name_en", "data_scope", "scopes", "permissions", "field_access", "require_2fa")


def require_role_admin(user: Any) -> None:
    if not has_operation(user, "settings.manage"):
        raise PermissionDenied(_("只有管理员可以管理角色"))


# Reads ------------------------------------------------------------------------------------------


def roles_list(*, user: Any) -> QuerySet[Role]:
    require_role_admin(user)
    return Role.objects.annotate(user_count=Count("users")).order_by("id")


def role_get(*, user: Any, role_id: int) -> Role:
    require_role_admin(user)
    role = Role.objects.filter(pk=role_id).first()
    if role is None:
        raise NotFound(_("角色不存在"))
    return role


def role_state(role: Role) -> dict[str, Any]:
    """What the editor shows and the API returns: the effective values (defaults filled in)."""
    return {
        "id": role.pk,
        "code": role.code,
        "name_zh": role.name_zh,
        "name_en": role.name_en,
        "is_admin": role.is_admin,
        "data_scope": role.data_scope,
        "scopes": {k: v for k, v in (role.scopes or {}).items() if k in SCOPED_OBJECTS},
        "permissions": sorted(role_permissions(role)),
        "field_access": {key: role_field_access(role).get(key, FieldAccess.EDITABLE) for key in EDITOR_FIELDS},
        "require_2fa": role.require_2fa,
    }


@dataclass(frozen=True)
class GridRow:
    code: str
    label: Any
    cells: list[tuple[str, str | None]]  # (operation, "<object>.<operation>" or None when not offered)


def operation_grid() -> tuple[list[tuple[str, Any]], list[GridRow]]:
    """The editor's objects × operations grid: the column headers and one row per object."""
    columns = [(op, label) for op, label in OPERATION_LABELS.items()
               if any(op in ops for ops in OBJECT_OPERATIONS.values())]
    rows = [GridRow(code=obj, label=label,
                    cells=[(op, f"{obj}.{op}" if op in OBJECT_OPERATIONS[obj] else None) for op, _l in columns])
            for obj, label in OBJECTS.items()]
    return columns, rows


# Writes -----------------------------------------------------------------------------------------


def _clean(data: Mapping[str, Any], role: Role | None) -> dict[str, Any]:
    """The role's new values from `data` (missing keys keep the current value); ValidationFailed
    listing every problem."""
    errors: list[FieldError] = []
    current = role_state(role) if role is not None else {
        "code": "", "name_zh": "", "name_en": "", "data_scope": DataScope.OWN, "scopes": {},
        "permissions": sorted(role_permissions(Role(code="", data_scope=DataScope.OWN))),
        "field_access": {key: FieldAccess.EDITABLE for key in EDITOR_FIELDS}, "require_2fa": False,
    }
    values = {part: data.get(part, current.get(part)) for part in ROLE_PARTS}

    code = str(values["code"] or "").strip()
    if role is None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,49}", code):
            errors.append(FieldError("code", ErrorCode.INVALID, _("代码只能包含小写字母、数字、- 和 _")))
        elif Role.objects.filter(code=code).exists():
            errors.append(FieldError("code", ErrorCode.UNIQUE, _("代码已被使用：%(code)s") % {"code": code}))
    else:
        code = role.code  # the stable key: never changed
    names = {}
    for part in ("name_zh", "name_en"):
        names[part] = str(values[part] or "").strip()[:100]
    if not names["name_zh"]:
        errors.append(FieldError("name_zh", ErrorCode.REQUIRED, _("请填写中文名")))
    names["name_en"] = names["name_en"] or names["name_zh"]

    scope = str(values["data_scope"] or "")
    if scope not in DataScope.values:
        errors.append(FieldError("data_scope", ErrorCode.INVALID, _("无效的数据范围")))
    scopes_in = values["scopes"] or {}
    scopes: dict[str, str] = {}
    if not isinstance(scopes_in, Mapping):
        errors.append(FieldError("scopes", ErrorCode.INVALID, _("按对象的数据范围格式不正确")))
    else:
        for obj, value in scopes_in.items():
            if not value:
                continue  # "" = use the default scope
            if obj not in SCOPED_OBJECTS or value not in DataScope.values:
                errors.append(FieldError("scopes", ErrorCode.INVALID,
                                         _("无效的数据范围：%(obj)s=%(value)s") % {"obj": obj, "value": value}))
            else:
                scopes[str(obj)] = str(value)

    permissions_in = values["permissions"] or []
    if not isinstance(permissions_in, list | tuple | set):
        errors.append(FieldError("permissions", ErrorCode.INVALID, _("操作权限格式不正确")))
        permissions_in = []
    unknown = sorted(str(p) for p in permissions_in if p not in OPERATIONS)
    if unknown:
        errors.append(FieldError("permissions", ErrorCode.INVALID,
                                 _("未知的操作：%(codes)s") % {"codes": ", ".join(unknown)}))
    permissions = sorted({str(p) for p in permissions_in if p in OPERATIONS})

    access_in = values["field_access"] or {}
    access: dict[str, str] = {}
    if not isinstance(access_in, Mapping):
        errors.append(FieldError("field_access", ErrorCode.INVALID, _("字段权限格式不正确")))
    else:
        for key, value in access_in.items():
            if key not in EDITOR_FIELDS or value not in FieldAccess.values:
                errors.append(FieldError("field_access", ErrorCode.INVALID,
                                         _("无效的字段权限：%(key)s=%(value)s") % {"key": key, "value": value}))
            elif value != FieldAccess.EDITABLE:
                access[str(key)] = str(value)
    if errors:
        raise ValidationFailed(errors)
    return {"code": code, **names, "data_scope": scope, "scopes": scopes, "permissions": permissions,
            "field_access": access, "require_2fa": bool(values["require_2fa"])}


def _comparable(role: Role) -> dict[str, Any]:
    state = role_state(role)
    state["field_access"] = {k: v for k, v in state["field_access"].items() if v != FieldAccess.EDITABLE}
    return state


@transaction.atomic
def role_save(*, acting_user: Any, data: Mapping[str, Any], role_id: int | None = None) -> Role:
    """Create a role or change one; the audit event lists each changed part (old → new). Saving
    turns a built-in role's defaults into explicit values (from then on the editor's grid rules)."""
    require_role_admin(acting_user)
    role = None
    if role_id is not None:
        role = Role.objects.select_for_update().filter(pk=role_id).first()
        if role is None:
            raise NotFound(_("角色不存在"))
    before = _comparable(role) if role is not None else {}
    clean = _clean(data, role)
    role = role or Role(code=clean["code"])
    for part in ("name_zh", "name_en", "data_scope", "scopes", "permissions", "require_2fa"):
        setattr(role, part, clean[part])
    # Admin roles hold every operation and see every field whatever is stored.
    role.field_access = clean["field_access"]
    role.save()
    after = _comparable(role)
    changes = [{"field": part, "old": before.get(part), "new": after.get(part)}
               for part in ROLE_PARTS if before.get(part) != after.get(part)]
    if changes:
        audit.record_event(actor=acting_user, action="permission", obj=role, customer_id=None, changes=changes)
    return role


@transaction.atomic
def role_delete(*, acting_user: Any, role_id: int) -> None:
    """Refused while any user (active or not) holds the role, and for admin roles."""
    require_role_admin(acting_user)
    role = Role.objects.select_for_update().filter(pk=role_id).first()
    if role is None:
        raise NotFound(_("角色不存在"))
    if role.is_admin:
        raise ValidationFailed([FieldError("role", ErrorCode.INVALID, _("管理员角色不能删除"))])
    in_use = role.users.count()
    if in_use:
        raise ValidationFailed([FieldError("role", ErrorCode.INVALID,
                                           _("还有 %(n)s 个用户使用该角色，不能删除") % {"n": in_use})])
    audit.record_event(actor=acting_user, action="permission", obj=role, customer_id=None,
                       changes=[{"field": "role", "old": _comparable(role), "new": None}])
    role.delete()
