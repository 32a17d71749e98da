from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from kehu.config.api import api

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="customers:list", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("kehu.accounts.urls")),
    path("customers/", include("kehu.customers.urls")),
    path("quality/", include("kehu.dataquality.urls")),
    path("imports/", include("kehu.imports.urls")),
    path("sales/", include("kehu.sales.urls")),
    path("leads/", include("kehu.leads.urls")),
    path("contracts/", include("kehu.contracts.urls")),
    path("pool/", include("kehu.pool.urls")),
    path("activities/", include("kehu.activities.urls")),
    path("mail/", include("kehu.mailing.urls")),
    path("notifications/", include("kehu.notifications.urls")),
    path("automation/", include("kehu.automation.urls")),
    path("audit/", include("kehu.core.audit_urls")),
    path("privacy/", include("kehu.privacy.urls")),
    path("bin/", include("kehu.recyclebin.urls")),
]
