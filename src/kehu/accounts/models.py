from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class DataScope(models.TextChoices):
    OWN = "own", _("仅本人")
    DEPARTMENT = "department", _("本部门及下级部门")
    ALL = "all", _("全部")


class Department(models.Model):
    """A node in the organisation tree. `path` (e.g. "/1/4/9/") makes "this department and
    everything under it" one indexed prefix query instead of a recursive walk."""

    name = models.CharField(_("名称"), max_length=100)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("上级部门"),
    )
    manager = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_departments",
        verbose_name=_("负责人"),
    )
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")

    class Meta:
        ordering = ["path"]
        verbose_name = _("部门")
        verbose_name_plural = _("部门")

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):  # type: ignore[override]
        super().save(*args, **kwargs)
        expected = (self.parent.path if self.parent_id else "/") + f"{self.pk}/"
        if self.path != expected:
            old_prefix = self.path
            Department.objects.filter(pk=self.pk).update(path=expected)
            self.path = expected
            if old_prefix:
                # Re-root the subtree when a department moves.
                for child in Department.objects.filter(path__startswith=old_prefix).exclude(pk=self.pk):
                    child.save()

    @property
    def depth(self) -> int:
        return max(self.path.count("/") - 2, 0)


class Role(models.Model):
    """Roles are data so admins can add their own; code is the stable key."""

    code = models.SlugField(_("代码"), max_length=50, unique=True)
    name_zh = models.CharField(_("中文名"), max_length=100)
    name_en = models.CharField(_("英文名"), max_length=100)
    data_scope = models.CharField(_("数据范围"), max_length=20, choices=DataScope.choices, default=DataScope.OWN)
    is_admin = models.BooleanField(_("管理员"), default=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("角色")
        verbose_name_plural = _("角色")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self.name_en if (get_language() or "").startswith("en") else self.name_zh


class User(AbstractUser):
    display_name = models.CharField(_("姓名"), max_length=100, blank=True)
    department = models.ForeignKey(
        Department,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
        verbose_name=_("部门"),
    )
    role = models.ForeignKey(
        Role, null=True, blank=True, on_delete=models.SET_NULL, related_name="users", verbose_name=_("角色")
    )
    mobile = models.CharField(_("手机"), max_length=30, blank=True)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def data_scope(self) -> str:
        if self.is_superuser or (self.role_id and self.role.is_admin):
            return DataScope.ALL
        return self.role.data_scope if self.role_id else DataScope.OWN

    @property
    def is_kehu_admin(self) -> bool:
        return bool(self.is_superuser or (self.role_id and self.role.is_admin))


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """API tokens for scripts. Only a SHA-256 of the secret is stored; the secret is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
