from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AutomationConfig(AppConfig):
    name = "kehu.automation"
    label = "automation"
    verbose_name = _("自动化")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kehu.automation import registration

        registration.register()
