"""The webhook action's HTTP POST, safe against server-side request forgery.

- Only http and https URLs; no user:password in them.
- The host is resolved once; every address it resolves to must be public: private, loopback,
  link-local (169.254.169.254, the cloud metadata service), multicast, reserved, unspecified,
  site-local and shared addresses are refused, also when hidden in an IPv4-mapped IPv6 address
  (::ffff:127.0.0.1). Hosts an admin lists in `KEHU_WEBHOOK_ALLOWED_HOSTS` (setting or environment
  variable, comma-separated) skip that check (an intranet receiver).
- The connection goes to the address that was checked (the socket is pinned to it, the Host header
  and TLS SNI/certificate check use the name), so a DNS answer that changes between the check and
  the connect (DNS rebinding) cannot redirect it.
- Redirects are not followed: a 3xx is a failure like any non-2xx.
- The body is signed: `X-Kehu-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the
  rule's secret>`, `X-Kehu-Timestamp` the Unix time, `X-Kehu-Delivery` the idempotency key (a
  receiver drops a delivery it has seen: a retry after a lost response sends the same key).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import os
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

TIMEOUT_SECONDS = 10
MAX_RESPONSE_BYTES = 64 * 1024


class WebhookRefused(Exception):
    """The URL may not be called (scheme, address); retrying will not help."""


class WebhookFailed(Exception):
    """The call was made and failed (network error, timeout, non-2xx); worth retrying."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str


def allowed_hosts() -> set[str]:
    configured = getattr(settings, "KEHU_WEBHOOK_ALLOWED_HOSTS", None)
    if configured is None:
        configured = os.environ.get("KEHU_WEBHOOK_ALLOWED_HOSTS", "")
    if isinstance(configured, str):
        configured = configured.split(",")
    return {h.strip().lower().strip("[]") for h in configured if h and h.strip()}


def address_problem(address: str) -> str | None:
    """Why `address` may not be called, or None when it is a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return address_problem(str(mapped))
        if ip.is_site_local:
            return "site-local"
    for name in ("is_loopback", "is_private", "is_link_local", "is_multicast", "is_reserved", "is_unspecified"):
        if getattr(ip, name):
            return name[3:].replace("_", "-")
    if not ip.is_global:  # 100.64.0.0/10 (shared address space) and other special ranges
        return "not-global"
    return None


def resolve(url: str, *, allow: set[str] | None = None) -> Target:
    """Check `url` and pick the address to connect to; raises WebhookRefused."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise WebhookRefused(f"scheme not allowed: {scheme or '(none)'}")
    if parts.username or parts.password:
        raise WebhookRefused("credentials in the URL are not allowed")
    host = (parts.hostname or "").lower()
    if not host:
        raise WebhookRefused("no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookRefused("invalid port") from exc
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    allow = allowed_hosts() if allow is None else allow
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookFailed(f"cannot resolve {host}: {exc}") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise WebhookFailed(f"cannot resolve {host}")
    if host not in allow:
        for address in addresses:
            problem = address_problem(address)
            if problem:
                raise WebhookRefused(f"address not allowed: {address} ({problem})")
    return Target(scheme=scheme, host=host, port=port, path=path, address=addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self._tls)
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (documented in docs/automation.md); used by the tests."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")


def post_json(url: str, payload: Mapping[str, Any], *, secret: str, delivery: str, event: str = "",
              timeout: float = TIMEOUT_SECONDS, allow: set[str] | None = None) -> int:
    """POST `payload`; returns the 2xx status. Raises WebhookRefused or WebhookFailed."""
    target = resolve(url, allow=allow)
    body = json.dumps(payload, ensure_ascii=False, default=str).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Kehu-Automation/1",
               "X-Kehu-Timestamp": timestamp, "X-Kehu-Signature": sign(secret, timestamp, body),
               "X-Kehu-Delivery": delivery, "X-Kehu-Event": event}
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        raise WebhookFailed(f"{type(exc).__name__}: {exc}") from exc
    finally:
        connection.close()
    if 300 <= status < 400:
        raise WebhookFailed(f"HTTP {status}: redirect not followed")
    if not 200 <= status < 300:
        raise WebhookFailed(f"HTTP {status}")
    return status
