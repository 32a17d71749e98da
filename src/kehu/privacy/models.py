"""Consent records and the record of each erasure.

Both point at the customer (and contact) by plain, indexed ids rather than foreign keys: a consent
or an erasure record must outlive the customer row, and the merge machinery need not move them.
An Erasure row holds no personal data: who, when, which customer id, and counts.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ConsentPurpose(models.TextChoices):
    MARKETING_MAIL = "marketing_mail", _("营销邮件")
    SMS = "sms", _("短信")
    PHONE = "phone", _("电话营销")
    DATA_PROCESSING = "data_processing", _("个人信息处理")
    THIRD_PARTY = "third_party", _("向第三方提供")
    CROSS_BORDER = "cross_border", _("跨境传输")


class ConsentSource(models.TextChoices):
    FORM = "form", _("纸质表单")
    IMPORT = "import", _("导入")
    VERBAL = "verbal", _("口头")
    WEB_FORM = "web_form", _("网页表单")


class Consent(models.Model):
    customer_id = models.BigIntegerField(_("客户"), db_index=True)
    contact_id = models.BigIntegerField(_("联系人"), null=True, blank=True, db_index=True)
    purpose = models.CharField(_("用途"), max_length=30, choices=ConsentPurpose.choices)
    granted = models.BooleanField(_("同意"), default=True)
    source = models.CharField(_("来源"), max_length=20, choices=ConsentSource.choices)
    recorded_at = models.DateTimeField(_("记录时间"), default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("记录人"))
    withdrawn_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", verbose_name=_("撤回人"))
    note = models.CharField(_("说明"), max_length=500, blank=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        verbose_name = _("同意记录")
        verbose_name_plural = _("同意记录")

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.granted and self.withdrawn_at is None


class Erasure(models.Model):
    customer_id = models.BigIntegerField(_("客户"), db_index=True)
    erased_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", verbose_name=_("操作人"))
    erased_at = models.DateTimeField(_("时间"), default=timezone.now)
    counts = models.JSONField(_("清除数量"), default=dict)

    class Meta:
        ordering = ["-erased_at", "-id"]
        verbose_name = _("个人信息删除记录")
        verbose_name_plural = _("个人信息删除记录")

    def __str__(self) -> str:
        return f"erasure #{self.pk} customer {self.customer_id}"
