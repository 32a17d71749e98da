"""What the pool app tells the lower apps in `PoolConfig.ready()`: its moves on the customer's
timeline ("从公海领取", "退回公海（原因）") and the label of its audit events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from kehu.core.registries import TimelineEntry, timeline_registry


def _title(move: Any) -> str:
    pool = move.pool.name
    if move.action == "claim":
        return _("从公海「%(pool)s」领取") % {"pool": pool}
    if move.action == "assign":
        return _("从公海「%(pool)s」分配")  % {"pool": pool}
    if move.action == "release":
        return _("退回公海「%(pool)s」：%(reason)s") % {"pool": pool, "reason": move.reason}
    if move.action == "auto_return":
        return _("自动退回公海「%(pool)s」（原负责人 %(owner)s）") % {"pool": pool,
                                                                "owner": str(move.previous_owner or "—")}
    return _("退回提醒：%(reason)s") % {"reason": move.reason}


def _move_entries(customer: Any, user: Any, limit: int) -> Iterable[TimelineEntry]:
    from kehu.pool.models import PoolMove

    moves = (PoolMove.objects.filter(customer_id=customer.pk).select_related("pool", "user", "previous_owner")
             .order_by("-at", "-id")[:limit])
    for move in moves:
        yield TimelineEntry(at=move.at, kind=f"pool.{move.action}", title=_title(move),
                            actor=str(move.user or ""), icon="pool")


def register() -> None:
    from django.utils.translation import gettext_lazy

    from kehu.customers import timeline
    from kehu.dataquality.merging.registry import register_related
    from kehu.pool.models import PoolEntry, ReturnReminder

    # A merged customer's place in the pool and its pending reminders go with it (and come back
    # with an unmerge, as they were); the survivor keeps its own.
    register_related(PoolEntry, "customer", label=gettext_lazy("公海记录"), derived=True)
    register_related(ReturnReminder, "customer", label=gettext_lazy("退回提醒"), derived=True)
    timeline_registry.register("pool.move", _move_entries)
    timeline.OBJECT_LABELS.setdefault("poolmove", "公海记录")
    timeline.SKIPPED_OBJECT_TYPES.add("poolmove")  # the pool provider above says it better
