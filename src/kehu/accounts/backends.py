"""The password check with lockout, for every sign-in path (our login page, the Django admin's)."""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from kehu.accounts.selectors import login_locked_until


def trusted_proxies() -> set[str]:
    """The reverse proxies whose X-Forwarded-For is believed: FORWARDED_ALLOW_IPS, the same list
    gunicorn trusts for X-Forwarded-Proto (default 127.0.0.1, i.e. nginx on the same machine)."""
    raw = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
    return {part.strip() for part in raw.split(",") if part.strip()}


def client_ip(request: HttpRequest | None) -> str | None:
    """The address sign-in throttling counts. Behind nginx every request comes from 127.0.0.1, which
    would make one IP of all users; so when the direct peer is a trusted proxy, the rightmost
    X-Forwarded-For entry that isn't a trusted proxy is the client (entries left of it can be forged)."""
    if request is None:
        return None
    remote = request.META.get("REMOTE_ADDR") or None
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    trusted = trusted_proxies()
    if remote and forwarded and (remote in trusted or "*" in trusted):
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if hop not in trusted:
                try:
                    return str(ipaddress.ip_address(hop))
                except ValueError:
                    return remote
    return remote


class LockoutModelBackend(ModelBackend):
    """ModelBackend that refuses, without checking the password, while the username or the client IP
    is locked out. The refusal is marked on the request so the failed-login receiver records it as
    "blocked" (blocked attempts don't extend the lock)."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None,
                     **kwargs: Any) -> Any:
        if username is None:
            username = kwargs.get(self._username_field())
        if login_locked_until(username=username, ip=client_ip(request)) is not None:
            if request is not None:
                request._kehu_login_blocked = True  # type: ignore[attr-defined]
            raise PermissionDenied("locked")
        return super().authenticate(request, username=username, password=password, **kwargs)

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD
