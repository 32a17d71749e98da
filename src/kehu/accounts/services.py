"""Writes for people and organisation."""

from __future__ import annotations

import datetime as dt
import secrets

from django.db import transaction
from django.utils import timezone

from kehu.accounts.models import ApiToken, DataScope, Department, Role, User, hash_token

DEFAULT_ROLES: list[tuple[str, str, str, str, bool]] = [
    ("admin", "管理员", "Administrator", DataScope.ALL, True),
    ("manager", "销售经理", "Sales manager", DataScope.DEPARTMENT, False),
    ("sales", "销售", "Sales rep", DataScope.OWN, False),
    ("service", "客服", "Service agent", DataScope.DEPARTMENT, False),
    ("marketing", "市场", "Marketing", DataScope.ALL, False),
]


def roles_ensure_defaults() -> dict[str, Role]:
    roles = {}
    for code, zh, en, scope, is_admin in DEFAULT_ROLES:
        role, _ = Role.objects.get_or_create(
            code=code, defaults={"name_zh": zh, "name_en": en, "data_scope": scope, "is_admin": is_admin}
        )
        roles[code] = role
    return roles


@transaction.atomic
def department_create(*, name: str, parent: Department | None = None, manager: User | None = None) -> Department:
    return Department.objects.create(name=name, parent=parent, manager=manager)


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str | None,
    display_name: str = "",
    email: str = "",
    role: Role | None = None,
    department: Department | None = None,
    is_superuser: bool = False,
) -> User:
    user = User(
        username=username,
        display_name=display_name,
        email=email,
        role=role,
        department=department,
        is_superuser=is_superuser,
        is_staff=is_superuser,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


@transaction.atomic
def api_token_create(*, user: User, name: str = "", expires_in: dt.timedelta | None = None) -> tuple[ApiToken, str]:
    """Returns the token row and the secret; the secret is not stored and can't be shown again."""
    secret = "kehu_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=secret[:12],
        key_hash=hash_token(secret),
        expires_at=timezone.now() + expires_in if expires_in else None,
    )
    return token, secret


@transaction.atomic
def api_token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
