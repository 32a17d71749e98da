from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import authenticate

from kehu.accounts.models import ApiToken, DataScope, Department, Role
from kehu.accounts.selectors import department_subtree_ids, user_for_api_token
from kehu.accounts.services import (
    DEFAULT_ROLES,
    api_token_create,
    api_token_revoke,
    department_create,
    roles_ensure_defaults,
    user_create,
)
from tests.factories import role


@pytest.mark.django_db
def test_default_roles_exist_once_with_their_scopes():
    roles = roles_ensure_defaults()
    roles_ensure_defaults()
    assert Role.objects.count() == len(DEFAULT_ROLES)
    assert {code: r.data_scope for code, r in roles.items()} == {
        "admin": DataScope.ALL, "manager": DataScope.DEPARTMENT, "sales": DataScope.OWN,
        "service": DataScope.DEPARTMENT, "marketing": DataScope.ALL,
    }
    assert [code for code, r in roles.items() if r.is_admin] == ["admin"]


@pytest.mark.django_db
def test_department_paths_follow_the_tree_and_moves():
    head = department_create(name="总部")
    north = department_create(name="华北大区", parent=head)
    beijing = department_create(name="北京一部", parent=north)
    east = department_create(name="华东大区", parent=head)
    assert beijing.path == f"/{head.pk}/{north.pk}/{beijing.pk}/"
    assert beijing.depth == 2
    assert set(department_subtree_ids(department=north)) == {north.pk, beijing.pk}

    north.parent = east
    north.save()
    beijing.refresh_from_db()
    assert beijing.path == f"/{head.pk}/{east.pk}/{north.pk}/{beijing.pk}/"
    assert set(department_subtree_ids(department=east)) == {east.pk, north.pk, beijing.pk}


@pytest.mark.django_db
def test_user_create_with_and_without_password():
    team = Department.objects.create(name="上海一部")
    rep = user_create(username="lina", password="s3cret-pass-9", display_name="李娜", role=role("sales"),
                      department=team)
    assert authenticate(username="lina", password="s3cret-pass-9") == rep
    assert str(rep) == "李娜"
    assert rep.data_scope == DataScope.OWN and not rep.is_kehu_admin

    sso = user_create(username="sso-only", password=None)
    assert not sso.has_usable_password()
    assert sso.data_scope == DataScope.OWN  # no role: the narrowest scope

    boss = user_create(username="root", password="x-long-pass-1", is_superuser=True)
    assert boss.is_staff and boss.is_kehu_admin and boss.data_scope == DataScope.ALL


@pytest.mark.django_db
def test_api_token_secret_is_shown_once_and_stored_hashed(sales_user):
    token, secret = api_token_create(user=sales_user, name="脚本")
    assert secret.startswith("kehu_") and token.prefix == secret[:12]
    assert secret not in ApiToken.objects.values_list("key_hash", flat=True)
    assert user_for_api_token(raw=secret) == sales_user
    assert user_for_api_token(raw=secret + "x") is None

    api_token_revoke(token=token)
    assert user_for_api_token(raw=secret) is None


@pytest.mark.django_db
def test_expired_token_and_inactive_user_are_refused(sales_user):
    _, expired = api_token_create(user=sales_user, expires_in=dt.timedelta(seconds=-1))
    assert user_for_api_token(raw=expired) is None
    _, secret = api_token_create(user=sales_user)
    sales_user.is_active = False
    sales_user.save()
    assert user_for_api_token(raw=secret) is None
