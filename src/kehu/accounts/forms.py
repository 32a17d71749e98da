from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import forms as auth_forms
from django.utils.translation import gettext_lazy as _

from kehu.accounts.backends import client_ip
from kehu.accounts.selectors import login_locked_until

LOCKED_MESSAGE = _("登录失败次数过多，已暂时锁定，请 %(minutes)s 分钟后再试，或联系管理员解锁")


class LoginForm(auth_forms.AuthenticationForm):
    error_messages = {
        "invalid_login": _("用户名或密码不正确"),
        "inactive": _("该账号已停用"),
        "locked": LOCKED_MESSAGE,
    }

    def clean(self) -> dict[str, Any]:
        # Checked before the password (a locked account's password is not even tried) and worded the
        # same whether or not the username exists.
        from django.utils import timezone

        until = login_locked_until(username=self.cleaned_data.get("username"), ip=client_ip(self.request))
        if until is not None:
            from kehu.accounts.services import login_attempt_record

            login_attempt_record(username=self.cleaned_data.get("username") or "", ip=client_ip(self.request),
                                 succeeded=False, blocked=True)
            minutes = max(1, int((until - timezone.now()).total_seconds() // 60) + 1)
            raise forms.ValidationError(self.error_messages["locked"], code="locked", params={"minutes": minutes})
        return super().clean()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("用户名")
        self.fields["password"].label = _("密码")
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autocapitalize": "none"})


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = _("当前密码")
        self.fields["new_password1"].label = _("新密码")
        self.fields["new_password2"].label = _("确认新密码")


class CodeForm(forms.Form):
    code = forms.CharField(label=_("验证码"), max_length=20, strip=True,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                                         "autofocus": True}))


class DisableTwoFactorForm(forms.Form):
    code = forms.CharField(label=_("验证码"), max_length=20, required=False, strip=True,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))
    password = forms.CharField(label=_("或当前密码"), required=False, strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class TokenCreateForm(forms.Form):
    SCOPE_CHOICES = [("read", _("只读")), ("write", _("读写")), ("custom", _("自定义"))]

    name = forms.CharField(label=_("用途"), max_length=100, required=False)
    scope = forms.ChoiceField(label=_("权限范围"), choices=SCOPE_CHOICES, initial="read")
    custom_scopes = forms.CharField(label=_("自定义范围"), required=False, max_length=500,
                                    help_text=_("逗号分隔，例如 customers:read, leads:write"))
    expires_days = forms.IntegerField(label=_("有效天数"), min_value=1, max_value=3650, required=False, initial=90,
                                      help_text=_("留空表示永不过期"))


class DeactivateForm(forms.Form):
    hand_over_to = forms.ChoiceField(label=_("交接给"), required=False)

    def __init__(self, *args: Any, users: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["hand_over_to"].choices = [
            ("", _("不交接（记录保留在原负责人名下）")),
            ("pool", _("客户退回公海（商机、线索、任务交给部门负责人）")),
            *[(str(u.pk), f"{u} ({u.username})") for u in users],
        ]
