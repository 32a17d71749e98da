"""Reads of the recycle bin: the entries a user may see, newest first, a keyset page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from kehu.core import scoping
from kehu.core.errors import NotFound

from . import kinds
from .models import RecycleBinEntry


def entry_scope_q(user: Any) -> Q | None:
    """The rule of the live records, applied to the owner, department and ids stored with each entry:
    per object type the user's data scope for that type (core.scoping.scope_for), plus records shared
    with them. None means every entry (admins and "all" scopes)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Q(pk__in=[])
    condition = Q(pk__in=[])
    everything = True
    for kind in kinds.all_kinds():
        code, share_label, share_field = scoping.SCOPE_OBJECTS.get(kind.model_label, (kind.object_type, "", ""))
        rule = scoping.owner_scope_q(scoping.scope_for(user, code), user, owner="owner", department="department")
        if rule is None:
            condition |= Q(object_type=kind.object_type)
            continue
        everything = False
        if share_label:
            column = "object_id" if share_field == "pk" else "customer_id"
            rule |= Q(**{f"{column}__in": scoping.shared_ids(user, share_label)})
        condition |= Q(object_type=kind.object_type) & rule
    return None if everything else condition


def visible_entries(*, user: Any, queryset: QuerySet[RecycleBinEntry] | None = None) -> QuerySet[RecycleBinEntry]:
    """Entries of records the user could see when they were deleted; restored receipts are not listed."""
    queryset = RecycleBinEntry.objects.all() if queryset is None else queryset
    condition = entry_scope_q(user)
    queryset = queryset.filter(restored_at__isnull=True)
    return queryset if condition is None else queryset.filter(condition)


@dataclass
class EntryPage:
    entries: list[RecycleBinEntry]
    next_after: int | None


def entry_page(*, user: Any, object_type: str = "", q: str = "", after: int | None = None,
               limit: int = 50) -> EntryPage:
    queryset = visible_entries(user=user).select_related("deleted_by").defer("payload")
    if object_type:
        queryset = queryset.filter(object_type=object_type)
    if q.strip():
        queryset = queryset.filter(label__icontains=q.strip())
    if after:
        queryset = queryset.filter(pk__lt=after)
    rows = list(queryset.order_by("-pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return EntryPage(rows, rows[-1].pk if more and rows else None)


def entry_get(*, user: Any, entry_id: int) -> RecycleBinEntry:
    entry = visible_entries(user=user).filter(pk=entry_id).first()
    if entry is None:
        raise NotFound(_("回收站记录不存在或无权查看"))
    return entry
