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


class RetentionObject(models.TextChoices):
    CUSTOMER = "customer", _("客户")
    LEAD = "lead", _("线索")


class RetentionAction(models.TextChoices):
    ANONYMISE = "anonymise", _("匿名化")
    DELETE = "delete", _("删除")


class RetentionPolicy(models.Model):
    """Purge or anonymise records nobody has touched for `inactive_days` (kehu.privacy.retention).
    Applied daily by the scheduler to enabled policies; a dry run only counts."""

    name = models.CharField(_("名称"), max_length=100)
    object_kind = models.CharField(_("对象"), max_length=20, choices=RetentionObject.choices)
    inactive_days = models.PositiveIntegerField(_("无活动天数"),
                                                help_text=_("没有更新、也没有跟进超过这么多天的记录"))
    # Optional narrowing: a customer's lifecycle stage (code, e.g. "lost") or a lead's status.
    customer_stage = models.CharField(_("客户生命周期阶段"), max_length=50, blank=True,
                                      help_text=_("生命周期阶段的代码，例如 lost；空为不限"))
    lead_status = models.CharField(_("线索状态"), max_length=20, blank=True,
                                   help_text=_("例如 disqualified（无效线索）；空为不限（已转化的线索除外）"))
    action = models.CharField(_("处理方式"), max_length=20, choices=RetentionAction.choices,
                              default=RetentionAction.ANONYMISE)
    enabled = models.BooleanField(_("启用"), default=False)
    # The records are changed in this admin's name (audit actor); empty: the first active admin.
    run_as = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+", verbose_name=_("执行人"))
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)
    last_run_at = models.DateTimeField(_("上次执行"), null=True, blank=True, editable=False)
    last_run_count = models.PositiveIntegerField(_("上次处理条数"), default=0, editable=False)
    last_run_summary = models.JSONField(_("上次执行摘要"), default=dict, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("保留策略")
        verbose_name_plural = _("保留策略")

    def __str__(self) -> str:
        return self.name


class RetentionRecord(models.Model):
    """One record a policy processed (no personal data: kind, id, action, when), so an anonymised
    record is not picked again and the run can be audited."""

    policy = models.ForeignKey(RetentionPolicy, null=True, on_delete=models.SET_NULL, related_name="records")
    object_kind = models.CharField(max_length=20, choices=RetentionObject.choices)
    object_id = models.BigIntegerField()
    action = models.CharField(max_length=20, choices=RetentionAction.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_kind", "object_id"], name="retention_record_object")]
        verbose_name = _("保留策略处理记录")
        verbose_name_plural = _("保留策略处理记录")

    def __str__(self) -> str:
        return f"{self.object_kind}#{self.object_id} {self.action}"
