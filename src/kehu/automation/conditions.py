"""A rule's conditions as the list pages know them: which query-string keys of the customer, lead
and opportunity lists are filters (the rest — sort, page, cursor, view — are not), the round trip
between a list and the rule builder, and the conditions described as chips ("城市：上海市") with the
lists' own labels. The lower apps are imported lazily: automation sits at the top."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.automation import objects

# The filter keys of each list (as its view reads them); customers also take custom fields `cf_<key>`.
KEYS: dict[str, tuple[str, ...]] = {
    "customer": ("q", "owner", "stage", "level", "department", "source", "industry", "city", "province", "tags",
                 "kind", "created_from", "created_to", "updated_from", "updated_to"),
    "lead": ("q", "status", "owner", "source", "campaign"),
    "opportunity": ("pipeline", "q", "owner", "customer", "status", "close_from", "close_to", "overdue"),
}
# The id of each list page's filter form (the list's "rule" buttons submit it).
FORM_IDS = {"customer": "filter-form", "lead": "filter-form", "opportunity": "opportunity-filters"}
# Filters a list reads from its address but has no input for: carried as hidden inputs of its form
# while the list is open for a rule, so "带回规则" does not drop them.
HIDDEN_KEYS: dict[str, tuple[str, ...]] = {"customer": ("province",), "lead": (), "opportunity": ("customer",)}
RANGES: dict[str, tuple[tuple[str, str, Any], ...]] = {
    "customer": (("created_from", "created_to", gettext_lazy("创建时间")),
                 ("updated_from", "updated_to", gettext_lazy("更新时间"))),
    "lead": (),
    "opportunity": (("close_from", "close_to", gettext_lazy("预计成交日期")),),
}


@dataclass(frozen=True)
class Chip:
    """One condition, readable: the list filter's label and the value's name."""

    key: str
    label: str
    value: str
    known: bool = True  # False: the list does not read this key (or the value names nothing); it is ignored


def is_condition_key(object_type: str, key: str) -> bool:
    return key in KEYS.get(object_type, ()) or (object_type == "customer" and key.startswith("cf_") and len(key) > 3)


def _escape(text: str) -> str:
    """Percent-encode only what would break a query string; Chinese stays readable in the text box."""
    return "".join("".join(f"%{b:02X}" for b in ch.encode()) if ch in "&=%#+" or ch.isspace() or ord(ch) < 32
                   else ch for ch in text)


def to_text(pairs: Iterable[tuple[str, Any]]) -> str:
    """A query string a person can read and edit ("city=杭州市&tags=VIP"); QueryDict reads it back."""
    return "&".join(f"{_escape(str(k))}={_escape(str(v))}" for k, v in pairs)


def mapping_text(conditions: Mapping[str, Any]) -> str:
    """Stored conditions ({key: value or [values]}) as the same readable query string."""
    return to_text((k, v) for k, value in (conditions or {}).items()
                   for v in (value if isinstance(value, list | tuple) else [value]))


def from_list(object_type: str, params: Any) -> str:
    """The conditions (a query string) in a list page's query: its filters, in their order, without
    sorting, paging, the saved view or the rule round-trip marker."""
    pairs = []
    for key in params:
        if is_condition_key(object_type, key):
            values = params.getlist(key) if hasattr(params, "getlist") else [params.get(key)]
            pairs.extend((key, str(v).strip()) for v in values if str(v or "").strip())
    return to_text(pairs)


def _values(value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple) else [value]
    return [str(v).strip() for v in items if str(v if v is not None else "").strip()]


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _user(value: str) -> tuple[str, bool]:
    from kehu.accounts.models import User

    if value == "me":
        return _("执行身份本人"), True
    if value == "none":
        return _("无负责人"), True
    user = User.objects.filter(pk=_int(value)).first() if _int(value) is not None else None
    return (str(user), True) if user else (value, False)


def _picklist(value: str) -> tuple[str, bool]:
    from kehu.customers.models import PicklistOption

    option = PicklistOption.objects.filter(pk=_int(value)).first() if _int(value) is not None else None
    return (option.label, True) if option else (value, False)


def _department(value: str) -> tuple[str, bool]:
    from kehu.accounts.models import Department

    department = Department.objects.filter(pk=_int(value)).first() if _int(value) is not None else None
    return (_("%(name)s（含下级）") % {"name": department.name}, True) if department else (value, False)


def _customer(value: str) -> tuple[str, bool]:
    from kehu.customers.models import Customer

    customer = Customer.objects.filter(pk=_int(value)).only("name").first() if _int(value) is not None else None
    return (customer.name, True) if customer else (value, False)


def _pipeline(value: str) -> tuple[str, bool]:
    from kehu.sales.models import Pipeline

    pipeline = Pipeline.objects.filter(pk=_int(value)).first() if _int(value) is not None else None
    return (pipeline.label, True) if pipeline else (value, False)


def _choice(choices: Iterable[tuple[str, Any]]) -> Any:
    names = {str(value): str(label) for value, label in choices}
    return lambda value: (names.get(value, value), value in names)


def _text(value: str) -> tuple[str, bool]:
    return value, True


def _yes(value: str) -> tuple[str, bool]:
    return (_("是"), True) if value in ("1", "on", "true") else (value, False)


def _describers(object_type: str) -> dict[str, tuple[str, Any]]:
    """key -> (the list filter's label, value -> (readable value, known))."""
    if object_type == "customer":
        return {"q": (_("关键词"), _text), "owner": (_("负责人"), _user), "stage": (_("阶段"), _picklist),
                "level": (_("级别"), _picklist), "department": (_("部门"), _department),
                "source": (_("来源"), _picklist), "industry": (_("行业"), _picklist), "city": (_("城市"), _text),
                "province": (_("省份"), _text), "tags": (_("标签"), _text),
                "kind": (_("类型"), _choice((("company", _("企业")), ("person", _("个人")))))}
    if object_type == "lead":
        from kehu.leads.models import LeadStatus

        return {"q": (_("关键词"), _text),
                "status": (_("状态"), _choice([("open", _("跟进中（未转化、未作废）")), *LeadStatus.choices])),
                "owner": (_("负责人"), _user), "source": (_("来源"), _picklist), "campaign": (_("市场活动"), _text)}
    from kehu.sales.models import StageKind

    return {"pipeline": (_("销售流程"), _pipeline), "q": (_("关键词"), _text), "owner": (_("负责人"), _user),
            "customer": (_("客户"), _customer), "status": (_("状态"), _choice(StageKind.choices)),
            "overdue": (_("仅逾期"), _yes)}


def _custom_field_chip(key: str, values: list[str]) -> Chip:
    from kehu.customers.models import CustomFieldDefinition, CustomFieldTarget

    definition = CustomFieldDefinition.objects.filter(target=CustomFieldTarget.CUSTOMER, key=key[3:]).first()
    if definition is None:
        return Chip(key, key, "、".join(values), known=False)
    if definition.field_type == "boolean":
        shown = [_("是") if v.lower() in ("1", "true", "yes", "是") else _("否") for v in values]
    elif definition.field_type == "user":
        shown = [_user(v)[0] for v in values]
    else:
        shown = [definition.choice_label(v) for v in values]
    return Chip(key, str(definition.label), "、".join(shown))


def describe(object_type: str, conditions: Mapping[str, Any]) -> list[Chip]:
    """The conditions as chips, in the list form's order; a date range is one chip."""
    if object_type not in objects.MODELS:
        return []
    present = {str(k): _values(v) for k, v in (conditions or {}).items() if _values(v)}
    describers = _describers(object_type)
    chips: list[Chip] = []
    done: set[str] = set()
    for key in KEYS[object_type]:
        for start, end, label in RANGES[object_type]:
            if key == start and (start in present or end in present):
                low, high = (present.get(start) or [""])[0], (present.get(end) or [""])[0]
                value = (_("%(a)s 至 %(b)s") % {"a": low, "b": high} if low and high
                         else _("%(a)s 起") % {"a": low} if low else _("截至 %(b)s") % {"b": high})
                chips.append(Chip(start, str(label), value))
                done.update((start, end))
        if key in done or key not in present or key not in describers:
            continue
        label, describe_value = describers[key]
        shown = [describe_value(v) for v in present[key]]
        chips.append(Chip(key, str(label), "、".join(s for s, _known in shown), all(k for _s, k in shown)))
        done.add(key)
    for key, values in present.items():
        if key in done:
            continue
        if object_type == "customer" and key.startswith("cf_"):
            chips.append(_custom_field_chip(key, values))
        else:
            chips.append(Chip(key, key, "、".join(values), known=False))
    return chips


def edit_in_list_url(object_type: str, conditions: Mapping[str, Any], rule_id: int | None) -> str:
    """The list page filtered by the conditions, open for the rule ("带回规则" brings the new filters back)."""
    url = objects.list_url(object_type, conditions)
    return f"{url}{'&' if '?' in url else '?'}{urlencode({'rule': rule_id or 'new'})}"


def rule_url(object_type: str, conditions_text: str, rule_id: int | None) -> str:
    """The rule builder with these conditions filled in (not saved until the admin saves)."""
    query = urlencode({"object_type": object_type, "conditions": conditions_text})
    base = reverse("automation:edit", args=[rule_id]) if rule_id else reverse("automation:create")
    return f"{base}?{query}"
