"""Reads of the privacy app, always through the customer's row scope (kehu.core.scoping.restrict)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from kehu.core.errors import NotFound
from kehu.core.scoping import restrict
from kehu.customers.models import Contact, Customer

from .models import Consent, Erasure


def visible_customer(*, user: Any, customer_id: int) -> Customer:
    """The customer if `user` may see it; NotFound otherwise (outside the scope looks like missing)."""
    customer = restrict(Customer.objects.all(), user).filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("客户不存在或无权查看"))
    return customer


def consents_for(*, user: Any, customer_id: int) -> QuerySet[Consent]:
    visible_customer(user=user, customer_id=customer_id)
    return Consent.objects.filter(customer_id=customer_id).select_related("recorded_by", "withdrawn_by")


def consent_get(*, user: Any, consent_id: int) -> Consent:
    consent = Consent.objects.filter(pk=consent_id).first()
    if consent is None or not restrict(Customer.objects.filter(pk=consent.customer_id), user).exists():
        raise NotFound(_("同意记录不存在或无权查看"))
    return consent


def contact_names(*, customer_id: int) -> dict[int, str]:
    return dict(Contact.objects.filter(customer_id=customer_id).values_list("id", "name"))


def erasures_for(*, user: Any, customer_id: int) -> QuerySet[Erasure]:
    visible_customer(user=user, customer_id=customer_id)
    return Erasure.objects.filter(customer_id=customer_id).select_related("erased_by")
