"""What the activities app tells the lower apps in `ActivitiesConfig.ready()`: its tables that point
at customers and contacts (merges re-point them, unmerges put them back), its follow-ups on the
customer's 360° timeline, its object labels there, its domain event names and its demo data."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.registries import TimelineEntry, timeline_registry

EVENTS = {
    "followup.logged": ("记录跟进", "Follow-up logged"),
    "followup.updated": ("修改跟进", "Follow-up updated"),
    "followup.deleted": ("删除跟进", "Follow-up deleted"),
    "task.created": ("任务创建", "Task created"),
    "task.updated": ("任务修改", "Task updated"),
    "task.completed": ("任务完成", "Task completed"),
    "task.reopened": ("任务重新打开", "Task reopened"),
    "task.cancelled": ("任务取消", "Task cancelled"),
}


def followup_entries(customer: Any, user: Any, limit: int) -> Iterable[TimelineEntry]:
    """The customer's follow-ups ("电话跟进：约好下周演示", with contacts, check-in and next step)."""
    from kehu.activities.models import FollowUp

    # The caller (customer_timeline) has checked that the user may see the customer.
    rows = (FollowUp.objects.filter(customer_id=customer.pk).select_related("kind", "owner", "opportunity")
            .prefetch_related("contacts").order_by("-occurred_at", "-id")[:limit])
    for followup in rows:
        title = _("%(kind)s跟进") % {"kind": followup.kind.label}
        if followup.outcome:
            title += _("：%(outcome)s") % {"outcome": followup.outcome}
        extras = []
        names = "、".join(sorted({c.name for c in followup.contacts.all()}))
        if names:
            extras.append(_("联系人：%(names)s") % {"names": names})
        if followup.opportunity_id:
            extras.append(_("商机：%(name)s") % {"name": followup.opportunity.name})
        if followup.address or followup.checked_in:
            extras.append(_("签到：%(address)s") % {"address": followup.address or _("已定位")})
        if followup.next_step or followup.next_followup_at:
            when = (f" {timezone.localtime(followup.next_followup_at):%Y-%m-%d %H:%M}"
                    if followup.next_followup_at else "")
            extras.append(_("下一步：%(step)s%(when)s") % {"step": followup.next_step or _("跟进"), "when": when})
        body = followup.content + ("\n" + "；".join(extras) if extras else "")
        yield TimelineEntry(at=followup.occurred_at, kind="activities.followup", title=title,
                            actor=str(followup.owner or ""), body=body, icon="followup")


def register() -> None:
    from kehu.activities.demo import load_demo_activities
    from kehu.activities.models import FollowUp, FollowUpContact, Task
    from kehu.core.events import register_event_name
    from kehu.core.registries import demo_loaders
    from kehu.customers import timeline
    from kehu.dataquality.merging.registry import register_contact_related, register_related

    register_related(FollowUp, "customer", label=gettext_lazy("跟进记录"))
    register_related(Task, "customer", label=gettext_lazy("任务"))
    register_contact_related(FollowUpContact, "contact", label=gettext_lazy("跟进联系人"))
    timeline_registry.register("activities.followup", followup_entries)
    timeline.OBJECT_LABELS.setdefault("followup", "跟进记录")
    timeline.OBJECT_LABELS.setdefault("task", "任务")
    timeline.SKIPPED_OBJECT_TYPES.add("followup")  # "电话跟进：…" above says it
    for name, (zh, en) in EVENTS.items():
        register_event_name(name, zh, en)
    if load_demo_activities not in demo_loaders:
        demo_loaders.append(load_demo_activities)
