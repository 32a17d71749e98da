"""The one place that decides which rows a user may read.

Every list, search, detail, export and API read calls `restrict()`; there is no other path to
business records. A model opts in by naming its owner and department fields (directly or
through a relation, e.g. a contact is scoped by its customer's owner).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model, Q, QuerySet


def scope_q(model: type[Model], user: Any) -> Q | None:
    """The filter for `user` on `model`; None means "everything", Q(pk__in=[]) nothing."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Q(pk__in=[])
    scope = user.data_scope
    if scope == "all":
        return None
    owner_field: str = model.scope_owner_field  # type: ignore[attr-defined]
    department_field: str = model.scope_department_field  # type: ignore[attr-defined]
    own = Q(**{owner_field: user.pk})
    if scope == "department" and user.department_id:
        return own | Q(**{f"{department_field}__path__startswith": user.department.path})
    return own


def restrict(queryset: QuerySet, user: Any) -> QuerySet:
    condition = scope_q(queryset.model, user)
    return queryset if condition is None else queryset.filter(condition)
