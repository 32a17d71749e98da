"""Forms of the sales pages. Like the customer forms they only render inputs and turn POST data into
the plain dict the services take; the services validate, and their FieldErrors are mapped back onto
these fields (`ServiceErrorsMixin`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.core.errors import ValidationFailed
from kehu.customers.forms import DATE_INPUT, ServiceErrorsMixin
from kehu.sales.models import Opportunity, Stage, StageKind

REQUIRABLE_LABELS = [
    ("amount", _("金额")), ("expected_close_date", _("预计成交日期")), ("next_step", _("下一步")),
    ("description", _("说明")), ("contacts", _("联系人")), ("lines", _("产品")),
]


def _choices(items: Iterable[Any], label: Any = str, blank: bool = True) -> list[tuple[str, str]]:
    out = [("", "—")] if blank else []
    return out + [(str(item.pk), label(item)) for item in items]


class OpportunityForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(label=_("商机名称"), max_length=200, required=False,
                           widget=forms.TextInput(attrs={"data-required": "1"}))
    customer = forms.ChoiceField(label=_("客户"), required=False)
    owner = forms.ChoiceField(label=_("负责人"), required=False)
    pipeline = forms.ChoiceField(label=_("销售流程"), required=False)
    stage = forms.ChoiceField(label=_("阶段"), required=False)
    amount = forms.CharField(label=_("金额"), required=False,
                             help_text=_("可输入 12800、1.28万 或 12k；留空时按产品明细合计"))
    currency = forms.CharField(label=_("币种"), max_length=3, required=False, initial="CNY")
    expected_close_date = forms.CharField(label=_("预计成交日期"), required=False, widget=DATE_INPUT)
    next_step = forms.CharField(label=_("下一步"), max_length=300, required=False)
    lost_reason = forms.ChoiceField(label=_("输单原因"), required=False)
    lost_note = forms.CharField(label=_("输单说明"), max_length=300, required=False)
    description = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    contacts = forms.MultipleChoiceField(label=_("联系人"), required=False, widget=forms.CheckboxSelectMultiple)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, customers: Iterable[Any], users: Iterable[Any], pipelines: Iterable[Any],
                 stages: Iterable[Stage], contacts: Iterable[Any], reasons: Iterable[Any], editing: bool,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].choices = _choices(customers, lambda c: c.name)
        self.fields["customer"].widget.attrs["data-required"] = "1"
        self.fields["owner"].choices = _choices(users, blank=False)  # no owner = nobody in scope sees it
        self.fields["pipeline"].choices = _choices(pipelines, lambda p: p.label, blank=False)
        self.fields["stage"].choices = [("", _("（第一个阶段）"))] + [
            (str(s.pk), f"{s.pipeline.label} · {s.label}" if not editing else s.label) for s in stages]
        self.fields["contacts"].choices = [(str(c.pk), f"{c.name}{' · ' + c.title if c.title else ''}")
                                           for c in contacts]
        self.fields["lost_reason"].choices = _choices(reasons, lambda r: r.label)
        if editing:
            del self.fields["pipeline"]  # the services keep a deal in its pipeline

    @staticmethod
    def initial_for(opportunity: Opportunity) -> dict[str, Any]:
        return {
            "name": opportunity.name, "customer": opportunity.customer_id, "owner": opportunity.owner_id,
            "stage": opportunity.stage_id, "amount": f"{opportunity.amount:.2f}", "currency": opportunity.currency,
            "expected_close_date": opportunity.expected_close_date.isoformat()
            if opportunity.expected_close_date else "",
            "next_step": opportunity.next_step, "description": opportunity.description,
            "lost_reason": opportunity.lost_reason_id, "lost_note": opportunity.lost_note,
            "contacts": [str(pk) for pk in opportunity.contact_links.values_list("contact_id", flat=True)],
            "version": opportunity.version,
        }

    def service_data(self, lines: list[dict[str, Any]] | None) -> dict[str, Any]:
        data = {key: self.cleaned_data.get(key) for key in (
            "name", "customer", "owner", "stage", "amount", "currency", "expected_close_date", "next_step",
            "description", "lost_reason", "lost_note", "contacts")}
        if "pipeline" in self.fields:
            data["pipeline"] = self.cleaned_data.get("pipeline")
        if lines is not None:
            data["lines"] = lines
        return data

    def add_service_errors(self, exc: ValidationFailed) -> None:
        for error in exc.errors:
            if error.field.startswith("lines."):
                self.add_error(None, str(error.message))  # shown above the form; the line rows are plain
            else:
                target = error.field if error.field in self.fields else None
                self.add_error(target, str(error.message))


class LineForm(forms.Form):
    product = forms.ChoiceField(label=_("产品"), required=False)
    quantity = forms.CharField(label=_("数量"), required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    unit_price = forms.CharField(label=_("单价"), required=False,
                                 widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    discount_percent = forms.CharField(label=_("折扣（%）"), required=False,
                                       widget=forms.TextInput(attrs={"inputmode": "decimal"}))

    def __init__(self, *args: Any, products: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = products or [("", "—")]


LineFormSet = forms.formset_factory(LineForm, extra=2)


def line_formset(data: Any = None, *, products: Iterable[Any], opportunity: Opportunity | None = None) -> Any:
    choices = [("", "—")] + [(str(p.pk), f"{p.code} {p.name}") for p in products]
    initial = None
    if opportunity is not None and data is None:
        initial = [{"product": str(line.product_id), "quantity": f"{line.quantity:g}",
                    "unit_price": f"{line.unit_price:.2f}", "discount_percent": f"{line.discount_percent:g}"}
                   for line in opportunity.lines.all()]
    return LineFormSet(data, initial=initial, prefix="lines", form_kwargs={"products": choices})


def lines_data(formset: Any) -> list[dict[str, Any]]:
    """The rows with a product, in order (blank rows are the spare ones)."""
    rows = []
    for form in formset.forms:
        form.is_valid()
        product = form.cleaned_data.get("product")
        if product:
            rows.append({"product": product, "quantity": form.cleaned_data.get("quantity"),
                         "unit_price": form.cleaned_data.get("unit_price") or None,
                         "discount_percent": form.cleaned_data.get("discount_percent") or 0})
    return rows


class PipelineForm(ServiceErrorsMixin, forms.Form):
    name_zh = forms.CharField(label=_("中文名"), max_length=100, required=False)
    name_en = forms.CharField(label=_("英文名"), max_length=100, required=False)
    position = forms.IntegerField(label=_("排序"), required=False, min_value=0)
    is_default = forms.BooleanField(label=_("默认"), required=False)
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)


class StageForm(ServiceErrorsMixin, forms.Form):
    name_zh = forms.CharField(label=_("中文名"), max_length=100, required=False)
    name_en = forms.CharField(label=_("英文名"), max_length=100, required=False)
    probability = forms.IntegerField(label=_("赢单概率（%）"), required=False)
    kind = forms.ChoiceField(label=_("类型"), choices=StageKind.choices, initial=StageKind.OPEN)
    color = forms.CharField(label=_("颜色"), required=False, initial="#1677ff",
                            widget=forms.TextInput(attrs={"type": "color"}))
    position = forms.IntegerField(label=_("排序"), required=False, min_value=0)
    required_fields = forms.MultipleChoiceField(label=_("进入此阶段必填的字段"), required=False,
                                                choices=REQUIRABLE_LABELS, widget=forms.CheckboxSelectMultiple)
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if data.get("position") is None:
            data.pop("position", None)  # a new stage goes last
        return data


class LostReasonForm(ServiceErrorsMixin, forms.Form):
    label_zh = forms.CharField(label=_("中文名"), max_length=100, required=False)
    label_en = forms.CharField(label=_("英文名"), max_length=100, required=False)
    position = forms.IntegerField(label=_("排序"), required=False, min_value=0)
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)


class ProductForm(ServiceErrorsMixin, forms.Form):
    code = forms.CharField(label=_("编号"), max_length=50, required=False)
    name = forms.CharField(label=_("名称"), max_length=200, required=False)
    category = forms.ChoiceField(label=_("分类"), required=False)
    unit = forms.CharField(label=_("单位"), max_length=20, required=False)
    list_price = forms.CharField(label=_("标准价"), required=False)
    description = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    is_active = forms.BooleanField(label=_("在售"), required=False, initial=True)

    def __init__(self, *args: Any, categories: Iterable[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = _choices(categories, lambda c: c.name)
