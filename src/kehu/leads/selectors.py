"""Reads of leads, always through `restrict()` (own / department / all)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from kehu.core.errors import NotFound
from kehu.core.scoping import restrict
from kehu.leads.models import Lead, LeadForm, LeadStatus


@dataclass(frozen=True)
class LeadFilter:
    """One filter definition for the web list and the API."""

    status: str = ""
    owner: str = ""  # a user id, "me" or "none"
    source: str = ""  # an option id
    campaign: str = ""
    q: str = ""

    @classmethod
    def from_params(cls, params: Any) -> LeadFilter:
        return cls(**{name: str(params.get(name) or "").strip() for name in ("status", "owner", "source",
                                                                              "campaign", "q")})


def leads_visible(*, user: Any) -> QuerySet[Lead]:
    return restrict(Lead.objects.all(), user)


def leads_filtered(*, user: Any, filters: LeadFilter) -> QuerySet[Lead]:
    queryset = leads_visible(user=user).select_related("owner", "source", "department")
    if filters.status in LeadStatus.values:
        queryset = queryset.filter(status=filters.status)
    elif filters.status == "open":
        queryset = queryset.exclude(status__in=[LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED])
    if filters.owner == "me":
        queryset = queryset.filter(owner=user)
    elif filters.owner == "none":
        queryset = queryset.filter(owner__isnull=True)
    elif filters.owner.isdigit():
        queryset = queryset.filter(owner_id=int(filters.owner))
    if filters.source.isdigit():
        queryset = queryset.filter(source_id=int(filters.source))
    if filters.campaign:
        queryset = queryset.filter(campaign=filters.campaign)
    if filters.q:
        q = filters.q
        digits = "".join(ch for ch in q if ch.isdigit())
        condition = Q(name__icontains=q) | Q(company__icontains=q) | Q(email__icontains=q)
        if len(digits) >= 3:
            condition |= Q(mobile_e164__contains=digits) | Q(phone__contains=digits)
        queryset = queryset.filter(condition)
    return queryset.order_by("-updated_at", "-id")


def lead_get(*, user: Any, lead_id: int, for_edit: bool = False) -> Lead:
    """One lead the user can see; with `for_edit`, one they may change (not a read-only share)."""
    lead = (restrict(Lead.objects.all(), user, write=for_edit)
            .select_related("owner", "source", "department", "converted_customer", "converted_contact",
                            "converted_opportunity", "web_form")
            .filter(pk=lead_id).first())
    if lead is None:
        raise NotFound(_("线索不存在或无权查看"))
    return lead


def lead_form_public(*, slug: str) -> LeadForm:
    """An active public form by its slug (no user: the form is public)."""
    web_form = LeadForm.objects.select_related("default_owner", "default_source").filter(
        slug=slug, is_active=True).first()
    if web_form is None:
        raise NotFound(_("表单不存在或已停用"))
    return web_form


def lead_history(*, lead: Lead, limit: int = 50, user: Any = None) -> list[Any]:
    """The lead's audit events, newest first; with `user`, field changes as that user may read them
    (hidden fields left out, masked ones masked: customers.history). The events are only read."""
    from kehu.core.models import AuditEvent
    from kehu.customers.history import mask_timeline_changes

    events = list(AuditEvent.objects.filter(object_type="lead", object_id=lead.pk).order_by("-at", "-id")[:limit])
    if user is not None:
        for event in events:  # in memory only: AuditEvent.save() refuses to update a row
            event.changes = mask_timeline_changes(user=user, object_type="lead", changes=event.changes)
    return events
