"""TOTP two-factor: enrolment, the code step after the password, recovery codes, per-role
enforcement, turning it off."""

from __future__ import annotations

import re

import pyotp
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kehu.accounts.models import RecoveryCode, TotpDevice
from kehu.accounts.services import (
    totp_check,
    totp_disable,
    totp_enrol_confirm,
    totp_enrol_start,
    totp_reset,
)
from kehu.core.errors import PermissionDenied, ValidationFailed
from tests.factories import UserFactory, role

pytestmark = pytest.mark.django_db

LIST = "/customers/"


def enrolled(user) -> tuple[pyotp.TOTP, list[str]]:  # type: ignore[no-untyped-def]
    device = totp_enrol_start(acting_user=user)
    totp = pyotp.TOTP(device.secret)
    codes = totp_enrol_confirm(acting_user=user, code=totp.now())
    return totp, codes


def code_at(totp: pyotp.TOTP, seconds_ahead: int) -> str:
    return totp.at(timezone.now().timestamp() + seconds_ahead)


def password_step(client: Client, username: str, next_url: str = ""):  # type: ignore[no-untyped-def]
    url = reverse("accounts:login") + (f"?next={next_url}" if next_url else "")
    return client.post(url, {"username": username, "password": "pass-word-123"})


def test_enrolment_on_the_page_shows_the_secret_then_recovery_codes(client):
    user = UserFactory(username="lina")
    client.force_login(user)
    page = client.get(reverse("accounts:two_factor_setup"))
    assert "开始设置" in page.content.decode()
    client.post(reverse("accounts:two_factor_start"))
    page = client.get(reverse("accounts:two_factor_setup")).content.decode()
    device = TotpDevice.objects.get(user=user)
    assert device.secret in page and "otpauth://totp/Kehu:lina?secret=" in page
    assert device.confirmed_at is None

    wrong = client.post(reverse("accounts:two_factor_confirm"), {"code": "000000"}, follow=True)
    assert "验证码不正确" in wrong.content.decode()
    device.refresh_from_db()
    assert device.confirmed_at is None

    done = client.post(reverse("accounts:two_factor_confirm"), {"code": pyotp.TOTP(device.secret).now()})
    body = done.content.decode()
    codes = re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", body)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = set(RecoveryCode.objects.filter(user=user).values_list("code_hash", flat=True))
    assert len(stored) == 10 and not stored & set(codes)  # hashed
    # Shown once: the page doesn't show them again, nor the secret.
    again = client.get(reverse("accounts:two_factor_setup")).content.decode()
    assert codes[0] not in again and device.secret not in again and "剩余恢复码 10 个" in again


def test_login_asks_for_the_code_and_nothing_is_reachable_before(client):
    user = UserFactory(username="lina")
    totp, _codes = enrolled(user)
    response = password_step(client, "lina", next_url="/leads/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:two_factor_verify"))
    # Pages, settings, the API with the session, the 2FA settings page itself: all refused.
    assert client.get(LIST)["Location"].startswith(reverse("accounts:two_factor_verify"))
    assert client.get(reverse("accounts:two_factor_setup")).status_code == 302
    assert client.post(reverse("accounts:two_factor_disable"), {"password": "pass-word-123"}).status_code == 302
    assert client.get("/api/v1/me").status_code == 401
    assert TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()

    bad = client.post(reverse("accounts:two_factor_verify"), {"code": "123456", "next": "/leads/"})
    assert bad.status_code == 200 and "验证码不正确" in bad.content.decode()
    ok = client.post(reverse("accounts:two_factor_verify"), {"code": code_at(totp, 30), "next": "/leads/"})
    assert ok.status_code == 302 and ok["Location"] == "/leads/"
    assert client.get(LIST).status_code == 200
    assert client.get("/api/v1/me").json()["username"] == "lina"


def test_a_code_can_not_be_used_twice(clock):
    user = UserFactory()
    totp, _ = enrolled(user)
    code = code_at(totp, 30)
    assert totp_check(user=user, code=code)
    assert not totp_check(user=user, code=code)


