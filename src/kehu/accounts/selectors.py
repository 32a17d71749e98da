from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from kehu.accounts.models import ApiToken, Department, User, hash_token

LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def user_for_api_token(*, raw: str) -> User | None:
    token = (
        ApiToken.objects.select_related("user", "user__role", "user__department")
        .filter(key_hash=hash_token(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.is_active or not token.user.is_active:
        return None
    now = timezone.now()
    # At most one write a minute per token: a script paging through the API must not turn every
    # read into a write (on SQLite that would queue all API reads behind the one writer lock).
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def department_subtree_ids(*, department: Department) -> QuerySet[Department]:
    return Department.objects.filter(path__startswith=department.path).values_list("id", flat=True)


def users_assignable(*, acting_user: User) -> QuerySet[User]:
    return User.objects.filter(is_active=True).select_related("department").order_by("display_name", "username")


def departments_all() -> QuerySet[Department]:
    """The organisation tree in path order (parents before children), for pickers and filters."""
    return Department.objects.order_by("path")


def api_tokens(*, user: User | None = None) -> QuerySet[ApiToken]:
    """Tokens (newest first), all or one user's; for `kehu token list`."""
    queryset = ApiToken.objects.select_related("user").order_by("-created_at", "-id")
    return queryset.filter(user=user) if user is not None else queryset


def api_tokens_with_prefix(*, prefix: str) -> QuerySet[ApiToken]:
    """Unrevoked tokens whose shown prefix starts with `prefix` (the secret itself is never stored)."""
    return ApiToken.objects.select_related("user").filter(prefix__startswith=prefix, revoked_at__isnull=True)
