"""Timeline providers of the customers app: audit events (created, field changes old → new,
deleted contacts) and notes. Later apps register follow-ups, deals, tickets the same way."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from kehu.core import masking
from kehu.core.models import AuditEvent
from kehu.core.registries import TimelineEntry, timeline_registry
from kehu.customers.history import mask_timeline_changes
from kehu.customers.models import Note
from kehu.dataquality.merging.selectors import absorbed_customer_ids

OBJECT_LABELS = {"customer": "客户", "contact": "联系人"}
# Object types whose creation another app puts on the timeline itself (filled by those apps).
SKIPPED_OBJECT_TYPES: set[str] = set()


def _merge_title(event: AuditEvent) -> str:
    """Merge, unmerge and "not a duplicate" events name the other records (kept in `_` changes)."""
    marks = {c["field"]: c["new"] for c in event.changes if str(c.get("field", "")).startswith("_")}
    if event.object_type == "contact":  # duplicate contacts within the customer (dataquality.merging.contacts)
        if event.action == "merge":
            return _("合并了重复联系人 %(names)s") % {"names": "、".join(marks.get("_merged") or [])}
        if event.action == "not_duplicate":
            return _("标记与联系人 %(names)s 不是同一人") % {"names": "、".join(marks.get("_other") or [])}
        return _("撤销联系人合并，恢复了联系人 %(names)s") % {"names": "、".join(marks.get("_restored") or [])}
    if event.action == "merge":
        return _("合并了重复客户 %(names)s") % {"names": "、".join(marks.get("_merged") or [])}
    if event.action == "not_duplicate":
        return _("标记与 %(names)s 不是重复客户") % {"names": "、".join(marks.get("_other") or [])}
    if "_split_from" in marks:
        return _("撤销合并，从 %(names)s 恢复了本客户") % {"names": "、".join(marks["_split_from"])}
    return _("撤销合并，恢复了客户 %(names)s") % {"names": "、".join(marks.get("_restored") or [])}


def _audit_entries(customer: Any, user: Any, limit: int) -> Iterable[TimelineEntry]:
    # A survivor's timeline also shows the history of the customers merged into it.
    customer_ids = [customer.pk, *absorbed_customer_ids(customer.pk)]
    events = AuditEvent.objects.filter(customer_id__in=customer_ids).order_by("-at", "-id")[:limit]
    for event in events:
        if event.object_type in SKIPPED_OBJECT_TYPES and event.action == "create":
            continue  # the owning app's own timeline entry says it better ("收到回款 ¥12,000 …")
        label = _(OBJECT_LABELS.get(event.object_type, event.object_type))
        if event.action in ("merge", "unmerge", "not_duplicate"):
            title = _merge_title(event)
            changes: list[dict] = [c for c in event.changes if not str(c.get("field", "")).startswith("_")]
        elif event.action == "lifecycle":  # moved by an event (a deal opened, won, nothing for months)
            marks = {c["field"]: c["new"] for c in event.changes}
            stage = next((c for c in event.changes if c.get("field") == "stage"), {})
            title = _("生命周期阶段：%(old)s → %(new)s（%(reason)s）") % {
                "old": stage.get("old") or "—", "new": stage.get("new") or "—", "reason": marks.get("_reason") or ""}
            changes = []
        elif event.action == "convert":  # a lead became this customer (leads app)
            title = _("由线索转化而来")
            changes = [c for c in event.changes if not str(c.get("field", "")).startswith("_")]
        elif event.action == "create":
            title = _("创建了%(object)s %(name)s") % {"object": label, "name": event.object_repr}
            changes = []
        elif event.action == "delete":
            title = _("删除了%(object)s %(name)s") % {"object": label, "name": event.object_repr}
            changes = []
        elif event.action == "reveal":  # field-level security: someone looked at a masked field in full
            fields = "、".join(_(masking.FIELD_LABELS.get(str(c.get("field")), str(c.get("field"))))
                              for c in event.changes)
            title = _("查看了%(object)s %(name)s 的完整%(field)s") % {"object": label, "name": event.object_repr,
                                                                   "field": fields}
            changes = []
        elif event.action in ("restore", "purge"):  # the recycle bin (kehu.recyclebin)
            title = (_("从回收站恢复了%(object)s %(name)s") if event.action == "restore"
                     else _("从回收站彻底删除了%(object)s %(name)s")) % {"object": label, "name": event.object_repr}
            changes = []
        elif event.action == "export":
            title = _("导出了%(object)s %(name)s 的档案") % {"object": label, "name": event.object_repr}
            changes = []
        else:
            title = _("修改了%(object)s %(name)s") % {"object": label, "name": event.object_repr}
            changes = event.changes
        yield TimelineEntry(
            at=event.at,
            kind=f"audit.{event.action}",
            title=title,
            actor=event.actor_name,
            # Field-level security: hidden fields left out, masked fields' old/new masked.
            changes=mask_timeline_changes(user=user, object_type=event.object_type, changes=changes),
            icon=event.action,
            object_type=event.object_type,
        )


def _note_entries(customer: Any, user: Any, limit: int) -> Iterable[TimelineEntry]:
    for note in Note.objects.filter(customer_id=customer.pk).select_related("author")[:limit]:
        yield TimelineEntry(
            at=note.created_at,
            kind="note",
            title=_("添加了备注"),
            actor=str(note.author or ""),
            body=note.body,
            icon="note",
        )


def register() -> None:
    timeline_registry.register("audit", _audit_entries)
    timeline_registry.register("note", _note_entries)
