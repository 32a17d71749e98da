"""The one place that decides which rows a user may read.

Every list, search, detail, export and API read calls `restrict()`; there is no other path to
business records. A model opts in by naming its owner and department fields (directly or
through a relation, e.g. a contact is scoped by its customer's owner).

The scope is per object type (`scope_for(user, "customer")`): the role's `scopes` override for
that object, else the role's default `data_scope`:

- own: records the user owns;
- subordinates: own + records owned by members of the departments (and their sub-departments)
  the user manages (`Department.manager`);
- department_only: own + records of the user's department;
- department: own + records of the user's department and its sub-departments;
- all: everything.

Records shared with the user, or with the user's department or one of its ancestors
(`accounts.RecordShare`), are OR-ed in through one indexed subquery.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, Model, OuterRef, Q, QuerySet

# How each scoped model maps onto the permission objects: (object code for the scope, the model
# whose shares count, the field holding that model's id). Contacts and follow-ups follow their
# customer: a customer shared with you brings its contacts and history along.
SCOPE_OBJECTS: dict[str, tuple[str, str, str]] = {
    "customers.customer": ("customer", "customers.customer", "pk"),
    "customers.contact": ("customer", "customers.customer", "customer_id"),
    "activities.followup": ("customer", "customers.customer", "customer_id"),
    "activities.task": ("task", "activities.task", "pk"),
    "leads.lead": ("lead", "leads.lead", "pk"),
    "sales.opportunity": ("opportunity", "sales.opportunity", "pk"),
    "contracts.contract": ("contract", "contracts.contract", "pk"),
}

# The object types that can be shared from their detail pages (share API kind → model label).
SHAREABLE: dict[str, str] = {
    "customers": "customers.customer",
    "opportunities": "sales.opportunity",
    "leads": "leads.lead",
}

_NOTHING = Q(pk__in=[])


def _active(user: Any) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def object_code(model: type[Model]) -> str | None:
    entry = SCOPE_OBJECTS.get(model._meta.label_lower)
    return entry[0] if entry else getattr(model, "scope_object", None)


def scope_for(user: Any, object_code: str | None) -> str:
    """The data scope of `user` for one object type (own / subordinates / department_only /
    department / all): the role's per-object override, else its default (`user.data_scope`)."""
    default = str(user.data_scope)
    if default == "all" and getattr(user, "is_kehu_admin", False):
        return "all"
    role = user.role if getattr(user, "role_id", None) else None
    if role is not None and object_code and isinstance(role.scopes, dict):
        override = role.scopes.get(object_code)
        if override in ("own", "subordinates", "department_only", "department", "all"):
            return str(override)
    return default


def subordinate_ids(user: Any) -> list[int]:
    """Members of the departments (and sub-departments) `user` manages, cached on the user object
    for the request: a handful of rows, so the scope filters on an id list."""
    cached = getattr(user, "_kehu_subordinates", None)
    if cached is not None:
        return cached
    from kehu.accounts.models import Department, User

    paths = list(Department.objects.filter(manager_id=user.pk).values_list("path", flat=True))
    ids: list[int] = []
    if paths:
        condition = Q()
        for path in paths:
            condition |= Q(department__path__startswith=path)
        ids = sorted(set(User.objects.filter(condition).exclude(pk=user.pk).values_list("pk", flat=True)))
    user._kehu_subordinates = ids
    return ids


def shared_ids(user: Any, model_label: str) -> QuerySet:
    """Ids of `model_label` records shared with `user`, directly or with their department or one of
    its ancestors, as a subquery. The ancestors are matched in SQL (the user's department path
    starts with the share's department path), so the user's department is never loaded for it."""
    from kehu.accounts.models import Department, RecordShare

    target = Q(user_id=user.pk)
    if getattr(user, "department_id", None):
        target |= Q(Exists(Department.objects.filter(pk=user.department_id,
                                                     path__startswith=OuterRef("department__path"))))
    return RecordShare.objects.filter(target, object_type=model_label).values("object_id")


def editable_shared_ids(user: Any, model_label: str) -> QuerySet:
    return shared_ids(user, model_label).filter(can_edit=True)


