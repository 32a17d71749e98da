"""The quality check of one customer: problems found in its stored values, missing key fields,
bounced e-mails, duplicates flagged by warning rules, its match keys, and a 0-100 score with the
reasons. Runs after every save and over everything in `kehu normalize` and the nightly check."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from kehu.core.bulk import fast_insert, fast_update, model_rows
from kehu.dataquality.cleaning import FieldProblem, clean_contact_fields
from kehu.dataquality.messages import describe, field_label
from kehu.dataquality.models import (
    BouncedEmail,
    MatchKey,
    QualityIssue,
    QualitySettings,
    RuleSeverity,
    RuleType,
    ValidationRule,
)
from kehu.dataquality.normalize.addresses import normalize_address_parts
from kehu.dataquality.normalize.base import Problem
from kehu.dataquality.normalize.emails import normalize_email
from kehu.dataquality.normalize.identifiers import normalize_credit_code, normalize_resident_id, normalize_url
from kehu.dataquality.normalize.phones import normalize_phone

# Points: completeness 50, validity 30, freshness 20.
COMPLETENESS_POINTS = 50
VALIDITY_POINTS = 30
FRESHNESS_POINTS = 20
POINTS_PER_PROBLEM = 10
# Problems that lower the score but are not about a stored value being wrong.
NOT_VALIDITY = {"unique.duplicate"}


# Instances built with positional values in concrete-field order: Django's keyword __init__ is
# most of the cost of the tens of thousands of issues and keys a batch makes.
_ISSUE_FIELDS = [f.attname for f in QualityIssue._meta.concrete_fields]


def _new_issue(customer: Any, code: str, field: str = "", value: str = "", hint: str = "",
               contact: Any = None) -> QualityIssue:
    values = {"id": None, "customer_id": customer.pk, "contact_id": contact.pk if contact is not None else None,
              "code": code, "field": field, "value": value, "hint": hint, "found_at": timezone.now(),
              "assigned_to_id": None}
    issue = QualityIssue(*[values[name] for name in _ISSUE_FIELDS])
    issue._state.fields_cache["customer"] = customer
    if contact is not None:
        issue._state.fields_cache["contact"] = contact
    return issue


class KeyRow(NamedTuple):
    """A MatchKey row to insert (a plain tuple: a batch makes tens of thousands)."""

    kind: str
    value: str
    customer_id: int | None
    contact_id: int | None


_DESCRIBED: dict[tuple[str | None, str], str] = {}


def _describe(code: str) -> str:
    """`describe` memoised per language (a batch scores thousands of records with a few codes)."""
    key = (get_language(), code)
    text = _DESCRIBED.get(key)
    if text is None:
        if len(_DESCRIBED) > 10000:
            _DESCRIBED.clear()
        text = _DESCRIBED[key] = describe(code)
    return text


@dataclass
class Reason:
    points: int
    message: str


@dataclass
class QualityReport:
    score: int
    completeness: int
    validity: int
    freshness: int
    days_since_touch: int
    reasons: list[Reason] = field(default_factory=list)
    issues: list[QualityIssue] = field(default_factory=list)


def quality_settings() -> QualitySettings:
    from kehu.dataquality.defaults import DEFAULT_KEY_FIELDS

    settings, _created = QualitySettings.objects.get_or_create(
        pk=1,
        defaults={"key_fields_company": DEFAULT_KEY_FIELDS["company"],
                  "key_fields_person": DEFAULT_KEY_FIELDS["person"]},
    )
    return settings


def key_fields_for(settings: QualitySettings, kind: str) -> list[str]:
    return list(settings.key_fields_person if kind == "person" else settings.key_fields_company)


def last_touch(customer: Any) -> dt.datetime:
    """The latest of update, follow-up and review: what freshness and the stale queue measure."""
    times = [t for t in (customer.updated_at, customer.last_activity_at, customer.reviewed_at) if t]
    return max(times)


def stored_value_problems(
    customer: Any, contacts: Sequence[Any], choice_fields: Mapping[str, set[str]] | None = None
) -> list[FieldProblem]:
    """Problems of the values as stored (normalisers are idempotent, so a clean value has none)."""
    found: list[FieldProblem] = []
    for phone in customer.phones or []:
        found += [FieldProblem("phones", p) for p in normalize_phone(phone).problems]
    for email in customer.emails or []:
        found += [FieldProblem("emails", p) for p in normalize_email(email).problems]
    if customer.credit_code:
        found += [FieldProblem("credit_code", p) for p in normalize_credit_code(customer.credit_code).problems]
    if customer.id_number:
        found += [FieldProblem("id_number", p) for p in normalize_resident_id(customer.id_number).problems]
    if customer.website:
        found += [FieldProblem("website", p) for p in normalize_url(customer.website).problems]
    if customer.province or customer.city or customer.district:
        address = normalize_address_parts(
            province=customer.province, city=customer.city, district=customer.district, detail=customer.address
        )
        found += [FieldProblem("address", p) for p in address.problems]
    for contact in contacts:
        cleaned = clean_contact_fields({"mobile": contact.mobile, "phone": contact.phone, "email": contact.email})
        found += [FieldProblem(f"contact.{p.field}", p.problem) for p in cleaned.problems]
    found += _unknown_choices(customer, choice_fields if choice_fields is not None else choice_field_values())
    return found


def choice_field_values() -> dict[str, set[str]]:
    """{custom field key: allowed values} of the customers' choice fields."""
    from kehu.customers.models import CustomFieldDefinition, CustomFieldType

    return {
        key: {str(c.get("value")) for c in choices}
        for key, choices in CustomFieldDefinition.objects.filter(
            target="customer", field_type__in=[CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE]
        ).values_list("key", "choices")
    }


