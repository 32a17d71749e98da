"""What the engine needs to know about each object a rule can watch: its model, its audience (the
list view's own filter, restricted to the rule's run-as user), its customer, its date fields and
its "last touched" anchors. The lower apps are imported lazily: automation sits at the top."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db.models import F, QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.scoping import restrict


@dataclass(frozen=True)
class DateField:
    key: str
    label: Any
    annual: bool  # birthdays and anniversaries: every year on the month/day


@dataclass(frozen=True)
class Changeable:
    """A field the "field changed" trigger and the "update field" action may name."""

    key: str
    label: Any
    kind: str = "text"  # text, choice, user, picklist:<kind>, date


def _customer_model() -> Any:
    from kehu.customers.models import Customer

    return Customer


def _lead_model() -> Any:
    from kehu.leads.models import Lead

    return Lead


def _opportunity_model() -> Any:
    from kehu.sales.models import Opportunity

    return Opportunity


MODELS = {"customer": _customer_model, "lead": _lead_model, "opportunity": _opportunity_model}

DATE_FIELDS: dict[str, list[DateField]] = {
    "customer": [DateField("birthday", _("生日（每年）"), True),
                 DateField("created_at", _("成为客户周年（每年）"), True),
                 DateField("contract_end", _("合同到期日"), False)],
    "lead": [DateField("created_at", _("创建日期"), False)],
    "opportunity": [DateField("expected_close_date", _("预计成交日期"), False)],
}

INACTIVE_ANCHORS: dict[str, list[tuple[str, Any]]] = {
    "customer": [("last_activity", _("最近跟进（无跟进时按创建时间）")), ("updated", _("最近更新"))],
    "lead": [("updated", _("最近更新"))],
    "opportunity": [("last_activity", _("客户最近跟进（无跟进时按商机创建时间）")), ("updated", _("最近更新"))],
}

CHANGEABLE: dict[str, list[Changeable]] = {
    "customer": [Changeable("stage", _("生命周期阶段"), "picklist:stage"),
                 Changeable("level", _("客户级别"), "picklist:level"),
                 Changeable("industry", _("行业"), "picklist:industry"),
                 Changeable("source", _("来源渠道"), "picklist:source"),
                 Changeable("owner", _("负责人"), "user"), Changeable("city", _("城市")),
                 Changeable("province", _("省份")), Changeable("notes", _("备注"))],
    "lead": [Changeable("status", _("状态"), "choice"), Changeable("owner", _("负责人"), "user"),
             Changeable("campaign", _("市场活动")), Changeable("city", _("城市")),
             Changeable("province", _("省份")), Changeable("notes", _("备注"))],
    "opportunity": [Changeable("owner", _("负责人"), "user"), Changeable("next_step", _("下一步")),
                    Changeable("expected_close_date", _("预计成交日期"), "date"),
                    Changeable("description", _("说明"))],
}

FK_FIELDS = {"stage", "level", "industry", "source", "owner"}


def model_of(object_type: str) -> Any:
    return MODELS[object_type]()


def changeable(object_type: str, key: str) -> Changeable | None:
    return next((c for c in CHANGEABLE.get(object_type, []) if c.key == key), None)


def date_field(object_type: str, key: str) -> DateField | None:
    return next((d for d in DATE_FIELDS.get(object_type, []) if d.key == key), None)


def audience(object_type: str, conditions: Mapping[str, Any], user: Any) -> QuerySet:
    """The records a rule may act on: the list view's filter of `conditions`, within `user`'s scope."""
    if object_type == "customer":
        from kehu.customers.filters import CustomerFilter
        from kehu.customers.models import Customer

        return restrict(CustomerFilter.from_params(conditions).apply(Customer.objects.all(), user=user), user)
    if object_type == "lead":
        from kehu.leads.selectors import LeadFilter, leads_filtered

        return leads_filtered(user=user, filters=LeadFilter.from_params(conditions)).order_by()
    from kehu.sales.selectors import opportunities_visible

    queryset = opportunities_visible(user=user)
    pipeline = str(conditions.get("pipeline") or "").strip()
    if pipeline.isdigit():  # the list's pipeline picker (the board and the list read it apart from the filter)
        queryset = queryset.filter(pipeline_id=int(pipeline))
    return opportunity_filter(conditions, user).apply(queryset)


def opportunity_filter(params: Mapping[str, Any], user: Any) -> Any:
    """The opportunity list's filter from its query-string keys (as `sales.views` reads them)."""
    import datetime as dt

    from kehu.sales.models import StageKind
    from kehu.sales.selectors import OpportunityFilter

    def _int(value: Any) -> int | None:
        return int(value) if str(value or "").strip().isdigit() else None

    def _date(value: Any) -> dt.date | None:
        try:
            return dt.date.fromisoformat(str(value)) if value else None
        except ValueError:
            return None

    owner = str(params.get("owner") or "")
    status = str(params.get("status") or "")
    return OpportunityFilter(
        owner=getattr(user, "pk", None) if owner == "me" else _int(owner), customer=_int(params.get("customer")),
        q=str(params.get("q") or "").strip()[:100], close_from=_date(params.get("close_from")),
        close_to=_date(params.get("close_to")), overdue=str(params.get("overdue") or "") in ("1", "on", "true"),
        status=status if status in StageKind.values else "")


def list_url(object_type: str, conditions: Mapping[str, Any]) -> str:
    """The list page showing the same audience (same query string)."""
    names = {"customer": "customers:list", "lead": "leads:list", "opportunity": "sales:list"}
    try:
        base = reverse(names[object_type])
    except Exception:  # noqa: BLE001 - a list without a page falls back to the customers
        base = reverse("customers:list")
    query = urlencode({k: v for k, v in conditions.items() if v not in (None, "")}, doseq=True)
    return f"{base}?{query}" if query else base


def customer_id_of(object_type: str, record: Any) -> int | None:
    if object_type == "customer":
        return record.pk
    if object_type == "opportunity":
        return record.customer_id
    return getattr(record, "converted_customer_id", None)


def label_of(record: Any) -> str:
    return str(record)[:200]


def inactive_anchor(object_type: str, anchor: str) -> Any:
    """The expression "last touched" of the inactivity trigger."""
    if anchor == "updated":
        return F("updated_at")
    if object_type == "customer":
        return Coalesce("last_activity_at", "created_at")
    if object_type == "opportunity":  # the later of the customer's last follow-up and the deal's creation
        return Greatest(Coalesce("customer__last_activity_at", "created_at"), "created_at")
    return F("updated_at")
