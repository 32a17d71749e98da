"""The rule builder (admins): the list with the built-in templates, the create/edit form with its
HTMX parts (trigger parameters, action rows, audience count, dry run), pause/resume and the run
log. Thin: parse, call one service or selector, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kehu.accounts.models import User
from kehu.automation import actions as registry
from kehu.automation import builtin, conditions, forms, objects, selectors, services
from kehu.automation.models import ActionStatus, ObjectType, Rule, TriggerKind
from kehu.core.errors import ValidationFailed
from kehu.customers.views import admin_required


def _users() -> list[User]:
    return list(User.objects.filter(is_active=True).order_by("username"))


def _action_types(object_type: str) -> list[registry.ActionType]:
    return [a for a in registry.REGISTRY.values() if object_type in a.objects]


def _row(index: Any, spec: dict[str, Any], object_type: str) -> dict[str, Any]:
    action = registry.REGISTRY.get(spec.get("type", ""))
    params = dict(spec.get("params") or {})
    for param in action.params if action else ():
        value = params.get(param.name)
        if param.kind == "territory":
            params[param.name] = value if isinstance(value, str) else forms.territory_text(value)
        elif param.kind == "user":
            params[param.name] = int(value) if str(value or "").isdigit() else None
        elif param.kind == "users":
            params[param.name] = [int(v) for v in value or [] if str(v).isdigit()]
    return {"index": str(index), "type": spec.get("type", ""), "action": action, "params": params,
            "types": _action_types(object_type)}


def _audience_context(object_type: str, conditions_text: str, rule_id: int | None, user: Any) -> dict[str, Any]:
    """The conditions as chips, how many records they select now, and the links to the list."""
    try:
        parsed = services._conditions(conditions_text)  # noqa: SLF001 - the same parsing as on save
    except ValidationFailed:
        parsed = {}
    return {"count": objects.audience(object_type, parsed, user).count(),
            "chips": conditions.describe(object_type, parsed), "url": objects.list_url(object_type, parsed),
            "edit_url": conditions.edit_in_list_url(object_type, parsed, rule_id), "object_type": object_type,
            "is_new": rule_id is None}


def _rule_data(rule: Rule | None, object_type: str = "customer") -> dict[str, Any]:
    """The builder's values of a saved rule, or of a new one."""
    if rule is None:
        return {"object_type": object_type, "trigger": "created", "trigger_params": {}, "actions": [],
                "conditions": {}}
    return {"name": rule.name, "description": rule.description, "object_type": rule.object_type,
            "trigger": rule.trigger, "trigger_params": rule.trigger_params, "actions": rule.actions,
            "conditions": rule.conditions, "run_as": rule.run_as_id}


def _form_context(rule: Rule | None, data: dict[str, Any] | None = None,
                  errors: dict[str, list[str]] | None = None, *, user: Any) -> dict[str, Any]:
    if data is None:
        data = _rule_data(rule)
    object_type = data.get("object_type") or "customer"
    object_type = object_type if object_type in objects.MODELS else "customer"
    given = data.get("conditions") or {}
    conditions_text = given if isinstance(given, str) else forms.conditions_text(given)
    return {"rule": rule, "data": data, "errors": errors or {}, "object_types": ObjectType.choices,
            "triggers": TriggerKind.choices, "users": _users(), "conditions_text": conditions_text,
            "audience": _audience_context(object_type, conditions_text, rule.pk if rule else None, user),
            "trigger_fields": forms.trigger_params(data.get("trigger") or "", object_type),
            "trigger_values": data.get("trigger_params") or {},
            "rows": [_row(i, spec, object_type) for i, spec in enumerate(data.get("actions") or [])],
            "action_types": _action_types(object_type)}


@admin_required
def rule_list(request: HttpRequest) -> HttpResponse:
    rules = list(selectors.rules_list(user=request.user))
    return render(request, "automation/list.html", {"rules": rules, "templates": builtin.TEMPLATES})


@admin_required
@require_POST
def rule_from_template(request: HttpRequest, key: str) -> HttpResponse:
    try:
        rule = services.rule_from_template(acting_user=request.user, key=key)
    except ValidationFailed as exc:
        messages.error(request, "；".join(str(e.message) for e in exc.errors))
        return redirect("automation:list")
    messages.success(request, _("已从模板创建规则（已暂停），检查后启用"))
    return redirect("automation:edit", rule.pk)


