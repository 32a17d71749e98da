"""Duplicate contacts within one customer: 张伟 entered once with his mobile and again as "张先生"
with his e-mail, under the same company.

A contact who is also a contact (or the record) of *another* customer makes those two customers a
pair in the customer scan (a customer's record carries its contacts' phones and e-mails); this
module covers what that cannot see: two contacts of one customer that are one person. They are
scored by the same engine (`dataquality.matching`), built from the contact's name, phones, e-mail
and birthday, plus `SAME_CUSTOMER_BITS` for the context: among the handful of people of one
company, a shared name is far stronger evidence than among a million customers, where the census
priors put it.

Pairs (`ContactDuplicatePair`) are refreshed for a customer whenever its contacts change (the
contact services call `contact_duplicates_refresh`), after customer merges and unmerges, and by
the archive scan. "Different people" decisions (`DistinctContactPair`) are never suggested again.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from kehu.core.errors import ErrorCode, FieldError, NotFound, ValidationFailed, VersionConflict
from kehu.core.scoping import restrict
from kehu.dataquality.matching import REVIEW, MatchRecord, MatchStats, Reason, build_record, candidate_pairs, compare
from kehu.dataquality.matching.reasons import explain
from kehu.dataquality.matching.scoring import verdict_of
from kehu.dataquality.models import ContactDuplicatePair, DistinctContactPair, DuplicateStatus

# The prior odds that two contacts of one customer are one person, in bits, over what the census
# priors assume for two records of the whole archive. With it a shared full name (even 张伟) is
# worth a review, a shared uncommon one or a shared mobile with the same surname is certain, and
# two people who only share a switchboard number stay apart.
SAME_CUSTOMER_BITS = 3.0
# Up to this many contacts a customer's contacts are compared all against all (80 contacts: 3,160
# pairs, ~50 ms); above it through the blocking index (shared phone, e-mail, full name).
ALL_PAIRS_MAX = 80
_IN_CHUNK = 900
_STATS = MatchStats()

CONTACT_COLUMNS = ("id", "customer_id", "name", "mobile", "phone", "email", "birthday")
ContactRow = tuple[Any, ...]


def contact_role_values(*, name: str, mobile: str = "", phone: str = "", email: str = "",
                        birthday: Any = None) -> dict[str, Any]:
    """The engine's role values of a contact (no company: both contacts share it by definition)."""
    values: dict[str, Any] = {"name": name, "phone": [p for p in (mobile, phone) if p],
                              "email": [email] if email else []}
    if birthday:
        values["birth_date"] = birthday if isinstance(birthday, str) else birthday.isoformat()
    return values


def contact_record(row: ContactRow) -> MatchRecord:
    _pk, _customer_id, name, mobile, phone, email, birthday = row
    return build_record(contact_role_values(name=name or "", mobile=mobile or "", phone=phone or "",
                                            email=email or "", birthday=birthday))


@dataclass(frozen=True)
class ContactScore:
    score: float
    verdict: str
    reasons: tuple[Reason, ...]

    def reasons_json(self) -> list[list[Any]]:
        return [[r.code, list(r.args), r.weight] for r in self.reasons]


def score_contacts(a: MatchRecord, b: MatchRecord, *, explain: bool = True) -> ContactScore:
    """The engine's score of two contacts of one customer, with the same-customer prior added."""
    scored = compare(a, b, _STATS, explain=explain)
    score = round(scored.score + SAME_CUSTOMER_BITS, 1)
    reasons = scored.reasons
    if explain:
        reasons = tuple(sorted((*reasons, Reason("contact.same_customer", (), SAME_CUSTOMER_BITS)),
                               key=lambda r: -r.weight if r.weight > 0 else 1000 + r.weight))
    return ContactScore(score, verdict_of(score), reasons)


def _candidate_positions(records: Sequence[MatchRecord]) -> Iterable[tuple[int, int]]:
    if len(records) <= ALL_PAIRS_MAX:
        return itertools.combinations(range(len(records)), 2)
    return candidate_pairs(records)


def _distinct(contact_ids: Sequence[int]) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    for start in range(0, len(contact_ids), _IN_CHUNK):
        part = contact_ids[start:start + _IN_CHUNK]
        found.update(DistinctContactPair.objects.filter(low_id__in=part).values_list("low_id", "high_id"))
    return found


@dataclass(frozen=True)
class FoundPair:
    customer_id: int
    low_id: int
    high_id: int
    score: ContactScore


