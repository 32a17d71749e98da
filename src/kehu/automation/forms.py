"""The rule builder's form: trigger parameters and action rows read from the POST (the builder
renders them per trigger and per action type from the registries), turned into the data the
services take. No validation here: `services` validates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

from kehu.automation import actions as registry
from kehu.automation import objects
from kehu.automation.actions import Param
from kehu.automation.models import TriggerKind

DIRECTIONS = (("before", _("之前")), ("after", _("之后")))
STAGE_KINDS = (("", _("任意")), ("open", _("进行中")), ("won", _("赢单")), ("lost", _("输单")))


def trigger_params(trigger: str, object_type: str) -> list[Param]:
    """The inputs of a trigger's parameters."""
    at = Param("at", _("每天几点运行（HH:MM）"), help=_("默认 09:00"))
    if trigger == TriggerKind.FIELD_CHANGED:
        return [Param("field", _("字段"), "select", tuple((c.key, c.label) for c in objects.CHANGEABLE[object_type])),
                Param("to", _("变为（可选；选项/用户填 ID）"))]
    if trigger == TriggerKind.STAGE_CHANGED:
        params = [Param("to", _("进入的阶段（可选；阶段 ID，线索填状态代码）"))]
        if object_type == "opportunity":
            params.append(Param("to_kind", _("阶段类型"), "select", STAGE_KINDS))
        return params
    if trigger == TriggerKind.DATE_OFFSET:
        dates = tuple((d.key, d.label) for d in objects.DATE_FIELDS[object_type])
        return [Param("field", _("日期字段"), "select", dates),
                Param("days", _("天数"), "int"), Param("direction", _("在该日期"), "select", DIRECTIONS), at]
    if trigger == TriggerKind.INACTIVE:
        return [Param("anchor", _("依据"), "select", tuple(objects.INACTIVE_ANCHORS[object_type])),
                Param("days", _("天数"), "int"), at]
    if trigger == TriggerKind.SCHEDULE:
        return [at]
    return []


def _territory(text: str) -> list[dict[str, Any]]:
    rows = []
    for line in (text or "").splitlines():
        parts = [p.strip() for p in line.replace("，", ",").split(",")]
        if len(parts) == 3 and any(parts[:2]):
            rows.append({"province": parts[0], "city": parts[1], "user": parts[2]})
    return rows


def territory_text(rows: Any) -> str:
    return "\n".join(f"{r.get('province', '')},{r.get('city', '')},{r.get('user', '')}" for r in rows or [])


def action_params(post: Any, prefix: str, action: registry.ActionType) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for param in action.params:
        name = f"{prefix}-{param.name}"
        if param.kind == "users":
            params[param.name] = [v for v in post.getlist(name) if v]
        elif param.kind == "territory":
            params[param.name] = _territory(post.get(name, ""))
        else:
            params[param.name] = post.get(name, "")
    return params


def rule_data(post: Any) -> dict[str, Any]:
    """The service's `data` from the builder's POST."""
    object_type = post.get("object_type", "customer")
    trigger = post.get("trigger", "")
    data: dict[str, Any] = {
        "name": post.get("name", ""), "description": post.get("description", ""), "object_type": object_type,
        "trigger": trigger, "conditions": post.get("conditions", ""), "run_as": post.get("run_as") or None,
        "trigger_params": {p.name: post.get(f"tp-{p.name}", "") for p in trigger_params(trigger, object_type)
                           if object_type in objects.MODELS},
    }
    rows = []
    for index in post.getlist("action_row"):
        kind = post.get(f"action-{index}-type", "")
        action = registry.REGISTRY.get(kind)
        rows.append({"type": kind, "params": action_params(post, f"action-{index}", action) if action else {}})
    data["actions"] = rows
    return data


def conditions_text(conditions: Mapping[str, Any]) -> str:
    """The stored conditions as the builder's text box shows them (readable, Chinese unescaped)."""
    from kehu.automation.conditions import mapping_text

    return mapping_text(conditions)
