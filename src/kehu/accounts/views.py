"""Sign-in (password, then a two-factor code when set up), sign-out, password change, the user's
own security page (two-factor, API tokens) and the admins' user page (unlock, deactivate)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.accounts import selectors, services
from kehu.accounts.backends import client_ip
from kehu.accounts.forms import (
    CodeForm,
    DeactivateForm,
    DisableTwoFactorForm,
    LoginForm,
    PasswordChangeForm,
    TokenCreateForm,
)
from kehu.accounts.models import User
from kehu.accounts.receivers import SESSION_MFA
from kehu.core.errors import KehuError, NotFound, ValidationFailed


def _errors(exc: KehuError) -> str:
    if isinstance(exc, ValidationFailed):
        return "；".join(str(e.message) for e in exc.errors)
    return str(exc.message)


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return fallback


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_kehu_admin:  # type: ignore[union-attr]
            raise DjangoPermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapped)


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: LoginForm) -> HttpResponse:
        response = super().form_valid(form)  # login(): the receiver stamps the session's two-factor state
        state = self.request.session.get(SESSION_MFA)
        if state == selectors.MFA_PENDING:
            return redirect(self._verify_url())
        if state == selectors.MFA_ENROL:
            messages.warning(self.request, _("你的角色要求两步验证，请先完成设置"))
            return redirect("accounts:two_factor_setup")
        return response

    def _verify_url(self) -> str:
        from django.utils.http import urlencode

        target = self.get_redirect_url()
        url = reverse("accounts:two_factor_verify")
        return f"{url}?{urlencode({'next': target})}" if target else url


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change.html"
    form_class = PasswordChangeForm
    success_url = reverse_lazy("customers:list")

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, _("密码已修改"))
        return response


# Two-factor -------------------------------------------------------------------------------------


@login_required
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The second step of signing in: a code from the app or a recovery code."""
    user = request.user
    if request.session.get(SESSION_MFA) != selectors.MFA_PENDING:
        return redirect(_safe_next(request, reverse("customers:list")))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if selectors.login_locked_until(username=user.username, ip=client_ip(request)) is not None:
            logout(request)
            messages.error(request, _("验证失败次数过多，已暂时锁定，请稍后再试，或联系管理员解锁"))
            return redirect("accounts:login")
        if services.totp_check(user=user, code=form.cleaned_data["code"], ip=client_ip(request)):  # type: ignore[arg-type]
            request.session.cycle_key()
            request.session[SESSION_MFA] = selectors.MFA_OK
            return redirect(_safe_next(request, reverse("customers:list")))
        form.add_error("code", _("验证码不正确"))
    return render(request, "accounts/two_factor_verify.html",
                  {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")})


@login_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """The user's own two-factor page: start (new secret shown once), confirm with a code, then the
    recovery codes (shown once); when on: regenerate recovery codes or turn it off."""
    return _two_factor_page(request)


def _two_factor_page(request: HttpRequest, new_codes: list[str] | None = None) -> HttpResponse:
    """Recovery codes are rendered straight into the response that created them, never stored."""
    user: User = request.user  # type: ignore[assignment]
    device = selectors.totp_device(user)
    enabled = device is not None and device.confirmed_at is not None
    context: dict[str, Any] = {"enabled": enabled, "form": CodeForm(), "disable_form": DisableTwoFactorForm(),
                               "required": bool(user.role_id and user.role.require_2fa),
                               "new_codes": new_codes}
    if enabled:
        context["codes_left"] = selectors.recovery_codes_left(user)
    elif device is not None:
        totp = services.totp_for(device, user)
        context.update({"secret": device.secret, "uri": totp.provisioning_uri()})
    return render(request, "accounts/two_factor.html", context)


@login_required
@require_POST
def two_factor_start(request: HttpRequest) -> HttpResponse:
    try:
        services.totp_enrol_start(acting_user=request.user)  # type: ignore[arg-type]
    except KehuError as exc:
        messages.error(request, _errors(exc))
    return redirect("accounts:two_factor_setup")


@login_required
@require_POST
def two_factor_confirm(request: HttpRequest) -> HttpResponse:
    form = CodeForm(request.POST)
    code = form.data.get("code", "")
    try:
        codes = services.totp_enrol_confirm(acting_user=request.user, code=code)  # type: ignore[arg-type]
    except KehuError as exc:
        messages.error(request, _errors(exc))
        return redirect("accounts:two_factor_setup")
    request.session[SESSION_MFA] = selectors.MFA_OK
    messages.success(request, _("两步验证已启用"))
    return _two_factor_page(request, new_codes=codes)


@login_required
@require_POST
def two_factor_recovery_codes(request: HttpRequest) -> HttpResponse:
    try:
        codes = services.recovery_codes_regenerate(acting_user=request.user,  # type: ignore[arg-type]
                                                   code=request.POST.get("code", ""))
    except KehuError as exc:
        messages.error(request, _errors(exc))
        return redirect("accounts:two_factor_setup")
    messages.success(request, _("已生成新的恢复码，旧的恢复码已失效"))
    return _two_factor_page(request, new_codes=codes)


@login_required
@require_POST
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    try:
        services.totp_disable(acting_user=request.user,  # type: ignore[arg-type]
                              code=request.POST.get("code", ""), password=request.POST.get("password", ""))
    except KehuError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("两步验证已关闭"))
    return redirect("accounts:two_factor_setup")


# API tokens -------------------------------------------------------------------------------------


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    """The user's own API tokens: create (the secret shown once, right after) and revoke."""
    user: User = request.user  # type: ignore[assignment]
    form = TokenCreateForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        scopes = data["custom_scopes"] if data["scope"] == "custom" else data["scope"]
        days = data["expires_days"]
        try:
            token, secret = services.api_token_create(
                user=user, acting_user=user, name=data["name"], scopes=scopes,
                expires_in=dt.timedelta(days=days) if days else None)
        except KehuError as exc:
            form.add_error("custom_scopes" if data["scope"] == "custom" else None, _errors(exc))
        else:  # the secret goes into this one response only; it is stored nowhere
            new_token = {"token": token, "secret": secret}
            form = TokenCreateForm()
    return render(request, "accounts/tokens.html", {
        "form": form, "tokens": selectors.api_tokens(user=user), "new_token": new_token})


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        token = services.api_token_revoke_own(acting_user=request.user, token_id=token_id)  # type: ignore[arg-type]
    except NotFound as exc:  # someone else's token: 404, like any record out of reach
        raise Http404(str(exc.message)) from exc
    except KehuError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("令牌 %(prefix)s… 已吊销") % {"prefix": token.prefix})
    return redirect(_safe_next(request, reverse("accounts:tokens")))


