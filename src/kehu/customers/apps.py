from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "kehu.customers"
    label = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        from kehu.customers import timeline

        timeline.register()
