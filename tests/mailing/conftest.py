"""A real SMTP server on loopback (aiosmtpd) that receives the mails the tests send through Django's
SMTP backend. It refuses some recipients with 550 (a bounce) or 450 (try later), like a real server."""

from __future__ import annotations

import email
import email.policy
import socket
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from kehu.customers.services import contact_create, customer_create
from kehu.mailing import services
from kehu.mailing.models import MailTemplate
from tests.factories import AdminFactory, UserFactory

BOUNCING = "nobody@bounce.example.com"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: Any

    @property
    def subject(self) -> str:
        return str(self.message["Subject"]).strip()  # Django folds long encoded subjects onto a new line

    def part(self, kind: str = "plain") -> str:
        body = self.message.get_body(preferencelist=(kind,))
        return body.get_content().replace("\r\n", "\n") if body is not None else ""


@dataclass
class SmtpHandler:
    received: list[Received] = field(default_factory=list)
    rejected: set[str] = field(default_factory=lambda: {BOUNCING})
    busy: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]  # noqa: N802
        if address.lower() in self.rejected:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if address.lower() in self.busy:
            return "450 4.2.1 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server():  # type: ignore[no-untyped-def]
    handler = SmtpHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def smtp(smtp_server, settings) -> SmtpHandler:  # type: ignore[no-untyped-def]
    """The loopback server with an empty mailbox; Django's SMTP backend pointed at it."""
    handler: SmtpHandler = smtp_server.handler
    handler.received.clear()
    handler.rejected = {BOUNCING}
    handler.busy = set()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    settings.DEFAULT_FROM_EMAIL = "Kehu CRM <crm@kehu.example.com>"
    return handler


@pytest.fixture
def rep(db):  # type: ignore[no-untyped-def]
    return UserFactory(display_name="李销售", email="li@kehu.example.com", mobile="13900001111")


@pytest.fixture
def admin(db):  # type: ignore[no-untyped-def]
    return AdminFactory(display_name="管理员")


@pytest.fixture
def customer(rep):  # type: ignore[no-untyped-def]
    return customer_create(acting_user=rep, data={"name": "北京分扬科技有限公司", "short_name": "分扬科技",
                                                  "emails": ["info@fenyang.example.com"], "city": "北京市"})


@pytest.fixture
def contact(rep, customer):  # type: ignore[no-untyped-def]
    return contact_create(acting_user=rep, customer=customer, data={
        "name": "王小明", "salutation": "王总", "title": "总经理", "email": "wang@fenyang.example.com"})


@pytest.fixture
def welcome(admin):  # type: ignore[no-untyped-def]
    """The built-in 中文 "welcome" template (data migration), rewritten for the tests."""
    built_in = MailTemplate.objects.get(key="welcome", language="zh-hans")
    return services.template_save(acting_user=admin, template_id=built_in.pk, data={
        "key": "welcome", "name": "欢迎邮件", "language": "zh-hans",
        "subject": "欢迎 {{ customer.name }} 成为我们的客户",
        "body": ("{{ contact.salutation }}，您好！\n\n{{ customer.short_name }} 的专属顾问是 {{ sender.name }}。\n"
                 "{{ today|date:'Y年n月j日' }}"),
        "body_html": "<p>{{ contact.salutation }}，您好！</p><p>{{ customer.name }}</p>"})
