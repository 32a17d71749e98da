"""Retention policies in the Django admin (/admin/, Kehu admins with staff access): a list with the
dry-run count, an edit form, and actions to preview or run selected policies now."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.errors import KehuError, ValidationFailed

from . import retention
from .models import RetentionPolicy


class RetentionPolicyForm(forms.ModelForm):
    class Meta:
        model = RetentionPolicy
        fields = ("name", "object_kind", "inactive_days", "customer_stage", "lead_status", "action", "enabled",
                  "run_as")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            retention.policy_validate(RetentionPolicy(**{k: v for k, v in data.items() if k != "run_as"}))
        except ValidationFailed as exc:
            raise ValidationError({e.field: str(e.message) for e in exc.errors if e.field}) from exc
        return data


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    form = RetentionPolicyForm
    list_display = ("name", "object_kind", "inactive_days", "customer_stage", "lead_status", "action", "enabled",
                    "would_process", "last_run_at", "last_run_count")
    list_filter = ("object_kind", "action", "enabled")
    readonly_fields = ("last_run_at", "last_run_count", "last_run_summary")
    actions = ("preview", "run_now")

    def has_module_permission(self, request: Any) -> bool:
        return bool(getattr(request.user, "is_kehu_admin", False))

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    has_add_permission = has_change_permission = has_delete_permission = has_view_permission  # type: ignore[assignment]

    @admin.display(description=gettext_lazy("现在将处理"))
    def would_process(self, obj: RetentionPolicy) -> int:
        return retention.retention_preview(policy=obj)

    @admin.action(description=gettext_lazy("预览（只统计，不修改）"))
    def preview(self, request: Any, queryset: Any) -> None:
        for policy in queryset:
            result = retention.retention_apply(policy=policy, dry_run=True)
            self.message_user(request, _("%(name)s：将处理 %(n)s 条") % {"name": policy.name, "n": result.selected})

    @admin.action(description=gettext_lazy("立即执行"))
    def run_now(self, request: Any, queryset: Any) -> None:
        for policy in queryset:
            try:
                result = retention.retention_apply(policy=policy)
            except KehuError as exc:
                self.message_user(request, f"{policy.name}: {exc}", level=messages.ERROR)
                continue
            self.message_user(request, _("%(name)s：已处理 %(n)s 条，跳过 %(s)s 条")
                              % {"name": policy.name, "n": result.processed, "s": result.skipped})
