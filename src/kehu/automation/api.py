"""/api/v1/ endpoints of the automation app (tag "automation", Kehu admins). Thin: reads through
selectors, writes through services; their errors become the shared JSON error shape."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from kehu.customers.schemas import ErrorOut

from . import selectors, services
from .models import Rule
from .schemas import AutomationRuleIn, AutomationRuleOut, DryRunOut, LogOut, RulePatch, RunOut

router = Router(tags=["automation"])

ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, Any] = {**ERRORS, 409: ErrorOut}


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _out(rule: Rule) -> AutomationRuleOut:
    return AutomationRuleOut(id=rule.pk, name=rule.name, description=rule.description, object_type=rule.object_type,
                   trigger=rule.trigger, trigger_params=rule.trigger_params, conditions=rule.conditions,
                   actions=rule.actions, is_active=rule.is_active, run_as=rule.run_as_id,
                   created_by=rule.created_by_id, template_key=rule.template_key, version=rule.version,
                   webhook_secret=rule.webhook_secret, created_at=rule.created_at, updated_at=rule.updated_at)


@router.get("/automation/rules", response={200: list[AutomationRuleOut], **ERRORS})
def rule_list(request: HttpRequest):  # type: ignore[no-untyped-def]
    return [_out(r) for r in selectors.rules_list(user=_user(request))]


@router.post("/automation/rules", response={201: AutomationRuleOut, **WRITE_ERRORS})
def rule_create(request: HttpRequest, payload: AutomationRuleIn):  # type: ignore[no-untyped-def]
    data = payload.model_dump()
    data["actions"] = [a.model_dump() for a in payload.actions]
    return Status(201, _out(services.rule_create(acting_user=_user(request), data=data)))


@router.get("/automation/rules/{int:rule_id}", response={200: AutomationRuleOut, **ERRORS})
def rule_get(request: HttpRequest, rule_id: int):  # type: ignore[no-untyped-def]
    return _out(selectors.rule_get(user=_user(request), rule_id=rule_id))


@router.patch("/automation/rules/{int:rule_id}", response={200: AutomationRuleOut, **WRITE_ERRORS})
def rule_update(request: HttpRequest, rule_id: int, payload: RulePatch):  # type: ignore[no-untyped-def]
    data = payload.model_dump(exclude_unset=True)
    version = data.pop("version", None)
    if payload.actions is not None:
        data["actions"] = [a.model_dump() for a in payload.actions]
    return _out(services.rule_update(acting_user=_user(request), rule_id=rule_id, data=data,
                                     expected_version=version))


@router.delete("/automation/rules/{int:rule_id}", response={204: None, **WRITE_ERRORS})
def rule_delete(request: HttpRequest, rule_id: int):  # type: ignore[no-untyped-def]
    services.rule_delete(acting_user=_user(request), rule_id=rule_id)
    return Status(204, None)


@router.post("/automation/rules/{int:rule_id}/pause", response={200: AutomationRuleOut, **WRITE_ERRORS})
def rule_pause(request: HttpRequest, rule_id: int):  # type: ignore[no-untyped-def]
    return _out(services.rule_pause(acting_user=_user(request), rule_id=rule_id))


@router.post("/automation/rules/{int:rule_id}/resume", response={200: AutomationRuleOut, **WRITE_ERRORS})
def rule_resume(request: HttpRequest, rule_id: int):  # type: ignore[no-untyped-def]
    return _out(services.rule_resume(acting_user=_user(request), rule_id=rule_id))


@router.post("/automation/rules/{int:rule_id}/dry-run", response={200: DryRunOut, **WRITE_ERRORS})
def rule_dry_run(request: HttpRequest, rule_id: int):  # type: ignore[no-untyped-def]
    """What the rule would act on now (nothing is done): the count and the first 20 records."""
    preview = services.rule_dry_run(acting_user=_user(request), rule_id=rule_id)
    return DryRunOut(count=preview.count, sample=preview.sample, list_url=preview.list_url,
                     time_based=preview.time_based, run_id=preview.run_id)


@router.get("/automation/rules/{int:rule_id}/runs", response={200: list[RunOut], **ERRORS})
def rule_runs(request: HttpRequest, rule_id: int):  # type: ignore[no-untyped-def]
    return [RunOut(id=r.pk, trigger=r.trigger, period=r.period, record_id=r.record_id, started_at=r.started_at,
                   finished_at=r.finished_at, matched=r.matched, acted=r.acted, failed=r.failed, status=r.status,
                   dry_run=r.dry_run, message=r.message)
            for r in selectors.rule_runs(user=_user(request), rule_id=rule_id)]


@router.get("/automation/rules/{int:rule_id}/logs", response={200: list[LogOut], **ERRORS})
def rule_logs(request: HttpRequest, rule_id: int, status: str = ""):  # type: ignore[no-untyped-def]
    return [LogOut(id=g.pk, run_id=g.run_id, object_type=g.object_type, record_id=g.record_id,
                   customer_id=g.customer_id, action_index=g.action_index, action_type=g.action_type, status=g.status,
                   attempts=g.attempts, error=g.error, detail=g.detail, key=g.key, at=g.at)
            for g in selectors.rule_logs(user=_user(request), rule_id=rule_id, status=status)]
