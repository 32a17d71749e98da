from django.urls import path

from . import views

app_name = "activities"

urlpatterns = [
    path("", views.my_day, name="my_day"),
    path("calendar/", views.calendar, name="calendar"),
    path("calendar/feed/regenerate/", views.feed_regenerate, name="feed_regenerate"),
    path("calendar/feed/revoke/", views.feed_revoke, name="feed_revoke"),
    path("ical/<str:token>.ics", views.ical, name="ical"),
    path("followups/", views.followup_list, name="followups"),
    path("followups/new/", views.followup_new, name="followup_new"),
    path("followups/<int:followup_id>/edit/", views.followup_edit, name="followup_edit"),
    path("followups/<int:followup_id>/delete/", views.followup_delete, name="followup_delete"),
    path("tasks/", views.task_list, name="tasks"),
    path("tasks/new/", views.task_new, name="task_new"),
    path("tasks/<int:task_id>/", views.task_edit, name="task_edit"),
    path("tasks/<int:task_id>/complete/", views.task_complete, name="task_complete"),
    path("tasks/<int:task_id>/reopen/", views.task_reopen, name="task_reopen"),
    path("tasks/<int:task_id>/cancel/", views.task_cancel, name="task_cancel"),
    path("settings/kinds/", views.kinds_settings, name="kinds"),
]
