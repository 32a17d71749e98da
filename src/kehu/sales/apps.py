from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    name = "kehu.sales"
    label = "sales"
    verbose_name = _("销售")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kehu.sales import registration

        registration.register()
