"""The customer's lifecycle stage (生命周期阶段) moving with sales events.

Stages are the customers' "stage" picklist (codes lead → opportunity → customer → repeat →
advocate, and churned). Events move a customer *forward* only: a deal opened for a lead makes it
an opportunity; its first signed contract (or, until contracts exist for it, its first won deal)
makes it a customer, the second a repeat customer. A customer with no activity for
`CHURN_DAYS` whose deals were all lost becomes churned (`churn_scan`, nightly). A person can
always set the stage by hand on the customer form; the next event moves on from there, and an
automatic move never goes backwards over a stage set by hand or by an earlier event. Every
automatic move is an audit event on the customer's timeline, with its reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.customers.models import Customer, PicklistKind, PicklistOption

# Forward order; "churned" stands apart (any stage may churn, any event revives).
ORDER = ("lead", "opportunity", "customer", "repeat", "advocate")
CHURNED = "churned"
CHURN_DAYS = 180


def _rank(code: str | None) -> int:
    return ORDER.index(code) if code in ORDER else -1


def _options() -> dict[str, PicklistOption]:
    return {o.code: o for o in PicklistOption.objects.filter(kind=PicklistKind.STAGE, is_active=True)}


@transaction.atomic
def lifecycle_advance(*, customer_id: int, to_code: str, reason: str, actor: Any = None) -> bool:
    """Move the customer to `to_code` if that is further along than where it is (a churned
    customer comes back at `to_code`). Returns whether it moved. Unknown codes (an admin renamed
    the picklist) do nothing."""
    options = _options()
    target = options.get(to_code)
    if target is None:
        return False
    customer = Customer.objects.select_for_update(of=("self",)).select_related("stage").filter(pk=customer_id).first()
    if customer is None:
        return False
    current = customer.stage.code if customer.stage_id else None
    if current == to_code or (current != CHURNED and _rank(current) >= _rank(to_code)):
        return False
    old_label = customer.stage.label if customer.stage_id else None
    Customer.objects.filter(pk=customer.pk).update(stage=target, updated_at=timezone.now())
    audit.record_event(actor=actor, action="lifecycle", obj=customer, customer_id=customer.pk,
                       changes=[{"field": "stage", "old": old_label, "new": target.label},
                                {"field": "_reason", "old": None, "new": reason}])
    return True


def on_opportunity_created(opportunity: Any, actor: Any = None) -> None:
    """A deal opened for a lead (or a churned customer): it is an opportunity now."""
    lifecycle_advance(customer_id=opportunity.customer_id, to_code="opportunity", actor=actor,
                      reason=_("新建商机“%(name)s”") % {"name": opportunity.name})


def on_deal_won(customer_id: int, *, won_count: int, what: str, actor: Any = None) -> None:
    """The customer's `won_count`-th won deal or signed contract: customer, then repeat."""
    to_code = "customer" if won_count <= 1 else "repeat"
    lifecycle_advance(customer_id=customer_id, to_code=to_code, actor=actor, reason=what)


@transaction.atomic
def churn_scan(*, now: dt.datetime | None = None, days: int = CHURN_DAYS) -> int:
    """Customers with no activity (no follow-up or note, no edit) for `days`, a lost deal, no open
    deal and no deal won within the period become churned. Returns how many moved."""
    from kehu.sales.models import Opportunity, StageKind

    options = _options()
    churned = options.get(CHURNED)
    if churned is None:
        return 0
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    lost_only = Opportunity.objects.values("customer_id").filter(stage__kind=StageKind.LOST)
    # Still in play: an open deal, or a deal won within the period.
    alive = Opportunity.objects.values("customer_id").filter(
        Q(stage__kind=StageKind.OPEN) | Q(stage__kind=StageKind.WON, closed_at__gt=cutoff))
    candidates = (Customer.objects.filter(pk__in=lost_only).exclude(pk__in=alive)
                  .exclude(stage=churned).filter(updated_at__lt=cutoff)
                  .filter(Q(last_activity_at__lt=cutoff) | Q(last_activity_at__isnull=True))
                  .select_related("stage"))
    moved = 0
    for customer in candidates.iterator(chunk_size=2000):
        Customer.objects.filter(pk=customer.pk).update(stage=churned)
        audit.record_event(actor=None, action="lifecycle", obj=customer, customer_id=customer.pk,
                           changes=[{"field": "stage", "old": customer.stage.label if customer.stage_id else None,
                                     "new": churned.label},
                                    {"field": "_reason", "old": None,
                                     "new": _("%(days)s 天没有跟进，商机均已输单") % {"days": days}}])
        moved += 1
    return moved