def _unknown_choices(customer: Any, choice_fields: Mapping[str, set[str]]) -> list[FieldProblem]:
    """Stored values of choice fields whose option an admin has since removed."""
    found = []
    for key, stored in (customer.custom or {}).items():
        allowed = choice_fields.get(key)
        if allowed is None:
            continue
        for value in stored if isinstance(stored, list) else [stored]:
            if value not in (None, "") and str(value) not in allowed:
                found.append(FieldProblem(f"custom.{key}", Problem("picklist.unknown", str(value))))
    return found


def _contact_of(item: FieldProblem, contacts: Sequence[Any]) -> Any:
    if not item.field.startswith("contact."):
        return None
    name = item.field.removeprefix("contact.")
    for contact in contacts:
        if str(getattr(contact, name, "")) == item.problem.value or (
            name in ("mobile", "phone") and item.problem.value and item.problem.value in str(getattr(contact, name))
        ):
            return contact
    return None


def match_keys(customer: Any, contacts: Sequence[Any]) -> list[KeyRow]:
    keys: dict[tuple[str, str, int | None], KeyRow] = {}

    def add(kind: str, value: str, contact: Any = None) -> None:
        if value:
            contact_id = contact.pk if contact else None
            if (kind, value, contact_id) not in keys:
                keys[(kind, value, contact_id)] = KeyRow(kind, value, customer.pk, contact_id)

    for e164 in customer.phones_e164 or []:
        add("phone", e164)
    for email in customer.emails or []:
        if normalize_email(email).valid:
            add("email", email.lower())
    if customer.credit_code and normalize_credit_code(customer.credit_code).valid:
        add("credit_code", customer.credit_code)
    for contact in contacts:
        add("phone", contact.mobile_e164, contact)
        add("phone", contact.phone_e164, contact)
        if contact.email and normalize_email(contact.email).valid:
            add("email", contact.email.lower(), contact)
    return list(keys.values())


def score_customer(
    *,
    present: dict[str, bool],
    problems: Sequence[str],
    days_since_touch: int,
    stale_days: int,
) -> tuple[int, int, int, int, list[Reason]]:
    """(score, completeness, validity, freshness, reasons). Pure, so the weights are testable."""
    reasons: list[Reason] = []
    missing = [name for name, ok in present.items() if not ok]
    completeness = COMPLETENESS_POINTS
    if present:
        completeness = round(COMPLETENESS_POINTS * (len(present) - len(missing)) / len(present))
        for name in missing:
            reasons.append(Reason(round(COMPLETENESS_POINTS / len(present)), _describe(f"missing.{name}")))
    validity_problems = [code for code in problems if code not in NOT_VALIDITY]
    validity = VALIDITY_POINTS
    for code in validity_problems:
        lost = min(POINTS_PER_PROBLEM, validity)
        validity -= lost
        reasons.append(Reason(lost, _describe(code)))
    # Full marks up to a third of the stale limit, zero at twice the limit.
    fresh_window = max(stale_days, 1)
    ratio = (days_since_touch - fresh_window / 3) / (2 * fresh_window - fresh_window / 3)
    freshness = round(FRESHNESS_POINTS * min(1.0, max(0.0, 1 - ratio)))
    if freshness < FRESHNESS_POINTS:
        reasons.append(Reason(FRESHNESS_POINTS - freshness, _("%(reason)s（%(days)s 天）") % {
            "reason": _describe("record.stale"), "days": days_since_touch}))
    reasons.sort(key=lambda r: -r.points)
    return completeness + validity + freshness, completeness, validity, freshness, reasons


