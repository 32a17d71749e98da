"""Sign-in signals: count failed attempts, stamp new sessions for the timeouts and two-factor."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.utils import timezone

from kehu.accounts.backends import client_ip
from kehu.accounts.selectors import MFA_PENDING, mfa_state
from kehu.accounts.services import login_attempt_record

SESSION_LOGIN_AT = "kehu_login_at"
SESSION_SEEN_AT = "kehu_seen_at"
SESSION_MFA = "kehu_mfa"


def stamp_session(session: Any, user: Any) -> str:
    now = timezone.now().timestamp()
    state = mfa_state(user)
    session[SESSION_LOGIN_AT] = now
    session[SESSION_SEEN_AT] = now
    session[SESSION_MFA] = state
    return state


@receiver(user_logged_in, dispatch_uid="kehu_accounts_logged_in")
def on_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    state = stamp_session(request.session, user)
    # A password alone doesn't reset the failure count when a code is still due: otherwise each
    # password sign-in would buy fresh guesses at the code.
    # Only real requests: the test client's force_login() passes a bare request without an address.
    if client_ip(request):
        login_attempt_record(username=user.get_username(), ip=client_ip(request), succeeded=True,
                             clear=state != MFA_PENDING, user=user)


@receiver(user_login_failed, dispatch_uid="kehu_accounts_login_failed")
def on_login_failed(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    username = credentials.get("username") or ""
    blocked = bool(getattr(request, "_kehu_login_blocked", False))
    login_attempt_record(username=username, ip=client_ip(request), succeeded=False, blocked=blocked)
