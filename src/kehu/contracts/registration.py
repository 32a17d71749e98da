"""What the contracts app tells the lower apps in `ContractsConfig.ready()`: its table that points at
customers (merges move contracts to the survivor, unmerges move them back), the payments on the
customer's 360° timeline, and its object labels there."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.registries import TimelineEntry, timeline_registry


def _money(amount: Any) -> str:
    text = f"{amount:,.2f}"
    return text[:-3] if text.endswith(".00") else text


def _payment_entries(customer: Any, user: Any, limit: int) -> Iterable[TimelineEntry]:
    """Payments received on the customer's contracts the user may see ("收到回款 ¥12,000（合同 HT…）")."""
    import datetime as dt

    from django.utils import timezone

    from kehu.contracts.models import Contract, Payment
    from kehu.core.scoping import restrict

    visible = restrict(Contract.objects.filter(customer_id=customer.pk), user).values("pk")
    payments = (Payment.objects.filter(contract_id__in=visible).select_related("contract", "created_by")
                .order_by("-received_on", "-id")[:limit])
    for payment in payments:
        # Shown on the day the money came in; the recording time within that day keeps the order.
        recorded = timezone.localtime(payment.created_at).time()
        at = timezone.make_aware(dt.datetime.combine(payment.received_on, recorded))
        yield TimelineEntry(
            at=at,
            kind="contracts.payment",
            title=_("收到回款 ¥%(amount)s（合同 %(number)s）") % {"amount": _money(payment.amount),
                                                          "number": payment.contract.number},
            actor=str(payment.created_by or ""),
            body=payment.reference,
            icon="payment",
        )


def register() -> None:
    from kehu.contracts.models import Contract
    from kehu.customers import timeline
    from kehu.dataquality.merging.registry import register_related

    register_related(Contract, "customer", label=gettext_lazy("合同"))
    timeline_registry.register("contracts.payment", _payment_entries)
    timeline.OBJECT_LABELS.setdefault("contract", "合同")
    timeline.OBJECT_LABELS.setdefault("payment", "回款")
    timeline.SKIPPED_OBJECT_TYPES.add("payment")  # "收到回款 …" above says it
    from kehu.contracts.exports import register_export_kinds
    from kehu.contracts.imports import register_import_kinds

    register_export_kinds()
    register_import_kinds()
