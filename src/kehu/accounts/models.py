from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class DataScope(models.TextChoices):
    OWN = "own", _("仅本人")
    # Own records plus those of the users in the departments (and sub-departments) this user manages.
    SUBORDINATES = "subordinates", _("本人及下属")
    DEPARTMENT_ONLY = "department_only", _("仅本部门")
    DEPARTMENT = "department", _("本部门及下级部门")
    ALL = "all", _("全部")


class FieldAccess(models.TextChoices):
    """What a role may do with one field, from least to most (see accounts/permissions.py)."""

    HIDDEN = "hidden", _("隐藏")
    MASKED = "masked", _("脱敏")
    READ_ONLY = "read_only", _("只读")
    EDITABLE = "editable", _("可编辑")


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
    # Users of this role must set up two-factor sign-in: after the password they are sent to enrolment.
    require_2fa = models.BooleanField(_("要求两步验证"), default=False)
    # Named operations granted ("customer.export", "opportunity.delete", ...; see accounts/permissions.py).
    # None means "the built-in defaults for this role's code", so the defaults can improve with the code
    # until an admin saves the role in the role editor.
    permissions = models.JSONField(_("操作权限"), null=True, blank=True, default=None)
    # Data scope per object type ({"customer": "own", "lead": "department"}); an object not listed
    # uses `data_scope`.
    scopes = models.JSONField(_("按对象的数据范围"), default=dict, blank=True)
    # Field-level security: {"customer.id_number": "masked", ...}; None = built-in defaults for the code.
    field_access = models.JSONField(_("字段权限"), null=True, blank=True, default=None)

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


def default_token_scopes() -> list[str]:
    return ["read", "write"]


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
    # What the token may do: "read" / "write" for every resource, or "<resource>:read|write" for one
    # (the first path segment after /api/v1/, e.g. "customers:read"). "write" includes "read".
    scopes = models.JSONField(_("权限范围"), default=default_token_scopes)

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"


class LoginAttempt(models.Model):
    """One sign-in attempt (password or two-factor code), kept for throttling and for the record.

    Rows are only ever inserted, except that `cleared` is set when a success or an admin unlock
    resets the username's failure count (the rows themselves stay)."""

    class Kind(models.TextChoices):
        PASSWORD = "password", _("密码")
        TOTP = "totp", _("两步验证码")

    username = models.CharField(_("用户名"), max_length=150, db_index=True)
    ip = models.GenericIPAddressField(_("IP"), null=True, blank=True)
    at = models.DateTimeField(_("时间"), default=timezone.now)
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices, default=Kind.PASSWORD)
    succeeded = models.BooleanField(_("成功"), default=False)
    # Attempts refused because the username or IP was locked: never checked, not counted again.
    blocked = models.BooleanField(_("因锁定被拒"), default=False)
    cleared = models.BooleanField(_("已解除"), default=False)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("登录尝试")
        verbose_name_plural = _("登录尝试")
        indexes = [
            models.Index(fields=["username", "at"], name="login_attempt_user_at"),
            models.Index(fields=["ip", "at"], name="login_attempt_ip_at"),
        ]

    def __str__(self) -> str:
        outcome = "ok" if self.succeeded else ("blocked" if self.blocked else "failed")
        return f"{self.username} {self.ip or '-'} {outcome}"


class TotpDevice(models.Model):
    """A user's authenticator app (TOTP, RFC 6238). Active once `confirmed_at` is set, i.e. after the
    user typed one code from the app. `last_step` refuses a code that was already used."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="totp_device")
    secret = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_step = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("两步验证设备")
        verbose_name_plural = _("两步验证设备")

    def __str__(self) -> str:
        return f"TOTP ({self.user})"


class RecoveryCode(models.Model):
    """Single-use codes for when the phone is lost. Only a SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("恢复码")
        verbose_name_plural = _("恢复码")

    def __str__(self) -> str:
        return f"recovery code ({self.user})"


class RecordShare(models.Model):
    """One record shared with a user or with a department (and its sub-departments): they can see it
    whatever their data scope says. `object_type` is the scoped model's label_lower
    ("customers.customer", "sales.opportunity", ...)."""

    object_type = models.CharField(_("对象类型"), max_length=100)
    object_id = models.BigIntegerField(_("对象"))
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="shares_received",
                             verbose_name=_("共享给用户"))
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="shares_received", verbose_name=_("共享给部门"))
    can_edit = models.BooleanField(_("可编辑"), default=False)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("记录共享")
        verbose_name_plural = _("记录共享")
        indexes = [
            models.Index(fields=["object_type", "user", "object_id"], name="share_type_user"),
            models.Index(fields=["object_type", "department", "object_id"], name="share_type_dept"),
            models.Index(fields=["object_type", "object_id"], name="share_object"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(user__isnull=False, department__isnull=True)
                           | models.Q(user__isnull=True, department__isnull=False)),
                name="share_one_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.object_type}#{self.object_id} → {self.user or self.department}"
