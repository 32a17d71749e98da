"""The automation engine: domain events and the daily clock in, actions out.

- `on_event` (subscribed to `kehu.core.events` after commit) enqueues one Huey task per event,
  only when an active record rule of that object exists; `handle_event` (the task body) finds the
  rules the event fires, checks each rule's conditions with one query (the rule's audience
  `.filter(pk=id).exists()`) and runs its actions.
- `tick` (a Huey periodic task, every minute) starts each time-based rule's daily pass once its
  `at` time has come: one set query selects the day's records (`triggers.time_selection`).
- `run_record` runs a rule's actions on one record in order. Each action has an `ActionLog` row
  unique by its idempotency key and runs in one transaction with the row's update to "done", so
  a replayed event, a second worker or a restarted pass skips what is done. An action that fails
  is retried with exponential back-off (Huey scheduled tasks: 30 s, 60 s, 120 s) and then marked
  failed and reported to the rule's creator; later actions of that record wait for it.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.automation import actions as registry
from kehu.automation import objects, triggers
from kehu.automation.models import (
    RECORD_TRIGGERS,
    TIME_TRIGGERS,
    ActionLog,
    ActionStatus,
    Rule,
    RuleRun,
    RunStatus,
    TriggerKind,
)

logger = logging.getLogger("kehu.automation")

MAX_ATTEMPTS = 4  # the first try and three retries
RETRY_BASE_SECONDS = 30
MAX_DEPTH = 3  # an action's own events may fire rules, up to this many levels (no endless loops)
STALE_RUN = dt.timedelta(minutes=15)  # a daily pass without a heartbeat this long died: run it again
SAMPLE = 20
WATCHED_OBJECTS = {"customer", "lead", "opportunity"}

_depth: contextvars.ContextVar[int] = contextvars.ContextVar("automation_depth", default=0)


# Events ---------------------------------------------------------------------------------------------


def event_payload(event: Any) -> dict[str, Any]:
    """A DomainEvent as plain data (what the queue carries and the webhook sends)."""
    return {"name": event.name, "object_type": event.object_type, "object_id": event.object_id,
            "customer_id": event.customer_id, "actor_id": event.actor_id,
            "changes": {k: list(v) for k, v in dict(event.changes).items()}, "data": dict(event.data),
            "at": event.at.isoformat()}


def _rules_for(object_type: str, name: str) -> Any:
    rules = Rule.objects.filter(is_active=True, trigger__in=RECORD_TRIGGERS)
    if name == "followup.logged":
        return rules.filter(trigger=TriggerKind.FOLLOWUP_LOGGED)
    return rules.filter(object_type=object_type)


def on_event(event: Any) -> None:
    """The subscriber: enqueue the event when some active rule may care (after commit, cheap)."""
    depth = _depth.get()
    if depth >= MAX_DEPTH:
        logger.warning("automation: %s #%s not handled, rule chain deeper than %s", event.name, event.object_id,
                       MAX_DEPTH)
        return
    if event.object_type not in WATCHED_OBJECTS and event.name != "followup.logged":
        return
    if not _rules_for(event.object_type, event.name).exists():
        return
    from kehu.automation import tasks

    tasks.handle_event_task(event_payload(event), depth + 1)


@dataclass
class Outcome:
    matched: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    runs: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def handle_event(event: Mapping[str, Any], *, depth: int = 1, now: dt.datetime | None = None) -> Outcome:
    """Run every active rule `event` fires (the body of the queued task; safe to run twice)."""
    outcome = Outcome()
    token = _depth.set(depth)
    try:
        for rule in _rules_for(str(event.get("object_type")), str(event.get("name"))).select_related(
                "run_as", "created_by"):
            record_id = triggers.event_record_id(rule, event)
            if record_id is None:
                continue
            _run_event_rule(rule, int(record_id), event, outcome, now=now)
    finally:
        _depth.reset(token)
    return outcome


def _run_event_rule(rule: Rule, record_id: int, event: Mapping[str, Any], outcome: Outcome, *,
                    now: dt.datetime | None) -> None:
    now = now or timezone.now()
    deleted = rule.trigger == TriggerKind.DELETED
    if not deleted and not matches(rule, record_id):
        return
    run = RuleRun.objects.create(rule=rule, trigger=str(event.get("name")), record_id=record_id, started_at=now,
                                 matched=1)
    period = f"{event.get('name')}@{event.get('at')}"
    result = run_record(rule, record_id, period, run=run, event=event, now=now)
    _finish(run, result)
    outcome.matched += 1
    outcome.runs.append(run.pk)
    for name in ("done", "failed", "skipped"):
        setattr(outcome, name, getattr(outcome, name) + result[name])


def matches(rule: Rule, record_id: int) -> bool:
    """Does the record meet the rule's conditions (one EXISTS query)?"""
    audience = objects.audience(rule.object_type, rule.conditions or {}, rule.actor)
    return audience.filter(triggers.value_condition(rule)).filter(pk=record_id).exists()


