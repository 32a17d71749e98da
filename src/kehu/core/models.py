from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TrackedModel(models.Model):
    """Base for business records: who made and last changed it, when, and an edit version
    used for optimistic locking (two people editing the same record can't overwrite each other)."""

    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("创建人"),
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("更新人"),
    )
    version = models.PositiveIntegerField(_("版本"), default=1)

    class Meta:
        abstract = True


class AppendOnlyError(RuntimeError):
    pass


class AuditEvent(models.Model):
    """One row per create/update/delete/login/export/…. Rows are never updated or deleted by
    application code (a database trigger refuses it, kehu.core.audit_chain). Rows are inserted
    unsealed; the sealer (audit_chain.seal, every minute) gives each one a `seq` and chains it to
    the previous row by hash, so `kehu audit verify` finds any row changed or removed afterwards."""

    class Action(models.TextChoices):
        CREATE = "create", _("创建")
        UPDATE = "update", _("修改")
        DELETE = "delete", _("删除")
        EXPORT = "export", _("导出")
        IMPORT = "import", _("导入")
        MERGE = "merge", _("合并")
        UNMERGE = "unmerge", _("撤销合并")
        NOT_DUPLICATE = "not_duplicate", _("标记非重复")
        CONVERT = "convert", _("线索转化")
        LIFECYCLE = "lifecycle", _("生命周期")
        REVEAL = "reveal", _("查看完整值")
        LOGIN = "login", _("登录")
        LOGOUT = "logout", _("退出登录")
        LOGIN_FAILED = "login_failed", _("登录失败")
        PERMISSION = "permission", _("权限变更")
        RESTORE = "restore", _("从回收站恢复")
        PURGE = "purge", _("彻底删除")

    at = models.DateTimeField(default=timezone.now, db_index=True)
    # PROTECT: a user with history is deactivated, never deleted (SET_NULL would rewrite audit rows).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=50)
    object_id = models.BigIntegerField()
    object_repr = models.CharField(max_length=300, blank=True)
    # The customer whose timeline shows this event (the customer itself, or the owner of a contact).
    customer_id = models.BigIntegerField(null=True, blank=True)
    changes = models.JSONField(default=list, blank=True)
    # The hash chain, set by audit_chain.seal() (NULL until sealed): position, the previous entry's
    # hash and sha256(prev_hash + canonical JSON of this row).
    seq = models.BigIntegerField(null=True, blank=True, editable=False)
    prev_hash = models.CharField(max_length=64, null=True, blank=True, editable=False)
    entry_hash = models.CharField(max_length=64, null=True, blank=True, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["customer_id", "at"], name="audit_customer_at"),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
            # The sealer's queue: only the (few) unsealed rows are in it.
            models.Index(fields=["id"], condition=models.Q(entry_hash__isnull=True), name="audit_unsealed"),
        ]
        constraints = [
            # Partial, so SQLite adds it as an index (no table rebuild, which would drop the guard triggers).
            models.UniqueConstraint(fields=["seq"], condition=models.Q(seq__isnull=False), name="audit_seq_unique"),
        ]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.object_type}#{self.object_id}"

    def save(self, *args, **kwargs):  # type: ignore[override]
        if self.pk is not None:
            raise AppendOnlyError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[override]
        raise AppendOnlyError("audit events are append-only")


class Job(models.Model):
    """Long work (normalisation runs, imports, scans) as a row: the worker updates progress, the UI
    and the CLI poll it, a user may ask it to stop. Tasks stay thin and call a service that takes
    the job; a job that dies mid-way keeps its last committed progress for a resume."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("进行中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")
        CANCELLED = "cancelled", _("已取消")

    kind = models.CharField(_("类型"), max_length=50, db_index=True)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.QUEUED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("后台任务")
        verbose_name_plural = _("后台任务")

    def __str__(self) -> str:
        return f"{self.kind}#{self.pk} {self.status}"

    @property
    def finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED, self.Status.CANCELLED}

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(100, int(self.done * 100 / self.total)) if self.total else 0

    @property
    def rate(self) -> float:
        """Rows per second since the job started."""
        if not self.started_at or not self.done:
            return 0.0
        end = self.finished_at or timezone.now()
        seconds = max((end - self.started_at).total_seconds(), 0.001)
        return self.done / seconds

    @property
    def eta_seconds(self) -> int | None:
        rate = self.rate
        if self.finished or not rate or not self.total:
            return None
        return int(max(self.total - self.done, 0) / rate)