def owner_scope_q(scope: str, user: Any, *, owner: str, department: str) -> Q | None:
    """The scope condition on rows keyed by `owner` and `department` fields (None = everything).
    Also used for tables that copy a record's owner/department (sales roll-ups)."""
    if scope == "all":
        return None
    own = Q(**{owner: user.pk})
    if scope == "subordinates":
        # One IN list (self first) rather than `owner = me OR owner IN (...)`: one index condition.
        ids = subordinate_ids(user)
        return Q(**{f"{owner}__in": [user.pk, *ids]}) if ids else own
    if scope == "department_only" and user.department_id:
        return own | Q(**{department: user.department_id})
    if scope == "department" and user.department_id:
        return own | Q(**{f"{department}__path__startswith": user.department.path})
    return own


# Above this many shared rows the ids stay a subquery instead of a literal list.
SHARE_LIST_LIMIT = 500


def _shared_list(user: Any, model_label: str, write: bool) -> list[int] | None:
    """The ids shared with `user` (one indexed query, cached on the user object for the request),
    None when there are too many to inline. Inlined because `owner = me OR pk IN (subquery)` defeats
    the owner indexes: PostgreSQL then walks the whole list index (a rep's page 1 at 1M customers
    went from 0.6 ms to 105 ms, a deep page from 3 ms to 1.2 s); with no shares the condition is
    exactly the owner/department one, and a short id list still allows a BitmapOr."""
    cache = user.__dict__.setdefault("_kehu_shared", {})
    key = (model_label, write)
    if key not in cache:
        rows = editable_shared_ids(user, model_label) if write else shared_ids(user, model_label)
        ids = sorted(set(rows.values_list("object_id", flat=True)[: SHARE_LIST_LIMIT + 1]))
        cache[key] = None if len(ids) > SHARE_LIST_LIMIT else ids
    return cache[key]


def scope_q(model: type[Model], user: Any, *, write: bool = False) -> Q | None:
    """The filter for `user` on `model`; None means "everything", Q(pk__in=[]) nothing. With
    `write`, only shares that allow editing count (the rows a service may change)."""
    if not _active(user):
        return _NOTHING
    code = object_code(model)
    scope = scope_for(user, code)
    if scope == "all":
        return None
    owner_field: str = model.scope_owner_field  # type: ignore[attr-defined]
    department_field: str = model.scope_department_field  # type: ignore[attr-defined]
    condition = owner_scope_q(scope, user, owner=owner_field, department=department_field)
    assert condition is not None
    entry = SCOPE_OBJECTS.get(model._meta.label_lower)
    if entry is not None:
        _code, share_label, share_field = entry
        listed = _shared_list(user, share_label, write)
        if listed is None:
            shared = editable_shared_ids(user, share_label) if write else shared_ids(user, share_label)
            condition |= Q(**{f"{share_field}__in": shared})
        elif listed:
            condition |= Q(**{f"{share_field}__in": listed})
    return condition


def split_shared(model: type[Model], user: Any) -> tuple[Q, list[int]] | None:
    """For list pages: (the scope condition without shares, the ids shared with the user) when the
    user has a short list of shares on a scoped model, else None (use `restrict`). `owner = me OR pk IN
    (…)` makes PostgreSQL give up the (owner, sort key) index and sort every row of the owner; two
    ordered reads merged (`keyset_page(shared=…)`) keep a page as cheap as without shares."""
    if not _active(user):
        return None
    scope = scope_for(user, object_code(model))
    entry = SCOPE_OBJECTS.get(model._meta.label_lower)
    if scope == "all" or entry is None or entry[2] != "pk":
        return None
    listed = _shared_list(user, entry[1], False)
    if not listed:
        return None
    condition = owner_scope_q(scope, user, owner=model.scope_owner_field,  # type: ignore[attr-defined]
                              department=model.scope_department_field)  # type: ignore[attr-defined]
    assert condition is not None
    return condition, listed


def restrict(queryset: QuerySet, user: Any, *, write: bool = False) -> QuerySet:
    """`queryset` limited to what `user` may read (or, with `write`, change)."""
    condition = scope_q(queryset.model, user, write=write)
    return queryset if condition is None else queryset.filter(condition)


def has_shares(user: Any, model_label: str) -> bool:
    """Whether anything of `model_label` is shared with `user` (cached with the ids): lets the
    search and the sales board keep their fast paths for users nobody shared anything with."""
    return _shared_list(user, model_label, False) != []
