from django.urls import path

from kehu.leads import views

app_name = "leads"

urlpatterns = [
    path("", views.lead_list, name="list"),
    path("new/", views.lead_create, name="create"),
    path("export/", views.lead_export, name="export"),
    path("duplicates/check/", views.lead_duplicate_check, name="duplicate_check"),
    path("forms/", views.lead_forms, name="forms"),
    path("forms/<int:pk>/", views.lead_forms, name="form_edit"),
    path("form/<slug:slug>/", views.public_form, name="public_form"),
    path("<int:pk>/", views.lead_detail, name="detail"),
    path("<int:pk>/edit/", views.lead_edit, name="edit"),
    path("<int:pk>/status/", views.lead_status, name="status"),
    path("<int:pk>/convert/", views.lead_convert, name="convert"),
    path("<int:pk>/delete/", views.lead_delete, name="delete"),
]
