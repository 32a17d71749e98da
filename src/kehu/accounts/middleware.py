"""Session security, on every request of a signed-in session:

1. Idle timeout (KEHU_SESSION_IDLE_MINUTES, default 30) and absolute timeout (KEHU_SESSION_MAX_HOURS,
   default 12): past either, the session is ended with a message and the request goes on anonymous
   (pages redirect to the login page, the API answers 401).
2. Two-factor: a session that still owes a code (or, for a role that requires two-factor, an
   enrolment) reaches only the code/enrolment pages, logout and static files; other pages redirect
   there and the API treats the session as anonymous.

The session remembers when it signed in, when it was last seen (rewritten at most once a minute, so
reading pages doesn't write the session table on every request) and its two-factor state; the
user_logged_in receiver stamps these at sign-in.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from kehu.accounts.receivers import SESSION_LOGIN_AT, SESSION_MFA, SESSION_SEEN_AT
from kehu.accounts.selectors import MFA_ENROL, MFA_OK, MFA_PENDING, mfa_state

SEEN_RESOLUTION_SECONDS = 60


def idle_seconds() -> float:
    return float(getattr(settings, "KEHU_SESSION_IDLE_MINUTES", 30)) * 60


def max_seconds() -> float:
    return float(getattr(settings, "KEHU_SESSION_MAX_HOURS", 12)) * 3600


class SessionSecurityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is None or "_auth_user_id" not in session:
            return self.get_response(request)
        if not self._fresh(request):
            return self.get_response(request)
        user = request.user
        if not user.is_authenticated:
            return self.get_response(request)
        state = session.get(SESSION_MFA)
        if state is None:  # a session from before this middleware, or a sign-in path that skipped the receiver
            state = session[SESSION_MFA] = mfa_state(user)
        if state != MFA_OK and not self._exempt(request.path_info, state):
            if request.path_info.startswith("/api/"):
                request.user = AnonymousUser()
                return self.get_response(request)
            name = "accounts:two_factor_verify" if state == MFA_PENDING else "accounts:two_factor_setup"
            target = reverse(name)
            if request.method == "GET" and state == MFA_PENDING:
                target += "?" + urlencode({"next": request.get_full_path()})
            if request.headers.get("HX-Request"):
                response = HttpResponse(status=204)
                response["HX-Redirect"] = target
                return response
            return HttpResponseRedirect(target)
        return self.get_response(request)

    def _fresh(self, request: HttpRequest) -> bool:
        """False (and the session ended) when the session is past its idle or absolute limit."""
        session = request.session
        now = timezone.now().timestamp()
        login_at = session.get(SESSION_LOGIN_AT)
        seen_at = session.get(SESSION_SEEN_AT)
        if login_at is None or seen_at is None:
            session[SESSION_LOGIN_AT] = login_at or now
            session[SESSION_SEEN_AT] = now
            return True
        if now - float(login_at) > max_seconds():
            message = _("登录已超过 %(hours)s 小时，为了安全请重新登录") % {"hours": f"{max_seconds() / 3600:g}"}
        elif now - float(seen_at) > idle_seconds():
            message = _("超过 %(minutes)s 分钟未操作，已自动退出，请重新登录") % {
                "minutes": f"{idle_seconds() / 60:g}"}
        else:
            if now - float(seen_at) >= SEEN_RESOLUTION_SECONDS:
                session[SESSION_SEEN_AT] = now
            return True
        logout(request)
        messages.warning(request, message)
        return False

    @staticmethod
    def _exempt(path: str, state: str) -> bool:
        """A session owing a code may only enter it; one owing an enrolment may only enrol (not, say,
        turn two-factor off with the password it just typed)."""
        if state == MFA_ENROL:
            pages = ("two_factor_setup", "two_factor_start", "two_factor_confirm")
        else:
            pages = ("two_factor_verify",)
        if path in {reverse(f"accounts:{name}") for name in (*pages, "logout", "login")}:
            return True
        return path.startswith((settings.STATIC_URL, "/i18n/"))
