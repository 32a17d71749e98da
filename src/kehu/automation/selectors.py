"""Reads of the automation app: rules, their runs and per-record action logs (admins only)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from kehu.automation.models import ActionLog, Rule, RuleRun
from kehu.core.errors import NotFound, PermissionDenied


def _require_admin(user: Any) -> None:
    from kehu.accounts.permissions import has_operation

    if not has_operation(user, "automation.view"):
        raise PermissionDenied(_("只有管理员可以查看自动化规则"))


def rules_list(*, user: Any) -> QuerySet[Rule]:
    _require_admin(user)
    return Rule.objects.select_related("created_by", "run_as").order_by("-is_active", "name", "id")


def rule_get(*, user: Any, rule_id: int) -> Rule:
    _require_admin(user)
    rule = Rule.objects.select_related("created_by", "run_as").filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(_("规则不存在"))
    return rule


def rule_runs(*, user: Any, rule_id: int, limit: int = 50) -> list[RuleRun]:
    rule_get(user=user, rule_id=rule_id)
    return list(RuleRun.objects.filter(rule_id=rule_id).order_by("-started_at", "-id")[:limit])


def rule_logs(*, user: Any, rule_id: int, status: str = "", run_id: int | None = None,
              limit: int = 100) -> list[ActionLog]:
    rule_get(user=user, rule_id=rule_id)
    logs = ActionLog.objects.filter(rule_id=rule_id)
    if status:
        logs = logs.filter(status=status)
    if run_id:
        logs = logs.filter(run_id=run_id)
    return list(logs.order_by("-at", "-id")[:limit])
