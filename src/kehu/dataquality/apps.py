from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DataQualityConfig(AppConfig):
    name = "kehu.dataquality"
    label = "dataquality"
    verbose_name = _("数据质量")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kehu.dataquality.merging import registry

        registry.register_builtin()
        # The duplicate scan's stored keys follow merges too (scanning.py, imported only when used:
        # the matching engine's dictionaries cost a second and a half to load).
        from kehu.dataquality.models import DedupeKey

        registry.register_related(DedupeKey, "customer", label=_("查重扫描键"), derived=True,
                                  rebuild=_rebuild_dedupe_keys)
        # A customer merge brings two customers' contacts together (the same person entered under
        # both is now a duplicate contact); its undo takes them apart again.
        registry.on_merge(_refresh_contact_pairs)
        registry.on_unmerge(_refresh_contact_pairs)


def _rebuild_dedupe_keys(customers: Sequence[Any]) -> None:
    from kehu.dataquality import scanning

    scanning.rebuild_after_merge(customers)


def _refresh_contact_pairs(merge: Any) -> None:
    from kehu.dataquality.contact_duplicates import contact_duplicates_refresh

    contact_duplicates_refresh([merge.survivor_id, *merge.merged_ids])