def _finish(run: RuleRun, result: Mapping[str, int], *, status: str = RunStatus.DONE) -> None:
    RuleRun.objects.filter(pk=run.pk).update(acted=F("acted") + result["done"], failed=F("failed") + result["failed"],
                                             status=status, finished_at=timezone.now())


# Actions on one record ------------------------------------------------------------------------------


def action_key(rule_id: int, index: int, record_id: int, period: str) -> str:
    return f"{rule_id}:{index}:{record_id}:{period}"[:200]


def _load_record(object_type: str, record_id: int) -> Any:
    model = objects.model_of(object_type)
    related = {"customer": ("owner__department",), "lead": ("owner__department",),
               "opportunity": ("owner__department", "customer")}[object_type]
    return model.objects.select_related(*related).filter(pk=record_id).first()


def run_record(rule: Rule, record_id: int, period: str, *, run: RuleRun | None = None,
               event: Mapping[str, Any] | None = None, now: dt.datetime | None = None) -> dict[str, int]:
    """Run the rule's actions on one record, in order, each at most once per key."""
    now = now or timezone.now()
    counts = {"done": 0, "failed": 0, "skipped": 0}
    actor = rule.actor
    for index, spec in enumerate(rule.actions or []):
        action = registry.REGISTRY.get(spec.get("type", ""))
        key = action_key(rule.pk, index, record_id, period)
        log = _log_for(rule, run, key, index, spec, record_id, period, now)
        if log.status in (ActionStatus.DONE, ActionStatus.SKIPPED):
            continue
        if log.status == ActionStatus.FAILED:
            return counts  # reported already; later actions of this record wait for a manual re-run
        customer_id = None  # known once the record is loaded; kept for the log when the action fails
        try:
            with transaction.atomic():
                locked = ActionLog.objects.select_for_update().get(pk=log.pk)
                if locked.status in (ActionStatus.DONE, ActionStatus.SKIPPED):
                    continue  # another worker finished it meanwhile
                if action is None:
                    raise registry.Refused(_("未知的动作类型：%(type)s") % {"type": spec.get("type")})
                record = _load_record(rule.object_type, record_id)
                ctx = registry.ActionContext(
                    rule=rule, index=index, params=spec.get("params") or {}, object_type=rule.object_type,
                    record_id=record_id, record=record,
                    customer_id=_customer_id(rule.object_type, record, event), key=key, actor=actor, now=now,
                    event=event or {})
                customer_id = ctx.customer_id
                if actor is None or not actor.is_active:
                    raise registry.Refused(_("规则的执行身份不存在或已停用"))
                detail = action.run(ctx)
                ActionLog.objects.filter(pk=log.pk).update(
                    status=ActionStatus.DONE, detail=str(detail)[:300], attempts=F("attempts") + 1, error="",
                    at=timezone.now(), customer_id=ctx.customer_id)
            counts["done"] += 1
        except registry.Skip as exc:
            ActionLog.objects.filter(pk=log.pk).update(status=ActionStatus.SKIPPED, detail=str(exc)[:300],
                                                       attempts=F("attempts") + 1, at=timezone.now())
            counts["skipped"] += 1
        except Exception as exc:  # noqa: BLE001 - every failure is logged, retried and reported
            _failed(rule, log, exc, record_id, period, run, permanent=_permanent(exc), customer_id=customer_id)
            counts["failed"] += 1
            return counts
    return counts


def _customer_id(object_type: str, record: Any, event: Mapping[str, Any] | None) -> int | None:
    if record is not None:
        return objects.customer_id_of(object_type, record)
    # A deleted customer has no id to point at any more; a deleted deal's customer still exists.
    return None if object_type == "customer" else (event or {}).get("customer_id")


