"""Reads of the customer archive. Every read starts from `restrict()` so a user only ever sees
the rows their data scope allows."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet
from django.utils.dateparse import parse_datetime

from kehu.accounts.models import Department
from kehu.core.errors import NotFound
from kehu.core.registries import TimelineEntry, timeline_registry
from kehu.core.scoping import restrict, split_shared
from kehu.customers.filters import CustomerFilter
from kehu.customers.models import (
    Contact,
    Customer,
    CustomFieldDefinition,
    CustomFieldTarget,
    Note,
    PicklistOption,
    SavedView,
    Tag,
    TagLabel,
)

SORTS = {
    "updated_at": "updated_at",
    "created_at": "created_at",
    "name": "name",
}
DEFAULT_SORT = "-updated_at"


def customers_visible(*, user: Any) -> QuerySet[Customer]:
    return restrict(Customer.objects.all(), user)


def contacts_visible(*, user: Any) -> QuerySet[Contact]:
    return restrict(Contact.objects.all(), user)


def customer_get(*, user: Any, customer_id: int, for_edit: bool = False) -> Customer:
    """One customer the user can see; with `for_edit`, one they may change (a record shared with
    them read-only is then "not found", so edit pages and their posts are refused up front)."""
    customer = (
        restrict(Customer.objects.all(), user, write=for_edit)
        .select_related("owner", "department", "industry", "level", "stage", "source", "created_by", "updated_by")
        .prefetch_related("tags", Prefetch("contacts", queryset=Contact.objects.select_related("decision_role")))
        .filter(pk=customer_id)
        .first()
    )
    if customer is None:
        raise NotFound("customer not found")
    return customer


def contact_get(*, user: Any, contact_id: int, for_edit: bool = False) -> Contact:
    rows = restrict(Contact.objects.all(), user, write=for_edit)
    contact = rows.select_related("customer", "decision_role").filter(pk=contact_id).first()
    if contact is None:
        raise NotFound("contact not found")
    return contact


def customers_filtered(*, user: Any, filters: CustomerFilter) -> QuerySet[Customer]:
    return filters.apply(customers_visible(user=user), user=user)


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    next_cursor: str | None
    prev_cursor: str | None
    sort: str
    total: int | None  # exact up to `count_cap`, else None with `total_capped` True
    total_capped: bool


def _encode_cursor(value: Any, pk: int, direction: str) -> str:
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    raw = json.dumps({"v": value, "id": pk, "d": direction}, ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, field: str) -> tuple[Any, int, str] | None:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        value = data["v"]
        if field.endswith("_at"):
            value = parse_datetime(value)
            if value is None:
                return None
        return value, int(data["id"]), "prev" if data.get("d") == "prev" else "next"
    except (ValueError, KeyError, TypeError):
        return None


def normalise_sort(sort: str | None) -> str:
    sort = sort or DEFAULT_SORT
    return sort if sort.lstrip("-") in SORTS else DEFAULT_SORT


def cursor_is_valid(*, cursor: str, sort: str | None = None) -> bool:
    """Whether `cursor` came from a page with this sort (callers report a 422 instead of silently
    starting over at page one)."""
    return _decode_cursor(cursor, SORTS[normalise_sort(sort).lstrip("-")]) is not None


def keyset_page(
    queryset: QuerySet, *, sort: str, cursor: str | None, limit: int, count_cap: int = 10000,
    values: Sequence[str] | None = None, shared: QuerySet | None = None, counted: QuerySet | None = None,
) -> Page:
    """Keyset (seek) pagination: page 20,000 costs the same as page 1 because it filters on the
    last row's sort key instead of skipping rows with OFFSET. With `values`, rows are dicts of
    those columns (which must include the sort field and "id") instead of model instances.

    `shared`: rows shared with the user, read in the same order and merged in (see
    `scoping.split_shared`); `counted`: the queryset the total is counted on (default `queryset`)."""
    sort = normalise_sort(sort)
    field = SORTS[sort.lstrip("-")]
    descending = sort.startswith("-")
    decoded = _decode_cursor(cursor, field) if cursor else None
    direction = decoded[2] if decoded else "next"
    forward = descending if direction == "next" else not descending
    ordering = [f"-{field}", "-id"] if forward else [field, "id"]
    if shared is not None and field == "name":
        # Text order is the database collation's, which Python's sort need not match: one query then.
        queryset, shared = counted if counted is not None else queryset | shared, None

    def read(rows_qs: QuerySet) -> list[Any]:
        if decoded:
            value, pk, _ = decoded
            op = "lt" if forward else "gt"
            # `f <= v AND (f < v OR id < pk)` selects the same rows as `f < v OR (f = v AND id < pk)`,
            # but its first term is an index range: a deep page seeks instead of scanning every row above it.
            rows_qs = rows_qs.filter(
                Q(**{f"{field}__{op}e": value}), Q(**{f"{field}__{op}": value}) | Q(**{f"id__{op}": pk})
            )
        ordered = rows_qs.order_by(*ordering)
        return list((ordered.values(*values) if values else ordered)[: limit + 1])

    key = (lambda row: (row[field], row["id"])) if values else (lambda row: (getattr(row, field), row.pk))
    rows: list[Any] = read(queryset)
    if shared is not None:
        seen = {key(row)[1] for row in rows}
        merged = rows + [row for row in read(shared) if key(row)[1] not in seen]
        merged.sort(key=key, reverse=forward)  # timestamps and ids: Python orders them as the database does
        rows = merged[: limit + 1]
    has_more = len(rows) > limit
    rows = rows[:limit]
    if direction == "prev":
        rows.reverse()
    next_cursor = prev_cursor = None
    if rows:
        if (direction == "next" and has_more) or direction == "prev":
            next_cursor = _encode_cursor(*key(rows[-1]), "next")
        if decoded and (direction == "next" or has_more):
            prev_cursor = _encode_cursor(*key(rows[0]), "prev")
    total = None
    capped = False
    if count_cap:
        total = (counted if counted is not None else queryset).order_by()[: count_cap + 1].count()
        if total > count_cap:
            total, capped = count_cap, True
    return Page(
        rows=rows, next_cursor=next_cursor, prev_cursor=prev_cursor, sort=sort, total=total, total_capped=capped
    )


def customer_list_page(
    *,
    user: Any,
    filters: CustomerFilter,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    count_cap: int = 10000,
) -> Page:
    queryset = customers_filtered(user=user, filters=filters).select_related("owner")
    split = split_shared(Customer, user)
    if split is None:
        page = keyset_page(queryset, sort=normalise_sort(sort), cursor=cursor, limit=limit, count_cap=count_cap)
    else:  # own scope and the shared rows read apart, each in index order, then merged
        own, shared_ids = split
        page = keyset_page(
            filters.apply(Customer.objects.filter(own), user=user).select_related("owner"),
            shared=filters.apply(Customer.objects.filter(pk__in=shared_ids), user=user).select_related("owner"),
            counted=queryset, sort=normalise_sort(sort), cursor=cursor, limit=limit, count_cap=count_cap)
    attach_list_relations(page.rows)
    return page


# The API list reads rows as column values, no model instances (building 50 customers, their
# owners and four picklists each was most of a request's CPU): the customer's own columns, then
# the picklists, owners, departments and tag names the page refers to in one more statement.
# (Joining the six relations into the row query instead cost PostgreSQL 5-10 ms of planning per
# request for a 0.4 ms execution.) `schemas.customer_list_out` turns a row into customer_out's shape.
LIST_PICKLISTS = ("industry", "level", "stage", "source")
LIST_VALUES = (
    "id", "external_id", "kind", "name", "short_name", "phones", "emails", "website", "province", "city", "district",
    "address",
    "birthday", "credit_code", "salutation", "gender", "id_number", "phones_e164", "name_core", "quality_score",
    "last_activity_at", "reviewed_at", "notes", "custom", "created_at", "updated_at", "version",
    *(f"{name}_id" for name in LIST_PICKLISTS), "owner_id", "department_id",
)


def _list_relations_sql(options: int, users: int, departments: int, customers: int) -> str:
    from kehu.accounts.models import User

    quote = connection.ops.quote_name
    through = Customer.tags.through._meta
    customer_fk = quote(through.get_field("customer").column)
    tag_fk = quote(through.get_field("tag").column)

    def marks(count: int) -> str:
        return ", ".join(["%s"] * count)

    parts = []
    if options:
        parts.append(f"SELECT 1, id, code, label_zh, label_en FROM {quote(PicklistOption._meta.db_table)} "
                     f"WHERE id IN ({marks(options)})")
    if users:
        parts.append(f"SELECT 2, id, username, display_name, NULL FROM {quote(User._meta.db_table)} "
                     f"WHERE id IN ({marks(users)})")
    if departments:
        parts.append(f"SELECT 3, id, name, NULL, NULL FROM {quote(Department._meta.db_table)} "
                     f"WHERE id IN ({marks(departments)})")
    parts.append(
        f"SELECT 4, ct.{customer_fk}, t.name, NULL, NULL FROM {quote(through.db_table)} ct "
        f"JOIN {quote(Tag._meta.db_table)} t ON t.id = ct.{tag_fk} WHERE ct.{customer_fk} IN ({marks(customers)})"
    )
    return " UNION ALL ".join(parts)


def _attach_list_relations(rows: list[dict[str, Any]]) -> None:
    """Add each row's picklist code/labels, owner username/display name, department name and
    sorted tag names under the keys `customer_list_out` reads ("stage__code", "tags"...)."""
    option_ids = sorted({row[f"{name}_id"] for row in rows for name in LIST_PICKLISTS} - {None})
    user_ids = sorted({row["owner_id"] for row in rows} - {None})
    department_ids = sorted({row["department_id"] for row in rows} - {None})
    customer_ids = [row["id"] for row in rows]
    sql = _list_relations_sql(len(option_ids), len(user_ids), len(department_ids), len(customer_ids))
    found: dict[int, dict[int, tuple[Any, ...]]] = {1: {}, 2: {}, 3: {}}
    tags: dict[int, list[str]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*option_ids, *user_ids, *department_ids, *customer_ids])
        for kind, pk, *values in cursor.fetchall():
            if kind == 4:
                tags.setdefault(pk, []).append(values[0])
            else:
                found[kind][pk] = values
    options, users, departments = found[1], found[2], found[3]
    for row in rows:
        for name in LIST_PICKLISTS:
            option = options.get(row[f"{name}_id"])
            row[f"{name}__code"], row[f"{name}__label_zh"], row[f"{name}__label_en"] = option or (None, None, None)
        owner = users.get(row["owner_id"])
        row["owner__username"], row["owner__display_name"] = owner[:2] if owner else (None, None)
        department = departments.get(row["department_id"])
        row["department__name"] = department[0] if department else None
        row["tags"] = sorted(tags.get(row["id"], ()))


def customer_list_rows(
    *,
    user: Any,
    filters: CustomerFilter,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    count_cap: int = 10000,
) -> Page:
    """The same page as `customer_list_page`, as dicts of `LIST_VALUES` plus the related
    values (see `_attach_list_relations`): three statements whatever the page size (rows,
    relations, capped count)."""
    queryset = customers_filtered(user=user, filters=filters)
    page = keyset_page(
        queryset, sort=normalise_sort(sort), cursor=cursor, limit=limit, count_cap=count_cap, values=LIST_VALUES
    )
    if page.rows:
        _attach_list_relations(page.rows)
    return page


_CACHED_RELATIONS = ("industry", "level", "stage", "source")


def attach_list_relations(customers: list[Customer]) -> None:
    """Fill picklists, department and tags of a page of customers with three small queries.

    Joining six relations and prefetching tags built ~400 model instances per 50-row page and
    was most of a list request's cost; picklists and departments are few and shared by many rows,
    so each distinct one is loaded once and attached to every row that uses it."""
    if not customers:
        return
    option_ids = {getattr(c, f"{name}_id") for c in customers for name in _CACHED_RELATIONS} - {None}
    options = {o.pk: o for o in PicklistOption.objects.filter(pk__in=option_ids)} if option_ids else {}
    department_ids = {c.department_id for c in customers} - {None}
    departments = {d.pk: d for d in Department.objects.filter(pk__in=department_ids)} if department_ids else {}
    tags_by_customer: dict[int, list[TagLabel]] = {}
    tag_rows = Customer.tags.through.objects.filter(customer_id__in=[c.pk for c in customers]).values_list(
        "customer_id", "tag_id", "tag__name", "tag__color"
    )
    for customer_id, tag_id, name, color in tag_rows:
        tags_by_customer.setdefault(customer_id, []).append(TagLabel(tag_id, name, color))
    fields = {name: Customer._meta.get_field(name) for name in (*_CACHED_RELATIONS, "department")}
    for customer in customers:
        for name in _CACHED_RELATIONS:
            fields[name].set_cached_value(customer, options.get(getattr(customer, f"{name}_id")))
        fields["department"].set_cached_value(customer, departments.get(customer.department_id))
        customer.listed_tags = sorted(tags_by_customer.get(customer.pk, []), key=lambda t: t.name)



def contact_list_page(
    *, user: Any, customer_id: int | None = None, q: str = "", cursor: str | None = None, limit: int = 50
) -> Page:
    queryset = contacts_visible(user=user).select_related("customer", "decision_role")
    if customer_id is not None:
        queryset = queryset.filter(customer_id=customer_id)
    if q:
        from kehu.customers.search import search

        contact_ids = [h.contact.pk for h in search(user=user, query=q, limit=200) if h.contact]
        queryset = queryset.filter(pk__in=contact_ids)
    return keyset_page(queryset, sort="-updated_at", cursor=cursor, limit=limit, count_cap=10000)


def picklist_options(*, kind: str | None = None, active_only: bool = True) -> QuerySet[PicklistOption]:
    queryset = PicklistOption.objects.all()
    if kind:
        queryset = queryset.filter(kind=kind)
    if active_only:
        queryset = queryset.filter(is_active=True)
    return queryset.order_by("kind", "position", "id")


def custom_field_definitions(
    *, target: str = CustomFieldTarget.CUSTOMER, active_only: bool = True
) -> list[CustomFieldDefinition]:
    queryset = CustomFieldDefinition.objects.filter(target=target)
    if active_only:
        queryset = queryset.filter(is_active=True)
    return list(queryset.order_by("position", "id"))


def tags_all() -> QuerySet[Tag]:
    return Tag.objects.order_by("name")


def saved_views_for(*, user: Any) -> QuerySet[SavedView]:
    return SavedView.objects.filter(Q(owner__isnull=True) | Q(owner=user)).order_by("position", "id")


def customer_timeline(*, user: Any, customer: Customer, limit: int = 100) -> list[TimelineEntry]:
    """The 360° timeline: every registered provider's entries, merged newest first."""
    customer_get(user=user, customer_id=customer.pk)  # scope check: no timeline for hidden customers
    return timeline_registry.entries(customer=customer, user=user, limit=limit)


def customer_notes(*, user: Any, customer_id: int, limit: int = 100) -> list[Note]:
    """A customer's notes, newest first; NotFound when the customer is outside the user's scope."""
    if not customers_visible(user=user).filter(pk=customer_id).exists():
        raise NotFound("customer not found")
    notes = Note.objects.filter(customer_id=customer_id).select_related("author").order_by("-created_at", "-id")
    return list(notes[:limit])


def tag_get(*, tag_id: int) -> Tag:
    tag = Tag.objects.filter(pk=tag_id).first()
    if tag is None:
        raise NotFound("tag not found")
    return tag


def picklist_option_get(*, option_id: int) -> PicklistOption:
    option = PicklistOption.objects.filter(pk=option_id).first()
    if option is None:
        raise NotFound("picklist option not found")
    return option


def custom_field_get(*, definition_id: int) -> CustomFieldDefinition:
    definition = CustomFieldDefinition.objects.filter(pk=definition_id).first()
    if definition is None:
        raise NotFound("custom field not found")
    return definition
