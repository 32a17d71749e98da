from django.contrib import admin

from kehu.leads.models import Lead, LeadForm


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ("name", "company", "status", "owner", "campaign", "updated_at")
    list_filter = ("status",)
    raw_id_fields = ("owner", "department", "created_by", "updated_by", "converted_customer", "converted_contact",
                     "converted_opportunity", "web_form")
    search_fields = ("name", "company", "mobile", "email")


@admin.register(LeadForm)
class LeadFormAdmin(admin.ModelAdmin):
    list_display = ("slug", "title", "campaign", "default_owner", "is_active")
