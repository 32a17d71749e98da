"""Sign-in throttling: 5 failures in 15 minutes lock a username for 15 minutes, 20 lock an IP; the
same message for known and unknown usernames; admins can unlock."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.test import Client
from django.urls import reverse

from kehu.accounts.models import LoginAttempt
from kehu.accounts.selectors import login_locked_until, login_locks
from kehu.accounts.services import login_unlock
from kehu.core.errors import PermissionDenied
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
LOCKED = "登录失败次数过多"


def attempt(client: Client, username: str, password: str, ip: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def signed_in(client: Client) -> bool:
    return client.get(reverse("customers:list")).status_code == 200


def test_five_failures_lock_the_username_for_fifteen_minutes(client, clock):
    UserFactory(username="lina")
    for _ in range(5):
        assert "用户名或密码不正确" in attempt(client, "lina", "wrong").content.decode()
    # Locked: even the right password is not tried, and the message says so.
    response = attempt(client, "lina", "pass-word-123")
    assert response.status_code == 200 and LOCKED in response.content.decode()
    assert not signed_in(client)

    clock.advance(minutes=14)
    assert LOCKED in attempt(client, "LINA ", "pass-word-123").content.decode()  # case doesn't dodge it
    clock.advance(minutes=1, seconds=1)
    assert attempt(client, "lina", "pass-word-123").status_code == 302
    assert signed_in(client)


def test_blocked_attempts_do_not_extend_the_lock(client, clock):
    UserFactory(username="lina")
    for _ in range(5):
        attempt(client, "lina", "wrong")
    for _ in range(10):
        clock.advance(minutes=1)
        attempt(client, "lina", "wrong")
    assert LoginAttempt.objects.filter(username="lina", blocked=True).count() == 10
    clock.advance(minutes=5, seconds=1)  # 15 min after the fifth failure
    assert attempt(client, "lina", "pass-word-123").status_code == 302


def test_failures_spread_over_more_than_the_window_do_not_lock(client, clock):
    UserFactory(username="lina")
    for _ in range(8):
        attempt(client, "lina", "wrong")
        clock.advance(minutes=4)  # never 5 failures within 15 minutes
    assert attempt(client, "lina", "pass-word-123").status_code == 302


def test_a_success_resets_the_count(client, clock):
    UserFactory(username="lina")
    for _ in range(4):
        attempt(client, "lina", "wrong")
    assert attempt(client, "lina", "pass-word-123").status_code == 302
    client.post(reverse("accounts:logout"))
    for _ in range(4):
        attempt(client, "lina", "wrong")
    assert attempt(client, "lina", "pass-word-123").status_code == 302


def test_unknown_usernames_get_the_same_answers(client):
    UserFactory(username="lina")
    real = [attempt(client, "lina", "wrong").content.decode() for _ in range(6)]
    ghost = [attempt(Client(), "nobody-here", "wrong").content.decode() for _ in range(6)]
    for real_page, ghost_page in zip(real, ghost, strict=True):
        assert ("用户名或密码不正确" in real_page) == ("用户名或密码不正确" in ghost_page)
        assert (LOCKED in real_page) == (LOCKED in ghost_page)
    assert LOCKED in real[-1] and LOCKED in ghost[-1]


def test_twenty_failures_from_one_ip_block_that_ip(client, clock):
    UserFactory(username="lina")
    for n in range(20):
        attempt(client, f"guess{n}", "wrong", ip="203.0.113.7")
    assert LOCKED in attempt(client, "lina", "pass-word-123", ip="203.0.113.7").content.decode()
    # Another address is not affected, nor is the username.
    assert attempt(Client(), "lina", "pass-word-123", ip="198.51.100.2").status_code == 302
    clock.advance(minutes=15, seconds=1)
    assert attempt(Client(), "lina", "pass-word-123", ip="203.0.113.7").status_code == 302


def test_the_lock_applies_to_every_authenticate_call_eg_the_django_admin_login(client):
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    for _ in range(5):
        attempt(client, "boss", "wrong")
    response = client.post("/admin/login/", {"username": "boss", "password": "pass-word-123"})
    assert response.status_code == 200  # the admin's form shows its error instead of signing in
    assert authenticate(username="boss", password="pass-word-123") is None


def test_admin_unlocks_a_username_and_an_ip(client, admin_user, sales_user, clock):
    UserFactory(username="lina")
    for _ in range(5):
        attempt(client, "lina", "wrong")
    for n in range(20):
        attempt(client, f"guess{n}", "wrong", ip="203.0.113.7")
    locks = login_locks()
    assert {"lina"} <= {lock["username"] for lock in locks}
    assert "203.0.113.7" in {lock["ip"] for lock in locks}

    with pytest.raises(PermissionDenied):
        login_unlock(acting_user=sales_user, username="lina")
    assert login_locked_until(username="lina", ip=None) is not None

    web = Client()
    web.force_login(admin_user)
    page = web.get(reverse("accounts:users"))
    assert "lina" in page.content.decode() and "203.0.113.7" in page.content.decode()
    assert web.post(reverse("accounts:unlock"), {"username": "lina"}).status_code == 302
    assert login_locked_until(username="lina", ip=None) is None
    assert LoginAttempt.objects.filter(username="lina").count() == 5  # kept, marked cleared
    login_unlock(acting_user=admin_user, ip="203.0.113.7")
    assert login_locked_until(username=None, ip="203.0.113.7") is None
    assert attempt(client, "lina", "pass-word-123").status_code == 302


def test_the_users_page_is_for_admins_only(client, sales_user):
    client.force_login(sales_user)
    assert client.get(reverse("accounts:users")).status_code == 403
    assert client.post(reverse("accounts:unlock"), {"username": "x"}).status_code == 403


def test_behind_the_proxy_the_forwarded_client_address_is_counted(client, monkeypatch):
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "127.0.0.1")
    UserFactory(username="lina")
    for n in range(20):
        client.post(LOGIN, {"username": f"guess{n}", "password": "x"}, REMOTE_ADDR="127.0.0.1",
                    HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9")  # the first hop is forgeable, the last is nginx's
    assert login_locked_until(username=None, ip="203.0.113.9") is not None
    assert login_locked_until(username=None, ip="127.0.0.1") is None
    # Another client behind the same proxy is not blocked.
    ok = Client().post(LOGIN, {"username": "lina", "password": "pass-word-123"}, REMOTE_ADDR="127.0.0.1",
                       HTTP_X_FORWARDED_FOR="198.51.100.20")
    assert ok.status_code == 302
    # A forwarded header from an untrusted peer is ignored.
    spoofed = Client().post(LOGIN, {"username": "lina", "password": "pass-word-123"}, REMOTE_ADDR="203.0.113.9",
                            HTTP_X_FORWARDED_FOR="198.51.100.20")
    assert LOCKED in spoofed.content.decode()


def test_nightly_cleanup_drops_old_attempts_and_expired_sessions(client, clock):
    from kehu.accounts.services import security_cleanup

    UserFactory(username="lina")
    attempt(client, "lina", "wrong")
    clock.advance(days=91)
    attempt(client, "lina", "wrong")
    result = security_cleanup()
    assert result["login_attempts"] == 1
    assert LoginAttempt.objects.count() == 1
