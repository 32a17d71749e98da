"""Sign-in, sign-out, password change and the top navigation."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_login_page_renders_in_chinese_by_default(client):
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    body = response.content.decode()
    assert '<html lang="zh-hans">' in body and "登录" in body
    assert 'name="viewport"' in body


def test_login_redirects_to_customer_list_and_nav_shows_user(client):
    user = UserFactory(username="lina", display_name="李娜")
    response = client.post(reverse("accounts:login"), {"username": "lina", "password": "pass-word-123"})
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:list")
    body = client.get(reverse("customers:list")).content.decode()
    assert "李娜" in body and "退出登录" in body and "English" in body
    assert reverse("customers:settings_picklists") not in body  # no settings link for a sales rep
    assert user.is_authenticated


def test_wrong_password_shows_message(client):
    UserFactory(username="lina")
    response = client.post(reverse("accounts:login"), {"username": "lina", "password": "wrong"})
    assert response.status_code == 200
    assert "用户名或密码不正确" in response.content.decode()


def test_logout_needs_post_and_ends_session(client):
    client.force_login(UserFactory())
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert client.get(reverse("customers:list")).status_code == 302


def test_password_change(client):
    user = UserFactory()
    client.force_login(user)
    url = reverse("accounts:password_change")
    response = client.post(url, {"old_password": "wrong", "new_password1": "x", "new_password2": "y"})
    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors
    response = client.post(url, {
        "old_password": "pass-word-123", "new_password1": "Ganz-neu-2026!", "new_password2": "Ganz-neu-2026!",
    })
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Ganz-neu-2026!")
    assert client.get(reverse("customers:list")).status_code == 200  # still signed in


def test_admin_sees_settings_link(client, admin_user):
    client.force_login(admin_user)
    body = client.get(reverse("customers:list")).content.decode()
    assert reverse("customers:settings_picklists") in body


def test_language_switch_on_login_page(client):
    client.post(reverse("set_language"), {"language": "en", "next": reverse("accounts:login")})
    body = client.get(reverse("accounts:login")).content.decode()
    assert "Sign in" in body and "Username" in body
