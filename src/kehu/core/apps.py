from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kehu.core"
    label = "core"
    verbose_name = "Kehu core"

    def ready(self) -> None:
        from kehu.core import audit

        audit.connect_auth_signals()  # login / logout / failed login → audit events
