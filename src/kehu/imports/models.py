"""An import is a batch: the uploaded file, how its columns map, the options, the job that runs it,
its counts, and one log row per source row so the batch can be resumed, explained and undone."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ImportBatch(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("待导入")
        RUNNING = "running", _("导入中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")
        CANCELLED = "cancelled", _("已取消")
        UNDONE = "undone", _("已撤销")

    kind = models.CharField(_("导入对象"), max_length=30)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # What the user called the file: shown, never used as a path.
    original_name = models.CharField(_("文件名"), max_length=255, blank=True)
    # DATA_DIR/uploads/<uuid>.<ext>, outside the web root; emptied when the job finishes.
    stored_path = models.CharField(max_length=500, blank=True)
    file_format = models.CharField(max_length=10, blank=True)
    encoding = models.CharField(max_length=30, blank=True)
    sheet = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=list, blank=True)
    # {"column index": "target field key"}
    mapping = models.JSONField(default=dict, blank=True)
    # mode, match_by, duplicate policy, owner policy (see engine.ImportOptions)
    options = models.JSONField(default=dict, blank=True)
    language = models.CharField(max_length=10, blank=True)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    dry_run = models.BooleanField(default=False)
    # Resume point: the last source row number whose chunk committed.
    last_row = models.PositiveIntegerField(default=0)
    total_rows = models.PositiveIntegerField(default=0)
    rows = models.PositiveIntegerField(_("行数"), default=0)
    created = models.PositiveIntegerField(_("新增"), default=0)
    updated = models.PositiveIntegerField(_("更新"), default=0)
    skipped = models.PositiveIntegerField(_("跳过"), default=0)
    flagged = models.PositiveIntegerField(_("标记待查"), default=0)
    rejected = models.PositiveIntegerField(_("拒绝"), default=0)
    error_file = models.CharField(max_length=500, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("导入批次")
        verbose_name_plural = _("导入批次")

    def __str__(self) -> str:
        return f"{self.kind}#{self.pk} {self.original_name}"

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in ("rows", "created", "updated", "skipped", "flagged",
                                                       "rejected")}


class RowAction(models.TextChoices):
    CREATED = "created", _("新增")
    UPDATED = "updated", _("更新")
    SKIPPED = "skipped", _("跳过")
    FLAGGED = "flagged", _("新增并标记待查")
    REJECTED = "rejected", _("拒绝")


class ImportRowLog(models.Model):
    """What happened to one source row. `before` holds the old values of the fields an update
    changed and `version_after` the version it left, so undo restores only untouched records.
    Rejected and flagged rows keep their original cells and reasons for the error file."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="row_logs")
    row_number = models.PositiveIntegerField()
    action = models.CharField(max_length=10, choices=RowAction.choices)
    object_type = models.CharField(max_length=30, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    before = models.JSONField(null=True, blank=True)
    version_after = models.PositiveIntegerField(null=True, blank=True)
    cells = models.JSONField(null=True, blank=True)
    # [[field, reason], ...]
    problems = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["batch", "row_number", "id"]
        indexes = [
            models.Index(fields=["batch", "action", "row_number"], name="import_row_batch_action"),
            models.Index(fields=["object_type", "object_id"], name="import_row_object"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.row_number} {self.action}"


class MappingTemplate(models.Model):
    """A saved mapping by header text ({header: target}), re-applied to files laid out differently
    through `imports.mapping.template_apply`."""

    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("导入对象"), max_length=30)
    mapping = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="import_template_kind_name")]
        verbose_name = _("导入模板")
        verbose_name_plural = _("导入模板")

    def __str__(self) -> str:
        return self.name
