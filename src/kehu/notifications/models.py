"""In-app notifications: one row per message to one user ("任务今天到期", "新线索已分配给你").

`key` makes a notification idempotent per user: a worker that restarts mid-run and calls
`notify(..., key="task-due:42:2026-11-28")` again creates nothing the second time (a partial
unique index, so rows without a key are never compared)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications",
                             verbose_name=_("接收人"), db_index=False)
    kind = models.CharField(_("类型"), max_length=50, blank=True)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    url = models.CharField(_("链接"), max_length=500, blank=True)
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", verbose_name=_("客户"))
    created_at = models.DateTimeField(_("时间"), default=timezone.now)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)
    key = models.CharField(max_length=200, null=True, blank=True)
    emailed = models.BooleanField(_("已发邮件"), default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notification_user_created"),
            models.Index(fields=["user"], name="notification_user_unread", condition=models.Q(read_at__isnull=True)),
        ]
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], condition=models.Q(key__isnull=False),
                                    name="notification_user_key_unique"),
        ]
        verbose_name = _("通知")
        verbose_name_plural = _("通知")

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
