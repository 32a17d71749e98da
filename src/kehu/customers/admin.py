from django.contrib import admin

from kehu.customers.models import Contact, Customer, CustomFieldDefinition, PicklistOption, Tag


@admin.register(PicklistOption)
class PicklistOptionAdmin(admin.ModelAdmin):
    list_display = ("kind", "code", "label_zh", "label_en", "position", "is_active")
    list_filter = ("kind", "is_active")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "color")


@admin.register(CustomFieldDefinition)
class CustomFieldDefinitionAdmin(admin.ModelAdmin):
    list_display = ("target", "key", "label_zh", "field_type", "required", "is_active")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "owner", "stage", "city", "updated_at")
    raw_id_fields = ("owner", "department", "created_by", "updated_by")
    search_fields = ("name",)
    show_full_result_count = False


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("name", "customer", "mobile", "email")
    raw_id_fields = ("customer", "created_by", "updated_by")
