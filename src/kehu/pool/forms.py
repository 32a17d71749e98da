from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.accounts.models import Department, User

from .models import CustomerPool

RULE_FIELDS = ["name", "is_default", "is_active", "holding_cap", "daily_claim_limit", "reclaim_cooldown_days",
               "return_no_followup_days", "return_no_won_days", "remind_days_before", "exempt_open_opportunity",
               "exempt_live_contract"]


class ReleaseForm(forms.Form):
    reason = forms.CharField(label=_("退回原因"), max_length=300, widget=forms.Textarea(attrs={"rows": 3}))


class PoolForm(forms.ModelForm):
    """The pool's name, rules and people; the view hands cleaned data to `services.pool_save`."""

    members = forms.ModelMultipleChoiceField(User.objects.filter(is_active=True), required=False, label=_("成员"))
    member_departments = forms.ModelMultipleChoiceField(Department.objects.all(), required=False,
                                                        label=_("成员部门"))
    admins = forms.ModelMultipleChoiceField(User.objects.filter(is_active=True), required=False,
                                            label=_("公海管理员"))

    class Meta:
        model = CustomerPool
        fields = RULE_FIELDS
