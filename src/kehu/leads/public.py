"""Spam resistance of the public web form, without a captcha or a third party:

- a honeypot field (`HONEYPOT`) people never see and bots fill in;
- a signed timestamp issued with the page: a submission needs a valid signature for this form and at
  least `MIN_FILL_SECONDS` since the page was rendered (bots post at once), at most `MAX_AGE`;
- at most `RATE_LIMIT` submissions per IP per form per hour, counted in Django's cache.

The signed token stands in for CSRF on this one view (the page is embedded on other sites, where
the CSRF cookie is a third-party cookie and often blocked)."""

from __future__ import annotations

import time

from django.core import signing
from django.core.cache import cache

HONEYPOT = "website"
TOKEN_FIELD = "form_token"  # noqa: S105 - a form field name, not a secret
MIN_FILL_SECONDS = 3
MAX_AGE = 24 * 3600
RATE_LIMIT = 10
RATE_WINDOW = 3600
_SALT = "kehu.leads.public-form"


def issue_token(slug: str, *, at: float | None = None) -> str:
    return signing.dumps({"f": slug, "t": at if at is not None else time.time()}, salt=_SALT, compress=True)


def token_problem(slug: str, token: str, *, now: float | None = None) -> str | None:
    """None when the token is good, else a short code: "invalid", "too_fast", "expired"."""
    try:
        data = signing.loads(token or "", salt=_SALT)
    except signing.BadSignature:
        return "invalid"
    if not isinstance(data, dict) or data.get("f") != slug:
        return "invalid"
    elapsed = (now if now is not None else time.time()) - float(data.get("t") or 0)
    if elapsed < MIN_FILL_SECONDS:
        return "too_fast"
    if elapsed > MAX_AGE:
        return "expired"
    return None


def over_rate_limit(slug: str, ip: str) -> bool:
    """Count this attempt; True when the IP has already used up its submissions this hour."""
    key = f"kehu:leads:form:{slug}:{ip}"
    cache.add(key, 0, RATE_WINDOW)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, RATE_WINDOW)
        count = 1
    return count > RATE_LIMIT
