"""What the leads app tells the lower apps in `LeadsConfig.ready()`: its foreign keys to customers
and contacts (a merge re-points a converted lead to the survivor; the unmerge puts it back), and
the converted leads' history on the customer's 360° timeline, and the "leads" import kind."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.registries import TimelineEntry, timeline_registry

_TITLES = {
    "create": gettext_lazy("线索：创建了线索 %(name)s"),
    "update": gettext_lazy("线索：修改了线索 %(name)s"),
    "delete": gettext_lazy("线索：删除了线索 %(name)s"),
}


def _lead_entries(customer: Any, user: Any, limit: int) -> Iterable[TimelineEntry]:
    """The history of the leads converted to this customer (and to customers merged into it): their
    audit events from before the customer existed, and the lead's notes. The conversion event itself
    is on the customer (`customer_id` set) and shown by the customers app's audit provider."""
    from kehu.core.models import AuditEvent
    from kehu.dataquality.merging.selectors import absorbed_customer_ids
    from kehu.leads.models import Lead

    customer_ids = [customer.pk, *absorbed_customer_ids(customer.pk)]
    leads = {lead.pk: lead for lead in Lead.objects.filter(converted_customer_id__in=customer_ids)}
    if not leads:
        return
    events = (AuditEvent.objects.filter(object_type="lead", object_id__in=list(leads), customer_id__isnull=True)
              .order_by("-at", "-id")[:limit])
    for event in events:
        title = _TITLES.get(event.action, _TITLES["update"])
        yield TimelineEntry(at=event.at, kind=f"lead.{event.action}", title=str(title) % {"name": event.object_repr},
                            actor=event.actor_name, changes=event.changes if event.action == "update" else [],
                            icon=event.action)
    for lead in leads.values():
        if lead.notes:
            yield TimelineEntry(at=lead.created_at, kind="lead.note", title=_("线索备注（%(name)s）") % {"name": lead},
                                body=lead.notes, icon="note")


def register() -> None:
    from kehu.customers import timeline
    from kehu.dataquality.merging.registry import register_contact_related, register_related
    from kehu.leads.imports import register_import_kinds
    from kehu.leads.models import Lead

    register_related(Lead, "converted_customer", label=gettext_lazy("转化来源线索"))
    register_contact_related(Lead, "converted_contact", label=gettext_lazy("转化来源线索"))
    timeline_registry.register("lead", _lead_entries)
    timeline.OBJECT_LABELS.setdefault("lead", "线索")
    register_import_kinds()
    from kehu.leads.exports import register_export_kinds

    register_export_kinds()