def pairs_among(rows: Sequence[ContactRow]) -> list[FoundPair]:
    """The likely duplicate pairs among contact rows (`CONTACT_COLUMNS`), customer by customer,
    leaving out pairs marked as different people."""
    by_customer: dict[int, list[ContactRow]] = {}
    for row in rows:
        by_customer.setdefault(row[1], []).append(row)
    groups = [sorted(group) for group in by_customer.values() if len(group) > 1]
    distinct = _distinct(sorted(row[0] for group in groups for row in group))
    found: list[FoundPair] = []
    for group in groups:
        records = [contact_record(row) for row in group]
        for i, j in _candidate_positions(records):
            low, high = group[i][0], group[j][0]
            if (low, high) in distinct:
                continue
            if score_contacts(records[i], records[j], explain=False).score < REVIEW:
                continue
            found.append(FoundPair(group[i][1], low, high, score_contacts(records[i], records[j])))
    return found


def _rows_of_customers(customer_ids: Sequence[int]) -> list[ContactRow]:
    from kehu.customers.models import Contact

    rows: list[ContactRow] = []
    for start in range(0, len(customer_ids), _IN_CHUNK):
        part = customer_ids[start:start + _IN_CHUNK]
        rows += Contact.objects.filter(customer_id__in=part).values_list(*CONTACT_COLUMNS)
    return rows


@transaction.atomic
def contact_duplicates_refresh(customer_ids: Iterable[int]) -> int:
    """Recompute the open contact pairs of these customers: new pairs are added, pairs that no longer
    score (an edited number, a deleted or moved contact) are dropped, a merged pair whose two
    contacts are back (an undone merge) opens again; dismissed pairs are left alone. Returns the
    number of open pairs of these customers afterwards."""
    ids = sorted({int(pk) for pk in customer_ids})
    if not ids:
        return 0
    rows = _rows_of_customers(ids)
    contact_ids = sorted(row[0] for row in rows)
    found = {(p.low_id, p.high_id): p for p in pairs_among(rows)}
    existing: dict[tuple[int, int], ContactDuplicatePair] = {}
    for start in range(0, max(len(ids), len(contact_ids)), _IN_CHUNK):
        condition = Q(customer_id__in=ids[start:start + _IN_CHUNK])
        if contact_ids[start:start + _IN_CHUNK]:
            part = contact_ids[start:start + _IN_CHUNK]
            condition |= Q(low_id__in=part) | Q(high_id__in=part)
        for pair in ContactDuplicatePair.objects.select_for_update().filter(condition):
            existing[(pair.low_id, pair.high_id)] = pair
    now = timezone.now()
    stale = [pair.pk for key, pair in existing.items() if pair.status == DuplicateStatus.OPEN and key not in found]
    if stale:
        ContactDuplicatePair.objects.filter(pk__in=stale).delete()
    new = []
    for key, item in found.items():
        pair = existing.get(key)
        fields = {"customer_id": item.customer_id, "score": item.score.score, "verdict": item.score.verdict,
                  "reasons": item.score.reasons_json()}
        if pair is None:
            new.append(ContactDuplicatePair(low_id=key[0], high_id=key[1], found_at=now, **fields))
        elif pair.status == DuplicateStatus.OPEN:
            if any(getattr(pair, name) != value for name, value in fields.items()):
                ContactDuplicatePair.objects.filter(pk=pair.pk).update(**fields)
        elif pair.status == DuplicateStatus.MERGED:
            ContactDuplicatePair.objects.filter(pk=pair.pk).update(status=DuplicateStatus.OPEN, decided_at=None,
                                                                   decided_by=None, found_at=now, **fields)
    ContactDuplicatePair.objects.bulk_create(new, batch_size=500)
    return sum(1 for key in found if key not in existing or existing[key].status != DuplicateStatus.DISMISSED)


def customers_with_several_contacts(*, after_id: int = 0, limit: int = 5000) -> list[int]:
    """Customer ids above `after_id` that have two or more contacts, ascending (the scan's chunks)."""
    from kehu.customers.models import Contact

    return list(Contact.objects.filter(customer_id__gt=after_id).values("customer_id")
                .annotate(n=Count("id")).filter(n__gt=1).order_by("customer_id")
                .values_list("customer_id", flat=True)[:limit])


def contact_duplicates_scan(*, changed_since: Any = None, chunk: int = 2000) -> dict[str, int]:
    """The archive scan's contact pass: every customer with two or more contacts, or (incremental)
    those whose contacts changed after `changed_since`. Returns customers and open pairs seen."""
    from kehu.customers.models import Contact

    customers = pairs = 0
    if changed_since is not None:
        changed = sorted(set(Contact.objects.filter(updated_at__gt=changed_since)
                             .values_list("customer_id", flat=True)))
        for start in range(0, len(changed), chunk):
            part = changed[start:start + chunk]
            customers += len(part)
            pairs += contact_duplicates_refresh(part)
        housekeeping()
        return {"customers": customers, "pairs": pairs}
    after = 0
    while True:
        part = customers_with_several_contacts(after_id=after, limit=chunk)
        if not part:
            break
        customers += len(part)
        pairs += contact_duplicates_refresh(part)
        after = part[-1]
    housekeeping()
    return {"customers": customers, "pairs": pairs}


