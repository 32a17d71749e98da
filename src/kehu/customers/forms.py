"""Forms of the customer pages. They only render inputs and turn POST data into the plain dict
the services take; the services validate (one rule for web, API and import) and their
FieldErrors are mapped back onto these fields with `add_service_errors`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from kehu.core.errors import ValidationFailed
from kehu.customers.models import (
    CustomerKind,
    CustomFieldDefinition,
    CustomFieldTarget,
    CustomFieldType,
    Gender,
    PicklistKind,
    PicklistOption,
)

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _blank(label: str = "—") -> list[tuple[str, str]]:
    return [("", label)]


def picklist_choices(options: Iterable[PicklistOption], kind: str) -> list[tuple[str, str]]:
    return _blank() + [(str(o.pk), o.label) for o in options if o.kind == kind]


def user_choices(users: Iterable[Any]) -> list[tuple[str, str]]:
    return _blank() + [(str(u.pk), str(u)) for u in users]


class ServiceErrorsMixin:
    """Maps a service's ValidationFailed onto form fields: "custom.budget" → "cf_budget",
    fields the form doesn't show become non-field errors."""

    def add_service_errors(self, exc: ValidationFailed) -> None:
        for error in exc.errors:
            name = error.field
            if name.startswith("custom."):
                name = "cf_" + name.split(".", 1)[1]
            target = name if name in self.fields else None  # type: ignore[attr-defined]
            self.add_error(target, str(error.message))  # type: ignore[attr-defined]


def custom_form_field(definition: CustomFieldDefinition, *, users: Iterable[Any]) -> forms.Field:
    """One form field per custom-field type. Required-ness is checked by the service."""
    label = definition.label
    kind = definition.field_type
    english = (get_language() or "").startswith("en")
    choices = [
        (c.get("value"), (c.get("label_en") if english else None) or c.get("label_zh") or c.get("value"))
        for c in definition.choices
    ]
    common: dict[str, Any] = {"label": label, "required": False}
    if kind == CustomFieldType.LONG_TEXT:
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
    if kind in (CustomFieldType.NUMBER, CustomFieldType.MONEY):
        step = "0.01" if kind == CustomFieldType.MONEY else "any"
        return forms.CharField(widget=forms.NumberInput(attrs={"step": step}), **common)
    if kind == CustomFieldType.DATE:
        return forms.CharField(widget=DATE_INPUT, **common)
    if kind == CustomFieldType.CHOICE:
        return forms.ChoiceField(choices=_blank() + choices, **common)
    if kind == CustomFieldType.MULTI_CHOICE:
        return forms.MultipleChoiceField(choices=choices, widget=forms.CheckboxSelectMultiple, **common)
    if kind == CustomFieldType.BOOLEAN:
        return forms.ChoiceField(choices=[("", "—"), ("true", _("是")), ("false", _("否"))], **common)
    if kind == CustomFieldType.USER:
        return forms.ChoiceField(choices=user_choices(users), **common)
    return forms.CharField(**common)


def custom_initial(definition: CustomFieldDefinition, value: Any) -> Any:
    if value is None:
        return None
    if definition.field_type == CustomFieldType.BOOLEAN:
        return "true" if value else "false"
    return value


class CustomFieldsFormMixin(ServiceErrorsMixin):
    definitions: list[CustomFieldDefinition]

    def add_custom_fields(self, definitions: list[CustomFieldDefinition], users: Iterable[Any],
                          values: dict[str, Any] | None) -> None:
        self.definitions = definitions
        users = list(users)
        for definition in definitions:
            name = f"cf_{definition.key}"
            self.fields[name] = custom_form_field(definition, users=users)  # type: ignore[attr-defined]
            if definition.required:
                self.fields[name].widget.attrs["data-required"] = "1"  # type: ignore[attr-defined]
            if values and definition.key in values:
                self.initial[name] = custom_initial(definition, values[definition.key])  # type: ignore

    def apply_field_security(self, user: Any, object_type: str, instance: Any = None) -> None:
        """Field-level security on the form: fields the role may not edit are shown disabled (a masked
        one with its masked value), hidden ones are removed; `service_data` leaves them all out, and
        the service refuses them anyway. On a new record (`instance` None) only hidden fields are locked."""
        from kehu.core import masking

        self.locked_fields: set[str] = set()
        for name, access in masking.locked_fields(user, object_type, creating=instance is None).items():
            if name not in self.fields:  # type: ignore[attr-defined]
                continue
            self.locked_fields.add(name)
            if access == masking.FieldAccess.HIDDEN:
                del self.fields[name]  # type: ignore[attr-defined]
                self.initial.pop(name, None)  # type: ignore[attr-defined] # never in the page or its snapshot
                continue
            field = self.fields[name]  # type: ignore[attr-defined]
            field.disabled = True
            field.help_text = _("你的角色不能修改这个字段")
            if access == masking.FieldAccess.MASKED and instance is not None:
                value = masking.mask_value(masking.field_kind(object_type, name), getattr(instance, name, ""))
                self.initial[name] = ", ".join(value) if isinstance(value, list) else (value or "")  # type: ignore

    def drop_locked(self, data: dict[str, Any]) -> dict[str, Any]:
        for name in getattr(self, "locked_fields", ()):
            data.pop(name, None)
        return data

    @property
    def custom_bound_fields(self) -> list[Any]:
        return [self[f"cf_{d.key}"] for d in self.definitions]  # type: ignore[index]

    def custom_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for definition in self.definitions:
            value = self.cleaned_data.get(f"cf_{definition.key}")  # type: ignore[attr-defined]
            data[definition.key] = value if value not in ("",) else None
        return data