@admin_required
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, rule_id: int | None = None) -> HttpResponse:
    rule = selectors.rule_get(user=request.user, rule_id=rule_id) if rule_id else None
    if request.method == "POST":
        data = forms.rule_data(request.POST)
        try:
            if rule is None:
                rule = services.rule_create(acting_user=request.user, data=data)
            else:
                rule = services.rule_update(acting_user=request.user, rule_id=rule.pk, data=data)
        except ValidationFailed as exc:
            return render(request, "automation/edit.html", _form_context(rule, data, exc.by_field(), user=request.user),
                          status=422)
        messages.success(request, _("规则已保存"))
        return redirect("automation:edit", rule.pk)
    data = None
    if "conditions" in request.GET:  # back from a list ("带回规则"): filled in, saved when the admin saves
        object_type = request.GET.get("object_type") or (rule.object_type if rule else "customer")
        if object_type not in objects.MODELS or (rule is not None and object_type != rule.object_type):
            messages.error(request, _("列表的对象与规则不一致，筛选条件未带回"))
        else:
            data = {**_rule_data(rule, object_type), "conditions": request.GET["conditions"][:2000]}
    context = _form_context(rule, data, user=request.user)
    context["conditions_returned"] = data is not None
    return render(request, "automation/edit.html", context)


@admin_required
@require_GET
def from_list(request: HttpRequest, object_type: str) -> HttpResponse:
    """A list's "用当前筛选建自动化规则" / "带回规则": its filters (the submitted filter form) as the
    conditions of a new rule, or of the rule the list was opened for (`rule=<id>`)."""
    if object_type not in objects.MODELS:
        raise Http404
    text = conditions.from_list(object_type, request.GET)
    rule_id = request.GET.get("rule", "")
    rule = selectors.rule_get(user=request.user, rule_id=int(rule_id)) if rule_id.isdigit() else None
    return redirect(conditions.rule_url(object_type, text, rule.pk if rule else None))


@admin_required
def trigger_fields(request: HttpRequest) -> HttpResponse:
    """HTMX: the parameter inputs of the chosen trigger."""
    object_type = request.GET.get("object_type", "customer")
    fields = forms.trigger_params(request.GET.get("trigger", ""), object_type) if object_type in objects.MODELS else []
    return render(request, "automation/partials/trigger_fields.html", {"trigger_fields": fields, "trigger_values": {}})


@admin_required
def action_row(request: HttpRequest) -> HttpResponse:
    """HTMX: one action row (a new one, or the same row after its type changed)."""
    object_type = request.GET.get("object_type", "customer")
    index = request.GET.get("index") or "new"
    kind = request.GET.get(f"action-{index}-type") or request.GET.get("type") or ""
    return render(request, "automation/partials/action_row.html",
                  {"row": _row(index, {"type": kind, "params": {}}, object_type), "users": _users()})


@admin_required
def audience(request: HttpRequest) -> HttpResponse:
    """HTMX: how many records the conditions select now, and the list page showing them."""
    object_type = request.GET.get("object_type", "customer")
    if object_type not in objects.MODELS:
        object_type = "customer"
    rule_id = request.GET.get("rule", "")
    return render(request, "automation/partials/audience.html", _audience_context(
        object_type, request.GET.get("conditions", ""), int(rule_id) if rule_id.isdigit() else None, request.user))


@admin_required
@require_POST
def dry_run(request: HttpRequest, rule_id: int) -> HttpResponse:
    preview = services.rule_dry_run(acting_user=request.user, rule_id=rule_id)
    return render(request, "automation/partials/dry_run.html", {"preview": preview})


@admin_required
@require_POST
def toggle(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = selectors.rule_get(user=request.user, rule_id=rule_id)
    if rule.is_active:
        services.rule_pause(acting_user=request.user, rule_id=rule.pk)
        messages.success(request, _("规则已暂停"))
    else:
        services.rule_resume(acting_user=request.user, rule_id=rule.pk)
        messages.success(request, _("规则已启用"))
    return redirect("automation:edit", rule.pk) if request.POST.get("from") == "edit" else redirect("automation:list")


@admin_required
@require_POST
def run_now(request: HttpRequest, rule_id: int) -> HttpResponse:
    try:
        services.rule_run_now(acting_user=request.user, rule_id=rule_id)
    except ValidationFailed as exc:
        messages.error(request, "；".join(str(e.message) for e in exc.errors))
    else:
        messages.success(request, _("已加入后台队列"))
    return redirect("automation:runs", rule_id)


@admin_required
@require_POST
def delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    services.rule_delete(acting_user=request.user, rule_id=rule_id)
    messages.success(request, _("规则已删除"))
    return redirect("automation:list")


@admin_required
def runs(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = selectors.rule_get(user=request.user, rule_id=rule_id)
    status = request.GET.get("status", "")
    status = status if status in ActionStatus.values else ""
    run_id = request.GET.get("run")
    return render(request, "automation/runs.html", {
        "rule": rule, "runs": selectors.rule_runs(user=request.user, rule_id=rule.pk),
        "logs": selectors.rule_logs(user=request.user, rule_id=rule.pk, status=status,
                                    run_id=int(run_id) if str(run_id or "").isdigit() else None),
        "status": status, "statuses": ActionStatus.choices})
