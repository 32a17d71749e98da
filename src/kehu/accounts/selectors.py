from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import ApiToken, Department, LoginAttempt, TotpDevice, User, hash_token
from kehu.core.errors import PermissionDenied

LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_PREFIX = "/api/v1/"
# Paths every token may read whatever its scopes: who am I.
ALWAYS_READABLE = frozenset({"me"})


def token_allows(scopes: list[str], *, method: str, path: str) -> bool:
    """Does a token with `scopes` allow `method` on `path`? Reads need "read" or "<resource>:read"
    (or the matching write scope); anything else needs "write" or "<resource>:write". The resource
    is the first path segment after /api/v1/."""
    rest = path.split(API_PREFIX, 1)[1] if API_PREFIX in path else path.lstrip("/")
    resource = rest.split("/", 1)[0]
    granted = set(scopes or [])
    if method.upper() in SAFE_METHODS:
        return bool(resource in ALWAYS_READABLE or granted & {"read", "write", f"{resource}:read",
                                                                f"{resource}:write"})
    return bool(granted & {"write", f"{resource}:write"})


def api_token_active(*, raw: str) -> ApiToken | None:
    token = (
        ApiToken.objects.select_related("user", "user__role", "user__department")
        .filter(key_hash=hash_token(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.is_active or not token.user.is_active:
        return None
    return token


def user_for_api_request(*, raw: str, method: str, path: str) -> User | None:
    """The API's token check: None for an unknown, revoked or expired token (401); PermissionDenied
    (403) when the token is valid but its scopes don't cover this request."""
    token = api_token_active(raw=raw)
    if token is None:
        return None
    if not token_allows(token.scopes, method=method, path=path):
        raise PermissionDenied(_("该 API 令牌的权限范围不允许此操作（令牌范围：%(scopes)s）")
                               % {"scopes": ", ".join(token.scopes) or "-"})
    return user_for_api_token(raw=raw, token=token)


def user_for_api_token(*, raw: str, token: ApiToken | None = None) -> User | None:
    token = token or api_token_active(raw=raw)
    if token is None:
        return None
    now = timezone.now()
    # At most one write a minute per token: a script paging through the API must not turn every
    # read into a write (on SQLite that would queue all API reads behind the one writer lock).
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def department_subtree_ids(*, department: Department) -> QuerySet[Department]:
    return Department.objects.filter(path__startswith=department.path).values_list("id", flat=True)


def users_assignable(*, acting_user: User) -> QuerySet[User]:
    return User.objects.filter(is_active=True).select_related("department").order_by("display_name", "username")


def departments_all() -> QuerySet[Department]:
    """The organisation tree in path order (parents before children), for pickers and filters."""
    return Department.objects.order_by("path")


def api_tokens(*, user: User | None = None) -> QuerySet[ApiToken]:
    """Tokens (newest first), all or one user's; for `kehu token list`."""
    queryset = ApiToken.objects.select_related("user").order_by("-created_at", "-id")
    return queryset.filter(user=user) if user is not None else queryset


def api_tokens_with_prefix(*, prefix: str) -> QuerySet[ApiToken]:
    """Unrevoked tokens whose shown prefix starts with `prefix` (the secret itself is never stored)."""
    return ApiToken.objects.select_related("user").filter(prefix__startswith=prefix, revoked_at__isnull=True)


# Sign-in throttling ------------------------------------------------------------------------------


def normalize_username(username: str | None) -> str:
    """Counting key for a username: case and surrounding spaces don't give an attacker fresh tries."""
    return (username or "").strip().lower()[:150]


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def lock_policy() -> dict[str, Any]:
    return {
        "user_failures": _setting("KEHU_LOGIN_USER_FAILURES", 5),
        "ip_failures": _setting("KEHU_LOGIN_IP_FAILURES", 20),
        "window": dt.timedelta(minutes=_setting("KEHU_LOGIN_WINDOW_MINUTES", 15)),
        "duration": dt.timedelta(minutes=_setting("KEHU_LOGIN_LOCK_MINUTES", 15)),
    }


def _lock_end(times: list[dt.datetime], threshold: int, window: dt.timedelta,
              duration: dt.timedelta) -> dt.datetime | None:
    """`threshold` failures within `window` lock for `duration` after the last of them."""
    end = None
    for j in range(threshold - 1, len(times)):
        if times[j] - times[j - threshold + 1] <= window:
            candidate = times[j] + duration
            end = candidate if end is None or candidate > end else end
    return end


def login_locked_until(*, username: str | None, ip: str | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the lockout on this username or IP ends, or None when sign-in may be tried. Unknown
    usernames are counted exactly like real ones (the answer must not reveal which exist)."""
    now = now or timezone.now()
    policy = lock_policy()
    since = now - policy["window"] - policy["duration"]
    failures = LoginAttempt.objects.filter(succeeded=False, blocked=False, cleared=False, at__gt=since, at__lte=now)
    ends = []
    name = normalize_username(username)
    if name:
        times = sorted(failures.filter(username=name).values_list("at", flat=True))
        ends.append(_lock_end(times, policy["user_failures"], policy["window"], policy["duration"]))
    if ip:
        times = sorted(failures.filter(ip=ip).values_list("at", flat=True))
        ends.append(_lock_end(times, policy["ip_failures"], policy["window"], policy["duration"]))
    latest = max((e for e in ends if e is not None), default=None)
    return latest if latest is not None and latest > now else None


def login_locks(*, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Usernames and IPs locked right now, for the admin page: [{"username"|"ip": …, "until": …}]."""
    now = now or timezone.now()
    policy = lock_policy()
    since = now - policy["window"] - policy["duration"]
    recent = LoginAttempt.objects.filter(succeeded=False, blocked=False, cleared=False, at__gt=since, at__lte=now)
    locks: list[dict[str, Any]] = []
    for name in sorted(set(recent.values_list("username", flat=True))):
        until = login_locked_until(username=name, ip=None, now=now)
        if until:
            locks.append({"username": name, "ip": "", "until": until})
    for ip in sorted({i for i in recent.values_list("ip", flat=True) if i}):
        until = login_locked_until(username=None, ip=ip, now=now)
        if until:
            locks.append({"username": "", "ip": ip, "until": until})
    return locks


# Two-factor --------------------------------------------------------------------------------------


MFA_OK = "ok"
MFA_PENDING = "pending"  # has an authenticator: must type a code before anything else
MFA_ENROL = "enrol"  # role requires two-factor but none is set up: must enrol before anything else


def mfa_state(user: User) -> str:
    if TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists():
        return MFA_PENDING
    if user.role_id and user.role.require_2fa:
        return MFA_ENROL
    return MFA_OK


def totp_device(user: User) -> TotpDevice | None:
    return TotpDevice.objects.filter(user=user).first()


def recovery_codes_left(user: User) -> int:
    return user.recovery_codes.filter(used_at__isnull=True).count()


def users_for_admin() -> QuerySet[User]:
    return User.objects.select_related("role", "department").order_by("-is_active", "username")


def users_with_two_factor() -> QuerySet[TotpDevice]:
    return TotpDevice.objects.filter(confirmed_at__isnull=False).values_list("user_id", flat=True)


def user_record_counts(*, user: User) -> dict[str, int]:
    """What a deactivation would hand over, for the confirmation page (same filters as the handlers)."""
    from django.apps import apps

    counts: dict[str, int] = {}
    if apps.is_installed("kehu.customers"):
        from kehu.customers.models import Customer

        counts["customers"] = Customer.objects.filter(owner=user).count()
    if apps.is_installed("kehu.sales"):
        from kehu.sales.models import Opportunity, StageKind

        counts["opportunities"] = Opportunity.objects.filter(owner=user, stage__kind=StageKind.OPEN).count()
    if apps.is_installed("kehu.leads"):
        from kehu.leads.models import Lead, LeadStatus

        counts["leads"] = Lead.objects.filter(owner=user).exclude(status=LeadStatus.CONVERTED).count()
    if apps.is_installed("kehu.activities"):
        from kehu.activities.models import Task, TaskStatus

        counts["tasks"] = Task.objects.filter(assignee=user, status=TaskStatus.OPEN).count()
    counts["api_tokens"] = ApiToken.objects.filter(user=user, revoked_at__isnull=True).count()
    return counts
