"""Registries filled in AppConfig.ready() so later apps can extend earlier ones without the
earlier ones importing them (the timeline learns about follow-ups, deals, tickets, ...)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    kind: str
    title: str
    actor: str = ""
    body: str = ""
    changes: list[dict] = field(default_factory=list)
    icon: str = ""
    # The audited record's kind ("customer", "contact"), so the page can link a field to its history.
    object_type: str = ""


# A provider yields entries for one customer, newest first, at most `limit`, visible to `user`.
TimelineProvider = Callable[[Any, Any, int], Iterable[TimelineEntry]]


class TimelineRegistry:
    def __init__(self) -> None:
        self._providers: dict[str, TimelineProvider] = {}

    def register(self, kind: str, provider: TimelineProvider) -> None:
        self._providers[kind] = provider

    def kinds(self) -> list[str]:
        return list(self._providers)

    def entries(self, *, customer: Any, user: Any, limit: int = 100) -> list[TimelineEntry]:
        merged: list[TimelineEntry] = []
        for provider in self._providers.values():
            merged.extend(provider(customer, user, limit))
        merged.sort(key=lambda e: e.at, reverse=True)
        return merged[:limit]


timeline_registry = TimelineRegistry()


# Demo data of later apps: `kehu setup --demo-customers N` / `kehu demo` call each loader after the
# customers, contacts and notes are in, with the saved customers, the demo users by username, a
# seed and a progress callback; a loader returns a one-line summary ("商机：120").
DemoLoader = Callable[[Sequence[Any], dict[str, Any], int, Callable[[str], None]], str]
demo_loaders: list[DemoLoader] = []
