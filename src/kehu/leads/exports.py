"""The "leads" export kind (`kehu.core.exporting`): the lead list with its filters (`LeadFilter`:
status incl. "open", owner incl. "me"/"none", source, campaign, q) within the user's scope
(`selectors.leads_filtered`). The columns the "leads" import reads carry its target labels
(`kehu.leads.imports.LEAD_TARGETS`), so an exported file re-imports as it is; status, conversion and
the times are for reading only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from kehu.core import exporting
from kehu.leads.imports import LEAD_TARGETS

_LEAD = {t.key: (t.label_zh, t.label_en) for t in LEAD_TARGETS}
_STATUS_LABELS = {
    "new": ("新线索", "New"), "contacted": ("已联系", "Contacted"), "qualified": ("有效线索", "Qualified"),
    "disqualified": ("无效线索", "Disqualified"), "converted": ("已转化", "Converted"),
}

LEAD_COLUMNS: list[tuple[str, str, str]] = [
    ("id", "ID", "ID"),
    ("name", *_LEAD["name"]),
    ("company", *_LEAD["company"]),
    ("title", *_LEAD["title"]),
    ("mobile", *_LEAD["mobile"]),
    ("phone", *_LEAD["phone"]),
    ("email", *_LEAD["email"]),
    ("wechat", *_LEAD["wechat"]),
    ("province", *_LEAD["province"]),
    ("city", *_LEAD["city"]),
    ("source", *_LEAD["source"]),
    ("campaign", *_LEAD["campaign"]),
    ("status", "线索状态", "Lead status"),
    ("disqualify_reason", "无效原因", "Disqualify reason"),
    ("owner", *_LEAD["owner"]),
    ("department", "所属部门", "Department"),
    ("notes", *_LEAD["notes"]),
    ("external_id", *_LEAD["external_id"]),
    ("web_form", "网页表单", "Web form"),
    ("converted_at", "转化时间", "Converted at"),
    ("converted_customer", "转化客户", "Converted to customer"),
    ("created_at", "创建时间", "Created at"),
    ("updated_at", "更新时间", "Updated at"),
]
_LEAD_VALUES = (
    "id", "name", "company", "title", "mobile", "phone", "email", "wechat", "province", "city", "source_id",
    "campaign", "status", "disqualify_reason", "owner_id", "department_id", "notes", "external_id", "web_form__title",
    "converted_at", "converted_customer__name", "created_at", "updated_at",
)


def leads_for_export(user: Any, params: Mapping[str, Any]) -> QuerySet:
    from kehu.leads.selectors import LeadFilter, leads_filtered

    filters = LeadFilter.from_params(params)
    if filters.owner == "me" and getattr(user, "pk", None) is None:
        filters = LeadFilter(status=filters.status, source=filters.source, campaign=filters.campaign, q=filters.q)
    return leads_filtered(user=user, filters=filters)


@dataclass
class _LeadLookups:
    sources: dict[int, str]
    users: dict[int, str]
    departments: dict[int, str]


def _lead_lookups(english: bool) -> _LeadLookups:
    from kehu.customers.models import PicklistKind, PicklistOption

    column = "label_en" if english else "label_zh"
    sources = {pk: (label or zh) for pk, label, zh in PicklistOption.objects.filter(
        kind=PicklistKind.SOURCE).values_list("id", column, "label_zh")}
    return _LeadLookups(sources=sources, users=exporting.user_names(), departments=exporting.department_names())


def lead_row(record: dict[str, Any], ctx: exporting.ExportContext) -> dict[str, Any]:
    lookups: _LeadLookups = ctx.lookups
    row = {name: record[name] for name in ("id", "name", "company", "title", "mobile", "phone", "email", "wechat",
                                           "province", "city", "campaign", "disqualify_reason", "notes",
                                           "external_id", "converted_at", "created_at", "updated_at")}
    row.update({
        "source": lookups.sources.get(record["source_id"], ""),
        "status": _STATUS_LABELS.get(record["status"], (record["status"],) * 2)[1 if ctx.english else 0],
        "owner": lookups.users.get(record["owner_id"], ""),
        "department": lookups.departments.get(record["department_id"], ""),
        "web_form": record["web_form__title"] or "",
        "converted_customer": record["converted_customer__name"] or "",
    })
    return row


def register_export_kinds() -> None:
    """Called from `kehu.leads.registration.register()` (LeadsConfig.ready)."""
    exporting.register(exporting.ExportKind(
        key="leads", label_zh="线索", label_en="Leads", columns=LEAD_COLUMNS, queryset=leads_for_export,
        values=_LEAD_VALUES, row=lead_row, lookups=_lead_lookups, object_type="lead",
    ))
