"""Writes of the automation app: rules (create, update, pause, resume, delete, from a built-in
template) and the dry run. Kehu admins only; every write is validated and audited."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.automation import actions as registry
from kehu.automation import builtin, engine, triggers
from kehu.automation.models import ObjectType, Rule, TriggerKind
from kehu.core import audit
from kehu.core.errors import ErrorCode, FieldError, NotFound, PermissionDenied, ValidationFailed, VersionConflict

RULE_FIELDS = ["name", "description", "object_type", "trigger", "trigger_params", "conditions", "actions",
               "is_active", "run_as"]


def _require_admin(user: Any) -> None:
    from kehu.accounts.permissions import has_operation

    if not has_operation(user, "automation.manage"):
        raise PermissionDenied(_("只有管理员可以管理自动化规则"))


def _conditions(value: Any) -> dict[str, Any]:
    """The list's query string as a dict ("a=1&b=2" or a mapping); empty values dropped."""
    if isinstance(value, str):
        from django.http import QueryDict

        query = QueryDict(value.lstrip("?"))
        return {k: (query.getlist(k) if len(query.getlist(k)) > 1 else query.get(k)) for k in query
                if query.get(k) not in (None, "")}
    if not isinstance(value, Mapping):
        raise ValidationFailed([FieldError("conditions", ErrorCode.INVALID, _("筛选条件应为查询参数"))])
    return {str(k): v for k, v in value.items() if v not in (None, "", [])}


def _apply(rule: Rule, data: Mapping[str, Any], *, creating: bool) -> None:
    errors: list[FieldError] = []
    for name in sorted(set(data) - set(RULE_FIELDS)):
        errors.append(FieldError(name, ErrorCode.INVALID, _("未知字段：%(field)s") % {"field": name}))
    if "name" in data or creating:
        rule.name = str(data.get("name") or "").replace("\x00", "").strip()[:200]  # NUL: PostgreSQL refuses it
        if not rule.name:
            errors.append(FieldError("name", ErrorCode.REQUIRED, _("请填写名称")))
    if "description" in data:
        rule.description = str(data.get("description") or "").replace("\x00", "").strip()[:5000]
    if "object_type" in data or creating:
        rule.object_type = str(data.get("object_type") or ObjectType.CUSTOMER)
        if rule.object_type not in ObjectType.values:
            errors.append(FieldError("object_type", ErrorCode.UNKNOWN_CHOICE, _("未知的对象")))
    if "is_active" in data:
        rule.is_active = bool(data["is_active"])
    if "run_as" in data:
        from kehu.accounts.models import User

        value = data.get("run_as")
        user = value if isinstance(value, User) else (
            User.objects.filter(pk=int(value), is_active=True).first() if str(value or "").isdigit() else None)
        if value not in (None, "") and user is None:
            errors.append(FieldError("run_as", ErrorCode.INVALID, _("执行身份用户不存在或已停用")))
        rule.run_as = user
    if errors:
        raise ValidationFailed(errors)
    if {"trigger", "trigger_params", "object_type"} & set(data) or creating:
        rule.trigger = str(data.get("trigger", rule.trigger) or "")
        rule.trigger_params = triggers.clean_params(rule.trigger, rule.object_type,
                                                    data.get("trigger_params", rule.trigger_params) or {})
    if "conditions" in data or creating:
        rule.conditions = _conditions(data.get("conditions") or {})
    if {"actions", "object_type"} & set(data) or creating:
        rule.actions = registry.clean_actions(data.get("actions", rule.actions) or [], rule.object_type)
        if not rule.actions:
            raise ValidationFailed([FieldError("actions", ErrorCode.REQUIRED, _("至少添加一个动作"))])


def _snapshot(rule: Rule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in RULE_FIELDS}


@transaction.atomic
def rule_create(*, acting_user: Any, data: Mapping[str, Any], template_key: str = "") -> Rule:
    _require_admin(acting_user)
    rule = Rule(created_by=acting_user, run_as=acting_user, webhook_secret=secrets.token_urlsafe(32),
                template_key=template_key)
    _apply(rule, data, creating=True)
    rule.save()
    audit.record_event(actor=acting_user, action="create", obj=rule, customer_id=None,
                       changes=audit.diff_values({}, _snapshot(rule), RULE_FIELDS))
    return rule


