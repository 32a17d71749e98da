"""Forms of the contract pages. Like the sales forms they only render inputs and turn POST data into
the plain dict the services take; the services validate, and their FieldErrors are mapped back onto
these fields (`ServiceErrorsMixin`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.customers.forms import DATE_INPUT, ServiceErrorsMixin

from .models import ContractStatus, NumberDatePart, NumberReset, PaymentMethod


def _choices(items: Iterable[Any], blank: bool = True) -> list[tuple[str, str]]:
    return ([("", "—")] if blank else []) + [(str(item.pk), str(item)) for item in items]


class ContractForm(ServiceErrorsMixin, forms.Form):
    number = forms.CharField(label=_("合同编号"), max_length=50, required=False,
                             help_text=_("留空时按编号规则自动生成"))
    title = forms.CharField(label=_("合同名称"), max_length=200, required=False,
                            widget=forms.TextInput(attrs={"data-required": "1"}))
    customer = forms.ChoiceField(label=_("客户"), required=False)
    opportunity = forms.ChoiceField(label=_("商机"), required=False)
    owner = forms.ChoiceField(label=_("负责人"), required=False)
    amount = forms.CharField(label=_("合同金额"), required=False, help_text=_("可输入 12800、1.28万 或 12k"),
                             widget=forms.TextInput(attrs={"data-required": "1"}))
    currency = forms.CharField(label=_("币种"), max_length=3, required=False, initial="CNY")
    signed_on = forms.CharField(label=_("签约日期"), required=False, widget=DATE_INPUT)
    starts_on = forms.CharField(label=_("开始日期"), required=False, widget=DATE_INPUT)
    ends_on = forms.CharField(label=_("结束日期"), required=False, widget=DATE_INPUT)
    status = forms.ChoiceField(label=_("状态"), required=False, choices=ContractStatus.choices)
    notes = forms.CharField(label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, customers: Iterable[Any] = (), opportunities: Iterable[Any] = (),
                 users: Iterable[Any] = (), editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].choices = _choices(customers)
        self.fields["opportunity"].choices = _choices(opportunities)
        self.fields["owner"].choices = _choices(users)
        if editing:
            del self.fields["status"]  # changed with the status buttons, audited on its own

    def data_for_service(self) -> dict[str, Any]:
        return {name: value for name, value in self.cleaned_data.items() if name in self.fields}


class PaymentForm(ServiceErrorsMixin, forms.Form):
    received_on = forms.CharField(label=_("回款日期"), required=False, widget=DATE_INPUT)
    amount = forms.CharField(label=_("回款金额"), required=False)
    method = forms.ChoiceField(label=_("回款方式"), choices=PaymentMethod.choices, required=False)
    plan_item = forms.ChoiceField(label=_("对应期次"), required=False,
                                  help_text=_("不选时自动核销最早未付清的期次"))
    reference = forms.CharField(label=_("流水号/备注"), max_length=200, required=False)

    def __init__(self, *args: Any, plan_items: Iterable[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["plan_item"].choices = [("", _("自动"))] + [
            (str(item.pk), f"{item.sequence}. {item.due_date:%Y-%m-%d} ¥{item.amount:,.2f}") for item in plan_items]


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("附件"), required=False)


class NumberRuleForm(ServiceErrorsMixin, forms.Form):
    prefix = forms.CharField(label=_("前缀"), max_length=20, required=False)
    date_part = forms.ChoiceField(label=_("日期部分"), choices=NumberDatePart.choices)
    sequence_width = forms.IntegerField(label=_("流水号位数"), min_value=1, max_value=10)
    reset = forms.ChoiceField(label=_("流水号重置"), choices=NumberReset.choices)
