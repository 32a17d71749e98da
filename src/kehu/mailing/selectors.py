"""Reads of the mailing app. Sent mails are scoped by their customer (`restrict()`), plus the
mails the user sent; admins and "all data" users see every mail."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from kehu.core.errors import NotFound
from kehu.core.scoping import restrict
from kehu.customers.models import Customer

from .models import MailTemplate, SentMail


def templates_all(*, active_only: bool = False) -> QuerySet[MailTemplate]:
    rows = MailTemplate.objects.all()
    return rows.filter(is_active=True) if active_only else rows


def template_get(*, template_id: int) -> MailTemplate:
    template = MailTemplate.objects.filter(pk=template_id).first()
    if template is None:
        raise NotFound(_("邮件模板不存在"))
    return template


def sent_mails_visible(*, user: Any) -> QuerySet[SentMail]:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return SentMail.objects.none()
    rows = SentMail.objects.select_related("customer", "contact", "sent_by", "template")
    from kehu.core.scoping import scope_for

    if user.is_kehu_admin or scope_for(user, "customer") == "all":
        return rows
    customers = restrict(Customer.objects.all(), user).values("pk")
    return rows.filter(Q(customer_id__in=customers) | Q(sent_by_id=user.pk))


def sent_mails_filtered(*, user: Any, status: str = "", customer_id: int | None = None,
                        q: str = "") -> QuerySet[SentMail]:
    rows = sent_mails_visible(user=user)
    if status:
        rows = rows.filter(status=status)
    if customer_id:
        rows = rows.filter(customer_id=customer_id)
    if q:
        rows = rows.filter(Q(to__icontains=q) | Q(subject__icontains=q))
    return rows.order_by("-created_at", "-id")


def sent_mail_get(*, user: Any, mail_id: int) -> SentMail:
    mail = sent_mails_visible(user=user).filter(pk=mail_id).first()
    if mail is None:
        raise NotFound(_("邮件不存在或无权查看"))
    return mail
