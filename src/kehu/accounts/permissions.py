"""Named operations and field-level security: what a role may *do*, and with which fields.

Which *rows* a user may read is `core/scoping.py`'s job; this module answers the two other
questions every service asks before a write or an output:

- `has_operation(user, "customer.export")`: may the user perform this operation on this kind of
  object at all? Operations are "<object>.<operation>" codes from `OPERATIONS`; a role holds the
  codes it was granted (`Role.permissions`), or the built-in defaults for its code while an admin
  has not edited it. Kehu admins (and superusers) hold every operation.
- `field_access(user, "customer", "id_number")`: hidden / masked / read_only / editable for that
  field (`Role.field_access`, or the defaults). Masking itself happens on the server, in
  `core/masking.py`, at every output (HTML, API, export, search, duplicate warnings, mail, iCal).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.utils.translation import gettext_lazy as _

from kehu.accounts.models import FieldAccess
from kehu.core.errors import PermissionDenied

# The objects that carry permissions, and their labels for the role editor.
OBJECTS: dict[str, Any] = {
    "customer": _("客户"),
    "contact": _("联系人"),
    "lead": _("线索"),
    "opportunity": _("商机"),
    "contract": _("合同"),
    "payment": _("回款"),
    "product": _("产品"),
    "followup": _("跟进记录"),
    "task": _("任务"),
    "mail": _("邮件"),
    "automation": _("自动化规则"),
    "pool": _("公海"),
    "audit": _("审计日志"),
    "settings": _("系统设置"),
}

# The operations, and their labels. Not every object uses every operation (see OBJECT_OPERATIONS).
OPERATION_LABELS: dict[str, Any] = {
    "view": _("查看"),
    "create": _("新建"),
    "edit": _("编辑"),
    "delete": _("删除"),
    "export": _("导出"),
    "import": _("导入"),
    "merge": _("合并"),
    "assign": _("分配/转移"),
    "reveal": _("查看完整敏感信息"),
    "restore": _("从回收站恢复"),
    "manage": _("管理设置"),
}

_RECORD_OPS = ("view", "create", "edit", "delete", "export", "import", "assign", "reveal", "restore")
OBJECT_OPERATIONS: dict[str, tuple[str, ...]] = {
    "customer": (*_RECORD_OPS, "merge"),
    "contact": ("view", "create", "edit", "delete", "export", "import", "merge", "reveal", "restore"),
    "lead": (*_RECORD_OPS, "merge"),
    "opportunity": _RECORD_OPS,
    "contract": _RECORD_OPS,
    "payment": ("view", "create", "edit", "delete", "export", "import"),
    # The catalogue is master data: adding and editing products is its own grant (admins by default).
    "product": ("view", "create", "edit", "export"),
    "followup": ("view", "create", "edit", "delete"),
    "task": ("view", "create", "edit", "delete", "assign"),
    "mail": ("view", "create"),
    "automation": ("view", "manage"),
    "pool": ("view", "assign", "manage"),
    "audit": ("view",),
    "settings": ("manage",),
}

# Every operation code, "<object>.<operation>".
OPERATIONS: tuple[str, ...] = tuple(f"{obj}.{op}" for obj, ops in OBJECT_OPERATIONS.items() for op in ops)


def _codes(objects: tuple[str, ...], ops: tuple[str, ...]) -> set[str]:
    return {f"{obj}.{op}" for obj in objects for op in ops if op in OBJECT_OPERATIONS[obj]}


_BUSINESS = ("customer", "contact", "lead", "opportunity", "contract", "payment", "product", "followup", "task",
             "mail", "pool")
_EVERYDAY = ("view", "create", "edit", "delete")

# What each built-in role may do until an admin edits it. They reproduce Kehu's behaviour before
# the role editor existed: reps work on (and merge duplicates among) their own records; managers
# and service also import, assign and reveal within their department; marketing sees and exports
# everything. Automation rules, the audit log, pool settings and system settings stay with admins.
_CATALOGUE_EDITS = {"product.create", "product.edit"}
DEFAULT_PERMISSIONS: dict[str, set[str]] = {code: ops - _CATALOGUE_EDITS for code, ops in {
    "manager": _codes(_BUSINESS, (*_EVERYDAY, "export", "import", "merge", "assign", "reveal", "restore")),
    "sales": _codes(_BUSINESS, (*_EVERYDAY, "export", "merge", "restore")) | {"pool.view", "pool.assign"},
    "service": _codes(_BUSINESS, (*_EVERYDAY, "export", "import", "merge", "assign", "restore")),
    "marketing": _codes(_BUSINESS, (*_EVERYDAY, "export", "import", "merge", "assign", "restore")),
}.items()}
# A custom role that was never saved in the editor starts as a sales rep.
FALLBACK_PERMISSIONS = DEFAULT_PERMISSIONS["sales"]

# Field-level security defaults ("<object>.<field>" → access); a field not listed is editable.
DEFAULT_FIELD_ACCESS: dict[str, dict[str, str]] = {
    code: {"customer.id_number": FieldAccess.MASKED} for code in ("manager", "sales", "service", "marketing")
}
FALLBACK_FIELD_ACCESS = DEFAULT_FIELD_ACCESS["sales"]

_ACCESS_RANK = {FieldAccess.HIDDEN: 0, FieldAccess.MASKED: 1, FieldAccess.READ_ONLY: 2, FieldAccess.EDITABLE: 3}


def _role(user: Any) -> Any:
    return user.role if getattr(user, "role_id", None) else None


def role_permissions(role: Any) -> set[str]:
    """The operation codes a role holds (explicit, or its code's defaults)."""
    if role is None:
        return set()
    if role.is_admin:
        return set(OPERATIONS)
    if role.permissions is not None:
        return {code for code in role.permissions if code in OPERATIONS}
    return set(DEFAULT_PERMISSIONS.get(role.code, FALLBACK_PERMISSIONS))


class OperationDenied(PermissionDenied, DjangoPermissionDenied):
    """A named operation the user does not hold: the API answers 403 with the JSON error shape
    (a KehuError), a web view 403 (Django's PermissionDenied), with no handling in between."""


def require_operation(user: Any, code: str) -> None:
    """Raise OperationDenied unless `user` holds operation `code`; services call it before writing."""
    if not has_operation(user, code):
        raise OperationDenied(_("你的角色没有“%(operation)s”权限") % {"operation": operation_label(code)})


def operation_label(code: str) -> str:
    obj, _sep, op = code.partition(".")
    return f"{OBJECTS.get(obj, obj)}·{OPERATION_LABELS.get(op, op)}"


def has_operation(user: Any, code: str) -> bool:
    """May `user` perform operation `code` ("customer.export") on this kind of object at all?"""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if code not in OPERATIONS:
        raise ValueError(f"unknown operation {code!r}")
    if getattr(user, "is_kehu_admin", False):
        return True
    cache = getattr(user, "_kehu_operations", None)
    if cache is None:
        cache = role_permissions(_role(user))
        user._kehu_operations = cache
    return code in cache


def role_field_access(role: Any) -> dict[str, str]:
    if role is None:
        return dict(FALLBACK_FIELD_ACCESS)
    if role.is_admin:
        return {}
    if role.field_access is not None:
        return dict(role.field_access)
    return dict(DEFAULT_FIELD_ACCESS.get(role.code, FALLBACK_FIELD_ACCESS))


def field_access(user: Any, object_type: str, field: str) -> str:
    """hidden / masked / read_only / editable for `object_type.field` ("customer", "phones")."""
    if user is None or not getattr(user, "is_authenticated", False):
        return FieldAccess.HIDDEN
    if getattr(user, "is_kehu_admin", False):
        return FieldAccess.EDITABLE
    cache = getattr(user, "_kehu_field_access", None)
    if cache is None:
        cache = role_field_access(_role(user))
        user._kehu_field_access = cache
    return cache.get(f"{object_type}.{field}", FieldAccess.EDITABLE)


def can_read_field(user: Any, object_type: str, field: str) -> bool:
    """True when the full value may be shown without a reveal (read_only or editable)."""
    return _ACCESS_RANK[FieldAccess(field_access(user, object_type, field))] >= _ACCESS_RANK[FieldAccess.READ_ONLY]


def can_edit_field(user: Any, object_type: str, field: str) -> bool:
    return field_access(user, object_type, field) == FieldAccess.EDITABLE


def may_assign_to(user: Any, owner: Any, object_code: str) -> bool:
    """May `user` make `owner` the owner of a `object_code` record? Themselves or nobody always;
    someone else needs the "<object>.assign" operation and `owner` inside the user's data scope."""
    from kehu.core.scoping import scope_for, subordinate_ids

    if owner is None or owner.pk == user.pk or getattr(user, "is_kehu_admin", False):
        return True
    if not has_operation(user, f"{object_code}.assign"):
        return False
    scope = scope_for(user, object_code)
    if scope == "all":
        return True
    if scope == "subordinates":
        return owner.pk in subordinate_ids(user)
    if not (user.department_id and owner.department_id):
        return False
    if scope == "department_only":
        return bool(owner.department_id == user.department_id)
    if scope == "department":
        return bool(owner.department.path.startswith(user.department.path))
    return False
