from django.urls import path

from kehu.sales import views

app_name = "sales"

urlpatterns = [
    path("", views.board, name="board"),
    path("stages/<int:stage_id>/cards/", views.column_more, name="column_more"),
    path("list/", views.opportunity_list, name="list"),
    path("list/export/", views.opportunity_export, name="export"),
    path("forecast/", views.forecast, name="forecast"),
    path("opportunities/new/", views.opportunity_create, name="create"),
    path("opportunities/contacts/", views.opportunity_contacts, name="contacts"),
    path("opportunities/<int:pk>/", views.opportunity_detail, name="detail"),
    path("opportunities/<int:pk>/move/", views.opportunity_move, name="move"),
    path("opportunities/<int:pk>/delete/", views.opportunity_delete, name="delete"),
    path("settings/", views.settings_home, name="settings"),
    path("settings/pipelines/new/", views.settings_pipeline, name="pipeline_create"),
    path("settings/pipelines/<int:pk>/", views.settings_pipeline, name="pipeline_edit"),
    path("settings/pipelines/<int:pipeline_pk>/stages/new/", views.settings_stage, name="stage_create"),
    path("settings/stages/<int:pk>/", views.settings_stage, name="stage_edit"),
    path("settings/lost-reasons/new/", views.settings_lost_reason, name="lost_reason_create"),
    path("settings/lost-reasons/<int:pk>/", views.settings_lost_reason, name="lost_reason_edit"),
    path("settings/products/new/", views.settings_product, name="product_create"),
    path("settings/products/<int:pk>/", views.settings_product, name="product_edit"),
]
