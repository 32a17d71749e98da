"""What the sales app tells the lower apps in `SalesConfig.ready()`: its tables that point at
customers and contacts (so merges re-point them and unmerges put them back), its timeline entries
on the customer's 360° view, and its object labels there."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.registries import TimelineEntry, timeline_registry


def _stage_entries(customer: Any, user: Any, limit: int) -> Iterable[TimelineEntry]:
    """Every stage change of the customer's deals the user may see ("方案报价 → 赢单, 停留 3 天")."""
    from kehu.core.scoping import restrict
    from kehu.sales.models import Opportunity, StageChange

    visible = restrict(Opportunity.objects.filter(customer_id=customer.pk), user).values("pk")
    changes = (StageChange.objects.filter(opportunity_id__in=visible)
               .select_related("opportunity", "from_stage", "to_stage", "changed_by")
               .order_by("-changed_at", "-id")[:limit])
    for change in changes:
        if change.from_stage is None:
            continue  # creation: the audit event says it
        days = (change.seconds_in_previous or 0) / 86400
        yield TimelineEntry(
            at=change.changed_at,
            kind="sales.stage",
            title=_("商机“%(name)s”从“%(old)s”进入“%(new)s”（在上一阶段停留 %(days).1f 天）") % {
                "name": change.opportunity.name, "old": change.from_stage.label, "new": change.to_stage.label,
                "days": days},
            actor=str(change.changed_by or ""),
            icon="stage",
        )


def register() -> None:
    from kehu.customers import timeline
    from kehu.dataquality.merging.registry import register_contact_related, register_related
    from kehu.sales.imports import register_import_kinds
    from kehu.sales.models import Opportunity, OpportunityContact

    register_related(Opportunity, "customer", label=gettext_lazy("商机"))
    register_contact_related(OpportunityContact, "contact", label=gettext_lazy("商机联系人"))
    timeline_registry.register("sales.stage", _stage_entries)
    timeline.OBJECT_LABELS.setdefault("opportunity", "商机")
    register_import_kinds()
    from kehu.sales.exports import register_export_kinds

    register_export_kinds()
    from kehu.core.registries import demo_loaders
    from kehu.sales.demo import load_demo_deals

    if load_demo_deals not in demo_loaders:
        demo_loaders.append(load_demo_deals)
