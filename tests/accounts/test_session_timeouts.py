"""Idle (30 min) and absolute (12 h) session timeouts, with a message on the login page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kehu.accounts.receivers import SESSION_SEEN_AT
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LIST = "/customers/"


def sign_in(client):  # type: ignore[no-untyped-def]
    UserFactory(username="lina")
    assert client.post(reverse("accounts:login"), {"username": "lina", "password": "pass-word-123"}).status_code == 302


def test_idle_timeout_ends_the_session_with_a_message(client, clock):
    sign_in(client)
    clock.advance(minutes=29)
    assert client.get(LIST).status_code == 200
    clock.advance(minutes=29)  # active 29 minutes ago: still fine
    assert client.get(LIST).status_code == 200
    clock.advance(minutes=30, seconds=1)
    response = client.get(LIST, follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("accounts:login"))
    assert "超过 30 分钟未操作" in response.content.decode()
    assert client.get(LIST).status_code == 302  # really signed out, not just redirected once


def test_absolute_timeout_even_when_active(client, clock):
    sign_in(client)
    for _ in range(12 * 4 - 1):  # a request every 15 minutes for 11¾ hours
        clock.advance(minutes=15)
        assert client.get(LIST).status_code == 200
    clock.advance(minutes=16)
    response = client.get(LIST, follow=True)
    assert "登录已超过 12 小时" in response.content.decode()
    assert client.get(LIST).status_code == 302


def test_the_api_answers_401_after_the_idle_timeout(client, clock):
    sign_in(client)
    assert client.get("/api/v1/me").status_code == 200
    clock.advance(minutes=31)
    assert client.get("/api/v1/me").status_code == 401


def test_timeouts_come_from_settings(client, clock, settings):
    settings.KEHU_SESSION_IDLE_MINUTES = 5
    sign_in(client)
    clock.advance(minutes=6)
    assert "超过 5 分钟未操作" in client.get(LIST, follow=True).content.decode()


def test_last_seen_is_written_at_most_once_a_minute(client, clock):
    sign_in(client)
    first = client.session[SESSION_SEEN_AT]
    clock.advance(seconds=20)
    client.get(LIST)
    assert client.session[SESSION_SEEN_AT] == first
    clock.advance(seconds=50)
    client.get(LIST)
    assert client.session[SESSION_SEEN_AT] > first
