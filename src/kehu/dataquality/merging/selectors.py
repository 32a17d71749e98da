"""Reads about merges: where an old id lives now, which ids a survivor absorbed (its timeline
shows their history), a customer's merges with their undo state, and the "not a duplicate"
pairs the review queue leaves out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kehu.core.errors import NotFound
from kehu.core.scoping import restrict
from kehu.customers.models import Customer
from kehu.dataquality.models import CustomerMerge, DistinctPair, MergedCustomerId

# A chain A → B → C is followed this far; longer chains mean a cycle and are cut.
MAX_CHAIN = 50
_CHUNK = 900


def survivor_for(customer_id: int) -> int | None:
    """The customer an absorbed id lives on now (following later merges), None if not absorbed."""
    current, seen = customer_id, set()
    while len(seen) < MAX_CHAIN:
        survivor = (MergedCustomerId.objects.filter(customer_id=current)
                    .values_list("merge__survivor_id", flat=True).first())
        if survivor is None:
            return None if current == customer_id else current
        seen.add(current)
        if survivor in seen:
            return None
        current = survivor
    return None


def visible_survivor_for(*, user: Any, customer_id: int) -> int | None:
    """`survivor_for`, only when the user may see the survivor (otherwise the old id is just missing)."""
    survivor = survivor_for(customer_id)
    if survivor is None or not restrict(Customer.objects.filter(pk=survivor), user).exists():
        return None
    return survivor


def absorbed_customer_ids(survivor_id: int) -> list[int]:
    """Every id merged into the customer, directly or through records merged into those."""
    found: list[int] = []
    frontier = [survivor_id]
    while frontier and len(found) < 10_000:
        children = list(MergedCustomerId.objects.filter(merge__survivor_id__in=frontier, merge__undone_at__isnull=True)
                        .values_list("customer_id", flat=True))
        children = [pk for pk in children if pk not in found and pk != survivor_id]
        found += children
        frontier = children
    return sorted(found)


def merges_of_customer(*, user: Any, customer_id: int, limit: int = 20) -> list[CustomerMerge]:
    """Merges into the customer, newest first; NotFound when the user can't see it."""
    if not restrict(Customer.objects.filter(pk=customer_id), user).exists():
        raise NotFound("customer not found")
    return list(CustomerMerge.objects.filter(survivor_id=customer_id).select_related("created_by", "undone_by")
                .order_by("-created_at", "-id")[:limit])


def merge_get(*, user: Any, merge_id: int) -> CustomerMerge:
    """A merge the user may see: its survivor is in their scope (admins see all)."""
    merge = CustomerMerge.objects.select_related("created_by", "undone_by").filter(pk=merge_id).first()
    if merge is None:
        raise NotFound("merge not found")
    if not user.is_kehu_admin and not restrict(Customer.objects.filter(pk=merge.survivor_id), user).exists():
        raise NotFound("merge not found")
    return merge


def merged_names(merge: CustomerMerge) -> list[tuple[int, str]]:
    """(id, name) of the merged customers as they were when merged."""
    customers = merge.snapshot.get("customers", {})
    return [(pk, str(customers.get(str(pk), {}).get("name", ""))) for pk in merge.merged_ids]


def distinct_pairs_for(ids: Iterable[int]) -> set[tuple[int, int]]:
    """The (smaller id, larger id) pairs among `ids` that a user marked as not duplicates."""
    wanted = sorted(set(ids))
    pairs: set[tuple[int, int]] = set()
    for start in range(0, len(wanted), _CHUNK):
        part = wanted[start:start + _CHUNK]
        for low, high in DistinctPair.objects.filter(low_id__in=part).values_list("low_id", "high_id"):
            pairs.add((low, high))
    wanted_set = set(wanted)
    return {(low, high) for low, high in pairs if high in wanted_set}


def is_distinct(a_id: int, b_id: int) -> bool:
    low, high = sorted((int(a_id), int(b_id)))
    return DistinctPair.objects.filter(low_id=low, high_id=high).exists()
