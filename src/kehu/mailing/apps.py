from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailingConfig(AppConfig):
    name = "kehu.mailing"
    label = "mailing"
    verbose_name = _("邮件")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kehu.mailing import registration

        registration.register()
