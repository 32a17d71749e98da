from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    """Personal-data rights: consent records, the personal-data export and erasure of one customer.
    Consents point at customers and contacts by plain ids (no foreign key, so an erasure or delete
    never cascades into them); they are registered with the merge registries all the same, so a
    merge moves a person's consents to the surviving record and an unmerge moves them back."""

    name = "kehu.privacy"
    label = "privacy"
    verbose_name = _("个人信息")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy

        from kehu.dataquality.merging.registry import register_contact_related, register_related
        from kehu.privacy.models import Consent

        register_related(Consent, "customer_id", label=gettext_lazy("同意记录"))
        register_contact_related(Consent, "contact_id", label=gettext_lazy("同意记录"))
