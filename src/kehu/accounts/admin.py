from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from kehu.accounts.models import ApiToken, Department, Role, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (*BaseUserAdmin.fieldsets, ("Kehu", {"fields": ("display_name", "department", "role", "mobile")}))
    list_display = ("username", "display_name", "department", "role", "is_active")
    list_filter = ("role", "department", "is_active")


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "parent", "manager", "path")


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en", "data_scope", "is_admin")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "expires_at", "revoked_at")
    readonly_fields = ("prefix", "key_hash")
