"""What the mailing app tells the lower apps in `MailingConfig.ready()`: its log rows that point at
customers and contacts (merges move them), the sent mails on the customer's 360° timeline, the
domain events it publishes and its demo data."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.registries import TimelineEntry, timeline_registry


def _mail_entries(customer: Any, user: Any, limit: int) -> Iterable[TimelineEntry]:
    """"发送邮件《主题》给 a@b.cn", or its bounce / failure, on customers the user may see."""
    from kehu.core.scoping import restrict
    from kehu.customers.models import Customer
    from kehu.mailing.models import MailStatus, SentMail

    if not restrict(Customer.objects.filter(pk=customer.pk), user).exists():
        return
    rows = SentMail.objects.filter(customer_id=customer.pk).select_related("sent_by").order_by("-created_at", "-id")
    for mail in rows[:limit]:
        words = {"subject": mail.subject, "to": mail.to}
        if mail.status == MailStatus.BOUNCED:
            title = _("邮件《%(subject)s》被退回：%(to)s") % words
        elif mail.status == MailStatus.FAILED:
            title = _("邮件《%(subject)s》发送失败：%(to)s") % words
        elif mail.status == MailStatus.SENDING:
            title = _("邮件《%(subject)s》正在发送给 %(to)s") % words
        elif mail.status == MailStatus.QUEUED:
            title = _("邮件《%(subject)s》待发送给 %(to)s") % words
        else:
            title = _("发送邮件《%(subject)s》给 %(to)s") % words
        body = mail.body if len(mail.body) <= 300 else mail.body[:300] + "…"
        yield TimelineEntry(at=mail.sent_at or mail.created_at, kind="mailing.sent", title=title,
                            actor=str(mail.sent_by or ""), body=body, icon="mail")


def register() -> None:
    from kehu.core.events import register_event_name
    from kehu.dataquality.merging.registry import register_contact_related, register_related
    from kehu.mailing.models import SentMail

    register_related(SentMail, "customer", label=gettext_lazy("已发邮件"))
    register_contact_related(SentMail, "contact", label=gettext_lazy("已发邮件"))
    timeline_registry.register("mailing.sent", _mail_entries)
    register_event_name("mail.sent", "邮件已发送", "Mail sent")
    register_event_name("mail.bounced", "邮件被退回", "Mail bounced")
    from kehu.core.registries import demo_loaders
    from kehu.mailing.demo import load_demo_mails

    if load_demo_mails not in demo_loaders:
        demo_loaders.append(load_demo_mails)