def _present(customer: Any, key_fields: Sequence[str], contact_count: int) -> dict[str, bool]:
    present: dict[str, bool] = {}
    for name in key_fields:
        if name == "contacts":
            present[name] = contact_count > 0
        elif name == "address":
            present[name] = bool(customer.address or customer.district)
        elif name in ("industry", "source", "level", "stage", "owner"):
            present[name] = getattr(customer, f"{name}_id", None) is not None
        elif name.startswith("custom."):
            present[name] = (customer.custom or {}).get(name.removeprefix("custom.")) not in (None, "", [])
        else:
            present[name] = getattr(customer, name, None) not in (None, "", [])
    return present


def _assess(
    customer: Any,
    contacts: Sequence[Any],
    *,
    settings: QualitySettings,
    choice_fields: Mapping[str, set[str]],
    bounced: set[str],
) -> tuple[list[QualityIssue], list[KeyRow], dict[str, bool]]:
    """Issues (except duplicates, which need the other records' keys), match keys, key-field presence."""
    issues: list[QualityIssue] = []
    for item in stored_value_problems(customer, contacts, choice_fields):
        contact = _contact_of(item, contacts)
        issues.append(_new_issue(customer, item.problem.code, item.field, item.problem.value[:300],
                                 item.problem.hint[:300], contact))
    present = _present(customer, key_fields_for(settings, customer.kind), len(contacts))
    for name, ok in present.items():
        if not ok:
            issues.append(_new_issue(customer, f"missing.{name}", name))
    for email in sorted(_emails_of(customer, contacts) & bounced):
        issues.append(_new_issue(customer, "email.bounced", "emails", email))
    return issues, match_keys(customer, contacts), present


def _emails_of(customer: Any, contacts: Sequence[Any]) -> set[str]:
    return {e.lower() for e in customer.emails or []} | {c.email.lower() for c in contacts if c.email}


def _report(
    customer: Any, issues: list[QualityIssue], present: dict[str, bool], settings: QualitySettings, now: dt.datetime
) -> QualityReport:
    days = max(0, (now - last_touch(customer)).days)
    score, completeness, validity, freshness, reasons = score_customer(
        present=present,
        problems=[i.code for i in issues if not i.code.startswith("missing.")],
        days_since_touch=days,
        stale_days=settings.stale_days,
    )
    return QualityReport(score=score, completeness=completeness, validity=validity, freshness=freshness,
                         days_since_touch=days, reasons=reasons, issues=issues)


def _warning_unique_rules() -> list[ValidationRule]:
    return list(ValidationRule.objects.filter(is_active=True, rule_type=RuleType.UNIQUE,
                                              severity=RuleSeverity.WARNING))


def customer_quality_refresh(
    customer: Any,
    *,
    settings: QualitySettings | None = None,
    unique_rules: Sequence[ValidationRule] | None = None,
    now: dt.datetime | None = None,
    save: bool = True,
) -> QualityReport:
    """Recompute the customer's issues, match keys and score; with `save` they replace the stored ones."""
    if save and customer.pk:
        return customers_quality_refresh([customer], settings=settings, unique_rules=unique_rules, now=now)[0]
    settings = settings or quality_settings()
    now = now or timezone.now()
    contacts = list(customer.contacts.all()) if customer.pk else []
    emails = _emails_of(customer, contacts)
    bounced = set(BouncedEmail.objects.filter(email__in=emails).values_list("email", flat=True)) if emails else set()
    issues, keys, present = _assess(customer, contacts, settings=settings, choice_fields=choice_field_values(),
                                    bounced=bounced)
    rules = _warning_unique_rules() if unique_rules is None else unique_rules
    if customer.pk and rules:
        issues += _duplicate_issues({customer.pk: customer}, {customer.pk: keys}, rules).get(customer.pk, [])
    return _report(customer, issues, present, settings, now)