def housekeeping() -> int:
    """Drop open pairs whose contacts no longer exist or no longer share a customer (a contact
    deleted, or merged away): what a per-customer refresh cannot see from the other side."""
    from kehu.customers.models import Contact

    existing = Contact.objects.values("pk")
    removed = ContactDuplicatePair.objects.filter(status=DuplicateStatus.OPEN).exclude(
        low_id__in=existing, high_id__in=existing).delete()[0]
    return removed


# Warnings on entry ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactWarning:
    """An existing contact of the same customer the new values likely duplicate."""

    contact_id: int
    name: str
    score: float
    verdict: str
    reasons: str

    def as_dict(self) -> dict[str, Any]:
        return {"contact_id": self.contact_id, "name": self.name, "score": self.score, "verdict": self.verdict,
                "reasons": self.reasons}


def likely_contact_duplicates(customer_id: int, values: Mapping[str, Any], *, exclude_id: int | None = None,
                              limit: int = 5) -> list[ContactWarning]:
    """Contacts of `customer_id` the values (name, mobile, phone, email, birthday) likely duplicate,
    strongest first. The caller has already checked the user may see the customer."""
    from kehu.customers.models import Contact

    record = build_record(contact_role_values(
        name=str(values.get("name") or ""), mobile=str(values.get("mobile") or ""),
        phone=str(values.get("phone") or ""), email=str(values.get("email") or ""),
        birthday=values.get("birthday") or None))
    language = "en" if (get_language() or "").startswith("en") else "zh"
    found = []
    for row in Contact.objects.filter(customer_id=customer_id).exclude(pk=exclude_id).values_list(*CONTACT_COLUMNS):
        scored = score_contacts(record, contact_record(row))
        if scored.score >= REVIEW:
            found.append(ContactWarning(row[0], row[2], scored.score, scored.verdict,
                                        explain(scored.reasons, language)))
    found.sort(key=lambda w: (-w.score, w.contact_id))
    return found[:limit]


# Decisions -----------------------------------------------------------------------------------------


@transaction.atomic
def contact_pair_mark_distinct(*, acting_user: Any, a_id: int, b_id: int) -> DistinctContactPair:
    """Remember that two contacts are different people; their open pair leaves the queue."""
    from kehu.core import audit
    from kehu.customers.models import Contact

    a_id, b_id = int(a_id), int(b_id)
    if a_id == b_id:
        raise ValidationFailed([FieldError("ids", ErrorCode.INVALID, _("请选择两个不同的联系人"))])
    found = {c.pk: c for c in restrict(Contact.objects.select_related("customer"), acting_user)
             .filter(pk__in=[a_id, b_id])}
    if len(found) != 2:
        raise NotFound(_("联系人不存在或无权查看"))
    low, high = sorted((a_id, b_id))
    distinct, created = DistinctContactPair.objects.get_or_create(low_id=low, high_id=high,
                                                                  defaults={"created_by": acting_user})
    ContactDuplicatePair.objects.filter(low_id=low, high_id=high).exclude(status=DuplicateStatus.DISMISSED).update(
        status=DuplicateStatus.DISMISSED, decided_at=timezone.now(), decided_by=acting_user)
    if created:
        for this, other in ((a_id, b_id), (b_id, a_id)):
            audit.record_event(actor=acting_user, action="not_duplicate", obj=found[this],
                               customer_id=found[this].customer_id,
                               changes=[{"field": "_other", "old": None,
                                         "new": [f"{found[other].name}（#{other}）"]}])
    return distinct


def contact_pair_dismiss(*, acting_user: Any, pair_id: int) -> ContactDuplicatePair:
    """"Not the same person" on a queue entry: see `contact_pair_mark_distinct`."""
    pair = ContactDuplicatePair.objects.filter(pk=pair_id).first()
    if pair is None:
        raise NotFound(_("疑似重复记录不存在"))
    if pair.status == DuplicateStatus.MERGED:
        raise VersionConflict(_("这两个联系人已经合并，请刷新"))
    contact_pair_mark_distinct(acting_user=acting_user, a_id=pair.low_id, b_id=pair.high_id)
    pair.refresh_from_db()
    return pair
