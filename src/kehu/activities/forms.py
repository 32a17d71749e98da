"""Forms of the activities pages: they only parse and render; the services validate."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.core.errors import ValidationFailed

from .models import TaskPriority

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]


class FollowUpForm(forms.Form):
    kind = forms.ChoiceField(label=_("跟进方式"), widget=forms.RadioSelect)
    content = forms.CharField(label=_("跟进内容"), widget=forms.Textarea(attrs={"rows": 4}), max_length=20000)
    outcome = forms.CharField(label=_("跟进结果"), required=False, max_length=300)
    occurred_at = forms.DateTimeField(label=_("跟进时间"), required=False, widget=DATETIME_INPUT,
                                      input_formats=DATETIME_FORMATS)
    contact_ids = forms.MultipleChoiceField(label=_("联系人"), required=False, widget=forms.CheckboxSelectMultiple)
    opportunity_id = forms.ChoiceField(label=_("关联商机"), required=False)
    next_step = forms.CharField(label=_("下一步"), required=False, max_length=300)
    next_followup_at = forms.DateTimeField(label=_("下次跟进时间"), required=False, widget=DATETIME_INPUT,
                                           input_formats=DATETIME_FORMATS)
    latitude = forms.DecimalField(required=False, widget=forms.HiddenInput, max_digits=12, decimal_places=8)
    longitude = forms.DecimalField(required=False, widget=forms.HiddenInput, max_digits=12, decimal_places=8)
    accuracy = forms.FloatField(required=False, widget=forms.HiddenInput)
    address = forms.CharField(label=_("签到地址"), required=False, max_length=300)

    def __init__(self, *args: Any, kinds: Any = (), contacts: Any = (), opportunities: Any = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.kind_objects = list(kinds)
        self.fields["kind"].choices = [(k.code, k.label) for k in self.kind_objects]
        self.fields["contact_ids"].choices = [(str(c.pk), c.name) for c in contacts]
        self.fields["opportunity_id"].choices = [("", "—"), *((str(o.pk), o.name) for o in opportunities)]

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        check_in = None
        if data.get("latitude") is not None or data.get("address"):
            check_in = {"latitude": data.get("latitude"), "longitude": data.get("longitude"),
                        "accuracy": data.get("accuracy"), "address": data.get("address") or ""}
        return {"kind": data["kind"], "content": data["content"], "outcome": data.get("outcome") or "",
                "occurred_at": data.get("occurred_at"), "contact_ids": [int(c) for c in data.get("contact_ids") or []],
                "opportunity_id": int(data["opportunity_id"]) if data.get("opportunity_id") else None,
                "next_step": data.get("next_step") or "", "next_followup_at": data.get("next_followup_at"),
                "check_in": check_in}

    def add_service_errors(self, exc: ValidationFailed) -> None:
        for error in exc.errors:
            field = {"check_in": "address"}.get(error.field, error.field)
            self.add_error(field if field in self.fields else None, str(error.message))


class TaskForm(forms.Form):
    title = forms.CharField(label=_("标题"), max_length=200)
    due_at = forms.DateTimeField(label=_("截止时间"), required=False, widget=DATETIME_INPUT,
                                 input_formats=DATETIME_FORMATS)
    priority = forms.ChoiceField(label=_("优先级"), choices=TaskPriority.choices, initial=TaskPriority.NORMAL)
    assignee = forms.ChoiceField(label=_("负责人"))
    description = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                  max_length=5000)
    customer_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    opportunity_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    contract_id = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, assignees: Any = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [(str(u.pk), str(u)) for u in assignees]

    def add_service_errors(self, exc: ValidationFailed) -> None:
        for error in exc.errors:
            self.add_error(error.field if error.field in self.fields else None, str(error.message))


class FollowUpKindForm(forms.Form):
    code = forms.SlugField(label=_("代码"), max_length=30)
    name_zh = forms.CharField(label=_("中文名"), max_length=50)
    name_en = forms.CharField(label=_("英文名"), max_length=50, required=False)
    icon = forms.CharField(label=_("图标"), max_length=10, required=False)
    position = forms.IntegerField(label=_("排序"), required=False, min_value=0)
    allows_check_in = forms.BooleanField(label=_("可外勤签到"), required=False)
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)