class CustomerForm(CustomFieldsFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=CustomerKind.choices, initial=CustomerKind.COMPANY)
    name = forms.CharField(label=_("名称"), max_length=200, required=False)
    short_name = forms.CharField(label=_("简称"), max_length=100, required=False)
    salutation = forms.CharField(label=_("称呼"), max_length=20, required=False,
                                 help_text=_("个人客户：先生、女士、总……；写在名称里也会自动拆出"))
    stage = forms.ChoiceField(label=_("生命周期阶段"), required=False)
    level = forms.ChoiceField(label=_("客户级别"), required=False)
    source = forms.ChoiceField(label=_("来源渠道"), required=False)
    industry = forms.ChoiceField(label=_("行业"), required=False)
    owner = forms.ChoiceField(label=_("负责人"), required=False)
    phones = forms.CharField(
        label=_("电话"), required=False, help_text=_("多个号码用逗号分隔"),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    emails = forms.CharField(
        label=_("邮箱"), required=False, help_text=_("多个邮箱用逗号分隔"),
        widget=forms.TextInput(attrs={"inputmode": "email", "autocomplete": "off"}),
    )
    website = forms.CharField(label=_("网站"), max_length=200, required=False)
    province = forms.CharField(label=_("省份"), max_length=50, required=False)
    city = forms.CharField(label=_("城市"), max_length=50, required=False)
    district = forms.CharField(label=_("区县"), max_length=50, required=False)
    address = forms.CharField(label=_("详细地址"), max_length=300, required=False)
    birthday = forms.CharField(label=_("生日"), required=False, widget=DATE_INPUT)
    credit_code = forms.CharField(label=_("统一社会信用代码"), max_length=30, required=False)
    id_number = forms.CharField(label=_("身份证号"), max_length=30, required=False,
                                help_text=_("个人客户；生日和性别为空时由身份证号补全"))
    gender = forms.ChoiceField(label=_("性别"), required=False, choices=[("", "—"), *Gender.choices])
    tags = forms.CharField(label=_("标签"), required=False, help_text=_("多个标签用逗号分隔"))
    notes = forms.CharField(label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    BASIC = ["kind", "name", "salutation", "short_name", "stage", "level", "source", "industry", "owner"]
    CONTACT = ["phones", "emails", "website", "province", "city", "district", "address"]
    OTHER = ["birthday", "gender", "id_number", "credit_code", "tags", "notes"]

    def __init__(self, *args: Any, options: Iterable[PicklistOption], users: Iterable[Any],
                 definitions: list[CustomFieldDefinition], custom_values: dict[str, Any] | None = None,
                 can_assign: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = list(options)
        users = list(users)
        for name, kind in (("stage", PicklistKind.STAGE), ("level", PicklistKind.LEVEL),
                           ("source", PicklistKind.SOURCE), ("industry", PicklistKind.INDUSTRY)):
            self.fields[name].choices = picklist_choices(options, kind)  # type: ignore[attr-defined]
        self.fields["owner"].choices = user_choices(users)  # type: ignore[attr-defined]
        if not can_assign:
            self.fields["owner"].disabled = True
        self.fields["name"].widget.attrs.update({"autofocus": True, "data-required": "1"})
        self.add_custom_fields(definitions, users, custom_values)

    @classmethod
    def initial_for(cls, customer: Any) -> dict[str, Any]:
        return {
            "kind": customer.kind, "name": customer.name, "short_name": customer.short_name,
            "stage": customer.stage_id or "", "level": customer.level_id or "",
            "source": customer.source_id or "", "industry": customer.industry_id or "",
            "owner": customer.owner_id or "", "phones": ", ".join(customer.phones),
            "emails": ", ".join(customer.emails), "website": customer.website,
            "province": customer.province, "city": customer.city, "district": customer.district,
            "address": customer.address,
            "birthday": customer.birthday.isoformat() if customer.birthday else "",
            "credit_code": customer.credit_code, "id_number": customer.id_number, "gender": customer.gender,
            "salutation": customer.salutation,
            "tags": ", ".join(t.name for t in customer.tags.all()),
            "notes": customer.notes, "version": customer.version,
        }

    def section(self, names: list[str]) -> list[Any]:
        return [self[n] for n in names if n in self.fields]

    def basic_fields(self) -> list[Any]:
        return self.section(self.BASIC)

    def contact_fields(self) -> list[Any]:
        return self.section(self.CONTACT)

    def other_fields(self) -> list[Any]:
        return self.section(self.OTHER)

    def service_data(self) -> dict[str, Any]:
        """The dict for customer_create/customer_update: every shown field, raw strings; the
        service cleans and validates them."""
        cd = self.cleaned_data
        data: dict[str, Any] = {
            name: cd.get(name, "") for name in self.BASIC + self.CONTACT + self.OTHER if name != "tags"
        }
        if self.fields["owner"].disabled:
            data.pop("owner")
        data["tags"] = [t.strip() for t in cd.get("tags", "").replace("，", ",").split(",") if t.strip()]
        data["custom"] = self.custom_data()
        return self.drop_locked(data)


class ContactForm(CustomFieldsFormMixin, forms.Form):
    name = forms.CharField(label=_("姓名"), max_length=100, required=False)
    salutation = forms.CharField(label=_("称呼"), max_length=20, required=False)
    title = forms.CharField(label=_("职务"), max_length=100, required=False)
    decision_role = forms.ChoiceField(label=_("决策角色"), required=False)
    mobile = forms.CharField(label=_("手机"), required=False, widget=forms.TextInput(attrs={"inputmode": "tel"}))
    phone = forms.CharField(label=_("座机"), required=False, widget=forms.TextInput(attrs={"inputmode": "tel"}))
    email = forms.CharField(label=_("邮箱"), required=False,
                            widget=forms.TextInput(attrs={"inputmode": "email"}))
    wechat = forms.CharField(label=_("微信"), max_length=100, required=False)
    birthday = forms.CharField(label=_("生日"), required=False, widget=DATE_INPUT)
    is_primary = forms.BooleanField(label=_("首要联系人"), required=False)
    notes = forms.CharField(label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    FIELDS = ["name", "salutation", "title", "decision_role", "mobile", "phone", "email", "wechat", "birthday",
              "is_primary", "notes"]

    def __init__(self, *args: Any, options: Iterable[PicklistOption], users: Iterable[Any],
                 definitions: list[CustomFieldDefinition], custom_values: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["decision_role"].choices = picklist_choices(  # type: ignore[attr-defined]
            options, PicklistKind.CONTACT_ROLE
        )
        self.fields["name"].widget.attrs["data-required"] = "1"
        self.add_custom_fields(definitions, users, custom_values)

    @classmethod
    def initial_for(cls, contact: Any) -> dict[str, Any]:
        initial = {name: getattr(contact, name) for name in cls.FIELDS}
        initial["decision_role"] = contact.decision_role_id or ""
        initial["birthday"] = contact.birthday.isoformat() if contact.birthday else ""
        initial["version"] = contact.version
        return initial

    def main_fields(self) -> list[Any]:
        return [self[n] for n in self.FIELDS if n in self.fields]

    def service_data(self) -> dict[str, Any]:
        data = {name: self.cleaned_data.get(name, "") for name in self.FIELDS}
        data["custom"] = self.custom_data()
        return self.drop_locked(data)


class NoteForm(ServiceErrorsMixin, forms.Form):
    body = forms.CharField(
        label=_("备注"), required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": _("记录一次沟通、一个想法……")}),
    )


class SavedViewForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(label=_("视图名称"), max_length=100, required=False)
    shared = forms.BooleanField(label=_("共享给所有人"), required=False)


class BulkActionForm(forms.Form):
    ACTIONS = [
        ("add_tag", _("添加标签")),
        ("remove_tag", _("移除标签")),
        ("change_owner", _("变更负责人")),
    ]
    action = forms.ChoiceField(choices=ACTIONS)
    ids = forms.TypedMultipleChoiceField(coerce=int, required=False)
    tag = forms.CharField(required=False, max_length=50)
    owner = forms.IntegerField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any id may be posted; the service only touches customers in the user's scope.
        raw = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        self.fields["ids"].choices = [(v, v) for v in raw if str(v).isdigit()]  # type: ignore[attr-defined]


# Admin settings ------------------------------------------------------------------------------


class PicklistOptionForm(ServiceErrorsMixin, forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=PicklistKind.choices)
    code = forms.CharField(label=_("代码"), max_length=50, required=False,
                           help_text=_("英文字母、数字或下划线，导入和接口用它识别选项"))
    label_zh = forms.CharField(label=_("中文名"), max_length=100, required=False)
    label_en = forms.CharField(label=_("英文名"), max_length=100, required=False)
    position = forms.IntegerField(label=_("排序"), min_value=0, initial=0, required=False)
    color = forms.CharField(label=_("颜色"), max_length=20, required=False,
                            widget=forms.TextInput(attrs={"type": "color"}))
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def service_kwargs(self) -> dict[str, Any]:
        cd = self.cleaned_data
        return {
            "kind": cd["kind"], "code": cd.get("code", ""), "label_zh": cd.get("label_zh", ""),
            "label_en": cd.get("label_en", ""), "position": cd.get("position") or 0,
            "color": cd.get("color", ""), "is_active": bool(cd.get("is_active")),
        }


def parse_choices(text: str) -> list[dict[str, str]]:
    """One choice per line: `value | 中文名 | English`; only the value is required."""
    choices = []
    for line in (text or "").splitlines():
        parts = [p.strip() for p in line.split("|")]
        if parts and parts[0]:
            choices.append({
                "value": parts[0],
                "label_zh": parts[1] if len(parts) > 1 and parts[1] else parts[0],
                "label_en": parts[2] if len(parts) > 2 else "",
            })
    return choices


def format_choices(choices: list[dict[str, str]]) -> str:
    return "\n".join(
        " | ".join([c.get("value", ""), c.get("label_zh", ""), c.get("label_en", "")]) for c in choices
    )


class CustomFieldDefinitionForm(ServiceErrorsMixin, forms.Form):
    target = forms.ChoiceField(label=_("对象"), choices=CustomFieldTarget.choices)
    key = forms.CharField(label=_("键"), max_length=50, required=False,
                          help_text=_("小写字母、数字和下划线，以字母开头；保存后不要随意修改"))
    label_zh = forms.CharField(label=_("中文名"), max_length=100, required=False)
    label_en = forms.CharField(label=_("英文名"), max_length=100, required=False)
    field_type = forms.ChoiceField(label=_("类型"), choices=CustomFieldType.choices)
    choices = forms.CharField(
        label=_("选项"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("单选/多选字段：每行一个，格式为“值 | 中文名 | English”"),
    )
    required = forms.BooleanField(label=_("必填"), required=False)
    show_in_list = forms.BooleanField(label=_("列表中显示"), required=False)
    position = forms.IntegerField(label=_("排序"), min_value=0, initial=0, required=False)
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    @classmethod
    def initial_for(cls, definition: CustomFieldDefinition) -> dict[str, Any]:
        return {
            "target": definition.target, "key": definition.key, "label_zh": definition.label_zh,
            "label_en": definition.label_en, "field_type": definition.field_type,
            "choices": format_choices(definition.choices), "required": definition.required,
            "show_in_list": definition.show_in_list, "position": definition.position,
            "is_active": definition.is_active,
        }

    def service_kwargs(self) -> dict[str, Any]:
        cd = self.cleaned_data
        return {
            "target": cd["target"], "key": cd.get("key", ""), "label_zh": cd.get("label_zh", ""),
            "label_en": cd.get("label_en", ""), "field_type": cd["field_type"],
            "choices": parse_choices(cd.get("choices", "")), "required": bool(cd.get("required")),
            "show_in_list": bool(cd.get("show_in_list")), "position": cd.get("position") or 0,
            "is_active": bool(cd.get("is_active")),
        }


class TagForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(label=_("名称"), max_length=50, required=False)
    color = forms.CharField(label=_("颜色"), max_length=20, required=False, initial="#1677ff",
                            widget=forms.TextInput(attrs={"type": "color"}))
