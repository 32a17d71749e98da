"""What the bin needs to know per kind of record it accepts: whose data scope the entry falls in, which
rows outside foreign keys belong to the record, and what to recompute after a restore.

The bin is called by the delete services of customers, leads, sales and contracts, so it imports
those apps only inside functions (it sits low, beside core; the kinds are wiring, not rules)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model, QuerySet
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Scope:
    owner_id: int | None
    department_id: int | None
    customer_id: int | None


@dataclass(frozen=True)
class BinKind:
    object_type: str  # the model_name: "customer", "contact" …; also the permission object code
    model_label: str  # "customers.customer": its entry in core.scoping.SCOPE_OBJECTS decides visibility
    label: Any
    scope: Callable[[Any], Scope]
    # Rows that belong to the record without a foreign key, moved with it. None so far: consents hold
    # plain ids on purpose (privacy app) and outlive a delete; erasure removes them.
    extra_rows: Callable[[Any], Iterable[QuerySet]] = field(default=lambda obj: ())
    # Recompute derived data (search postings, match keys, rollups …) once the rows are back.
    after_restore: Callable[[Any], None] = field(default=lambda obj: None)


_kinds: dict[str, BinKind] = {}


def register(kind: BinKind) -> None:
    _kinds[kind.object_type] = kind


def get(object_type: str) -> BinKind | None:
    return _kinds.get(object_type)


def all_kinds() -> list[BinKind]:
    return list(_kinds.values())


def labels() -> list[tuple[str, Any]]:
    return [(k.object_type, k.label) for k in _kinds.values()]


def derived_models() -> set[type[Model]]:
    """Tables that are recomputed, not restored: the derived kinds of the merge registry that have a
    rebuild (search tokens, match keys, quality issues, dedupe keys), whether they point at the
    customer or at one of its contacts. Derived kinds without a rebuild (pool entries) are restored."""
    from kehu.dataquality.merging.registry import contact_registry, related_registry

    rebuilt = {k.model for k in related_registry.kinds() if k.derived and k.rebuild is not None}
    return rebuilt | {k.model for k in contact_registry.kinds() if k.derived and k.model in rebuilt}


def _rebuild_customers(customer_ids: Sequence[int]) -> None:
    from kehu.customers.models import Customer
    from kehu.dataquality.contact_duplicates import contact_duplicates_refresh
    from kehu.dataquality.merging.registry import related_registry

    customers = list(Customer.objects.filter(pk__in=customer_ids))
    if not customers:
        return
    for rebuild in related_registry.rebuilds():
        rebuild(customers)
    contact_duplicates_refresh([c.pk for c in customers])


def _contact_scope(contact: Any) -> Scope:
    customer = contact.customer
    return Scope(customer.owner_id, customer.department_id, customer.pk)


def _opportunity_restored(opportunity: Any) -> None:
    """Add the deal back to the board's running totals: the exact inverse of `opportunity_delete`."""
    from kehu.sales import rollups
    from kehu.sales.models import Stage, StageKind

    passed = [s for s in Stage.objects.filter(pipeline_id=opportunity.pipeline_id)
              if s.position <= opportunity.reached_position and s.kind != StageKind.LOST]
    rollups.rollups_change(None, (rollups.Contribution.of(opportunity, opportunity.stage),
                                  rollups.reach_rows(opportunity, passed, 1)))


def _owned(customer_of: Callable[[Any], int | None]) -> Callable[[Any], Scope]:
    """Records with their own owner and department columns."""
    return lambda obj: Scope(obj.owner_id, obj.department_id, customer_of(obj))


def register_builtin() -> None:
    """Called from RecycleBinConfig.ready()."""
    register(BinKind("customer", "customers.customer", _("客户"), lambda c: Scope(c.owner_id, c.department_id, c.pk),
                     after_restore=lambda c: _rebuild_customers([c.pk])))
    register(BinKind("contact", "customers.contact", _("联系人"), _contact_scope,
                     after_restore=lambda c: _rebuild_customers([c.customer_id])))
    register(BinKind("lead", "leads.lead", _("线索"), _owned(lambda x: x.converted_customer_id)))
    register(BinKind("opportunity", "sales.opportunity", _("商机"), _owned(lambda x: x.customer_id),
                     after_restore=_opportunity_restored))
    register(BinKind("contract", "contracts.contract", _("合同"), _owned(lambda x: x.customer_id)))
