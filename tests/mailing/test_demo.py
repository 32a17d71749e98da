"""The demo archive comes with a few sent mails (logged, never handed to a mail backend) and
notifications for the demo users; the same seed gives the same rows."""

from __future__ import annotations

import pytest
from django.core import mail as django_mail

from kehu.accounts.models import User
from kehu.core.registries import demo_loaders, timeline_registry
from kehu.customers.demo import load_demo
from kehu.customers.models import Customer
from kehu.mailing.demo import load_demo_mails
from kehu.mailing.models import SentMail
from kehu.notifications.demo import load_demo_notifications
from kehu.notifications.models import Notification

pytestmark = pytest.mark.django_db


def _mails() -> list[tuple]:
    return list(SentMail.objects.order_by("message_id").values_list(
        "message_id", "to", "subject", "body", "customer_id", "contact_id", "sent_by_id", "template_key"))


def _notes() -> list[tuple]:
    return [(n.user_id, n.key, n.kind, n.title, n.customer_id, n.read_at is None)
            for n in Notification.objects.order_by("user_id", "key")]


def test_demo_mails_and_notifications_are_logged_not_sent_and_repeatable() -> None:
    assert load_demo_mails in demo_loaders and load_demo_notifications in demo_loaders
    load_demo(customers=60, seed=3)
    assert django_mail.outbox == []  # nothing went through a backend
    mails = list(SentMail.objects.select_related("customer", "contact"))
    assert 1 <= len(mails) <= 40
    assert {m.status for m in mails} == {"sent"} and all(m.sent_at and m.attempts == 1 for m in mails)
    for m in mails:
        assert m.sent_by_id == m.customer.owner_id and m.to
        assert m.to == (m.contact.email if m.contact else next(e for e in m.customer.emails if e))
    assert any(m.template_key == "welcome" for m in mails) and any(not m.template_key for m in mails)
    welcome = next(m for m in mails if m.template_key == "welcome")
    assert "{{" not in welcome.body and "{%" not in welcome.body
    assert (welcome.customer.short_name or welcome.customer.name) in welcome.subject
    owner = welcome.customer.owner
    assert any(e.kind == "mailing.sent" for e in timeline_registry.entries(customer=welcome.customer, user=owner))

    notes = list(Notification.objects.select_related("customer"))
    assert notes and all(n.customer.owner_id == n.user_id for n in notes)
    assert any(n.read_at is None for n in notes) and any(n.read_at is not None for n in notes)

    # the same seed again: the same rows
    first_mails, first_notes = _mails(), _notes()
    customers = list(Customer.objects.order_by("pk"))
    users_all = {u.username: u for u in User.objects.all()}  # users owning no customer get nothing
    SentMail.objects.all().delete()
    Notification.objects.all().delete()
    load_demo_mails(customers, users_all, 3, print)
    load_demo_notifications(customers, users_all, 3, print)
    assert _mails() == first_mails and _notes() == first_notes
