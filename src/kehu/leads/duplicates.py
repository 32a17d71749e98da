"""Duplicate warnings for a lead before it is saved: other leads (same normalised mobile or e-mail,
or the matching engine on name + company), customers (`dataquality.duplicates.likely_duplicates`,
which also counts the customers' contacts' numbers) and contacts (their match keys). Warnings only:
a lead is cheap, and the person entering it decides.

Like the customer check, the lookup is not limited to the user's scope (two reps chasing one
prospect is the point); a match the user may not see is named by owner only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from kehu.core.scoping import restrict
from kehu.dataquality.duplicates import DuplicateWarning, likely_duplicates
from kehu.dataquality.matching import REVIEW, MatchStats, build_record, compare, explain
from kehu.dataquality.normalize.emails import normalize_email
from kehu.dataquality.normalize.phones import normalize_phone

LEAD_CANDIDATES = 50
_STATS = MatchStats()


@dataclass(frozen=True)
class LeadWarning:
    lead_id: int
    visible: bool
    name: str
    owner_name: str
    status: str
    verdict: str
    reasons: str

    def as_dict(self) -> dict[str, Any]:
        return {"lead_id": self.lead_id if self.visible else None, "visible": self.visible, "name": self.name,
                "owner": self.owner_name, "status": self.status, "verdict": self.verdict, "reasons": self.reasons}


@dataclass(frozen=True)
class ContactHit:
    contact_id: int
    customer_id: int
    visible: bool
    name: str
    customer_name: str
    owner_name: str
    reasons: str

    def as_dict(self) -> dict[str, Any]:
        return {"contact_id": self.contact_id if self.visible else None,
                "customer_id": self.customer_id if self.visible else None, "visible": self.visible,
                "name": self.name, "customer_name": self.customer_name, "owner": self.owner_name,
                "reasons": self.reasons}


@dataclass
class LeadDuplicates:
    leads: list[LeadWarning] = field(default_factory=list)
    customers: list[DuplicateWarning] = field(default_factory=list)
    contacts: list[ContactHit] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.leads or self.customers or self.contacts)

    def certain_visible_customer(self) -> int | None:
        """The customer a conversion re-uses without asking: a certain match the user may see."""
        for warning in self.customers:
            if warning.verdict == "certain" and warning.visible:
                return warning.customer_id
        return None

    def as_dict(self) -> dict[str, Any]:
        return {"leads": [w.as_dict() for w in self.leads], "customers": [w.as_dict() for w in self.customers],
                "contacts": [w.as_dict() for w in self.contacts]}


def _keys(values: Mapping[str, Any]) -> tuple[list[str], str]:
    phones = []
    for name in ("mobile", "phone"):
        raw = str(values.get(name) or "").strip()
        if raw:
            number = normalize_phone(raw)
            if number.e164:
                phones.append(number.e164)
    raw_email = str(values.get("email") or "").strip()
    email = normalize_email(raw_email) if raw_email else None
    return phones, (email.value.lower() if email and email.valid else "")


def lead_role_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's roles of a lead: the person (name) at a company (company)."""
    return {"name": str(values.get("name") or ""), "company": str(values.get("company") or ""),
            "phone": [str(values.get(n)) for n in ("mobile", "phone") if values.get(n)],
            "email": [str(values["email"])] if values.get("email") else [],
            "province": str(values.get("province") or ""), "city": str(values.get("city") or "")}


def customer_role_values_of_lead(values: Mapping[str, Any]) -> dict[str, Any]:
    """A lead as the customer it would become: the company when there is one, else the person."""
    company = str(values.get("company") or "").strip()
    return {"kind": "company" if company else "person", "name": company or str(values.get("name") or ""),
            "phones": [str(values.get(n)) for n in ("mobile", "phone") if values.get(n)],
            "emails": [str(values["email"])] if values.get("email") else [],
            "province": str(values.get("province") or ""), "city": str(values.get("city") or "")}


def _owner_name(user: Any) -> str:
    return (getattr(user, "display_name", "") or getattr(user, "username", "")) if user else _("公海")


