from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "kehu.leads"
    label = "leads"
    verbose_name = _("线索")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kehu.leads import registration

        registration.register()
