from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ActivitiesConfig(AppConfig):
    name = "kehu.activities"
    label = "activities"
    verbose_name = _("跟进与任务")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kehu.activities import registration

        registration.register()