def _lead_warnings(values: Mapping[str, Any], *, user: Any, exclude_id: int | None, limit: int) -> list[LeadWarning]:
    from kehu.leads.models import Lead

    phones, email = _keys(values)
    name, company = str(values.get("name") or "").strip(), str(values.get("company") or "").strip()
    condition = Q()
    if phones:
        condition |= Q(mobile_e164__in=phones) | Q(phone_e164__in=phones)
    if email:
        condition |= Q(email__iexact=email)
    if name:
        condition |= Q(name=name)
    if company:
        condition |= Q(company=company)
    if not condition:
        return []
    candidates = Lead.objects.filter(condition).select_related("owner")
    if exclude_id:
        candidates = candidates.exclude(pk=exclude_id)
    record = build_record(lead_role_values(values))
    language = "en" if (get_language() or "").startswith("en") else "zh"
    scored = []
    for lead in candidates.order_by("-updated_at")[:LEAD_CANDIDATES]:
        outcome = compare(record, build_record(lead_role_values(lead.__dict__)), _STATS)
        same_key = bool(set(phones) & {lead.mobile_e164, lead.phone_e164} - {""}) or (
            email and lead.email.lower() == email)
        if outcome.score >= REVIEW or same_key:
            scored.append((outcome, lead, same_key))
    scored.sort(key=lambda item: (-item[0].score, -item[1].pk))
    scored = scored[:limit]
    visible = set(restrict(Lead.objects.filter(pk__in=[lead.pk for _o, lead, _k in scored]), user)
                  .values_list("pk", flat=True)) if user is not None else set()
    warnings = []
    for outcome, lead, same_key in scored:
        seen = lead.pk in visible
        reasons = explain(outcome.reasons, language) or (_("同一手机号或邮箱") if same_key else "")
        warnings.append(LeadWarning(
            lead_id=lead.pk, visible=seen, name=str(lead) if seen else "", owner_name=_owner_name(lead.owner),
            status=lead.get_status_display(), verdict="certain" if same_key else outcome.verdict,
            reasons=reasons if seen else _("电话、邮箱或姓名"),
        ))
    return warnings


def _contact_hits(values: Mapping[str, Any], *, user: Any, limit: int) -> list[ContactHit]:
    from kehu.customers.models import Contact, Customer
    from kehu.dataquality.models import MatchKey

    phones, email = _keys(values)
    condition = Q()
    if phones:
        condition |= Q(kind="phone", value__in=phones)
    if email:
        condition |= Q(kind="email", value=email)
    if not condition:
        return []
    contact_ids = list(MatchKey.objects.filter(condition, contact__isnull=False)
                       .values_list("contact_id", flat=True).distinct()[:limit])
    contacts = Contact.objects.filter(pk__in=contact_ids).select_related("customer", "customer__owner")
    visible = set(restrict(Customer.objects.filter(pk__in=[c.customer_id for c in contacts]), user)
                  .values_list("pk", flat=True)) if user is not None else set()
    hits = []
    for contact in contacts:
        seen = contact.customer_id in visible
        hits.append(ContactHit(
            contact_id=contact.pk, customer_id=contact.customer_id, visible=seen, name=contact.name if seen else "",
            customer_name=contact.customer.name if seen else "", owner_name=_owner_name(contact.customer.owner),
            reasons=_("同一手机号或邮箱"),
        ))
    return hits


def lead_duplicates(values: Mapping[str, Any], *, user: Any, exclude_id: int | None = None,
                    limit: int = 5) -> LeadDuplicates:
    """Leads, customers and contacts the lead values (as a form or the API names them) likely duplicate."""
    found = LeadDuplicates()
    found.leads = _lead_warnings(values, user=user, exclude_id=exclude_id, limit=limit)
    customer_values = customer_role_values_of_lead(values)
    if customer_values["name"] or customer_values["phones"] or customer_values["emails"]:
        found.customers = likely_duplicates(customer_values, user=user, limit=limit)
    found.contacts = _contact_hits(values, user=user, limit=limit)
    return found
