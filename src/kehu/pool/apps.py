from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PoolConfig(AppConfig):
    name = "kehu.pool"
    label = "pool"
    verbose_name = _("公海")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kehu.pool import registration

        registration.register()
