from django.urls import path

from kehu.mailing import views

app_name = "mailing"

urlpatterns = [
    path("", views.sent_list, name="sent"),
    path("sent/<int:pk>/", views.sent_detail, name="sent_detail"),
    path("sent/<int:pk>/retry/", views.sent_retry, name="sent_retry"),
    path("templates/", views.template_list, name="templates"),
    path("templates/new/", views.template_create, name="template_create"),
    path("templates/<int:pk>/", views.template_edit, name="template_edit"),
    path("templates/<int:pk>/delete/", views.template_delete, name="template_delete"),
    path("preview/", views.preview, name="preview"),
    path("compose/<int:customer_id>/", views.compose, name="compose"),
]
