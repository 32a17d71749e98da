from django.urls import path

from . import views

app_name = "pool"

urlpatterns = [
    path("", views.pool_list, name="list"),
    path("<int:pool_id>/claim/<int:customer_id>/", views.claim, name="claim"),
    path("<int:pool_id>/assign/<int:customer_id>/", views.assign, name="assign"),
    path("release/<int:customer_id>/", views.release, name="release"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/<int:pool_id>/", views.settings_page, name="settings_edit"),
    path("settings/run/", views.run_scan, name="run_scan"),
]
