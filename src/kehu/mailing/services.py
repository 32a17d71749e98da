"""Writes of the mailing app: mail templates (admins), preview, and sending.

Sending (`send_template_mail`, `send_mail_message`):
1. the customer and contact are loaded through `restrict()` for the acting user (None = the system,
   e.g. the automation worker), so a user can only mail customers they may see;
2. the recipient defaults to the contact's e-mail, else the customer's first e-mail;
3. a SentMail row is written (status "queued"); its unique `idempotency_key` makes a second call
   with the same key return None and send nothing (a failed attempt may be retried with its key);
4. the mail goes out through Django's mail backend (`get_connection` + `EmailMultiAlternatives`)
   at once when there is no surrounding transaction, else right after it commits (a rolled back
   transaction sends nothing); the sender first claims the row (queued → sending, a conditional
   UPDATE, so no two processes send one row), then it becomes "sent", "failed" or "bounced";
   `mail_send_stuck` (every 5 minutes) sends rows whose process died before sending and marks rows
   whose process died mid-send as failed (maybe delivered, never resent by itself);
5. a recipient the SMTP server refuses with a 5xx code (smtplib.SMTPRecipientsRefused) is a bounce:
   status "bounced", and `kehu.dataquality.services.email_mark_bounced` flags every customer carrying
   the address with the "email.bounced" quality issue;
6. the domain event "mail.sent" (or "mail.bounced") is published.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import smtplib
from collections.abc import Mapping
from email.utils import make_msgid, parseaddr
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import events
from kehu.core.errors import ErrorCode, FieldError, NotFound, PermissionDenied, ValidationFailed
from kehu.core.scoping import restrict
from kehu.customers.models import Contact, Customer

from . import rendering
from .models import MailLanguage, MailPurpose, MailStatus, MailTemplate, SentMail

logger = logging.getLogger("kehu.mailing")

TEMPLATE_FIELDS = ("key", "name", "language", "subject", "body", "body_html", "is_active")


# Templates -----------------------------------------------------------------------------------------


def _require_admin(user: Any) -> None:
    from kehu.accounts.permissions import has_operation

    if not has_operation(user, "settings.manage"):
        raise PermissionDenied(_("只有管理员可以管理邮件模板"))


def _clean_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "on", "yes"}


@transaction.atomic
def template_save(*, acting_user: Any, data: Mapping[str, Any], template_id: int | None = None) -> MailTemplate:
    """Create (template_id None) or update a mail template; every field checked at once, the
    subject and bodies compiled by the sandboxed engine (syntax and unknown merge fields)."""
    _require_admin(acting_user)
    if template_id is not None:
        template = MailTemplate.objects.select_for_update().filter(pk=template_id).first()
        if template is None:
            raise NotFound(_("邮件模板不存在"))
    else:
        template = MailTemplate()
    errors: list[FieldError] = []
    key = str(data.get("key", template.key) or "").strip().lower()
    name = str(data.get("name", template.name) or "").strip()
    language = str(data.get("language", template.language) or MailLanguage.ZH)
    subject = str(data.get("subject", template.subject) or "").strip()
    body = str(data.get("body", template.body) or "")
    body_html = str(data.get("body_html", template.body_html) or "")
    is_active = _clean_bool(data.get("is_active"), template.is_active if template.pk else True)
    if not key:
        errors.append(FieldError("key", ErrorCode.REQUIRED, _("标识不能为空")))
    elif not re.fullmatch(r"[a-z0-9][a-z0-9_\-]{0,59}", key):
        errors.append(FieldError("key", ErrorCode.INVALID, _("标识只能包含小写字母、数字、- 和 _")))
    if not name:
        errors.append(FieldError("name", ErrorCode.REQUIRED, _("名称不能为空")))
    if language not in MailLanguage.values:
        errors.append(FieldError("language", ErrorCode.UNKNOWN_CHOICE, _("未知的语言：%(v)s") % {"v": language}))
    if not subject:
        errors.append(FieldError("subject", ErrorCode.REQUIRED, _("主题不能为空")))
    if not body.strip():
        errors.append(FieldError("body", ErrorCode.REQUIRED, _("正文不能为空")))
    for field, source, html in (("subject", subject, False), ("body", body, False), ("body_html", body_html, True)):
        problem = rendering.check_template(source, html=html) if source else None
        if problem:
            errors.append(FieldError(field, ErrorCode.INVALID, problem))
    if key and language and MailTemplate.objects.filter(key=key, language=language).exclude(pk=template.pk).exists():
        errors.append(FieldError("key", ErrorCode.UNIQUE, _("该语言已有标识为 %(key)s 的模板") % {"key": key}))
    if errors:
        raise ValidationFailed(errors)
    template.key, template.name, template.language = key, name[:100], language
    template.subject, template.body, template.body_html, template.is_active = subject[:300], body, body_html, is_active
    template.updated_at = timezone.now()
    template.updated_by = acting_user
    if template.pk is None:
        template.created_by = acting_user
    template.save()
    return template


@transaction.atomic
def template_delete(*, acting_user: Any, template_id: int) -> None:
    """Delete a template; mails already sent keep their text (their link to it becomes empty)."""
    _require_admin(acting_user)
    deleted, _rows = MailTemplate.objects.filter(pk=template_id).delete()
    if not deleted:
        raise NotFound(_("邮件模板不存在"))


def template_resolve(template: MailTemplate | str | int, language: str | None = None) -> MailTemplate:
    """The active template to use: an instance (or its sibling in `language`), or by key, preferring
    `language`, then the site's default language, then any language."""
    if isinstance(template, MailTemplate):
        if language and language != template.language:
            sibling = MailTemplate.objects.filter(key=template.key, language=language, is_active=True).first()
            if sibling is not None:
                return sibling
        if not template.is_active:
            raise ValidationFailed([FieldError("template", ErrorCode.INVALID, _("邮件模板已停用"))])
        return template
    if isinstance(template, int):
        found = MailTemplate.objects.filter(pk=template, is_active=True).first()
        if found is None:
            raise NotFound(_("邮件模板不存在或已停用"))
        return template_resolve(found, language)
    rows = {t.language: t for t in MailTemplate.objects.filter(key=str(template).strip(), is_active=True)}
    for wanted in (language, settings.LANGUAGE_CODE, *MailLanguage.values):
        if wanted and wanted in rows:
            return rows[wanted]
    raise NotFound(_("邮件模板不存在或已停用：%(key)s") % {"key": template})


