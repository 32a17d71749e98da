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

# Merge and unmerge (kehu.dataquality.merging)
urlpatterns += [
    path("merge/", views.merge_compare, name="merge_compare"),
    path("merge/pick/<int:pk>/", views.merge_pick, name="merge_pick"),
    path("merges/<int:pk>/", views.merge_record, name="merge_record"),
    path("merges/<int:pk>/undo/", views.merge_undo, name="merge_undo"),
    path("not-duplicate/", views.not_duplicate, name="not_duplicate"),
]

# Duplicate scan and review queue (kehu.dataquality.scanning)
urlpatterns += [
    path("duplicates/", views.duplicates, name="duplicates"),
    path("duplicates/<int:pk>/dismiss/", views.duplicate_dismiss, name="duplicate_dismiss"),
    path("duplicates/scan/", views.duplicates_scan_start, name="duplicates_scan_start"),
    path("duplicates/scan/<int:pk>/", views.duplicates_scan_progress, name="duplicates_scan_progress"),
]

# Duplicate contacts within one customer (kehu.dataquality.contact_duplicates, merging.contacts)
from kehu.dataquality import contact_views  # noqa: E402 - this section's own import

urlpatterns += [
    path("duplicates/contacts/", contact_views.contact_duplicates_queue, name="contact_duplicates"),
    path("duplicates/contacts/<int:pk>/dismiss/", contact_views.contact_pair_dismiss, name="contact_pair_dismiss"),
    path("contacts/merge/", contact_views.contact_merge_compare, name="contact_merge_compare"),
    path("contacts/not-duplicate/", contact_views.contact_not_duplicate, name="contact_not_duplicate"),
    path("contact-merges/<int:pk>/", contact_views.contact_merge_record, name="contact_merge_record"),
    path("contact-merges/<int:pk>/undo/", contact_views.contact_merge_undo, name="contact_merge_undo"),
]