def test_recovery_codes_work_once(client):
    user = UserFactory(username="lina")
    _totp, codes = enrolled(user)
    password_step(client, "lina")
    assert client.post(reverse("accounts:two_factor_verify"), {"code": codes[0].upper()}).status_code == 302
    assert client.get(LIST).status_code == 200

    other = Client()
    password_step(other, "lina")
    reused = other.post(reverse("accounts:two_factor_verify"), {"code": codes[0]})
    assert reused.status_code == 200
    assert other.get(LIST).status_code == 302
    assert RecoveryCode.objects.filter(user=user, used_at__isnull=False).count() == 1


def test_wrong_codes_count_towards_the_lockout(client):
    user = UserFactory(username="lina")
    totp, _ = enrolled(user)
    password_step(client, "lina")
    for _ in range(5):
        client.post(reverse("accounts:two_factor_verify"), {"code": "000000"})
    response = client.post(reverse("accounts:two_factor_verify"), {"code": code_at(totp, 30)}, follow=True)
    assert "锁定" in response.content.decode()
    assert client.get(LIST).status_code == 302  # signed out
    assert "登录失败次数过多" in password_step(Client(), "lina").content.decode()


def test_role_enforcement_sends_users_to_enrolment_first(client):
    sales = role("sales")
    sales.require_2fa = True
    sales.save()
    user = UserFactory(username="lina", role=sales)
    response = password_step(client, "lina")
    assert response["Location"] == reverse("accounts:two_factor_setup")
    assert client.get(LIST)["Location"] == reverse("accounts:two_factor_setup")
    assert client.get("/api/v1/me").status_code == 401
    client.post(reverse("accounts:two_factor_start"))
    device = TotpDevice.objects.get(user=user)
    client.post(reverse("accounts:two_factor_confirm"), {"code": pyotp.TOTP(device.secret).now()})
    assert client.get(LIST).status_code == 200
    # Required by the role: can't be turned off.
    with pytest.raises(PermissionDenied):
        totp_disable(acting_user=user, password="pass-word-123")


def test_sessions_from_other_sign_in_paths_are_held_too(client):
    """force_login stands in for any path that skips our login view (e.g. the Django admin's)."""
    user = UserFactory()
    enrolled(user)
    client.force_login(user)
    assert client.get(LIST)["Location"].startswith(reverse("accounts:two_factor_verify"))


def test_disable_needs_a_code_or_the_password(client):
    user = UserFactory()
    totp, _ = enrolled(user)
    with pytest.raises(ValidationFailed):
        totp_disable(acting_user=user, code="000000", password="wrong")
    assert TotpDevice.objects.filter(user=user).exists()
    session = Client()
    session.force_login(user)
    s = session.session
    s["kehu_mfa"] = "ok"
    s.save()
    response = session.post(reverse("accounts:two_factor_disable"), {"password": "pass-word-123"}, follow=True)
    assert "两步验证已关闭" in response.content.decode()
    assert not TotpDevice.objects.filter(user=user).exists() and not RecoveryCode.objects.filter(user=user).exists()
    # Next sign-in is password only.
    assert password_step(client, user.username)["Location"] == reverse("customers:list")


def test_admin_resets_a_lost_phone(admin_user, sales_user):
    enrolled(sales_user)
    with pytest.raises(PermissionDenied):
        totp_reset(acting_user=sales_user, user_id=sales_user.pk)
    totp_reset(acting_user=admin_user, user_id=sales_user.pk)
    assert not TotpDevice.objects.filter(user=sales_user).exists()


def test_regenerating_recovery_codes_needs_a_code_and_voids_the_old_ones(clock):
    from kehu.accounts.services import recovery_codes_regenerate

    user = UserFactory()
    totp, old = enrolled(user)
    with pytest.raises(ValidationFailed):
        recovery_codes_regenerate(acting_user=user, code="000000")
    new = recovery_codes_regenerate(acting_user=user, code=code_at(totp, 30))
    assert len(new) == 10 and not set(new) & set(old)
    assert not totp_check(user=user, code=old[0])
    assert totp_check(user=user, code=new[0])
