"""Demo notifications for `kehu setup --demo-customers N`: every demo user gets a few about their own
customers (assigned to you, about to return to the pool, a follow-up due), the older ones read, so
the bell shows an unread count. Bulk-inserted, never mailed; the same seed gives the same rows."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from typing import Any

from django.urls import reverse
from django.utils import timezone

from kehu.notifications.models import Notification

KINDS = (
    ("customer.assigned", "新客户已分配给你：{name}", "请尽快联系客户并记录第一次跟进。"),
    ("pool.reminder", "客户 {name} 将在 3 天后退回公海", "最近没有跟进记录；跟进一次即可保留。"),
    ("task.due", "今天到期：回访 {name}", "上次沟通约定本周回访。"),
    ("mail.sent", "邮件已发送给 {name}", "欢迎邮件已送达客户邮箱。"),
)
PER_USER = 4


def load_demo_notifications(customers: Sequence[Any], users: dict[str, Any], seed: int,
                            say: Callable[[str], None]) -> str:
    rng = random.Random(seed * 59 + 13)
    by_owner: dict[int, list[Any]] = {}
    for customer in customers:
        if customer.owner_id is not None:
            by_owner.setdefault(customer.owner_id, []).append(customer)
    now = timezone.now()
    rows: list[Notification] = []
    for username in sorted(users):
        user = users[username]
        owned = by_owner.get(user.pk, [])
        if not owned or not user.is_active:
            continue
        for number in range(PER_USER):
            kind, title, body = KINDS[(number + rng.randrange(len(KINDS))) % len(KINDS)]
            customer = rng.choice(owned)
            created = now - dt.timedelta(days=number * rng.randint(1, 4), hours=rng.randint(0, 8))
            rows.append(Notification(
                user=user, kind=kind, title=title.format(name=customer.name)[:200], body=body,
                url=reverse("customers:detail", args=[customer.pk]), customer=customer, created_at=created,
                read_at=created + dt.timedelta(hours=1) if number >= 2 else None, key=f"demo:{number}"))
    Notification.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    return f"通知：{len(rows)}"
