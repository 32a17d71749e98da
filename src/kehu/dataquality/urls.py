from django.urls import path

from kehu.dataquality import views

app_name = "dataquality"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("queues/<slug:key>/", views.queue, name="queue"),
    path("queues/<slug:key>/actions/", views.queue_action, name="queue_action"),
    path("customers/<int:pk>/reviewed/", views.customer_mark_reviewed, name="customer_mark_reviewed"),
    path("settings/", views.settings_general, name="settings"),
    path("settings/aliases/", views.settings_aliases, name="settings_aliases"),
    path("settings/aliases/<int:pk>/delete/", views.settings_alias_delete, name="settings_alias_delete"),
    path("settings/synonyms/", views.settings_synonyms, name="settings_synonyms"),
    path("settings/synonyms/<int:pk>/delete/", views.settings_synonym_delete, name="settings_synonym_delete"),
    path("settings/rules/", views.settings_rules, name="settings_rules"),
    path("settings/rules/new/", views.settings_rule_edit, name="settings_rule_create"),
    path("settings/rules/<int:pk>/", views.settings_rule_edit, name="settings_rule_edit"),
    path("settings/rules/<int:pk>/delete/", views.settings_rule_delete, name="settings_rule_delete"),
    path("normalize/", views.normalize_start, name="normalize_start"),
    path("jobs/<int:pk>/", views.job_progress, name="job_progress"),
    path("jobs/<int:pk>/report/", views.job_report, name="job_report"),
]
