"""Domain events: services say what happened ("customer.created", "followup.logged"), subscribers
(the automation engine, notifications) react. Explicit calls from services, never Django signals:
a bulk update or a raw import path would bypass a signal silently, and a reader of a service sees
every event it can cause.

Delivery happens after the surrounding transaction commits (`transaction.on_commit`), so a
subscriber never acts on a write that is rolled back, and sees the committed rows when it queries.
Outside a transaction (autocommit) delivery is immediate. A subscriber that raises is logged and
does not stop the others or the service that published: the write has already committed.

Event names are "<object_type>.<verb>"; the vocabulary lives in `EVENT_NAMES` so the rule builder
can offer it. `changes` maps field name to (old, new) for updates.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

logger = logging.getLogger("kehu.events")

# name -> (zh label, en label). Apps add theirs with `register_event_name`.
EVENT_NAMES: dict[str, tuple[str, str]] = {
    "customer.created": ("客户创建", "Customer created"),
    "customer.updated": ("客户更新", "Customer updated"),
    "customer.deleted": ("客户删除", "Customer deleted"),
}


@dataclass(frozen=True)
class DomainEvent:
    name: str
    object_type: str
    object_id: int
    customer_id: int | None = None
    actor_id: int | None = None
    changes: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)
    at: dt.datetime = field(default_factory=timezone.now)

    def changed(self, field_name: str) -> bool:
        return field_name in self.changes


Subscriber = Callable[[DomainEvent], None]
_subscribers: dict[str, Subscriber] = {}


def register_event_name(name: str, zh: str, en: str) -> None:
    EVENT_NAMES[name] = (zh, en)


def subscribe(key: str, subscriber: Subscriber) -> None:
    """Register (or replace, by key) a subscriber; called from AppConfig.ready()."""
    _subscribers[key] = subscriber


def unsubscribe(key: str) -> None:
    _subscribers.pop(key, None)


def publish(event: DomainEvent) -> None:
    """Deliver `event` to every subscriber once the current transaction commits."""
    transaction.on_commit(lambda: _deliver(event))


def _deliver(event: DomainEvent) -> None:
    for key, subscriber in list(_subscribers.items()):
        try:
            subscriber(event)
        except Exception:  # a subscriber's bug must not turn a committed write into an error page
            logger.exception("event subscriber %s failed on %s #%s", key, event.name, event.object_id)
