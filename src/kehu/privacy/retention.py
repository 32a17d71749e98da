"""Retention policies: purge or anonymise customers and leads nobody has touched for a period.

A policy (`RetentionPolicy`) names the kind of record, the number of days without an update or a
follow-up, optionally a lifecycle stage (customers) or a status (leads), and what to do:

- anonymise — customers through the erasure itself (`services.customer_erase`: every field, the
  contacts, notes, follow-ups, mails, search index, with its Erasure row and audit event); leads by
  clearing the same fields an erasure clears on a converted lead;
- delete — the ordinary delete service (audit event, recycle bin, which purges it later); a
  customer that still has deals or contracts is skipped with the reason.

Each record is processed in its own transaction (one failure does not undo the others), in
batches of ids, as the policy's `run_as` admin (or the first active admin), and gets a
`RetentionRecord` so it is not picked again. Each run ends with a summary on the policy and one
audit event on it. A dry run only counts. The scheduler applies the enabled policies daily
(privacy/tasks.py); `kehu privacy retention [--dry-run]` does the same by hand.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.errors import ErrorCode, FieldError, KehuError, PermissionDenied, ValidationFailed
from kehu.customers.models import Customer
from kehu.leads.models import Lead, LeadStatus

from .models import Erasure, RetentionAction, RetentionObject, RetentionPolicy, RetentionRecord

logger = logging.getLogger(__name__)

BATCH = 200
PREVIEW_SAMPLE = 20


@dataclass
class RetentionResult:
    policy_id: int
    dry_run: bool
    selected: int = 0
    processed: int = 0
    skipped: int = 0
    sample_ids: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "#12: 该客户还有商机…" (ids and reasons, no personal data)

    def as_dict(self) -> dict[str, Any]:
        return {"policy": self.policy_id, "dry_run": self.dry_run, "selected": self.selected,
                "processed": self.processed, "skipped": self.skipped, "errors": self.errors[:20]}


def _cutoff(policy: RetentionPolicy, now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(days=policy.inactive_days)


def _processed_ids(policy: RetentionPolicy) -> QuerySet:
    return RetentionRecord.objects.filter(object_kind=policy.object_kind).values("object_id")


def retention_candidates(*, policy: RetentionPolicy, now: dt.datetime | None = None) -> QuerySet:
    """The records the policy applies to at `now`: untouched (no update, no follow-up) since the
    cut-off, matching the optional stage/status, not already processed (or erased by hand)."""
    cutoff = _cutoff(policy, now or timezone.now())
    if policy.object_kind == RetentionObject.CUSTOMER:
        qs = Customer.objects.filter(updated_at__lt=cutoff).filter(
            Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=cutoff))
        if policy.customer_stage:
            qs = qs.filter(stage__code=policy.customer_stage)
        qs = qs.exclude(pk__in=Erasure.objects.values("customer_id"))
    elif policy.object_kind == RetentionObject.LEAD:
        qs = Lead.objects.filter(updated_at__lt=cutoff)
        # A converted lead's data now lives on its customer (and the customer's policy).
        qs = qs.filter(status=policy.lead_status) if policy.lead_status else qs.exclude(
            status=LeadStatus.CONVERTED)
    else:  # a kind added to the choices without a rule here selects nothing, rather than everything
        return Customer.objects.none()
    return qs.exclude(pk__in=_processed_ids(policy)).order_by("pk")


def retention_preview(*, policy: RetentionPolicy, now: dt.datetime | None = None) -> int:
    """How many records a run would process now (the dry run's count)."""
    return retention_candidates(policy=policy, now=now).count()


def policy_validate(policy: RetentionPolicy) -> None:
    errors: list[FieldError] = []
    if policy.object_kind not in RetentionObject.values:
        errors.append(FieldError("object_kind", ErrorCode.UNKNOWN_CHOICE, _("未知的对象")))
    if policy.action not in RetentionAction.values:
        errors.append(FieldError("action", ErrorCode.UNKNOWN_CHOICE, _("未知的处理方式")))
    if not policy.inactive_days or policy.inactive_days < 1:
        errors.append(FieldError("inactive_days", ErrorCode.INVALID, _("天数至少为 1")))
    if policy.lead_status and policy.lead_status not in LeadStatus.values:
        errors.append(FieldError("lead_status", ErrorCode.UNKNOWN_CHOICE, _("未知的线索状态")))
    if policy.customer_stage and policy.object_kind != RetentionObject.CUSTOMER:
        errors.append(FieldError("customer_stage", ErrorCode.INVALID, _("生命周期阶段只适用于客户")))
    if policy.lead_status and policy.object_kind != RetentionObject.LEAD:
        errors.append(FieldError("lead_status", ErrorCode.INVALID, _("线索状态只适用于线索")))
    if errors:
        raise ValidationFailed(errors)


def _actor(policy: RetentionPolicy) -> Any:
    """The admin in whose name the records change (the audit actor)."""
    from kehu.accounts.models import User

    user = policy.run_as
    if user is None or not user.is_active or not user.is_kehu_admin:
        user = (User.objects.filter(is_active=True).filter(Q(is_superuser=True) | Q(role__is_admin=True))
                .order_by("pk").first())
    if user is None:
        raise PermissionDenied(_("没有可用的管理员账号来执行保留策略"))
    return user


def _anonymise_lead(*, actor: Any, lead: Lead) -> None:
    from .services import LEAD_CLEARED

    changes = [{"field": name, "old": audit.audit_value(getattr(lead, name)), "new": value}
               for name, value in LEAD_CLEARED.items() if getattr(lead, name) != value]
    for name, value in LEAD_CLEARED.items():
        setattr(lead, name, value)
    lead.name = _("已删除线索 #%(id)s") % {"id": lead.pk}
    lead.updated_at = timezone.now()
    lead.updated_by = actor
    lead.save()
    # The old values stay in the append-only audit log (docs/privacy.md); this event says what happened.
    audit.record_event(actor=actor, action="update", obj=lead, customer_id=None,
                       changes=[{"field": "personal_data", "old": None, "new": "retention"},
                                *[{**c, "old": "***"} for c in changes]])


def _apply_one(*, policy: RetentionPolicy, actor: Any, pk: int) -> None:
    from kehu.customers import services as customer_services
    from kehu.leads import services as lead_services

    from . import services

    if policy.object_kind == RetentionObject.CUSTOMER:
        customer = Customer.objects.get(pk=pk)
        if policy.action == RetentionAction.ANONYMISE:
            services.customer_erase(acting_user=actor, customer_id=pk, confirmation=customer.name)
        else:
            customer_services.customer_delete(acting_user=actor, customer=customer)
    else:
        if policy.action == RetentionAction.ANONYMISE:
            _anonymise_lead(actor=actor, lead=Lead.objects.select_for_update().get(pk=pk))
        else:
            lead_services.lead_delete(acting_user=actor, lead_id=pk)
    RetentionRecord.objects.create(policy=policy, object_kind=policy.object_kind, object_id=pk,
                                   action=policy.action)


def retention_apply(*, policy: RetentionPolicy, dry_run: bool = False, now: dt.datetime | None = None,
                    batch: int = BATCH) -> RetentionResult:
    """Apply one policy (enabled or not: the caller decides). Dry run: count and sample, write nothing."""
    policy_validate(policy)
    now = now or timezone.now()
    result = RetentionResult(policy_id=policy.pk, dry_run=dry_run)
    candidates = retention_candidates(policy=policy, now=now)
    if dry_run:
        result.selected = candidates.count()
        result.sample_ids = list(candidates.values_list("pk", flat=True)[:PREVIEW_SAMPLE])
        return result
    actor = _actor(policy)
    # The ids are fixed up front: records processed in this run leave the candidates, and a record
    # touched meanwhile is re-checked below (it may no longer qualify).
    ids = list(candidates.values_list("pk", flat=True))
    result.selected = len(ids)
    for start in range(0, len(ids), max(1, batch)):
        chunk = ids[start:start + batch]
        still = set(retention_candidates(policy=policy, now=now).filter(pk__in=chunk).values_list("pk", flat=True))
        for pk in chunk:
            if pk not in still:
                result.skipped += 1
                continue
            try:
                with transaction.atomic():
                    _apply_one(policy=policy, actor=actor, pk=pk)
                result.processed += 1
            except KehuError as exc:  # e.g. a customer that still has deals can't be deleted
                result.skipped += 1
                result.errors.append(f"#{pk}: {exc}")
    _finish(policy=policy, actor=actor, result=result, now=now)
    return result


def _finish(*, policy: RetentionPolicy, actor: Any, result: RetentionResult, now: dt.datetime) -> None:
    with transaction.atomic():
        RetentionPolicy.objects.filter(pk=policy.pk).update(
            last_run_at=now, last_run_count=result.processed, last_run_summary=result.as_dict())
        policy.last_run_at, policy.last_run_count, policy.last_run_summary = now, result.processed, result.as_dict()
        audit.record_event(actor=actor, action="update", obj=policy, customer_id=None, changes=[
            {"field": "_retention_run", "old": None, "new": policy.action},
            {"field": "processed", "old": None, "new": result.processed},
            {"field": "skipped", "old": None, "new": result.skipped},
        ])
    logger.info("retention policy %s: %s", policy.pk, result.as_dict())


def retention_run_all(*, dry_run: bool = False, now: dt.datetime | None = None) -> list[RetentionResult]:
    """Every enabled policy, in id order (the daily task and `kehu privacy retention`)."""
    results = []
    for policy in RetentionPolicy.objects.filter(enabled=True).select_related("run_as").order_by("pk"):
        try:
            results.append(retention_apply(policy=policy, dry_run=dry_run, now=now))
        except KehuError as exc:  # an invalid policy or no admin: report it, run the others
            logger.warning("retention policy %s not applied: %s", policy.pk, exc)
            results.append(RetentionResult(policy_id=policy.pk, dry_run=dry_run, errors=[str(exc)]))
    return results
