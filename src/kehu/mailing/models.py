"""Mail templates with merge fields, and the log of every mail sent (SentMail).

A template is identified by `key` and `language`: "welcome" may exist in 中文 and English, and a
sender asks for the key in the customer's language. `SentMail.idempotency_key` is unique, so an
automation that sends "birthday:<contact>:<year>" twice sends one mail.

A mail's status goes queued → sending → sent / failed / bounced. "sending" is a claim (with
`claimed_at`): whoever moves the row from queued to sending with a conditional UPDATE is the only
one to hand it to the SMTP server. A row still "sending" long after its claim belonged to a process
that died mid-send: it becomes failed with `maybe_sent` (the server may have accepted it), and is
never resent without a person deciding to."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class MailLanguage(models.TextChoices):
    ZH = "zh-hans", _("简体中文")
    EN = "en", _("English")


class MailTemplate(models.Model):
    key = models.SlugField(_("标识"), max_length=60)
    name = models.CharField(_("名称"), max_length=100)
    language = models.CharField(_("语言"), max_length=10, choices=MailLanguage.choices, default=MailLanguage.ZH)
    subject = models.CharField(_("主题"), max_length=300)
    body = models.TextField(_("正文（纯文本）"))
    body_html = models.TextField(_("正文（HTML，可选）"), blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["key", "language"]
        constraints = [models.UniqueConstraint(fields=["key", "language"], name="mail_template_key_language_unique")]
        verbose_name = _("邮件模板")
        verbose_name_plural = _("邮件模板")

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class MailStatus(models.TextChoices):
    QUEUED = "queued", _("待发送")
    SENDING = "sending", _("发送中")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")
    BOUNCED = "bounced", _("被退回")


class MailPurpose(models.TextChoices):
    CUSTOMER = "customer", _("客户邮件")
    NOTIFICATION = "notification", _("通知")
    AUTOMATION = "automation", _("自动化")


class SentMail(models.Model):
    """One outgoing mail: what was sent to whom, how it went. Rows are written by the mailing
    services only; a customer's mails show on its 360° timeline."""

    to = models.CharField(_("收件人"), max_length=254)
    from_email = models.CharField(_("发件人"), max_length=254, blank=True)
    reply_to = models.CharField(_("回复地址"), max_length=254, blank=True)
    subject = models.CharField(_("主题"), max_length=300)
    body = models.TextField(_("正文"), blank=True)
    body_html = models.TextField(_("HTML 正文"), blank=True)
    template = models.ForeignKey(MailTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                 verbose_name=_("模板"))
    template_key = models.CharField(_("模板标识"), max_length=60, blank=True)
    language = models.CharField(_("语言"), max_length=10, blank=True)
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", verbose_name=_("客户"))
    contact = models.ForeignKey("customers.Contact", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+", verbose_name=_("联系人"))
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+", verbose_name=_("发送人"))
    purpose = models.CharField(_("用途"), max_length=20, choices=MailPurpose.choices, default=MailPurpose.CUSTOMER)
    status = models.CharField(_("状态"), max_length=10, choices=MailStatus.choices, default=MailStatus.QUEUED)
    error = models.TextField(_("错误"), blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    claimed_at = models.DateTimeField(_("开始发送时间"), null=True, blank=True)
    maybe_sent = models.BooleanField(_("可能已送达"), default=False)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="sent_mail_customer_created"),
            models.Index(fields=["status"], name="sent_mail_status"),
        ]
        verbose_name = _("已发邮件")
        verbose_name_plural = _("已发邮件")

    def __str__(self) -> str:
        return f"{self.to}: {self.subject}"
