from django.urls import path

from . import views

app_name = "automation"

urlpatterns = [
    path("", views.rule_list, name="list"),
    path("new/", views.rule_edit, name="create"),
    path("templates/<slug:key>/", views.rule_from_template, name="from_template"),
    path("builder/trigger/", views.trigger_fields, name="trigger_fields"),
    path("builder/action/", views.action_row, name="action_row"),
    path("builder/audience/", views.audience, name="audience"),
    path("from-list/<slug:object_type>/", views.from_list, name="from_list"),
    path("<int:rule_id>/", views.rule_edit, name="edit"),
    path("<int:rule_id>/dry-run/", views.dry_run, name="dry_run"),
    path("<int:rule_id>/toggle/", views.toggle, name="toggle"),
    path("<int:rule_id>/run/", views.run_now, name="run_now"),
    path("<int:rule_id>/delete/", views.delete, name="delete"),
    path("<int:rule_id>/runs/", views.runs, name="runs"),
]
