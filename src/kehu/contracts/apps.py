from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContractsConfig(AppConfig):
    name = "kehu.contracts"
    label = "contracts"
    verbose_name = _("合同与回款")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kehu.contracts import registration

        registration.register()
