"""Contracts and payments (合同与回款): the contract number rule and its counters, contracts with
their attachments, payment plans (回款计划) and payments received (回款) with their allocations to
plan items.

Money is `Decimal` with two places. `Contract.received_amount` and `PaymentPlanItem.paid_amount` are
running totals kept by the services in the same transaction as every payment write (the allocations
are the truth; a test holds the totals equal to them), so lists, totals and the overdue filter are
plain column reads. A contract is scoped like an opportunity: by its own owner and department.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from kehu.core.models import TrackedModel


class AttachmentStorage(FileSystemStorage):
    """MEDIA_ROOT, or `<data folder>/media` while the settings name none. Read lazily, so a test's
    `settings.MEDIA_ROOT` applies. Files are never served by URL: only the permission-checked view
    streams them."""

    @cached_property
    def base_location(self) -> str:  # type: ignore[override]
        media = getattr(settings, "MEDIA_ROOT", "") or str(Path(settings.DATA_DIR) / "media")
        return self._value_or_setting(self._location, media)


attachment_storage = AttachmentStorage()


def get_attachment_storage() -> AttachmentStorage:
    return attachment_storage


class NumberDatePart(models.TextChoices):
    DAY = "YYYYMMDD", "YYYYMMDD"
    MONTH = "YYYYMM", "YYYYMM"
    NONE = "none", _("不含日期")


class NumberReset(models.TextChoices):
    YEARLY = "yearly", _("每年重新编号")
    MONTHLY = "monthly", _("每月重新编号")
    NEVER = "never", _("从不重新编号")


class ContractNumberRule(models.Model):
    """The one numbering rule (row pk=1): HT + 20261128 + 001."""

    prefix = models.CharField(_("前缀"), max_length=20, default="HT", blank=True)
    date_part = models.CharField(_("日期部分"), max_length=10, choices=NumberDatePart.choices,
                                 default=NumberDatePart.DAY)
    sequence_width = models.PositiveSmallIntegerField(_("流水号位数"), default=3)
    reset = models.CharField(_("流水号重置"), max_length=10, choices=NumberReset.choices, default=NumberReset.YEARLY)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("合同编号规则")
        verbose_name_plural = _("合同编号规则")

    def __str__(self) -> str:
        return f"{self.prefix}{self.date_part}{'#' * self.sequence_width}"


class ContractNumberCounter(models.Model):
    """The last sequence handed out in one reset period ("2026", "2026-11" or "" for never). Only
    ever incremented, under `select_for_update`, so a number is never handed out twice."""

    period = models.CharField(max_length=10, unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.period or '*'}: {self.last}"


class ContractStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    ACTIVE = "active", _("执行中")
    COMPLETED = "completed", _("已完成")
    TERMINATED = "terminated", _("已终止")


class Contract(TrackedModel):
    scope_owner_field = "owner"
    scope_department_field = "department"

    number = models.CharField(_("合同编号"), max_length=50, unique=True)
    title = models.CharField(_("合同名称"), max_length=200)
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="contracts",
                                 verbose_name=_("客户"))
    opportunity = models.ForeignKey("sales.Opportunity", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="contracts", verbose_name=_("商机"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="contracts", verbose_name=_("负责人"))
    department = models.ForeignKey("accounts.Department", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("部门"))
    amount = models.DecimalField(_("合同金额"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("币种"), max_length=3, default="CNY")
    signed_on = models.DateField(_("签约日期"), null=True, blank=True)
    starts_on = models.DateField(_("开始日期"), null=True, blank=True)
    ends_on = models.DateField(_("结束日期"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=12, choices=ContractStatus.choices, default=ContractStatus.DRAFT)
    notes = models.TextField(_("备注"), blank=True)
    # Running total of the payments (kept by the payment services; not a user edit, no version bump).
    received_amount = models.DecimalField(_("已回款"), max_digits=14, decimal_places=2, default=Decimal("0"),
                                          editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("合同")
        verbose_name_plural = _("合同")
        indexes = [
            models.Index(fields=["owner", "status"], name="contract_owner_status"),
            models.Index(fields=["customer"], name="contract_customer"),
            models.Index(fields=["status", "ends_on"], name="contract_status_ends"),
            models.Index(fields=["signed_on", "id"], name="contract_signed"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.received_amount


class ContractAttachment(models.Model):
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="contracts/%Y/%m/", storage=get_attachment_storage, max_length=300)
    name = models.CharField(_("文件名"), max_length=200)
    size = models.PositiveBigIntegerField(_("大小"), default=0)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        verbose_name = _("合同附件")
        verbose_name_plural = _("合同附件")

    def __str__(self) -> str:
        return self.name


class PaymentPlanItem(models.Model):
    """One instalment (一期回款): due date and amount; `paid_amount` is what the allocations cover."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="plan_items")
    sequence = models.PositiveIntegerField(_("期次"))
    due_date = models.DateField(_("计划回款日期"))
    amount = models.DecimalField(_("计划金额"), max_digits=14, decimal_places=2)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    paid_amount = models.DecimalField(_("已回款"), max_digits=14, decimal_places=2, default=Decimal("0"),
                                      editable=False)

    class Meta:
        ordering = ["contract", "sequence"]
        constraints = [models.UniqueConstraint(fields=["contract", "sequence"], name="plan_item_sequence")]
        indexes = [models.Index(fields=["due_date"], name="plan_item_due")]
        verbose_name = _("回款计划")
        verbose_name_plural = _("回款计划")

    def __str__(self) -> str:
        return f"{self.contract_id}#{self.sequence} {self.due_date} {self.amount}"

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.paid_amount


class PaymentMethod(models.TextChoices):
    BANK = "bank", _("银行转账")
    CASH = "cash", _("现金")
    WECHAT = "wechat", _("微信")
    ALIPAY = "alipay", _("支付宝")
    OTHER = "other", _("其他")


class Payment(models.Model):
    """A payment received (回款). `plan_item` is the instalment the user named, if any; where the
    money went is in the allocations."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="payments")
    received_on = models.DateField(_("回款日期"))
    amount = models.DecimalField(_("回款金额"), max_digits=14, decimal_places=2)
    method = models.CharField(_("回款方式"), max_length=10, choices=PaymentMethod.choices, default=PaymentMethod.BANK)
    reference = models.CharField(_("流水号/备注"), max_length=200, blank=True)
    plan_item = models.ForeignKey(PaymentPlanItem, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", verbose_name=_("对应期次"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_on", "-id"]
        indexes = [models.Index(fields=["contract", "received_on"], name="payment_contract")]
        verbose_name = _("回款")
        verbose_name_plural = _("回款")

    def __str__(self) -> str:
        return f"{self.received_on} {self.amount}"


class PaymentAllocation(models.Model):
    """The part of a payment that pays one instalment."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="allocations")
    plan_item = models.ForeignKey(PaymentPlanItem, on_delete=models.CASCADE, related_name="allocations")
    amount = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("回款核销")
        verbose_name_plural = _("回款核销")

    def __str__(self) -> str:
        return f"{self.payment_id} → {self.plan_item_id}: {self.amount}"
