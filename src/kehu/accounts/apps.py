from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kehu.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from kehu.accounts import handover, receivers  # noqa: F401 — connects the sign-in signal receivers

        handover.register_defaults()
