"""Writes for people and organisation: users, API tokens, sign-in attempts, two-factor devices,
and deactivating a leaving employee."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable
from typing import Any

import pyotp
from django.contrib.auth import password_validation
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import (
    ApiToken,
    DataScope,
    Department,
    LoginAttempt,
    RecoveryCode,
    Role,
    TotpDevice,
    User,
    hash_token,
)
from kehu.core import audit
from kehu.core.errors import ErrorCode, FieldError, NotFound, PermissionDenied, ValidationFailed


def _fail(field: str, code: ErrorCode, message: str) -> ValidationFailed:
    return ValidationFailed([FieldError(field=field, code=code, message=message)])


def _require_admin(user: Any) -> None:
    if not getattr(user, "is_kehu_admin", False):
        raise PermissionDenied(_("只有管理员可以执行此操作"))


def password_check(*, password: str, user: User | None = None, field: str = "password") -> None:
    """The password policy (settings.AUTH_PASSWORD_VALIDATORS: at least 8 characters, not a common
    password, not all digits, not like the user's name); raises ValidationFailed listing every rule broken."""
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise ValidationFailed([FieldError(field=field, code=ErrorCode.INVALID, message=str(m))
                                for m in exc.messages]) from exc

DEFAULT_ROLES: list[tuple[str, str, str, str, bool]] = [
    ("admin", "管理员", "Administrator", DataScope.ALL, True),
    ("manager", "销售经理", "Sales manager", DataScope.DEPARTMENT, False),
    ("sales", "销售", "Sales rep", DataScope.OWN, False),
    ("service", "客服", "Service agent", DataScope.DEPARTMENT, False),
    ("marketing", "市场", "Marketing", DataScope.ALL, False),
]


def roles_ensure_defaults() -> dict[str, Role]:
    roles = {}
    for code, zh, en, scope, is_admin in DEFAULT_ROLES:
        role, _ = Role.objects.get_or_create(
            code=code, defaults={"name_zh": zh, "name_en": en, "data_scope": scope, "is_admin": is_admin}
        )
        roles[code] = role
    return roles


@transaction.atomic
def department_create(*, name: str, parent: Department | None = None, manager: User | None = None) -> Department:
    return Department.objects.create(name=name, parent=parent, manager=manager)


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str | None,
    display_name: str = "",
    email: str = "",
    role: Role | None = None,
    department: Department | None = None,
    is_superuser: bool = False,
) -> User:
    user = User(
        username=username,
        display_name=display_name,
        email=email,
        role=role,
        department=department,
        is_superuser=is_superuser,
        is_staff=is_superuser,
    )
    if password:
        password_check(password=password, user=user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


@transaction.atomic
def user_set_password(*, acting_user: User, user_id: int, password: str) -> User:
    """An admin sets someone's password (or a user their own), under the password policy."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound(_("用户不存在"))
    if user.pk != acting_user.pk:
        _require_admin(acting_user)
    password_check(password=password, user=user)
    user.set_password(password)
    user.save(update_fields=["password"])
    audit.record_event(actor=acting_user, action="update", obj=user, customer_id=None,
                       changes=[{"field": "password", "old": None, "new": "***"}])
    return user


# API tokens ------------------------------------------------------------------------------------

SCOPE_PRESETS: dict[str, list[str]] = {"read": ["read"], "write": ["read", "write"], "read-write": ["read", "write"]}
_SCOPE_RE = re.compile(r"^(read|write|[a-z0-9][a-z0-9-]*:(read|write))$")


def token_scopes_clean(value: str | Iterable[str] | None) -> list[str]:
    """"read" / "write" (= read-write) presets, or a list / comma-separated string of scopes such as
    "customers:read,leads:write". Raises ValidationFailed for anything else."""
    if value is None or value == "":
        return ["read", "write"]
    if isinstance(value, str):
        if value.strip().lower() in SCOPE_PRESETS:
            return list(SCOPE_PRESETS[value.strip().lower()])
        value = value.split(",")
    scopes: list[str] = []
    for item in value:
        scope = str(item).strip().lower()
        if not scope:
            continue
        if not _SCOPE_RE.match(scope):
            raise _fail("scopes", ErrorCode.INVALID, _("无效的权限范围：%(scope)s") % {"scope": scope})
        if scope not in scopes:
            scopes.append(scope)
    if not scopes:
        raise _fail("scopes", ErrorCode.REQUIRED, _("请至少选择一个权限范围"))
    return scopes


@transaction.atomic
def api_token_create(
    *, user: User, name: str = "", expires_in: dt.timedelta | None = None,
    scopes: str | Iterable[str] | None = None, acting_user: User | None = None,
) -> tuple[ApiToken, str]:
    """Returns the token row and the secret; the secret is not stored and can't be shown again.
    `scopes` defaults to read-write (see `token_scopes_clean`)."""
    if acting_user is not None and acting_user.pk != user.pk:
        _require_admin(acting_user)
    if not user.is_active:
        raise _fail("user", ErrorCode.INVALID, _("用户已停用"))
    if expires_in is not None and expires_in <= dt.timedelta(0) and acting_user is not None:
        raise _fail("expires_days", ErrorCode.INVALID, _("有效天数必须是正整数"))
    cleaned = token_scopes_clean(scopes)
    secret = "kehu_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=(name or "").strip()[:100],
        prefix=secret[:12],
        key_hash=hash_token(secret),
        expires_at=timezone.now() + expires_in if expires_in else None,
        scopes=cleaned,
    )
    if acting_user is not None:
        audit.record_event(actor=acting_user, action="create", obj=token, customer_id=None,
                           changes=[{"field": "scopes", "old": None, "new": cleaned}])
    return token, secret


@transaction.atomic
def api_token_revoke(*, token: ApiToken, acting_user: User | None = None) -> None:
    if acting_user is not None and acting_user.pk != token.user_id:
        _require_admin(acting_user)
    changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if changed and acting_user is not None:
        audit.record_event(actor=acting_user, action="update", obj=token, customer_id=None,
                           changes=[{"field": "revoked_at", "old": None, "new": "revoked"}])


@transaction.atomic
def api_token_revoke_own(*, acting_user: User, token_id: int) -> ApiToken:
    """The token page's revoke button: a user's own token (admins: anyone's)."""
    token = ApiToken.objects.filter(pk=token_id).first()
    if token is None or (token.user_id != acting_user.pk and not acting_user.is_kehu_admin):
        raise NotFound(_("令牌不存在"))
    api_token_revoke(token=token, acting_user=acting_user)
    token.refresh_from_db()
    return token


# Sign-in attempts and lockout --------------------------------------------------------------------


def login_attempt_record(*, username: str, ip: str | None, succeeded: bool, kind: str = LoginAttempt.Kind.PASSWORD,
                         blocked: bool = False, clear: bool = False, user: User | None = None) -> LoginAttempt:
    """Insert one attempt. `clear` (a completed sign-in) resets the username's failure count."""
    from kehu.accounts.selectors import normalize_username

    name = normalize_username(username)
    attempt = LoginAttempt.objects.create(username=name, ip=ip or None, at=timezone.now(), kind=kind,
                                          succeeded=succeeded, blocked=blocked)
    if clear:
        LoginAttempt.objects.filter(username=name, succeeded=False, cleared=False).update(cleared=True)
    # Password sign-ins are audited by kehu.core.audit's auth-signal receivers; the code step has no
    # Django signal, so it is audited here.
    if kind == LoginAttempt.Kind.TOTP:
        audit.record_user_event(action="login" if succeeded else "login_failed", user=user,
                                username=name, actor=user if succeeded else None, ip=ip,
                                changes=[{"field": "kind", "old": None, "new": kind}])
    return attempt


@transaction.atomic
def login_unlock(*, acting_user: User, username: str = "", ip: str = "") -> int:
    """An admin lifts a lockout for a username and/or an IP address. The attempts stay (marked cleared)."""
    from kehu.accounts.selectors import normalize_username

    _require_admin(acting_user)
    if not username and not ip:
        raise _fail("username", ErrorCode.REQUIRED, _("请填写用户名或 IP"))
    cleared = 0
    if username:
        cleared += LoginAttempt.objects.filter(username=normalize_username(username), succeeded=False,
                                               cleared=False).update(cleared=True)
    if ip:
        cleared += LoginAttempt.objects.filter(ip=ip, succeeded=False, cleared=False).update(cleared=True)
    locked_user = User.objects.filter(username__iexact=username.strip()).first() if username else None
    audit.record_user_event(action="update", user=locked_user, username=username or ip, actor=acting_user, changes=[
        {"field": "login_lock", "old": "locked", "new": "unlocked"},
        {"field": "ip", "old": None, "new": ip or None},
        {"field": "cleared_attempts", "old": None, "new": cleared},
    ])
    return cleared


def security_cleanup(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Nightly: delete expired sessions (Django's clearsessions) and sign-in attempts older than
    KEHU_LOGIN_ATTEMPT_DAYS (default 90; far beyond any lock window)."""
    from django.conf import settings

    now = now or timezone.now()
    days = int(getattr(settings, "KEHU_LOGIN_ATTEMPT_DAYS", 90))
    sessions, _detail = Session.objects.filter(expire_date__lt=now).delete()
    attempts, _detail = LoginAttempt.objects.filter(at__lt=now - dt.timedelta(days=days)).delete()
    return {"sessions": sessions, "login_attempts": attempts}


# Two-factor (TOTP) ---------------------------------------------------------------------------------

RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper without doubt


def normalize_recovery_code(code: str) -> str:
    return re.sub(r"[\s-]", "", (code or "").strip().lower())


def _new_recovery_codes(user: User) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = []
    for _i in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _j in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    RecoveryCode.objects.bulk_create([RecoveryCode(user=user, code_hash=hash_token(normalize_recovery_code(c)))
                                      for c in codes])
    return codes


def totp_for(device: TotpDevice, user: User) -> pyotp.TOTP:
    return pyotp.TOTP(device.secret, name=user.username, issuer="Kehu")


def _totp_step(device: TotpDevice, code: str, now: dt.datetime) -> int | None:
    """The time step `code` belongs to (now ± 30 s for clock drift), or None; a step at or before the
    last one used is refused, so a code read over someone's shoulder can't be replayed."""
    code = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(device.secret)
    current = totp.timecode(now)
    for step in (current, current - 1, current + 1):
        if device.last_step is not None and step <= device.last_step:
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


@transaction.atomic
def totp_enrol_start(*, acting_user: User) -> TotpDevice:
    """A new secret for the user's authenticator app (not active until `totp_enrol_confirm`)."""
    device = TotpDevice.objects.select_for_update().filter(user=acting_user).first()
    if device is not None and device.confirmed_at is not None:
        raise _fail("code", ErrorCode.INVALID, _("两步验证已启用"))
    if device is None:
        device = TotpDevice(user=acting_user)
    device.secret = pyotp.random_base32()
    device.created_at = timezone.now()
    device.last_step = None
    device.save()
    return device


@transaction.atomic
def totp_enrol_confirm(*, acting_user: User, code: str, now: dt.datetime | None = None) -> list[str]:
    """The user typed a code from the app: two-factor is on. Returns the 10 recovery codes (shown once)."""
    now = now or timezone.now()
    device = TotpDevice.objects.select_for_update().filter(user=acting_user).first()
    if device is None:
        raise _fail("code", ErrorCode.INVALID, _("请先开始设置两步验证"))
    if device.confirmed_at is not None:
        raise _fail("code", ErrorCode.INVALID, _("两步验证已启用"))
    step = _totp_step(device, code, now)
    if step is None:
        raise _fail("code", ErrorCode.INVALID, _("验证码不正确，请核对手机时间后重试"))
    device.confirmed_at = now
    device.last_step = step
    device.save(update_fields=["confirmed_at", "last_step"])
    codes = _new_recovery_codes(acting_user)
    audit.record_event(actor=acting_user, action="update", obj=acting_user, customer_id=None,
                       changes=[{"field": "two_factor", "old": False, "new": True}])
    return codes


def totp_enabled(user: User) -> bool:
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


@transaction.atomic
def totp_check(*, user: User, code: str, ip: str | None = None, now: dt.datetime | None = None) -> bool:
    """The second sign-in step: a code from the app or an unused recovery code. Every try is recorded
    as a LoginAttempt, so wrong codes count towards the username's lockout like wrong passwords."""
    now = now or timezone.now()
    device = TotpDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
    ok = False
    if device is not None:
        step = _totp_step(device, code, now)
        if step is not None:
            device.last_step = step
            device.save(update_fields=["last_step"])
            ok = True
        else:
            normalized = normalize_recovery_code(code)
            if len(normalized) == 10:
                ok = bool(RecoveryCode.objects.filter(user=user, code_hash=hash_token(normalized),
                                                      used_at__isnull=True).update(used_at=now))
    login_attempt_record(username=user.username, ip=ip, succeeded=ok, kind=LoginAttempt.Kind.TOTP, clear=ok,
                         user=user)
    return ok


@transaction.atomic
def recovery_codes_regenerate(*, acting_user: User, code: str) -> list[str]:
    """New recovery codes (the old ones stop working); needs a current code from the app."""
    device = TotpDevice.objects.select_for_update().filter(user=acting_user, confirmed_at__isnull=False).first()
    if device is None:
        raise _fail("code", ErrorCode.INVALID, _("两步验证未启用"))
    step = _totp_step(device, code, timezone.now())
    if step is None:
        raise _fail("code", ErrorCode.INVALID, _("验证码不正确"))
    device.last_step = step
    device.save(update_fields=["last_step"])
    return _new_recovery_codes(acting_user)


@transaction.atomic
def totp_disable(*, acting_user: User, code: str = "", password: str = "") -> None:
    """Turn two-factor off for oneself, proving it with a current code or the password. Refused when
    the user's role requires two-factor."""
    device = TotpDevice.objects.select_for_update().filter(user=acting_user).first()
    if device is None or device.confirmed_at is None:
        raise _fail("code", ErrorCode.INVALID, _("两步验证未启用"))
    if acting_user.role_id and acting_user.role.require_2fa:
        raise PermissionDenied(_("你的角色要求两步验证，不能关闭"))
    proven = bool(password) and acting_user.check_password(password)
    if not proven and code:
        proven = _totp_step(device, code, timezone.now()) is not None
    if not proven:
        raise _fail("code", ErrorCode.INVALID, _("验证码或密码不正确"))
    _totp_remove(acting_user)
    audit.record_event(actor=acting_user, action="update", obj=acting_user, customer_id=None,
                       changes=[{"field": "two_factor", "old": True, "new": False}])


def _totp_remove(user: User) -> None:
    TotpDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()


@transaction.atomic
def totp_reset(*, acting_user: User, user_id: int) -> None:
    """An admin removes someone's two-factor (phone and recovery codes lost); they enrol again."""
    _require_admin(acting_user)
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound(_("用户不存在"))
    _totp_remove(user)
    audit.record_event(actor=acting_user, action="update", obj=user, customer_id=None,
                       changes=[{"field": "two_factor", "old": True, "new": False}])


# Leaving employees -------------------------------------------------------------------------------


def sessions_end(*, user: User) -> int:
    """Delete every database session signed in as `user` (the next request of any of them is anonymous)."""
    ended = 0
    user_pk = str(user.pk)
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get("_auth_user_id") == user_pk:
            session.delete()
            ended += 1
    return ended


@transaction.atomic
def user_deactivate(*, acting_user: User, user_id: int, hand_over_to: User | int | str | None = None) -> dict[str, Any]:
    """A leaving employee, in one transaction: their records go to `hand_over_to` (a user or user id),
    or their customers back to the pool with `"pool"` (open deals, leads and tasks then go to their
    department's manager, else to the acting admin); every session ends; every API token is revoked;
    the account is deactivated. Returns counts per record kind (see kehu.accounts.handover)."""
    from kehu.accounts import handover

    _require_admin(acting_user)
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None:
        raise NotFound(_("用户不存在"))
    if user.pk == acting_user.pk:
        raise _fail("user_id", ErrorCode.INVALID, _("不能停用自己的账号"))
    target: User | None = None
    to_pool = hand_over_to == "pool"
    if hand_over_to not in (None, "", "pool"):
        target_id = hand_over_to.pk if isinstance(hand_over_to, User) else int(hand_over_to)
        target = User.objects.select_related("department").filter(pk=target_id, is_active=True).first()
        if target is None or target.pk == user.pk:
            raise _fail("hand_over_to", ErrorCode.INVALID, _("接收人不存在、已停用或就是离职员工本人"))
    result: dict[str, Any] = {}
    if target is not None or to_pool:
        result = handover.hand_over(acting_user=acting_user, user=user, target=target, to_pool=to_pool)
    now = timezone.now()
    tokens = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
    was_active = user.is_active
    User.objects.filter(pk=user.pk).update(is_active=False)
    user.is_active = False
    sessions = sessions_end(user=user)
    audit.record_event(actor=acting_user, action="update", obj=user, customer_id=None, changes=[
        {"field": "is_active", "old": was_active, "new": False},
        {"field": "hand_over_to", "old": None, "new": "pool" if to_pool else audit.audit_value(target)},
        {"field": "api_tokens_revoked", "old": None, "new": tokens},
        {"field": "sessions_ended", "old": None, "new": sessions},
        *[{"field": f"handed_over_{kind}", "old": None, "new": count} for kind, count in result.items()],
    ])
    return {**result, "api_tokens": tokens, "sessions": sessions}


@transaction.atomic
def user_reactivate(*, acting_user: User, user_id: int) -> User:
    _require_admin(acting_user)
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound(_("用户不存在"))
    if not user.is_active:
        User.objects.filter(pk=user.pk).update(is_active=True)
        user.is_active = True
        audit.record_event(actor=acting_user, action="update", obj=user, customer_id=None,
                           changes=[{"field": "is_active", "old": False, "new": True}])
    return user
