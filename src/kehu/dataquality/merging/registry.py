"""The single list of tables that point at customers, so a merge re-points every related row and
an unmerge puts each one back. Apps register their tables in `AppConfig.ready()`:

    from kehu.dataquality.merging.registry import register_related
    register_related(FollowUp, "customer", label=_("跟进记录"))

A *moved* kind (contacts, notes, deals, ...) is business data: the merge re-points its rows to the
survivor and remembers each row; the unmerge puts a row back only if nobody changed or deleted it
since. A *derived* kind (search tokens, match keys, quality issues) is computed from the customer
and its contacts: the merged records' rows are kept in the snapshot and deleted, then `rebuild`
recomputes the survivor's (without `rebuild` the kind's owner refreshes them). The unmerge writes
the merged records' derived rows back as they were (their values and contacts come back
unchanged) and calls `rebuild` with the survivor again.

`unregistered()` lists foreign keys to Customer nobody registered; a merge refuses to run while
there are any, because deleting the merged record would silently delete their rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Model
from django.utils.translation import gettext_lazy as _

# Called with the customers whose derived rows must be recomputed (saved instances).
Rebuild = Callable[[Sequence[Any]], None]


@dataclass(frozen=True)
class RelatedKind:
    model: type[Model]
    fk_field: str
    label: Any
    derived: bool = False
    rebuild: Rebuild | None = None

    @property
    def key(self) -> str:
        return f"{self.model._meta.label_lower}.{self.fk_field}"

    @property
    def fk_attname(self) -> str:
        return self.model._meta.get_field(self.fk_field).attname  # type: ignore[union-attr]


class RelatedRegistry:
    """The tables pointing at one model (`target`, "app_label.Model"): customers, or contacts."""

    def __init__(self, target: str = "customers.Customer") -> None:
        self.target = target
        self._kinds: dict[str, RelatedKind] = {}

    def register(
        self,
        model: type[Model],
        fk_field: str = "customer",
        *,
        label: Any,
        derived: bool = False,
        rebuild: Rebuild | None = None,
    ) -> RelatedKind:
        kind = RelatedKind(model=model, fk_field=fk_field, label=label, derived=derived, rebuild=rebuild)
        self._kinds[kind.key] = kind
        return kind

    def kinds(self) -> list[RelatedKind]:
        return list(self._kinds.values())

    def get(self, key: str) -> RelatedKind | None:
        return self._kinds.get(key)

    def rebuilds(self) -> list[Rebuild]:
        """Each distinct rebuild function once, in registration order."""
        seen: list[Rebuild] = []
        for kind in self._kinds.values():
            if kind.rebuild is not None and kind.rebuild not in seen:
                seen.append(kind.rebuild)
        return seen

    def unregistered(self) -> list[str]:
        """`app.Model.field` of every foreign key to the target that no kind covers (a customer's
        tags excepted: the merge handles the customer's own tag set)."""
        from django.apps import apps

        target = apps.get_model(self.target)
        covered = {(kind.model, kind.fk_field) for kind in self._kinds.values()}
        tags_through = getattr(getattr(target, "tags", None), "through", None)
        missing = []
        for relation in target._meta.get_fields(include_hidden=True):
            if not (relation.is_relation and relation.auto_created and not relation.concrete):
                continue
            model = relation.related_model
            field_name = relation.field.name  # type: ignore[union-attr]
            if model is tags_through or (model, field_name) in covered:
                continue
            through = getattr(relation, "through", None)  # a many-to-many: its through table is what moves
            if relation.many_to_many and (through is tags_through or any(
                    kind_model is through for kind_model, _field in covered)):
                continue
            missing.append(f"{model._meta.label}.{field_name}")  # type: ignore[union-attr]
        return sorted(missing)


related_registry = RelatedRegistry()
# The tables pointing at contacts (follow-ups, opportunity contacts ... as later apps add them): a
# contact merge re-points them to the surviving contact and its undo puts them back, the same way.
contact_registry = RelatedRegistry("customers.Contact")

# Called inside the merge's (or unmerge's) transaction with the CustomerMerge, after every row is
# in place: e.g. the duplicate review queue closes or reopens its pairs of the customers involved.
MergeListener = Callable[[Any], None]
merge_listeners: list[MergeListener] = []
unmerge_listeners: list[MergeListener] = []


def on_merge(listener: MergeListener) -> None:
    if listener not in merge_listeners:
        merge_listeners.append(listener)


def on_unmerge(listener: MergeListener) -> None:
    if listener not in unmerge_listeners:
        unmerge_listeners.append(listener)


def register_related(
    model: type[Model],
    fk_field: str = "customer",
    *,
    label: Any,
    derived: bool = False,
    rebuild: Rebuild | None = None,
) -> RelatedKind:
    return related_registry.register(model, fk_field, label=label, derived=derived, rebuild=rebuild)


def register_contact_related(
    model: type[Model], fk_field: str = "contact", *, label: Any, derived: bool = False,
) -> RelatedKind:
    """A table pointing at contacts. Derived kinds are recomputed through the customer's rebuilds
    (the contact's search postings, match keys and quality issues belong to its customer's)."""
    return contact_registry.register(model, fk_field, label=label, derived=derived)


def rebuild_search(customers: Sequence[Any]) -> None:
    from kehu.customers import search

    search.reindex_all(customers)


def rebuild_quality(customers: Sequence[Any]) -> None:
    from kehu.dataquality import quality

    quality.customers_quality_refresh(list(customers))


def rebuild_duplicates(customers: Sequence[Any]) -> None:
    from kehu.dataquality.scanning import rebuild_after_merge

    rebuild_after_merge(customers)


def register_builtin() -> None:
    """The customers and dataquality tables; called from `DataQualityConfig.ready()`."""
    from kehu.customers.models import Contact, Note, SearchToken
    from kehu.dataquality.models import DedupeKey, MatchKey, QualityIssue

    register_related(Contact, "customer", label=_("联系人"))
    register_contact_related(SearchToken, label=_("搜索索引"), derived=True)
    register_contact_related(MatchKey, label=_("查重键"), derived=True)
    register_contact_related(QualityIssue, label=_("数据问题"), derived=True)
    register_related(Note, "customer", label=_("备注"))
    register_related(SearchToken, "customer", label=_("搜索索引"), derived=True, rebuild=rebuild_search)
    register_related(MatchKey, "customer", label=_("查重键"), derived=True, rebuild=rebuild_quality)
    register_related(QualityIssue, "customer", label=_("数据问题"), derived=True, rebuild=rebuild_quality)
    # The duplicate scan's blocking keys: re-keyed for the survivor, and its review pairs with the
    # merged records closed as merged (reopened by an unmerge).
    register_related(DedupeKey, "customer", label=_("查重分块键"), derived=True, rebuild=rebuild_duplicates)
