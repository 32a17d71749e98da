"""/api/v1/ endpoints of the mailing app (tag "mailing"): active templates, preview, send (a template
or free text, to a customer the caller may see), the sent-mail log. Thin: reads through selectors,
writes through services; their errors become the shared JSON error shape."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from kehu.customers.schemas import ErrorOut

from . import selectors, services
from .models import MailStatus
from .schemas import (
    MailTemplateOut,
    PreviewIn,
    PreviewOut,
    SendIn,
    SendOut,
    SentMailOut,
    SentMailPage,
    sent_mail_out,
    template_out,
)

router = Router(tags=["mailing"])

ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _template_ref(value: str | int | None) -> Any:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


@router.get("/mail/templates", response={200: list[MailTemplateOut], **ERRORS})
def template_list(request: HttpRequest):  # type: ignore[no-untyped-def]
    """Active mail templates (every language)."""
    return [template_out(t) for t in selectors.templates_all(active_only=True)]


@router.post("/mail/preview", response={200: PreviewOut, **ERRORS})
def preview(request: HttpRequest, payload: PreviewIn):  # type: ignore[no-untyped-def]
    """Render a template (by id/key) or the given texts with a customer/contact, or sample data."""
    subject, body, body_html = payload.subject, payload.body, payload.body_html
    if payload.template not in (None, ""):
        template = services.template_resolve(_template_ref(payload.template), payload.language)
        subject, body, body_html = template.subject, template.body, template.body_html
    shown = services.mail_preview(acting_user=_user(request), subject=subject, body=body, body_html=body_html,
                                  customer=payload.customer, contact=payload.contact, language=payload.language)
    return {"subject": shown.subject, "body": shown.body, "body_html": shown.body_html}


@router.post("/mail/send", response={200: SendOut, **ERRORS})
def send(request: HttpRequest, payload: SendIn):  # type: ignore[no-untyped-def]
    """Send a template mail (`template`) or a free-text one (`subject` + `body`). The result says how
    the SMTP server took it: status sent, failed or bounced."""
    if payload.template not in (None, ""):
        mail = services.send_template_mail(
            template=_template_ref(payload.template), acting_user=_user(request), customer=payload.customer,
            contact=payload.contact, to=payload.to, language=payload.language,
            idempotency_key=payload.idempotency_key)
    else:
        mail = services.send_mail_message(
            subject=payload.subject, body=payload.body, to=payload.to, acting_user=_user(request),
            customer=payload.customer, contact=payload.contact, idempotency_key=payload.idempotency_key)
    return {"sent": mail is not None, "mail": sent_mail_out(mail) if mail is not None else None}


@router.get("/mail/sent", response={200: SentMailPage, **ERRORS})
def sent_list(request: HttpRequest, status: str = "", customer: int | None = None,  # type: ignore[no-untyped-def]
              q: str = "", offset: int = 0, limit: int = 50):
    """Sent mails of customers the caller may see (and the caller's own), newest first."""
    offset, limit = max(offset, 0), min(max(limit, 1), 200)
    rows = selectors.sent_mails_filtered(user=_user(request), status=status if status in MailStatus.values else "",
                                         customer_id=customer, q=q.strip()[:100])
    return {"items": [sent_mail_out(m) for m in rows[offset:offset + limit]], "total": rows.count()}


@router.get("/mail/sent/{mail_id}", response={200: SentMailOut, **ERRORS})
def sent_detail(request: HttpRequest, mail_id: int):  # type: ignore[no-untyped-def]
    return sent_mail_out(selectors.sent_mail_get(user=_user(request), mail_id=mail_id))