def _locked(rule_id: int, expected_version: int | None = None) -> Rule:
    rule = Rule.objects.select_for_update().filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(_("规则不存在"))
    if expected_version is not None and rule.version != int(expected_version):
        raise VersionConflict(_("规则已被他人修改，请刷新后再改"))
    return rule


@transaction.atomic
def rule_update(*, acting_user: Any, rule_id: int, data: Mapping[str, Any],
                expected_version: int | None = None) -> Rule:
    _require_admin(acting_user)
    rule = _locked(rule_id, expected_version)
    before = _snapshot(rule)
    _apply(rule, data, creating=False)
    changes = audit.diff_values(before, _snapshot(rule), RULE_FIELDS)
    if not changes:
        return rule
    rule.version = F("version") + 1  # type: ignore[assignment]
    rule.updated_at = timezone.now()
    rule.save()
    rule.refresh_from_db()
    audit.record_event(actor=acting_user, action="update", obj=rule, customer_id=None, changes=changes)
    return rule


def rule_pause(*, acting_user: Any, rule_id: int) -> Rule:
    return rule_update(acting_user=acting_user, rule_id=rule_id, data={"is_active": False})


def rule_resume(*, acting_user: Any, rule_id: int) -> Rule:
    """Switch the rule back on; actions that were waiting for a retry while it was paused are queued."""
    rule = rule_update(acting_user=acting_user, rule_id=rule_id, data={"is_active": True})
    from kehu.automation import tasks
    from kehu.automation.models import ActionLog, ActionStatus

    waiting = (ActionLog.objects.filter(rule_id=rule.pk, status=ActionStatus.RETRYING)
               .order_by().values_list("record_id", "period", "run_id").distinct())
    for record_id, period, run_id in waiting:
        transaction.on_commit(lambda r=record_id, p=period, run=run_id: tasks.retry_record_task(rule.pk, r, p, run))
    return rule


@transaction.atomic
def rule_delete(*, acting_user: Any, rule_id: int) -> None:
    _require_admin(acting_user)
    rule = _locked(rule_id)
    audit.record_event(actor=acting_user, action="delete", obj=rule, customer_id=None,
                       changes=audit.diff_values(_snapshot(rule), {}, RULE_FIELDS))
    rule.delete()


@transaction.atomic
def rule_rotate_secret(*, acting_user: Any, rule_id: int) -> Rule:
    _require_admin(acting_user)
    rule = _locked(rule_id)
    rule.webhook_secret = secrets.token_urlsafe(32)
    rule.save(update_fields=["webhook_secret"])
    return rule


def rule_from_template(*, acting_user: Any, key: str) -> Rule:
    """A new (paused) rule from a built-in template, ready to edit; the admin switches it on."""
    _require_admin(acting_user)
    template = builtin.template(key)
    if template is None:
        raise NotFound(_("模板不存在"))
    data = builtin.rule_data(template, acting_user=acting_user)
    return rule_create(acting_user=acting_user, data={**data, "is_active": False}, template_key=key)


def rule_dry_run(*, acting_user: Any, rule_id: int, now: Any = None) -> engine.Preview:
    _require_admin(acting_user)
    rule = Rule.objects.select_related("run_as", "created_by").filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(_("规则不存在"))
    return engine.preview(rule, now=now)


def rule_run_now(*, acting_user: Any, rule_id: int) -> None:
    """Queue a pass of a time-based rule now (idempotent: records done today are skipped)."""
    _require_admin(acting_user)
    rule = Rule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(_("规则不存在"))
    if rule.trigger not in (TriggerKind.DATE_OFFSET, TriggerKind.INACTIVE, TriggerKind.SCHEDULE):
        raise ValidationFailed([FieldError("trigger", ErrorCode.INVALID, _("只有定时类规则可以立即运行"))])
    if not rule.is_active:
        raise ValidationFailed([FieldError("is_active", ErrorCode.INVALID, _("规则已暂停"))])
    from kehu.automation import tasks

    tasks.run_rule_now_task(rule.pk)
