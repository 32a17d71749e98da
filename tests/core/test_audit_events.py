"""Login, logout and failed-login audit events (django.contrib.auth signals) and permission-change events."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.test import Client
from django.urls import reverse

from kehu.core import audit
from kehu.core.models import AuditEvent
from tests.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # noqa: S105 — test fixture


def _user(**kwargs):  # type: ignore[no-untyped-def]
    user = UserFactory(**kwargs)
    user.set_password(PASSWORD)
    user.save()
    return user


def test_login_through_the_login_page_is_recorded_with_ip():
    user = _user(username="wangli")
    client = Client(REMOTE_ADDR="203.0.113.9")
    response = client.post(reverse("accounts:login"), {"username": "wangli", "password": PASSWORD})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="login")
    assert (event.actor_id, event.object_type, event.object_id, event.ip) == (user.pk, "user", user.pk, "203.0.113.9")
    assert event.actor_name == user.display_name and event.customer_id is None


def test_failed_login_records_the_username_tried_and_the_ip_never_the_password():
    user = _user(username="wangli")
    client = Client(REMOTE_ADDR="198.51.100.7")
    response = client.post(reverse("accounts:login"), {"username": "wangli", "password": "wrong-password"})
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="login_failed")
    assert (event.actor_id, event.object_id, event.object_repr, event.ip) == (None, user.pk, "wangli", "198.51.100.7")
    assert event.changes == [{"field": "username", "old": None, "new": "wangli"}]
    assert "wrong-password" not in str(event.changes) and not AuditEvent.objects.filter(action="login").exists()


def test_failed_login_for_an_unknown_username():
    assert authenticate(username="nobody-here", password="x") is None
    event = AuditEvent.objects.get(action="login_failed")
    assert (event.object_id, event.object_repr, event.actor_id) == (0, "nobody-here", None)


def test_logout_is_recorded():
    user = _user()
    client = Client()
    client.force_login(user)
    client.post(reverse("accounts:logout"))
    assert AuditEvent.objects.filter(action="logout", actor=user, object_id=user.pk).count() == 1


def test_permission_change_helper():
    admin, user = AdminFactory(), UserFactory()
    event = audit.record_permission_change(actor=admin, user=user,
                                           changes=[{"field": "role", "old": "sales", "new": "manager"}])
    event.refresh_from_db()
    assert (event.action, event.actor_id, event.object_type, event.object_id) == ("permission", admin.pk, "user",
                                                                                   user.pk)
    assert event.get_action_display() == "权限变更"


def test_actions_written_by_existing_code_are_known_choices():
    for action in ("create", "update", "delete", "export", "import", "merge", "unmerge", "not_duplicate", "convert",
                   "lifecycle", "reveal", "login", "logout", "login_failed", "permission"):
        assert action in AuditEvent.Action.values
        assert len(action) <= AuditEvent._meta.get_field("action").max_length
