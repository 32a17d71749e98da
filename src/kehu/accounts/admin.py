from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from kehu.accounts.models import ApiToken, Department, LoginAttempt, Role, User
from kehu.core.errors import KehuError


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (*BaseUserAdmin.fieldsets, ("Kehu", {"fields": ("display_name", "department", "role", "mobile")}))
    list_display = ("username", "display_name", "department", "role", "is_active")
    list_filter = ("role", "department", "is_active")
    actions = ["deactivate"]

    @admin.action(description=_("离职停用（结束会话、吊销令牌；记录交接请用“用户与登录安全”页面）"))
    def deactivate(self, request, queryset):  # type: ignore[no-untyped-def]
        from kehu.accounts.services import user_deactivate

        done = 0
        for user in queryset.filter(is_active=True):
            try:
                user_deactivate(acting_user=request.user, user_id=user.pk)
                done += 1
            except KehuError as exc:
                self.message_user(request, f"{user}: {exc.message}", messages.ERROR)
        self.message_user(request, _("已停用 %(count)s 个用户") % {"count": done}, messages.SUCCESS)


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "parent", "manager", "path")


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en", "data_scope", "is_admin", "require_2fa")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "scopes", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = ("prefix", "key_hash", "last_used_at")


@admin.register(LoginAttempt)
class LoginAttemptAdmin(admin.ModelAdmin):
    """Read-only: attempts are evidence; unlock from the 用户与登录安全 page."""

    list_display = ("at", "username", "ip", "kind", "succeeded", "blocked", "cleared")
    list_filter = ("succeeded", "blocked", "kind")
    search_fields = ("username", "ip")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
