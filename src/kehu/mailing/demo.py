"""Demo mails for `kehu setup --demo-customers N`: a few mails the owners "sent" to their customers
(the built-in welcome template rendered for the customer and contact, or a short free-text mail),
logged as sent so the log and the customers' timelines have something to show. Nothing goes through
a mail backend: the rows are written directly. The same seed gives the same mails."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.utils import timezone

from kehu.customers.models import Contact, Customer
from kehu.mailing import rendering
from kehu.mailing.models import MailPurpose, MailStatus, MailTemplate, SentMail

MAX_MAILS = 40
FREE_TEXT = (
    ("报价单已发送，请查收", "{greeting}，您好！\n\n附件是我们上周沟通的报价单，如有疑问请随时联系我。\n\n{sign}"),
    ("关于下周拜访的安排", "{greeting}，您好！\n\n下周二上午十点我将到贵司拜访，届时带上产品演示。"
                           "请确认时间是否方便。\n\n{sign}"),
    ("会议纪要", "{greeting}，您好！\n\n感谢今天的交流，会议纪要见下文，请核对。\n"
                 "1. 确认需求范围\n2. 下周提供方案\n\n{sign}"),
)


def _domain() -> str:
    address = settings.DEFAULT_FROM_EMAIL.rsplit("<", 1)[-1].rstrip(">")
    return address.rsplit("@", 1)[-1] if "@" in address else "kehu.localhost"


def load_demo_mails(customers: Sequence[Any], users: dict[str, Any], seed: int, say: Callable[[str], None]) -> str:
    rng = random.Random(seed * 53 + 11)
    with_mail = [c.pk for c in customers if c.owner_id is not None and any(c.emails or [])]
    chosen = sorted(rng.sample(with_mail, min(MAX_MAILS, len(with_mail))))
    if not chosen:
        return "邮件：没有带邮箱的客户，跳过"
    rows = {c.pk: c for c in Customer.objects.select_related("owner", "industry", "level").filter(pk__in=chosen)}
    contacts: dict[int, Contact] = {}
    for contact in Contact.objects.filter(customer_id__in=chosen).exclude(email="").order_by("-is_primary", "id"):
        contacts.setdefault(contact.customer_id, contact)
    welcome = MailTemplate.objects.filter(key="welcome", language="zh-hans").first()
    now = timezone.now()
    domain = _domain()
    mails: list[SentMail] = []
    for number, pk in enumerate(chosen):
        customer = rows[pk]
        contact = contacts.get(pk)
        owner = customer.owner
        created = now - dt.timedelta(days=rng.randint(0, 60), hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
        if welcome is not None and rng.random() < 0.4:
            context = rendering.merge_context(customer=customer, contact=contact, sender=owner, today=created.date())
            rendered = rendering.render_mail(subject=welcome.subject, body=welcome.body, body_html=welcome.body_html,
                                             context=context, language=welcome.language)
            template, key, language = welcome, welcome.key, welcome.language
            subject, body = rendered.subject, rendered.body
        else:
            subject, text = rng.choice(FREE_TEXT)
            greeting = (contact.salutation or contact.name) if contact else (customer.short_name or customer.name)
            body = text.format(greeting=greeting, sign=str(owner))
            template, key, language = None, "", ""
        mails.append(SentMail(
            to=contact.email if contact else next(e for e in customer.emails if e),
            from_email=settings.DEFAULT_FROM_EMAIL, reply_to=owner.email or "", subject=subject, body=body,
            template=template, template_key=key, language=language, customer=customer, contact=contact,
            sent_by=owner, purpose=MailPurpose.CUSTOMER, status=MailStatus.SENT, attempts=1,
            message_id=f"<demo.{seed}.{number}@{domain}>", created_at=created, claimed_at=created,
            sent_at=created + dt.timedelta(seconds=rng.randint(1, 5))))
    SentMail.objects.bulk_create(mails, batch_size=500)
    return f"已发邮件：{len(mails)}（演示数据，未真正发送）"