# Recipients and permission ---------------------------------------------------------------------------


def _pk(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if hasattr(value, "pk"):
        return value.pk
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _visible(model: Any, pk: int | None, acting_user: Any, related: tuple[str, ...]) -> Any:
    if pk is None:
        return None
    rows = model.objects.select_related(*related).filter(pk=pk)
    if acting_user is not None:
        rows = restrict(rows, acting_user)
    return rows.first()


def resolve_parties(*, acting_user: Any, customer: Any = None, contact: Any = None) -> tuple[Customer | None,
                                                                                            Contact | None]:
    """The customer and contact, loaded fresh through the acting user's scope (NotFound otherwise).
    A contact alone brings its customer; a contact of another customer is refused."""
    contact_obj = _visible(Contact, _pk(contact), acting_user, ("customer",))
    if contact is not None and contact != "" and contact_obj is None:
        raise NotFound(_("联系人不存在或无权查看"))
    customer_pk = _pk(customer)
    if customer_pk is None and contact_obj is not None:
        customer_pk = contact_obj.customer_id
    customer_obj = _visible(Customer, customer_pk, acting_user, ("owner", "industry", "level"))
    if customer_pk is not None and customer_obj is None:
        raise NotFound(_("客户不存在或无权查看"))
    if contact_obj is not None and customer_obj is not None and contact_obj.customer_id != customer_obj.pk:
        raise ValidationFailed([FieldError("contact", ErrorCode.INVALID, _("联系人不属于这个客户"))])
    return customer_obj, contact_obj


def default_recipient(customer: Customer | None, contact: Contact | None) -> str:
    if contact is not None and contact.email:
        return contact.email
    if customer is not None:
        return next((e for e in customer.emails or [] if e), "")
    return ""


def _clean_to(to: str | None, customer: Customer | None, contact: Contact | None) -> str:
    address = (to or "").strip() or default_recipient(customer, contact)
    if not address:
        raise ValidationFailed([FieldError("to", ErrorCode.REQUIRED, _("没有收件人邮箱"))])
    try:
        validate_email(address)
    except DjangoValidationError as exc:
        raise ValidationFailed([FieldError("to", ErrorCode.INVALID, _("收件人邮箱格式不正确：%(to)s")
                                          % {"to": address})]) from exc
    return address


# Preview -----------------------------------------------------------------------------------------------


def mail_preview(*, acting_user: Any, subject: str, body: str, body_html: str = "", customer: Any = None,
                 contact: Any = None, language: str | None = None) -> rendering.RenderedMail:
    """Render a template's texts with a chosen customer/contact (sample data when none)."""
    customer_obj, contact_obj = resolve_parties(acting_user=acting_user, customer=customer, contact=contact)
    errors = [FieldError(field, ErrorCode.INVALID, problem)
              for field, source, html in (("subject", subject, False), ("body", body, False),
                                          ("body_html", body_html, True))
              if source and (problem := rendering.check_template(source, html=html))]
    if errors:
        raise ValidationFailed(errors)
    context = rendering.merge_context(customer=customer_obj, contact=contact_obj, sender=acting_user,
                                      sample=customer_obj is None and contact_obj is None)
    return rendering.render_mail(subject=subject, body=body, body_html=body_html, context=context,
                                 language=language)


# Sending ------------------------------------------------------------------------------------------------


def _from_domain() -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rsplit("@", 1)[-1] if "@" in address else "kehu.localhost"


def _refusal(exc: smtplib.SMTPRecipientsRefused) -> tuple[int, str]:
    code, message = next(iter(exc.recipients.values()), (0, b""))
    text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
    return int(code or 0), f"{code} {text}".strip()


def _claim(mail: SentMail, now: dt.datetime | None = None) -> bool:
    """Take the queued row for this process: one conditional UPDATE (queued → sending), so of two
    workers (or a web request and the stuck-mail sweep) only one ever hands it to the server."""
    now = now or timezone.now()
    claimed = SentMail.objects.filter(pk=mail.pk, status=MailStatus.QUEUED).update(
        status=MailStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if claimed:
        mail.status, mail.claimed_at, mail.attempts = MailStatus.SENDING, now, mail.attempts + 1
    return bool(claimed)


def _deliver(mail: SentMail, now: dt.datetime | None = None) -> SentMail:
    """Claim the mail, hand it to the backend and record how it went (runs outside any transaction).
    A mail someone else claimed first is left to them: the row is re-read and returned as it is."""
    if not _claim(mail, now):
        mail.refresh_from_db()
        return mail
    return _transmit(mail)


def _transmit(mail: SentMail) -> SentMail:
    """Send a mail this process has claimed ("sending") and store the outcome."""
    message = EmailMultiAlternatives(
        subject=mail.subject, body=mail.body, from_email=mail.from_email or None, to=[mail.to],
        reply_to=[mail.reply_to] if mail.reply_to else None, headers={"Message-ID": mail.message_id},
        connection=get_connection(fail_silently=False))
    if mail.body_html:
        message.attach_alternative(mail.body_html, "text/html")
    bounced_reason = ""
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        code, reason = _refusal(exc)
        mail.error = reason[:2000]
        if code >= 500:
            mail.status, bounced_reason = MailStatus.BOUNCED, reason or "550"
        else:
            mail.status = MailStatus.FAILED
    except Exception as exc:  # connection refused, timeouts, auth, 4xx/5xx on DATA: retryable failures
        logger.warning("mail %s to %s failed: %s", mail.pk, mail.to, exc)
        mail.status, mail.error = MailStatus.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
    else:
        mail.status, mail.error, mail.sent_at = MailStatus.SENT, "", timezone.now()
    mail.maybe_sent = False
    mail.save(update_fields=["status", "error", "sent_at", "maybe_sent"])
    if bounced_reason:
        from kehu.dataquality.services import email_mark_bounced

        email_mark_bounced(email=mail.to, reason=bounced_reason)
    if mail.status in (MailStatus.SENT, MailStatus.BOUNCED):
        events.publish(events.DomainEvent(
            name="mail.sent" if mail.status == MailStatus.SENT else "mail.bounced", object_type="sentmail",
            object_id=mail.pk, customer_id=mail.customer_id, actor_id=mail.sent_by_id,
            data={"to": mail.to, "subject": mail.subject, "template": mail.template_key, "contact_id": mail.contact_id,
                  "purpose": mail.purpose, "status": mail.status}))
    return mail


def _send(*, to: str, rendered: rendering.RenderedMail, acting_user: Any, customer: Customer | None,
          contact: Contact | None, template: MailTemplate | None, language: str, purpose: str,
          idempotency_key: str | None) -> SentMail | None:
    key = (idempotency_key or "").strip()[:200] or None
    reply_to = getattr(acting_user, "email", "") or "" if purpose == MailPurpose.CUSTOMER else ""
    values = {
        "to": to, "from_email": settings.DEFAULT_FROM_EMAIL, "reply_to": reply_to, "subject": rendered.subject,
        "body": rendered.body, "body_html": rendered.body_html, "template": template,
        "template_key": template.key if template else "", "language": language, "customer": customer,
        "contact": contact, "sent_by": acting_user if getattr(acting_user, "pk", None) else None,
        "purpose": purpose, "status": MailStatus.QUEUED, "error": "",
        "message_id": make_msgid(domain=_from_domain()),
    }
    mail: SentMail | None = None
    if key is not None:
        existing = SentMail.objects.filter(idempotency_key=key).first()
        if existing is not None:
            # Sent, bounced or in flight: done. Failed (server down): this call retries it, once.
            # A mail interrupted mid-send (maybe_sent) may have arrived: never resent automatically.
            # One UPDATE both requeues and rewrites it: once queued, another process may claim it.
            claimed = SentMail.objects.filter(pk=existing.pk, status=MailStatus.FAILED, maybe_sent=False).update(
                **values)
            if not claimed:
                return None
            mail = SentMail.objects.get(pk=existing.pk)
    if mail is None:
        try:
            with transaction.atomic():
                mail = SentMail.objects.create(idempotency_key=key, **values)
        except IntegrityError:
            if key is not None and SentMail.objects.filter(idempotency_key=key).exists():
                return None
            raise
    if transaction.get_connection().in_atomic_block:
        sent = mail
        transaction.on_commit(lambda: _deliver(sent))
        return mail
    return _deliver(mail)


def send_template_mail(
    *,
    template: MailTemplate | str,
    acting_user: Any = None,
    customer: Any = None,
    contact: Any = None,
    to: str | None = None,
    language: str | None = None,
    idempotency_key: str | None = None,
) -> SentMail | None:
    """Render `template` (an instance or its key) for the customer/contact and send it. Returns the
    SentMail (status sent/failed/bounced; "queued" until the surrounding transaction commits), or
    None when `idempotency_key` was used before."""
    if idempotency_key and SentMail.objects.filter(idempotency_key=idempotency_key).exclude(
            status=MailStatus.FAILED, maybe_sent=False).exists():
        return None
    customer_obj, contact_obj = resolve_parties(acting_user=acting_user, customer=customer, contact=contact)
    chosen = template_resolve(template, language)
    address = _clean_to(to, customer_obj, contact_obj)
    context = rendering.merge_context(customer=customer_obj, contact=contact_obj, sender=acting_user)
    rendered = rendering.render_mail(subject=chosen.subject, body=chosen.body, body_html=chosen.body_html,
                                     context=context, language=chosen.language)
    purpose = MailPurpose.CUSTOMER if acting_user is not None else MailPurpose.AUTOMATION
    return _send(to=address, rendered=rendered, acting_user=acting_user, customer=customer_obj, contact=contact_obj,
                 template=chosen, language=chosen.language, purpose=purpose, idempotency_key=idempotency_key)


def send_mail_message(
    *,
    subject: str,
    body: str,
    to: str | None = None,
    acting_user: Any = None,
    customer: Any = None,
    contact: Any = None,
    body_html: str = "",
    purpose: str = MailPurpose.CUSTOMER,
    idempotency_key: str | None = None,
) -> SentMail | None:
    """Send a free-text mail (no merge fields) to `to`, or to the contact's / customer's address.
    Same permission, logging, bounce handling and idempotency as `send_template_mail`."""
    if idempotency_key and SentMail.objects.filter(idempotency_key=idempotency_key).exclude(
            status=MailStatus.FAILED, maybe_sent=False).exists():
        return None
    errors = []
    subject = " ".join((subject or "").split())
    if not subject:
        errors.append(FieldError("subject", ErrorCode.REQUIRED, _("主题不能为空")))
    if not (body or "").strip():
        errors.append(FieldError("body", ErrorCode.REQUIRED, _("正文不能为空")))
    if purpose not in MailPurpose.values:
        errors.append(FieldError("purpose", ErrorCode.UNKNOWN_CHOICE, _("未知的用途：%(v)s") % {"v": purpose}))
    if errors:
        raise ValidationFailed(errors)
    customer_obj, contact_obj = resolve_parties(acting_user=acting_user, customer=customer, contact=contact)
    address = _clean_to(to, customer_obj, contact_obj)
    rendered = rendering.RenderedMail(subject=subject[:300], body=body, body_html=body_html or "")
    return _send(to=address, rendered=rendered, acting_user=acting_user, customer=customer_obj, contact=contact_obj,
                 template=None, language="", purpose=purpose, idempotency_key=idempotency_key)


def mail_retry(*, acting_user: Any, mail_id: int) -> SentMail:
    """Send a failed mail again (the sender, or an admin). Also a mail interrupted mid-send
    (`maybe_sent`): a person decided it did not arrive."""
    from . import selectors

    mail = selectors.sent_mail_get(user=acting_user, mail_id=mail_id)
    if mail.sent_by_id != acting_user.pk and not getattr(acting_user, "is_kehu_admin", False):
        raise PermissionDenied(_("只有发件人或管理员可以重发这封邮件"))
    if mail.status != MailStatus.FAILED:
        raise ValidationFailed([FieldError("status", ErrorCode.INVALID, _("只有发送失败的邮件可以重发"))])
    if not SentMail.objects.filter(pk=mail.pk, status=MailStatus.FAILED).update(status=MailStatus.QUEUED,
                                                                               maybe_sent=False):
        return mail
    mail.status, mail.maybe_sent = MailStatus.QUEUED, False
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _deliver(mail))
        return mail
    return _deliver(mail)


# Stuck mails (the periodic sweep) ------------------------------------------------------------------------

# A queued row older than this lost its sender (the process died after the commit, before sending).
STUCK_QUEUED_AFTER = dt.timedelta(minutes=5)
# A row still "sending" this long after its claim belonged to a process that died mid-send (the SMTP
# dialogue itself gives up after EMAIL_TIMEOUT seconds).
STUCK_SENDING_AFTER = dt.timedelta(minutes=15)
STUCK_BATCH = 200


def _stuck_queued_ids(now: dt.datetime) -> list[int]:
    """The queued mails nobody sent, oldest first (a separate function so a test can hold two
    sweeps between reading and claiming)."""
    return list(SentMail.objects.filter(status=MailStatus.QUEUED, created_at__lt=now - STUCK_QUEUED_AFTER)
                .order_by("created_at", "id").values_list("pk", flat=True)[:STUCK_BATCH])


def _report_failure(mail: SentMail, *, interrupted: bool = False) -> None:
    """Tell the person who sent the mail (automation and notification mails have nobody to tell:
    they stay in the log as failed)."""
    from django.urls import reverse

    from kehu.notifications.services import notify

    if mail.sent_by_id is None:
        return
    words = {"subject": mail.subject, "to": mail.to, "error": mail.error}
    if interrupted:
        title = _("邮件发送中断：《%(subject)s》") % words
        body = _("发给 %(to)s 的邮件在发送过程中中断，对方可能已经收到，系统不会自动重发。"
                 "请确认后在已发邮件中手动重发。") % words
    elif mail.status == MailStatus.BOUNCED:
        title = _("邮件被退回：《%(subject)s》") % words
        body = _("收件人 %(to)s 被邮件服务器拒收：%(error)s") % words
    else:
        title = _("邮件未能发出：《%(subject)s》") % words
        body = _("发给 %(to)s 的邮件发送失败：%(error)s") % words
    notify(user=mail.sent_by, title=title, body=body, url=reverse("mailing:sent_detail", args=[mail.pk]),
           kind="mail.failed", customer_id=mail.customer_id, key=f"mail-failed:{mail.pk}:{mail.attempts}")


def mail_send_stuck(now: dt.datetime | None = None) -> dict[str, int]:
    """The periodic sweep (every few minutes, `tasks.send_stuck_mails`); never inside a transaction,
    since each claim must be committed before its mail goes out.

    1. rows "sending" for longer than STUCK_SENDING_AFTER: the process died while talking to the
       SMTP server, which may have accepted the mail. They become failed with `maybe_sent` and a
       clear error, and are not resent (a person may resend them from the log);
    2. rows "queued" for longer than STUCK_QUEUED_AFTER: the process died between committing the row
       and sending it. Each is claimed (queued → sending, one conditional UPDATE, so of two sweeps
       running at once only one sends a row) and sent.
    The sender of every mail that ends failed, bounced or interrupted gets a notification. Returns
    counts by outcome: sent, failed, bounced, interrupted."""
    now = now or timezone.now()
    counts = {"sent": 0, "failed": 0, "bounced": 0, "interrupted": 0}
    error = _("发送中断：处理进程在发送过程中退出（超过 %(minutes)d 分钟没有结果），邮件可能已送达，未自动重发") % {
        "minutes": int(STUCK_SENDING_AFTER.total_seconds() // 60)}
    cutoff = now - STUCK_SENDING_AFTER
    interrupted = list(SentMail.objects.filter(status=MailStatus.SENDING, claimed_at__lt=cutoff)
                       .order_by("claimed_at", "id").values_list("pk", flat=True)[:STUCK_BATCH])
    for pk in interrupted:
        if not SentMail.objects.filter(pk=pk, status=MailStatus.SENDING, claimed_at__lt=cutoff).update(
                status=MailStatus.FAILED, maybe_sent=True, error=error):
            continue  # finished (or was marked by another sweep) in the meantime
        counts["interrupted"] += 1
        mail = SentMail.objects.select_related("sent_by").get(pk=pk)
        logger.warning("mail %s to %s interrupted mid-send; marked failed, not resent", pk, mail.to)
        _report_failure(mail, interrupted=True)
    for pk in _stuck_queued_ids(now):
        mail = SentMail.objects.select_related("sent_by").filter(pk=pk).first()
        if mail is None or not _claim(mail, now):
            continue  # sent by its own process or by another sweep meanwhile
        _transmit(mail)
        counts[mail.status] = counts.get(mail.status, 0) + 1
        if mail.status != MailStatus.SENT:
            _report_failure(mail)
    if any(counts.values()):
        logger.info("stuck mails: %s", counts)
    return counts
