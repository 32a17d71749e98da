"""The recycle bin (回收站): one row per deleted record, holding a snapshot of the record and of every
row its delete cascaded to (decision 0005). The live tables never hold deleted rows, so no query
anywhere needs a "not deleted" filter."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RecycleBinEntry(models.Model):
    # Scoped like the record was when deleted: by its owner and department (core.scoping).
    scope_owner_field = "owner"
    scope_department_field = "department"

    object_type = models.CharField(_("类型"), max_length=50)  # model_name: customer, contact, lead …
    object_id = models.BigIntegerField(_("记录编号"))
    label = models.CharField(_("名称"), max_length=300, blank=True)
    # The customer whose data the snapshot holds (the customer itself, or a contact's, a deal's …):
    # legal erasure of that customer removes the entry.
    customer_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    department = models.ForeignKey("accounts.Department", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    deleted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("删除人"))
    deleted_by_name = models.CharField(max_length=150, blank=True)
    deleted_at = models.DateTimeField(_("删除时间"), default=timezone.now)
    purge_after = models.DateTimeField(_("彻底删除时间"), db_index=True)
    # {"rows": [{"model": "app.model", "pk": …, "fields": {…}}, …] in insert order,
    #  "relinks": [{"model", "field", "pks"}] rows whose reference was set to NULL by the delete,
    #  "counts": {"app.model": n}}
    payload = models.JSONField(default=dict)
    row_count = models.PositiveIntegerField(default=0)
    # A restored entry stays as a receipt (payload emptied: the rows are live again) until its purge date.
    restored_at = models.DateTimeField(_("恢复时间"), null=True, blank=True)
    restored_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("恢复人"))

    class Meta:
        verbose_name = _("回收站记录")
        verbose_name_plural = _("回收站")
        ordering = ["-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="recyclebin_object_idx")]

    def __str__(self) -> str:
        return f"{self.object_type} #{self.object_id} {self.label}"
