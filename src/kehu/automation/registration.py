"""What the automation app plugs in at start-up (`AutomationConfig.ready()`): its subscriber on the
domain event bus, the event names of the apps whose services publish them, and its per-record
log on the customer's timeline."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from kehu.core.registries import TimelineEntry, timeline_registry

EVENT_NAMES = (
    ("lead.created", "线索创建", "Lead created"),
    ("lead.updated", "线索更新", "Lead updated"),
    ("lead.deleted", "线索删除", "Lead deleted"),
    ("opportunity.created", "商机创建", "Opportunity created"),
    ("opportunity.updated", "商机更新", "Opportunity updated"),
    ("opportunity.stage_changed", "商机阶段变化", "Opportunity stage changed"),
    ("opportunity.deleted", "商机删除", "Opportunity deleted"),
    ("followup.logged", "记录跟进", "Follow-up logged"),
    ("contract.created", "合同创建", "Contract created"),
    ("contract.signed", "合同生效", "Contract signed"),
)


def _log_entries(customer: Any, user: Any, limit: int) -> Iterable[TimelineEntry]:
    from kehu.automation.models import ActionLog, ActionStatus

    logs = (ActionLog.objects.filter(customer_id=customer.pk, status__in=[ActionStatus.DONE, ActionStatus.FAILED])
            .select_related("rule").order_by("-at", "-id")[:limit])
    for log in logs:
        title = _("自动化“%(rule)s”：%(detail)s") % {"rule": log.rule.name, "detail": log.detail or log.action_type}
        if log.status == ActionStatus.FAILED:
            title = _("自动化“%(rule)s”失败：%(error)s") % {"rule": log.rule.name, "error": log.error[:200]}
        yield TimelineEntry(at=log.at, kind=f"automation.{log.action_type}", title=title, icon="automation")


def register() -> None:
    from kehu.automation import engine
    from kehu.core.events import register_event_name, subscribe

    for name, zh, en in EVENT_NAMES:
        register_event_name(name, zh, en)
    subscribe("automation", engine.on_event)
    timeline_registry.register("automation.log", _log_entries)
