from django.urls import path

from kehu.contracts import views

app_name = "contracts"

urlpatterns = [
    path("", views.contract_list, name="list"),
    path("new/", views.contract_create, name="create"),
    path("export/", views.contract_export, name="export"),
    path("export/<slug:what>/", views.contract_export, name="export_kind"),
    path("settings/", views.number_rule, name="settings"),
    path("from-opportunity/<int:opp_id>/", views.from_opportunity, name="from_opportunity"),
    path("<int:pk>/", views.contract_detail, name="detail"),
    path("<int:pk>/edit/", views.contract_edit, name="edit"),
    path("<int:pk>/status/", views.contract_status, name="status"),
    path("<int:pk>/delete/", views.contract_delete, name="delete"),
    path("<int:pk>/plan/", views.plan_save, name="plan"),
    path("<int:pk>/payments/", views.payment_create, name="payment_create"),
    path("<int:pk>/payments/<int:payment_pk>/delete/", views.payment_delete, name="payment_delete"),
    path("<int:pk>/attachments/", views.attachment_upload, name="attachment_upload"),
    path("<int:pk>/attachments/<int:attachment_pk>/", views.attachment_download, name="attachment_download"),
    path("<int:pk>/attachments/<int:attachment_pk>/delete/", views.attachment_delete, name="attachment_delete"),
]
