"""Shapes of the /api/v1/mail endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field

from kehu.customers.schemas import InputSchema, OutputSchema

from .models import MailTemplate, SentMail


class MailTemplateOut(OutputSchema):
    id: int
    key: str
    name: str
    language: str
    subject: str
    body: str
    body_html: str
    is_active: bool


class SendIn(InputSchema):
    template: str | int | None = Field(None, description="Template id or key; omit for a free-text mail")
    customer: int | None = None
    contact: int | None = None
    to: str | None = Field(None, description="Default: the contact's e-mail, else the customer's first e-mail")
    subject: str = Field("", description="Free-text mail only")
    body: str = Field("", description="Free-text mail only")
    language: str | None = Field(None, description="zh-hans or en: which language version of the template key")
    idempotency_key: str | None = Field(None, description="The same key again sends nothing (409-free: 200 null)")


class PreviewIn(InputSchema):
    template: str | int | None = None
    subject: str = ""
    body: str = ""
    body_html: str = ""
    customer: int | None = None
    contact: int | None = None
    language: str | None = None


class PreviewOut(OutputSchema):
    subject: str
    body: str
    body_html: str


class SentMailOut(OutputSchema):
    id: int
    to: str
    subject: str
    body: str
    status: str = Field(description="queued, sending, sent, failed or bounced")
    error: str
    template_key: str
    customer_id: int | None
    contact_id: int | None
    sent_by_id: int | None
    purpose: str
    message_id: str
    created_at: dt.datetime
    sent_at: dt.datetime | None


class SentMailPage(OutputSchema):
    items: list[SentMailOut]
    total: int


class SendOut(OutputSchema):
    sent: bool = Field(description="False when the idempotency key was used before (nothing sent)")
    mail: SentMailOut | None


def template_out(t: MailTemplate) -> dict[str, Any]:
    return {"id": t.pk, "key": t.key, "name": t.name, "language": t.language, "subject": t.subject, "body": t.body,
            "body_html": t.body_html, "is_active": t.is_active}


def sent_mail_out(m: SentMail) -> dict[str, Any]:
    return {"id": m.pk, "to": m.to, "subject": m.subject, "body": m.body, "status": m.status, "error": m.error,
            "template_key": m.template_key, "customer_id": m.customer_id, "contact_id": m.contact_id,
            "sent_by_id": m.sent_by_id, "purpose": m.purpose, "message_id": m.message_id,
            "created_at": m.created_at, "sent_at": m.sent_at}
