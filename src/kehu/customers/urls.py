from django.urls import path, re_path

from kehu.customers import history_views, reveal_views, views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("search/", views.customer_search, name="search"),
    path("columns/", views.customer_columns, name="columns"),
    path("export/", views.customer_export, name="export"),
    path("bulk/", views.customer_bulk, name="bulk"),
    path("views/", views.saved_view_create, name="saved_view_create"),
    path("views/<int:pk>/delete/", views.saved_view_delete, name="saved_view_delete"),
    path("new/", views.customer_create, name="create"),
    path("duplicates/check/", views.customer_duplicate_check, name="duplicate_check"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/edit/", views.customer_edit, name="edit"),
    path("<int:pk>/delete/", views.customer_delete, name="delete"),
    path("<int:pk>/timeline/", views.customer_timeline, name="timeline"),
    path("<int:pk>/history/", history_views.customer_field_history, name="field_history"),
    re_path(r"^(?P<pk>[0-9]+)/archive\.(?P<fmt>xlsx|json)$", views.customer_archive, name="archive"),
    path("<int:pk>/notes/", views.note_create, name="note_create"),
    path("<int:pk>/contacts/", views.contacts_section, name="contacts"),
    path("<int:pk>/contacts/new/", views.contact_create, name="contact_create"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/delete/", views.contact_delete, name="contact_delete"),
    re_path(r"^reveal/(?P<object_type>customer|contact|lead)/(?P<pk>[0-9]+)/(?P<field>[a-z_0-9]+)/$",
            reveal_views.reveal, name="reveal"),
    path("settings/", views.settings_picklists, name="settings"),
    path("settings/picklists/", views.settings_picklists, name="settings_picklists"),
    path("settings/picklists/<int:pk>/", views.settings_picklist_edit, name="settings_picklist_edit"),
    path("settings/fields/", views.settings_fields, name="settings_fields"),
    path("settings/fields/new/", views.settings_field_edit, name="settings_field_create"),
    path("settings/fields/<int:pk>/", views.settings_field_edit, name="settings_field_edit"),
    path("settings/tags/", views.settings_tags, name="settings_tags"),
    path("settings/tags/<int:pk>/", views.settings_tag_edit, name="settings_tag_edit"),
]
