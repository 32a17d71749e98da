"""Follow-ups (跟进记录) and tasks (任务与提醒).

A follow-up is one contact with a customer: a call, a visit (optionally checked in with the
browser's location), a meeting, a WeChat chat ... Kinds are data (`FollowUpKind`, seeded by a data
migration, admins add more). A follow-up is scoped like its customer: whoever may see the customer
sees its follow-ups. Its "next step" with a time creates a `Task` for the author, linked back.

A task is scoped by its assignee (and the assignee's department for managers); its creator also
sees it. `source_key` makes creation idempotent for the automation engine: the same key never
makes a second task. `reminded_due_at` is the due time a reminder was sent for, so moving the due
time re-arms the reminder and a worker restart never sends one twice.

`CalendarFeed` holds the hash of a user's secret iCalendar URL token; regenerating replaces it,
revoking deletes it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from kehu.core.models import TrackedModel


def _localised(zh: str, en: str) -> str:
    return en if (get_language() or "").startswith("en") and en else zh


class FollowUpKind(models.Model):
    code = models.SlugField(_("代码"), max_length=30, unique=True)
    name_zh = models.CharField(_("中文名"), max_length=50)
    name_en = models.CharField(_("英文名"), max_length=50, blank=True)
    icon = models.CharField(_("图标"), max_length=10, blank=True)
    position = models.PositiveIntegerField(_("排序"), default=0)
    # A visit-like kind offers the location check-in (外勤签到) on the form.
    allows_check_in = models.BooleanField(_("可外勤签到"), default=False)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("跟进方式")
        verbose_name_plural = _("跟进方式")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return _localised(self.name_zh, self.name_en)


class FollowUp(TrackedModel):
    scope_owner_field = "customer__owner"
    scope_department_field = "customer__department"

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="followups",
                                 verbose_name=_("客户"))
    contacts = models.ManyToManyField("customers.Contact", through="FollowUpContact", blank=True,
                                      related_name="followups", verbose_name=_("联系人"))
    opportunity = models.ForeignKey("sales.Opportunity", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="followups", verbose_name=_("商机"))
    kind = models.ForeignKey(FollowUpKind, on_delete=models.PROTECT, related_name="+", verbose_name=_("跟进方式"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="followups", verbose_name=_("跟进人"))
    occurred_at = models.DateTimeField(_("跟进时间"), default=timezone.now)
    content = models.TextField(_("跟进内容"))
    outcome = models.CharField(_("跟进结果"), max_length=300, blank=True)
    next_step = models.CharField(_("下一步"), max_length=300, blank=True)
    next_followup_at = models.DateTimeField(_("下次跟进时间"), null=True, blank=True)
    # Visit check-in (外勤签到): where the browser said the rep was, and when.
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    accuracy_m = models.FloatField(_("定位精度（米）"), null=True, blank=True)
    address = models.CharField(_("签到地址"), max_length=300, blank=True)
    checked_in_at = models.DateTimeField(_("签到时间"), null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("跟进记录")
        verbose_name_plural = _("跟进记录")
        indexes = [
            models.Index(fields=["customer", "occurred_at"], name="followup_customer_at"),
            models.Index(fields=["owner", "occurred_at"], name="followup_owner_at"),
            models.Index(fields=["occurred_at", "id"], name="followup_at_id"),
            models.Index(fields=["opportunity"], name="followup_opportunity"),
        ]

    def __str__(self) -> str:
        return (self.outcome or self.content)[:60]

    @property
    def checked_in(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    @property
    def map_url(self) -> str:
        """Amap (高德) marker link for the check-in position; amap takes longitude first."""
        if not self.checked_in:
            return ""
        return f"https://uri.amap.com/marker?position={self.longitude},{self.latitude}"


class FollowUpContact(models.Model):
    """A contact spoken to in a follow-up. Not unique per pair: a contact merge re-points the merged
    contact's rows to the survivor, which may already have one (reads show each contact once)."""

    followup = models.ForeignKey(FollowUp, on_delete=models.CASCADE, related_name="contact_links")
    contact = models.ForeignKey("customers.Contact", on_delete=models.CASCADE, related_name="followup_links")

    class Meta:
        verbose_name = _("跟进联系人")
        verbose_name_plural = _("跟进联系人")

    def __str__(self) -> str:
        return f"{self.followup_id}:{self.contact_id}"


class TaskPriority(models.TextChoices):
    LOW = "low", _("低")
    NORMAL = "normal", _("普通")
    HIGH = "high", _("高")
    URGENT = "urgent", _("紧急")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("待办")
    DONE = "done", _("已完成")
    CANCELLED = "cancelled", _("已取消")


PRIORITY_RANK = {TaskPriority.URGENT: 0, TaskPriority.HIGH: 1, TaskPriority.NORMAL: 2, TaskPriority.LOW: 3}


class Task(TrackedModel):
    scope_owner_field = "assignee"
    scope_department_field = "assignee__department"

    title = models.CharField(_("标题"), max_length=200)
    description = models.TextField(_("说明"), blank=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tasks",
                                 verbose_name=_("负责人"))
    due_at = models.DateTimeField(_("截止时间"), null=True, blank=True)
    priority = models.CharField(_("优先级"), max_length=10, choices=TaskPriority.choices, default=TaskPriority.NORMAL)
    status = models.CharField(_("状态"), max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="tasks", verbose_name=_("客户"))
    opportunity = models.ForeignKey("sales.Opportunity", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="tasks", verbose_name=_("商机"))
    contract = models.ForeignKey("contracts.Contract", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="tasks", verbose_name=_("合同"))
    # The follow-up whose "next step" created this task (a planned follow-up, 待跟进).
    followup = models.ForeignKey(FollowUp, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="next_tasks", verbose_name=_("来源跟进"))
    source_key = models.CharField(_("来源键"), max_length=200, null=True, blank=True, unique=True)
    reminded_due_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("任务")
        verbose_name_plural = _("任务")
        indexes = [
            models.Index(fields=["assignee", "status", "due_at"], name="task_assignee_status_due"),
            models.Index(fields=["status", "due_at"], name="task_status_due"),
            models.Index(fields=["customer", "status"], name="task_customer_status"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status == TaskStatus.OPEN

    @property
    def is_followup(self) -> bool:
        return self.followup_id is not None

    def is_overdue(self, now=None) -> bool:  # type: ignore[no-untyped-def]
        return self.is_open and self.due_at is not None and self.due_at < (now or timezone.now())


class CalendarFeed(models.Model):
    """A user's secret iCalendar subscription: only the SHA-256 of the URL token is stored."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("日历订阅")
        verbose_name_plural = _("日历订阅")

    def __str__(self) -> str:
        return f"feed of {self.user_id}"
