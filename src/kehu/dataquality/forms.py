"""Forms of the data-quality pages. They render inputs and turn POST data into the plain values the
services take; the services validate, and their FieldErrors are mapped back with `add_service_errors`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.customers.forms import ServiceErrorsMixin
from kehu.customers.models import CustomerKind, CustomFieldDefinition, PicklistKind, PicklistOption
from kehu.dataquality.messages import field_label
from kehu.dataquality.models import RuleSeverity, RuleTarget, RuleType, ValidationRule
from kehu.dataquality.services import RULE_FIELDS

# Fields whose presence the completeness part of the score can count.
KEY_FIELD_CHOICES = ["phones", "emails", "address", "province", "city", "industry", "source", "level", "stage",
                     "credit_code", "id_number", "website", "birthday", "contacts", "owner"]


MAX_ID = 2**63 - 1


def _ids_from(data: Any) -> list[tuple[str, str]]:
    # Any id may be posted; the services only touch customers in the user's scope.
    raw = data.getlist("ids") if hasattr(data, "getlist") else []
    # Ids beyond a bigint would make PostgreSQL fail the query; they can't be records anyway.
    return [(v, v) for v in raw if str(v).isdigit() and int(v) <= MAX_ID]


class QueueActionForm(forms.Form):
    ASSIGN = "assign_to_owner"
    REVIEWED = "mark_reviewed"
    EMAIL_FIXES = "apply_email_fixes"
    ACTIONS = [
        (ASSIGN, _("分派给负责人")),
        (REVIEWED, _("标记为已复核")),
        (EMAIL_FIXES, _("采用建议的邮箱修正")),
    ]
    action = forms.ChoiceField(choices=ACTIONS)
    ids = forms.TypedMultipleChoiceField(coerce=int, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ids"].choices = _ids_from(self.data)  # type: ignore[attr-defined]


class CityAliasForm(ServiceErrorsMixin, forms.Form):
    alias = forms.CharField(label=_("别名"), max_length=50, required=False, help_text=_("例如 BJ、帝都、Peking"))
    canonical = forms.CharField(label=_("标准名称"), max_length=50, required=False,
                                help_text=_("省份或城市的全称，例如 北京市"))


def option_choices(options: Iterable[PicklistOption]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Options grouped by picklist, for a <select> with <optgroup>s."""
    labels = dict(PicklistKind.choices)
    grouped: dict[str, list[tuple[str, str]]] = {}
    for option in options:
        grouped.setdefault(str(labels.get(option.kind, option.kind)), []).append((str(option.pk), option.label))
    return list(grouped.items())


