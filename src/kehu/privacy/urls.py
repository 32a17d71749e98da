from django.urls import path

from . import views

app_name = "privacy"

urlpatterns = [
    path("customers/<int:customer_id>/", views.customer_privacy, name="customer"),
    path("customers/<int:customer_id>/consents/", views.consent_add, name="consent_add"),
    path("consents/<int:consent_id>/withdraw/", views.consent_withdraw, name="consent_withdraw"),
    path("customers/<int:customer_id>/export/<str:fmt>/", views.export, name="export"),
    path("customers/<int:customer_id>/erase/", views.erase, name="erase"),
]
