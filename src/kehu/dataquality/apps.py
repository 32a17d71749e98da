from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DataQualityConfig(AppConfig):
    name = "kehu.dataquality"
    label = "dataquality"
    verbose_name = _("数据质量")
    default_auto_field = "django.db.models.BigAutoField"
