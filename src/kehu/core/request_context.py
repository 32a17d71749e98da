"""The current request's client address, for audit rows written deep inside services."""

from __future__ import annotations

from contextvars import ContextVar

current_ip: ContextVar[str | None] = ContextVar("kehu_current_ip", default=None)
