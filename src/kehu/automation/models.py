"""Automation (自动化): a rule is a trigger, conditions and an ordered list of actions, built by
admins without code.

- `Rule.conditions` is a list view's query string as a dict (the customer list's keys for customer
  rules, the lead and opportunity lists' keys for theirs), so a rule's audience is a list anyone
  can open; `Rule.actions` is `[{"type": ..., "params": {...}}]`, validated per type on save.
- `RuleRun` is one evaluation (an event, a daily time-based or scheduled pass, a dry run).
- `ActionLog` is one action on one record, unique by its idempotency key
  ("<rule>:<action index>:<record>:<period>"): a retried, replayed or restarted run finds the
  row done and does not act twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ObjectType(models.TextChoices):
    CUSTOMER = "customer", _("客户")
    LEAD = "lead", _("线索")
    OPPORTUNITY = "opportunity", _("商机")


class TriggerKind(models.TextChoices):
    CREATED = "created", _("记录创建")
    UPDATED = "updated", _("记录更新")
    DELETED = "deleted", _("记录删除")
    FIELD_CHANGED = "field_changed", _("字段变化")
    STAGE_CHANGED = "stage_changed", _("阶段变化")
    FOLLOWUP_LOGGED = "followup_logged", _("记录跟进")
    DATE_OFFSET = "date_offset", _("日期前后 N 天")
    INACTIVE = "inactive", _("N 天未跟进/未更新")
    SCHEDULE = "schedule", _("每天定时")


RECORD_TRIGGERS = frozenset({TriggerKind.CREATED, TriggerKind.UPDATED, TriggerKind.DELETED, TriggerKind.FIELD_CHANGED,
                             TriggerKind.STAGE_CHANGED, TriggerKind.FOLLOWUP_LOGGED})
TIME_TRIGGERS = frozenset({TriggerKind.DATE_OFFSET, TriggerKind.INACTIVE, TriggerKind.SCHEDULE})


class Rule(models.Model):
    name = models.CharField(_("名称"), max_length=200)
    description = models.TextField(_("说明"), blank=True)
    object_type = models.CharField(_("对象"), max_length=20, choices=ObjectType.choices, default=ObjectType.CUSTOMER)
    trigger = models.CharField(_("触发条件"), max_length=30, choices=TriggerKind.choices)
    trigger_params = models.JSONField(_("触发参数"), default=dict, blank=True)
    conditions = models.JSONField(_("筛选条件"), default=dict, blank=True)
    actions = models.JSONField(_("动作"), default=list, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    # The user the rule acts as: its data scope bounds the audience, its permissions the actions.
    run_as = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+", verbose_name=_("执行身份"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("创建人"))
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now)
    # Per-rule HMAC key of the webhook action (shown to the admin, used by the receiver to verify).
    webhook_secret = models.CharField(_("Webhook 签名密钥"), max_length=100, blank=True)
    # Round-robin cursors {"<action index>": last user id}, moved under the rule's row lock.
    state = models.JSONField(default=dict, blank=True, editable=False)
    template_key = models.CharField(_("来源模板"), max_length=50, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["is_active", "object_type", "trigger"], name="automation_rule_active")]
        verbose_name = _("自动化规则")
        verbose_name_plural = _("自动化规则")

    def __str__(self) -> str:
        return self.name

    @property
    def is_time_based(self) -> bool:
        return self.trigger in TIME_TRIGGERS

    @property
    def actor(self):  # type: ignore[no-untyped-def]
        return self.run_as or self.created_by


class RunStatus(models.TextChoices):
    RUNNING = "running", _("进行中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


class RuleRun(models.Model):
    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="runs", verbose_name=_("规则"))
    trigger = models.CharField(_("触发"), max_length=100)  # "customer.created", "schedule", "dry_run"
    # The day of a daily pass ("2026-11-28"): one completed pass per rule and day.
    period = models.CharField(max_length=40, blank=True, db_index=True)
    record_id = models.BigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(_("开始"), default=timezone.now)
    finished_at = models.DateTimeField(_("结束"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    matched = models.PositiveIntegerField(_("匹配记录数"), default=0)
    acted = models.PositiveIntegerField(_("完成动作数"), default=0)
    failed = models.PositiveIntegerField(_("失败动作数"), default=0)
    status = models.CharField(_("状态"), max_length=20, choices=RunStatus.choices, default=RunStatus.RUNNING)
    dry_run = models.BooleanField(_("试运行"), default=False)
    sample = models.JSONField(default=list, blank=True)  # dry run: the first 20 records [{id, label}]
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["rule", "period", "status"], name="automation_run_period")]
        verbose_name = _("规则运行")
        verbose_name_plural = _("规则运行")

    def __str__(self) -> str:
        return f"{self.rule_id} {self.trigger} {self.started_at:%Y-%m-%d %H:%M}"


class ActionStatus(models.TextChoices):
    PENDING = "pending", _("待执行")
    DONE = "done", _("已完成")
    RETRYING = "retrying", _("等待重试")
    FAILED = "failed", _("失败")
    SKIPPED = "skipped", _("已跳过")


class ActionLog(models.Model):
    """One action on one record. `key` makes it happen at most once (see module doc)."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="logs", verbose_name=_("规则"))
    run = models.ForeignKey(RuleRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="logs")
    object_type = models.CharField(max_length=20)
    record_id = models.BigIntegerField(_("记录"))
    # Plain id (like PoolMove): the timeline reads it; a customer merge leaves the history where it was.
    customer_id = models.BigIntegerField(null=True, blank=True)
    action_index = models.PositiveSmallIntegerField()
    action_type = models.CharField(_("动作"), max_length=30)
    period = models.CharField(max_length=80)
    status = models.CharField(_("状态"), max_length=20, choices=ActionStatus.choices, default=ActionStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    error = models.TextField(_("错误"), blank=True)
    detail = models.CharField(_("结果"), max_length=300, blank=True)
    key = models.CharField(max_length=200, unique=True)
    at = models.DateTimeField(_("时间"), default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["customer_id", "at"], name="automation_log_customer"),
            models.Index(fields=["rule", "status", "at"], name="automation_log_rule"),
        ]
        verbose_name = _("自动化动作记录")
        verbose_name_plural = _("自动化动作记录")

    def __str__(self) -> str:
        return self.key