def _permanent(exc: Exception) -> bool:
    from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed

    # A refused target or a service saying no (validation, permission) will say no again.
    return isinstance(exc, registry.Refused | ValidationFailed | PermissionDenied | NotFound)


def _error_text(exc: Exception) -> str:
    from kehu.core.errors import ValidationFailed

    if isinstance(exc, ValidationFailed):
        return "；".join(f"{e.field}: {e.message}" for e in exc.errors)
    return f"{type(exc).__name__}: {exc}"


def _log_for(rule: Rule, run: RuleRun | None, key: str, index: int, spec: Mapping[str, Any], record_id: int,
             period: str, now: dt.datetime) -> ActionLog:
    log = ActionLog.objects.filter(key=key).first()
    if log is not None:
        return log
    try:
        with transaction.atomic():
            return ActionLog.objects.create(rule=rule, run=run, object_type=rule.object_type, record_id=record_id,
                                            action_index=index, action_type=str(spec.get("type", ""))[:30],
                                            period=period[:80], key=key, at=now)
    except IntegrityError:  # another worker created it first
        return ActionLog.objects.get(key=key)


def _failed(rule: Rule, log: ActionLog, exc: Exception, record_id: int, period: str, run: RuleRun | None, *,
            permanent: bool, customer_id: int | None = None) -> None:
    attempts = log.attempts + 1
    final = permanent or attempts >= MAX_ATTEMPTS
    status = ActionStatus.FAILED if final else ActionStatus.RETRYING
    ActionLog.objects.filter(pk=log.pk).update(status=status, attempts=attempts, error=_error_text(exc)[:2000],
                                               at=timezone.now(), customer_id=customer_id or log.customer_id)
    logger.warning("automation: rule %s action %s on %s failed (attempt %s): %s", rule.pk, log.action_index,
                   record_id, attempts, exc)
    if final:
        report_failure(rule, ActionLog.objects.get(pk=log.pk))
    else:
        from kehu.automation import tasks

        delay = RETRY_BASE_SECONDS * 2 ** (attempts - 1)
        tasks.retry_record_task.schedule((rule.pk, record_id, period, run.pk if run else None), delay=delay)


def retry_record(rule_id: int, record_id: int, period: str, run_id: int | None = None) -> dict[str, int]:
    """A scheduled retry: run the record's actions again (done ones are skipped by their keys)."""
    rule = Rule.objects.select_related("run_as", "created_by").filter(pk=rule_id).first()
    if rule is None:
        return {"done": 0, "failed": 0, "skipped": 0}
    run = RuleRun.objects.filter(pk=run_id).first() if run_id else None
    if not rule.is_active:  # paused meanwhile: the retry waits in the log as "retrying"
        return {"done": 0, "failed": 0, "skipped": 0}
    result = run_record(rule, record_id, period, run=run)
    if run is not None:
        RuleRun.objects.filter(pk=run.pk).update(acted=F("acted") + result["done"])
    return result


def report_failure(rule: Rule, log: ActionLog) -> None:
    """Tell the rule's creator (in-app notification) that an action gave up; never silent."""
    user = rule.created_by or rule.run_as
    if user is None:
        logger.error("automation: rule %s action failed with nobody to tell: %s", rule.pk, log.error)
        return
    try:
        from kehu.notifications.services import notify
    except ImportError:
        logger.error("automation: rule %s action %s failed: %s", rule.pk, log.key, log.error)
        return
    from django.urls import reverse

    notify(user=user, title=_("自动化规则“%(rule)s”的动作失败") % {"rule": rule.name},
           body=_("记录 #%(record)s，动作 %(index)s（%(type)s），已尝试 %(attempts)s 次：%(error)s") % {
               "record": log.record_id, "index": log.action_index + 1, "type": log.action_type,
               "attempts": log.attempts, "error": log.error[:500]},
           url=reverse("automation:runs", args=[rule.pk]), kind="automation_failed",
           customer_id=log.customer_id if _customer_exists(log.customer_id) else None,
           key=f"automation-failed:{log.key}")


def _customer_exists(customer_id: int | None) -> bool:
    from kehu.customers.models import Customer

    return customer_id is not None and Customer.objects.filter(pk=customer_id).exists()


# The daily clock ------------------------------------------------------------------------------------


def _due(rule: Rule, now: dt.datetime) -> bool:
    local = timezone.localtime(now)
    return local.time() >= triggers.parse_at((rule.trigger_params or {}).get("at"))


