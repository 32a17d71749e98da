from django.urls import path

from . import views

app_name = "recyclebin"

urlpatterns: list = [
    path("", views.bin_list, name="list"),
    path("<int:entry_id>/restore/", views.bin_restore, name="restore"),
    path("<int:entry_id>/purge/", views.bin_purge, name="purge"),
]
