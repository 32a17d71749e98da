"""The password policy (≥ 8 characters, not common, not all digits, not like the username; no
composition rules) on every path that sets a password."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.core.management import CommandError, call_command
from django.urls import reverse

from kehu.accounts.models import User
from kehu.accounts.services import user_create, user_set_password
from kehu.core.errors import PermissionDenied, ValidationFailed
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

WEAK = {
    "short": "ab1-cd",  # 6 characters
    "common": "password123",
    "numeric": "8840163927",
    "like_username": "zhangwei-2026",
}


@pytest.mark.parametrize("kind", list(WEAK))
def test_user_create_refuses_weak_passwords_and_writes_nothing(kind):
    with pytest.raises(ValidationFailed) as caught:
        user_create(username="zhangwei-2026", password=WEAK[kind])
    assert caught.value.field == "password"
    assert not User.objects.filter(username="zhangwei-2026").exists()


def test_no_composition_rules_a_long_lowercase_phrase_is_fine():
    user = user_create(username="lina", password="correct horse battery")
    assert user.check_password("correct horse battery")


def test_every_broken_rule_is_listed():
    with pytest.raises(ValidationFailed) as caught:
        user_create(username="x", password="1234567")  # short, common and numeric
    assert len(caught.value.errors) == 3


def test_password_change_page_applies_the_policy(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("accounts:password_change"), {
        "old_password": "pass-word-123", "new_password1": "12345678", "new_password2": "12345678"})
    assert response.status_code == 200
    assert "new_password2" in response.context["form"].errors
    user.refresh_from_db()
    assert user.check_password("pass-word-123")


def test_admin_set_password_form_applies_the_policy():
    user = UserFactory()
    form = AdminPasswordChangeForm(user, {"password1": "qwerty12", "password2": "qwerty12"})
    assert not form.is_valid()
    form = AdminPasswordChangeForm(user, {"password1": "Lang-genug-2026", "password2": "Lang-genug-2026"})
    assert form.is_valid()


def test_changepassword_command_applies_the_policy(monkeypatch):
    user = UserFactory(username="wangfang")
    answers = iter(["password", "password"] * 3)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError):
        call_command("changepassword", "wangfang", stdout=io.StringIO(), stderr=io.StringIO())
    user.refresh_from_db()
    assert user.check_password("pass-word-123")


def test_admin_sets_a_password_through_the_service(admin_user, sales_user):
    with pytest.raises(ValidationFailed):
        user_set_password(acting_user=admin_user, user_id=sales_user.pk, password="11111111")
    user_set_password(acting_user=admin_user, user_id=sales_user.pk, password="neu-und-lang-1")
    sales_user.refresh_from_db()
    assert sales_user.check_password("neu-und-lang-1")
    with pytest.raises(PermissionDenied):
        user_set_password(acting_user=sales_user, user_id=admin_user.pk, password="neu-und-lang-2")
