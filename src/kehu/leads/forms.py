"""Forms of the lead pages: they parse raw input into the services' data; the services validate."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.core.errors import ValidationFailed
from kehu.leads.models import LeadFormField, LeadStatus

_EDIT_FIELDS = ["name", "company", "title", "mobile", "phone", "email", "wechat", "province", "city", "source",
                "campaign", "status", "disqualify_reason", "owner", "notes"]


class ServiceErrorsMixin:
    def add_service_errors(self, exc: ValidationFailed) -> None:
        for error in exc.errors:
            field = error.field if error.field in self.fields else None  # type: ignore[attr-defined]
            self.add_error(field, str(error.message))  # type: ignore[attr-defined]


class LeadEditForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(label=_("姓名"), max_length=100, required=False)
    company = forms.CharField(label=_("公司"), max_length=200, required=False)
    title = forms.CharField(label=_("职务"), max_length=100, required=False)
    mobile = forms.CharField(label=_("手机"), max_length=30, required=False)
    phone = forms.CharField(label=_("座机"), max_length=30, required=False)
    email = forms.CharField(label=_("邮箱"), max_length=254, required=False)
    wechat = forms.CharField(label=_("微信"), max_length=100, required=False)
    province = forms.CharField(label=_("省份"), max_length=50, required=False)
    city = forms.CharField(label=_("城市"), max_length=50, required=False)
    source = forms.ChoiceField(label=_("来源渠道"), required=False)
    campaign = forms.CharField(label=_("市场活动"), max_length=100, required=False)
    status = forms.ChoiceField(label=_("状态"), required=False)
    disqualify_reason = forms.CharField(label=_("无效原因"), max_length=300, required=False)
    owner = forms.ChoiceField(label=_("负责人"), required=False)
    notes = forms.CharField(label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, sources: Any = (), users: Any = (), can_assign: bool = True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [("", "—"), *((str(o.pk), o.label) for o in sources)]
        self.fields["status"].choices = [(v, label) for v, label in LeadStatus.choices if v != LeadStatus.CONVERTED]
        self.fields["owner"].choices = [("", _("无负责人")), *((str(u.pk), str(u)) for u in users)]
        if not can_assign:
            self.fields["owner"].disabled = True

    def service_data(self) -> dict[str, Any]:
        data = {name: self.cleaned_data.get(name) for name in _EDIT_FIELDS if name in self.cleaned_data}
        if self.fields["owner"].disabled:
            data.pop("owner", None)
        data["status"] = data.get("status") or LeadStatus.NEW
        return data


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=[(v, label) for v, label in LeadStatus.choices if v != LeadStatus.CONVERTED])
    reason = forms.CharField(max_length=300, required=False)
    version = forms.IntegerField(required=False)


class ConvertForm(forms.Form):
    customer = forms.CharField(label=_("客户"), required=False,
                               help_text=_("选择已有客户，或留空新建（与已有客户确定重复时会自动使用该客户）"))
    create_opportunity = forms.BooleanField(label=_("同时创建商机"), required=False, initial=True)
    opportunity_name = forms.CharField(label=_("商机名称"), max_length=200, required=False)
    amount = forms.CharField(label=_("金额"), max_length=30, required=False)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def customer_id(self) -> int | None:
        value = (self.cleaned_data.get("customer") or "").strip()
        return int(value) if value.isdigit() else None


class PublicLeadForm(forms.Form):
    """The public page's fields: name plus those the admin chose. Rendering escapes every value."""

    name = forms.CharField(label=_("姓名"), max_length=100)

    def __init__(self, *args: Any, shown: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        labels = dict(LeadFormField.choices)
        for name in shown:
            widget = forms.Textarea(attrs={"rows": 4}) if name == "notes" else forms.TextInput
            self.fields[name] = forms.CharField(label=labels[name], required=False,
                                                max_length=2000 if name == "notes" else 200, widget=widget)


class LeadFormSettingsForm(ServiceErrorsMixin, forms.Form):
    slug = forms.CharField(label=_("标识（网址中的名字）"), max_length=50, help_text=_("例如 expo-2026"))
    title = forms.CharField(label=_("标题"), max_length=100)
    intro = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    fields = forms.MultipleChoiceField(label=_("显示字段（姓名总是显示）"), required=False,
                                       choices=LeadFormField.choices, widget=forms.CheckboxSelectMultiple)
    default_owner = forms.ChoiceField(label=_("默认负责人"), required=False)
    default_source = forms.ChoiceField(label=_("默认来源"), required=False)
    campaign = forms.CharField(label=_("市场活动"), max_length=100, required=False)
    thank_you = forms.CharField(label=_("提交后显示"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def __init__(self, *args: Any, sources: Any = (), users: Any = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["default_owner"].choices = [("", _("无（仅经理和管理员可见）")),
                                                *((str(u.pk), str(u)) for u in users)]
        self.fields["default_source"].choices = [("", "—"), *((str(o.pk), o.label) for o in sources)]