def tick(*, now: dt.datetime | None = None) -> list[int]:
    """Start every time-based rule whose daily time has come and whose pass for today is not done."""
    now = now or timezone.now()
    today = timezone.localdate(now).isoformat()
    started = []
    for rule in Rule.objects.filter(is_active=True, trigger__in=TIME_TRIGGERS).select_related("run_as", "created_by"):
        if not _due(rule, now):
            continue
        runs = RuleRun.objects.filter(rule=rule, period=today, dry_run=False)
        if runs.filter(status=RunStatus.DONE).exists():
            continue
        if runs.filter(status=RunStatus.RUNNING, heartbeat_at__gt=now - STALE_RUN).exists():
            continue
        run_time_rule(rule, now=now)
        started.append(rule.pk)
    return started


def _since(rule: Rule, today: str) -> dt.datetime | None:
    previous = (RuleRun.objects.filter(rule=rule, dry_run=False, status=RunStatus.DONE).exclude(period="")
                .exclude(period=today).order_by("-started_at").first())
    return previous.started_at if previous else None


def run_time_rule(rule: Rule, *, now: dt.datetime | None = None) -> RuleRun:
    """One daily pass of a time-based rule: select with one set query, act on each record."""
    now = now or timezone.now()
    today = timezone.localdate(now).isoformat()
    since = _since(rule, today) if rule.trigger == TriggerKind.INACTIVE else None
    run = RuleRun.objects.create(rule=rule, trigger=rule.trigger, period=today, started_at=now, heartbeat_at=now)
    totals = {"done": 0, "failed": 0, "skipped": 0}
    matched = 0
    try:
        audience = objects.audience(rule.object_type, rule.conditions or {}, rule.actor)
        selection, period = triggers.time_selection(rule, audience, now=now, since=since)
        for record_id, record_period in triggers.selected_rows(selection, period):
            matched += 1
            result = run_record(rule, record_id, record_period, run=run, now=now)
            for key in totals:
                totals[key] += result[key]
            if matched % 200 == 0:
                RuleRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now(), matched=matched)
    except Exception as exc:  # noqa: BLE001 - the pass is marked failed (and re-run by a later tick)
        logger.exception("automation: daily pass of rule %s failed", rule.pk)
        RuleRun.objects.filter(pk=run.pk).update(matched=matched, message=_error_text(exc)[:2000])
        _finish(run, totals, status=RunStatus.FAILED)
        raise
    RuleRun.objects.filter(pk=run.pk).update(matched=matched)
    _finish(run, totals)
    run.refresh_from_db()
    return run


# Dry run --------------------------------------------------------------------------------------------


@dataclass
class Preview:
    count: int
    sample: list[dict[str, Any]]
    list_url: str
    time_based: bool
    run_id: int | None = None


def preview(rule: Rule, *, now: dt.datetime | None = None, record: bool = True) -> Preview:
    """What the rule would act on: for a time-based rule the records of a pass now (excluding those
    already done for the same period), for a record rule its audience (the conditions as a list)."""
    now = now or timezone.now()
    audience = objects.audience(rule.object_type, rule.conditions or {}, rule.actor)
    time_based = rule.trigger in TIME_TRIGGERS
    if time_based:
        today = timezone.localdate(now).isoformat()
        since = _since(rule, today) if rule.trigger == TriggerKind.INACTIVE else None
        selection, period = triggers.time_selection(rule, audience, now=now, since=since)
        if period is not None and rule.actions:  # records whose first action is settled for this period
            settled = ActionLog.objects.filter(rule=rule, record_id=OuterRef("pk"), action_index=0, period=period,
                                               status__in=[ActionStatus.DONE, ActionStatus.SKIPPED])
            selection = selection.filter(~Exists(settled))
    else:
        selection = audience
    count = selection.count()
    sample = [{"id": r.pk, "label": objects.label_of(r)} for r in selection.order_by("pk")[:SAMPLE]]
    result = Preview(count=count, sample=sample, list_url=objects.list_url(rule.object_type, rule.conditions or {}),
                     time_based=time_based)
    if record:
        run = RuleRun.objects.create(rule=rule, trigger="dry_run", dry_run=True, started_at=now, matched=count,
                                     sample=sample, status=RunStatus.DONE, finished_at=timezone.now())
        result.run_id = run.pk
    return result
