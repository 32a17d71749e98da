from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecycleBinConfig(AppConfig):
    """The recycle bin (回收站): deleted records wait here, restorable with their related rows, until
    they are purged after the retention period."""

    name = "kehu.recyclebin"
    label = "recyclebin"
    verbose_name = _("回收站")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kehu.core.events import register_event_name

        from . import kinds

        kinds.register_builtin()
        for object_type, zh, en in (("customer", "客户", "Customer"), ("contact", "联系人", "Contact"),
                                    ("lead", "线索", "Lead"), ("opportunity", "商机", "Opportunity"),
                                    ("contract", "合同", "Contract")):
            register_event_name(f"{object_type}.restored", f"{zh}从回收站恢复", f"{en} restored from the recycle bin")