# Admin: users, lockouts, leaving employees -------------------------------------------------------------


@admin_required
def users(request: HttpRequest) -> HttpResponse:
    people = list(selectors.users_for_admin())
    with_2fa = set(selectors.users_with_two_factor())
    return render(request, "accounts/users.html", {
        "people": people, "with_2fa": with_2fa, "locks": selectors.login_locks()})


@admin_required
@require_POST
def unlock(request: HttpRequest) -> HttpResponse:
    try:
        services.login_unlock(acting_user=request.user, username=request.POST.get("username", ""),  # type: ignore[arg-type]
                              ip=request.POST.get("ip", ""))
    except KehuError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("已解除锁定"))
    return redirect("accounts:users")


@admin_required
@require_POST
def two_factor_reset(request: HttpRequest, user_id: int) -> HttpResponse:
    try:
        services.totp_reset(acting_user=request.user, user_id=user_id)  # type: ignore[arg-type]
    except KehuError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("已重置该用户的两步验证"))
    return redirect("accounts:users")


@admin_required
def user_deactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    person = get_object_or_404(User, pk=user_id)
    others = selectors.users_assignable(acting_user=request.user).exclude(pk=person.pk)  # type: ignore[arg-type]
    form = DeactivateForm(request.POST or None, users=others)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.user_deactivate(acting_user=request.user, user_id=person.pk,  # type: ignore[arg-type]
                                              hand_over_to=form.cleaned_data["hand_over_to"] or None)
        except KehuError as exc:
            form.add_error(None, _errors(exc))
        else:
            skipped = sum(v for k, v in result.items() if k.endswith("_skipped"))
            messages.success(request, _(
                "已停用 %(name)s：交接客户 %(customers)s 个、商机 %(opportunities)s 个、线索 %(leads)s 条、"
                "任务 %(tasks)s 个，结束会话 %(sessions)s 个，吊销令牌 %(tokens)s 个") % {
                    "name": person, "customers": result.get("customers", 0),
                    "opportunities": result.get("opportunities", 0), "leads": result.get("leads", 0),
                    "tasks": result.get("tasks", 0), "sessions": result["sessions"], "tokens": result["api_tokens"]})
            if skipped:
                messages.warning(request, _("%(count)s 条记录未能交接（数据不完整），仍在原负责人名下")
                                 % {"count": skipped})
            return redirect("accounts:users")
    return render(request, "accounts/user_deactivate.html", {
        "person": person, "form": form, "counts": selectors.user_record_counts(user=person)})


@admin_required
@require_POST
def user_reactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    try:
        services.user_reactivate(acting_user=request.user, user_id=user_id)  # type: ignore[arg-type]
    except KehuError as exc:
        messages.error(request, _errors(exc))
    return redirect("accounts:users")