class SynonymForm(ServiceErrorsMixin, forms.Form):
    option = forms.ChoiceField(label=_("选项"))
    text = forms.CharField(label=_("同义词"), max_length=100, required=False,
                           help_text=_("导入或录入时会被识别为该选项"))

    def __init__(self, *args: Any, options: Iterable[PicklistOption] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options = {str(o.pk): o for o in options}
        self.fields["option"].choices = [("", "—")] + option_choices(self.options.values())  # type: ignore[attr-defined]

    def selected_option(self) -> PicklistOption | None:
        return self.options.get(str(self.cleaned_data.get("option") or ""))


def rule_field_choices(custom: Iterable[CustomFieldDefinition] = ()) -> list[tuple[str, list[tuple[str, str]]]]:
    target_labels = dict(RuleTarget.choices)
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for target, names in RULE_FIELDS.items():
        groups.append((str(target_labels[target]), [(n, f"{field_label(n)} ({n})") for n in names]))
    custom = list(custom)
    if custom:
        groups.append((str(_("自定义字段")), [(f"custom.{d.key}", f"{d.label} (custom.{d.key})") for d in custom]))
    return groups


class ValidationRuleForm(ServiceErrorsMixin, forms.Form):
    target = forms.ChoiceField(label=_("对象"), choices=RuleTarget.choices)
    field = forms.ChoiceField(label=_("字段"))
    rule_type = forms.ChoiceField(label=_("规则"), choices=RuleType.choices)
    severity = forms.ChoiceField(label=_("处理"), choices=RuleSeverity.choices)
    customer_kind = forms.ChoiceField(label=_("仅限客户类型"), required=False,
                                      choices=[("", _("全部"))] + list(CustomerKind.choices))
    stage = forms.ChoiceField(label=_("仅限生命周期阶段"), required=False)
    regex = forms.CharField(label=_("正则表达式"), max_length=300, required=False,
                            help_text=_("仅用于“匹配正则”，整个值须匹配"))
    min_value = forms.CharField(label=_("最小值"), max_length=30, required=False,
                                help_text=_("仅用于“取值范围”：数字，或日期如 2000-01-01"))
    max_value = forms.CharField(label=_("最大值"), max_length=30, required=False)
    message_zh = forms.CharField(label=_("提示（中文）"), max_length=200, required=False)
    message_en = forms.CharField(label=_("提示（英文）"), max_length=200, required=False)
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def __init__(self, *args: Any, stages: Iterable[PicklistOption] = (),
                 custom: Iterable[CustomFieldDefinition] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = rule_field_choices(custom)  # type: ignore[attr-defined]
        self.fields["stage"].choices = [("", _("全部"))] + [(str(o.pk), o.label) for o in stages]  # type: ignore

    def add_service_errors(self, exc: Any) -> None:
        # The service reports params problems on "params"; the form shows them where they were typed.
        for error in exc.errors:
            if error.field == "params":
                target = "regex" if self.cleaned_data.get("rule_type") == RuleType.PATTERN else "min_value"
                self.add_error(target, str(error.message))
            else:
                self.add_error(error.field if error.field in self.fields else None, str(error.message))

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        params: dict[str, Any] = {}
        if data["rule_type"] == RuleType.PATTERN:
            params["regex"] = data.get("regex") or ""
        elif data["rule_type"] == RuleType.RANGE:
            for key, name in (("min", "min_value"), ("max", "max_value")):
                text = (data.get(name) or "").strip()
                if text:
                    params[key] = _number_or_text(text)
        return {
            "target": data["target"], "field": data["field"], "rule_type": data["rule_type"],
            "severity": data["severity"], "customer_kind": data.get("customer_kind") or "",
            "stage": data.get("stage") or None, "params": params,
            "message_zh": data.get("message_zh") or "", "message_en": data.get("message_en") or "",
            "is_active": bool(data.get("is_active")),
        }

    @staticmethod
    def initial_for(rule: ValidationRule) -> dict[str, Any]:
        params = rule.params or {}
        return {
            "target": rule.target, "field": rule.field, "rule_type": rule.rule_type, "severity": rule.severity,
            "customer_kind": rule.customer_kind, "stage": str(rule.stage_id or ""),
            "regex": params.get("regex", ""), "min_value": params.get("min", ""), "max_value": params.get("max", ""),
            "message_zh": rule.message_zh, "message_en": rule.message_en, "is_active": rule.is_active,
        }


def _number_or_text(text: str) -> int | float | str:
    """"10" → 10, "2.5" → 2.5, "2000-01-01" stays text (a date bound)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def key_field_choices(custom: Iterable[CustomFieldDefinition] = ()) -> list[tuple[str, str]]:
    return [(n, field_label(n)) for n in KEY_FIELD_CHOICES] + [(f"custom.{d.key}", d.label) for d in custom]


class QualitySettingsForm(ServiceErrorsMixin, forms.Form):
    stale_days = forms.IntegerField(label=_("多少天未更新视为陈旧"), required=False,
                                    help_text=_("默认 90 天，即每季度复核一次"))
    key_fields_company = forms.MultipleChoiceField(label=_("企业客户关键字段"), required=False,
                                                   widget=forms.CheckboxSelectMultiple)
    key_fields_person = forms.MultipleChoiceField(label=_("个人客户关键字段"), required=False,
                                                  widget=forms.CheckboxSelectMultiple)
    duplicate_block_certain = forms.BooleanField(
        label=_("确定重复时禁止保存"), required=False,
        help_text=_("关闭时只提示可能重复，由录入人决定；打开后表单、接口和脚本都不能保存与已有客户确定重复的记录"))

    def __init__(self, *args: Any, custom: Iterable[CustomFieldDefinition] = (), extra: Iterable[str] = (),
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = key_field_choices(custom)
        known = {value for value, _label in choices}
        # Keep fields chosen earlier even if their definition has gone, so saving doesn't drop them silently.
        choices += [(name, field_label(name)) for name in extra if name not in known]
        self.fields["key_fields_company"].choices = choices  # type: ignore[attr-defined]
        self.fields["key_fields_person"].choices = choices  # type: ignore[attr-defined]


class NormalizeForm(forms.Form):
    dry_run = forms.BooleanField(label=_("试运行（只生成报告，不修改数据）"), required=False, initial=True)