def customers_quality_refresh(
    customers: Sequence[Any],
    *,
    settings: QualitySettings | None = None,
    unique_rules: Sequence[ValidationRule] | None = None,
    now: dt.datetime | None = None,
    fresh: Collection[int] = (),
) -> list[QualityReport]:
    """The same for a batch of saved customers with a fixed number of queries (contacts, bounced
    e-mails, duplicates, the replace of issues and keys, the score update), so a nightly check or a
    normalisation run over a million customers is not a million round trips per step. `fresh`: ids
    of customers inserted in this transaction (an import's new rows): no contacts, issues or keys
    to read or replace yet."""
    from kehu.customers.models import Contact, Customer

    if not customers:
        return []
    settings = settings or quality_settings()
    now = now or timezone.now()
    rules = _warning_unique_rules() if unique_rules is None else unique_rules
    ids = [c.pk for c in customers]
    stale = [pk for pk in ids if pk not in fresh] if fresh else ids
    contacts_of: dict[int, list[Any]] = {pk: [] for pk in ids}
    if stale:
        for contact in Contact.objects.filter(customer_id__in=stale).order_by("id"):
            contacts_of[contact.customer_id].append(contact)
    all_emails = set().union(*(_emails_of(c, contacts_of[c.pk]) for c in customers))
    bounced = set(BouncedEmail.objects.filter(email__in=all_emails).values_list("email", flat=True)) if all_emails \
        else set()
    choice_fields = choice_field_values()
    assessed = {c.pk: _assess(c, contacts_of[c.pk], settings=settings, choice_fields=choice_fields, bounced=bounced)
                for c in customers}
    if stale:
        MatchKey.objects.filter(customer_id__in=stale).delete()
    fast_insert(MatchKey, [key._asdict() for _issues, keys, _present in assessed.values() for key in keys])
    duplicates = _duplicate_issues({c.pk: c for c in customers}, {pk: a[1] for pk, a in assessed.items()}, rules) \
        if rules else {}
    assigned = {
        (customer_id, code, field_name, value): user_id
        for customer_id, code, field_name, value, user_id in QualityIssue.objects.filter(
            customer_id__in=stale, assigned_to__isnull=False
        ).values_list("customer_id", "code", "field", "value", "assigned_to_id")
    } if stale else {}
    reports = []
    all_issues: list[QualityIssue] = []
    for customer in customers:
        issues, _keys, present = assessed[customer.pk]
        issues = issues + duplicates.get(customer.pk, [])
        for issue in issues:
            issue.assigned_to_id = assigned.get((customer.pk, issue.code, issue.field, issue.value))
        all_issues += issues
        report = _report(customer, issues, present, settings, now)
        customer.quality_score = report.score
        customer.quality_checked_at = now
        reports.append(report)
    if stale:
        QualityIssue.objects.filter(customer_id__in=stale).delete()
    fast_insert(QualityIssue, model_rows(all_issues))
    # Not a user edit: no version bump, no updated_at, so freshness and optimistic locking are untouched.
    fast_update(Customer, customers, ["quality_score", "quality_checked_at"])
    return reports


def _duplicate_issues(
    customers: Mapping[int, Any], keys_of: Mapping[int, Sequence[KeyRow]], rules: Sequence[ValidationRule]
) -> dict[int, list[QualityIssue]]:
    """Customers whose unique-checked keys (warning rules) another customer also has."""
    from kehu.dataquality.rules import UNIQUE_KINDS

    kinds = {UNIQUE_KINDS.get(rule.field) for rule in rules if rule.target == "customer" or rule.field == "mobile"}
    wanted: dict[str, set[str]] = {}
    for keys in keys_of.values():
        for key in keys:
            if key.kind in kinds:
                wanted.setdefault(key.kind, set()).add(key.value)
    holders: dict[tuple[str, str], list[int]] = {}
    for kind, values in wanted.items():
        for value, customer_id in (MatchKey.objects.filter(kind=kind, value__in=list(values))
                                   .values_list("value", "customer_id").order_by("value", "customer_id")):
            holders.setdefault((kind, value), []).append(customer_id)
    found: dict[int, list[QualityIssue]] = {}
    for customer_id, keys in keys_of.items():
        seen: set[tuple[str, str]] = set()
        for key in keys:
            pair = (key.kind, key.value)
            if key.kind not in kinds or pair in seen:
                continue
            seen.add(pair)
            others = [other for other in holders.get(pair, []) if other != customer_id]
            if others:
                found.setdefault(customer_id, []).append(_new_issue(
                    customers[customer_id], "unique.duplicate", key.kind, key.value, str(others[0])))
    return found


def issue_label(issue: QualityIssue) -> str:
    label = describe(issue.code)
    if issue.field and not issue.code.startswith("missing."):
        label = f"{field_label(issue.field.removeprefix('contact.'))}：{label}"
    return label
