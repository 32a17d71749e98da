"""Customer pools (公海): customers without an owner wait here until a rep claims them or a manager
assigns them. `Customer.owner` stays the single owner; a customer in a pool has no owner and one
`PoolEntry`. `PoolMove` is the history the cool-down and daily limits are counted from."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CustomerPool(models.Model):
    name = models.CharField(_("名称"), max_length=100)
    is_default = models.BooleanField(_("默认公海"), default=False)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="customer_pools",
                                     verbose_name=_("成员"))
    member_departments = models.ManyToManyField("accounts.Department", blank=True, related_name="customer_pools",
                                                verbose_name=_("成员部门"))
    admins = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="administered_pools",
                                    verbose_name=_("公海管理员"))
    holding_cap = models.PositiveIntegerField(_("持有上限"), default=0, help_text=_("每人最多负责的客户数，0 为不限"))
    daily_claim_limit = models.PositiveIntegerField(_("每日领取上限"), default=0, help_text=_("0 为不限"))
    reclaim_cooldown_days = models.PositiveIntegerField(_("原负责人重新领取冷却天数"), default=0)
    return_no_followup_days = models.PositiveIntegerField(_("未跟进退回天数"), default=0, help_text=_("0 为关闭"))
    return_no_won_days = models.PositiveIntegerField(_("未成交退回天数"), default=0, help_text=_("0 为关闭"))
    remind_days_before = models.PositiveIntegerField(_("提前提醒天数"), default=0)
    exempt_open_opportunity = models.BooleanField(_("有进行中商机时不退回"), default=True)
    exempt_live_contract = models.BooleanField(_("有生效合同时不退回"), default=True)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["-is_default", "name", "id"]
        verbose_name = _("公海")
        verbose_name_plural = _("公海")

    def __str__(self) -> str:
        return self.name


class PoolEntry(models.Model):
    customer = models.OneToOneField("customers.Customer", on_delete=models.CASCADE, related_name="pool_entry",
                                    verbose_name=_("客户"))
    pool = models.ForeignKey(CustomerPool, on_delete=models.PROTECT, related_name="entries", verbose_name=_("公海"))
    entered_at = models.DateTimeField(_("进入时间"), default=timezone.now)
    reason = models.CharField(_("原因"), max_length=300, blank=True)
    previous_owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+", verbose_name=_("原负责人"))

    class Meta:
        indexes = [models.Index(fields=["pool", "entered_at", "id"], name="pool_entry_pool_entered")]
        verbose_name = _("公海客户")
        verbose_name_plural = _("公海客户")

    def __str__(self) -> str:
        return f"{self.pool} / {self.customer_id}"


class MoveAction(models.TextChoices):
    CLAIM = "claim", _("领取")
    RELEASE = "release", _("退回公海")
    ASSIGN = "assign", _("分配")
    AUTO_RETURN = "auto_return", _("自动退回公海")
    REMINDER = "reminder", _("退回提醒")


class PoolMove(models.Model):
    """One move into or out of a pool; append-only."""

    customer_id = models.BigIntegerField(_("客户"))
    pool = models.ForeignKey(CustomerPool, on_delete=models.CASCADE, related_name="moves", verbose_name=_("公海"))
    action = models.CharField(_("操作"), max_length=20, choices=MoveAction.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", verbose_name=_("操作人"))
    previous_owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+", verbose_name=_("原负责人"))
    at = models.DateTimeField(_("时间"), default=timezone.now)
    reason = models.CharField(_("原因"), max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["customer_id", "at"], name="pool_move_customer_at"),
            models.Index(fields=["user", "action", "at"], name="pool_move_user_action_at"),
        ]
        verbose_name = _("公海记录")
        verbose_name_plural = _("公海记录")

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.pool}"


class ReturnReminder(models.Model):
    """A customer that will go back to the pool on `due_at` unless someone follows up."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+",
                                 verbose_name=_("客户"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                              verbose_name=_("负责人"))
    pool = models.ForeignKey(CustomerPool, on_delete=models.CASCADE, related_name="+", verbose_name=_("公海"))
    due_at = models.DateTimeField(_("预计退回时间"))
    created_at = models.DateTimeField(default=timezone.now)
    notified = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "owner", "due_at"], name="pool_reminder_once")]
        indexes = [models.Index(fields=["owner", "due_at"], name="pool_reminder_owner_due")]
        verbose_name = _("退回提醒")
        verbose_name_plural = _("退回提醒")

    def __str__(self) -> str:
        return f"{self.customer_id} → {self.due_at:%Y-%m-%d}"
