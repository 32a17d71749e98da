"""Reads of the duplicate review queue: clusters of likely duplicate customers and their pairs,
strongest first, with the reasons in the reader's language.

A user sees a pair only when they may see both customers (`core.scoping.restrict`; admins see
all), so the queue never reveals a record outside the user's scope. The reasons' values are masked
by the engine itself (phones as 138****5678, e-mails as z***n@qq.com, ID numbers cut), so what is
stored can be shown to anyone who sees the pair."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Max, QuerySet
from django.utils.translation import get_language

from kehu.core import masking
from kehu.core.scoping import restrict
from kehu.customers.models import Customer
from kehu.dataquality.matching import Reason, describe
from kehu.dataquality.models import ContactDuplicatePair, DedupeScan, DuplicatePair, DuplicateStatus

VERDICTS = ("certain", "review")


@dataclass(frozen=True)
class PairCustomer:
    id: int
    name: str
    kind: str
    owner: str
    department: str
    city: str


@dataclass(frozen=True)
class PairView:
    pair: DuplicatePair
    a: PairCustomer
    b: PairCustomer
    reasons: list[tuple[str, float]]  # (phrase, weight): positive weights are evidence for

    @property
    def id(self) -> int:
        return self.pair.pk

    @property
    def text(self) -> str:
        separator = "; " if _language() == "en" else "；"
        return separator.join(phrase for phrase, _weight in self.reasons)


@dataclass
class ClusterView:
    cluster_id: int
    best_score: float
    size: int  # pairs in the cluster (within the filters)
    pairs: list[PairView] = field(default_factory=list)

    @property
    def customers(self) -> list[PairCustomer]:
        seen: dict[int, PairCustomer] = {}
        for view in self.pairs:
            for customer in (view.a, view.b):
                seen.setdefault(customer.id, customer)
        return list(seen.values())


def _language() -> str:
    return "en" if (get_language() or "").startswith("en") else "zh"


def reason_phrases(reasons: Sequence[Sequence[Any]], language: str | None = None) -> list[tuple[str, float]]:
    """Stored reasons ([code, args, weight]) as phrases in `language` (default: the active one)."""
    lang = language or _language()
    return [(describe(Reason(str(code), tuple(str(a) for a in args), float(weight)), lang), float(weight))
            for code, args, weight in reasons]


def duplicate_pairs(*, user: Any, verdict: str | None = None, status: str | None = DuplicateStatus.OPEN
                    ) -> QuerySet[DuplicatePair]:
    """The pairs `user` may see (both customers in scope and still there), strongest first."""
    visible = restrict(Customer.objects.all(), user).values("pk")
    pairs = DuplicatePair.objects.filter(low_id__in=visible, high_id__in=visible)
    if status:
        pairs = pairs.filter(status=status)
    if verdict:
        pairs = pairs.filter(verdict=verdict)
    return pairs.select_related("decided_by").order_by("-score", "low_id", "high_id")


def _customers(ids: Sequence[int]) -> dict[int, PairCustomer]:
    rows = Customer.objects.filter(pk__in=list(ids)).values_list(
        "pk", "name", "kind", "owner__display_name", "owner__username", "department__name", "city")
    return {pk: PairCustomer(pk, name, kind, display or username or "", department or "", city or "")
            for pk, name, kind, display, username, department, city in rows}


def pair_views(pairs: Sequence[DuplicatePair]) -> list[PairView]:
    customers = _customers({pk for pair in pairs for pk in (pair.low_id, pair.high_id)})
    language = _language()
    return [PairView(pair, customers[pair.low_id], customers[pair.high_id], reason_phrases(pair.reasons, language))
            for pair in pairs if pair.low_id in customers and pair.high_id in customers]


def duplicate_pairs_page(*, user: Any, verdict: str | None = None, status: str | None = DuplicateStatus.OPEN,
                         offset: int = 0, limit: int = 50) -> tuple[list[PairView], bool]:
    """One page of pairs and whether there are more."""
    pairs = list(duplicate_pairs(user=user, verdict=verdict, status=status)[offset:offset + limit + 1])
    return pair_views(pairs[:limit]), len(pairs) > limit


def duplicate_clusters_page(*, user: Any, verdict: str | None = None, status: str | None = DuplicateStatus.OPEN,
                            offset: int = 0, limit: int = 20) -> tuple[list[ClusterView], bool]:
    """One page of clusters (customers linked by open pairs), the strongest first, each with its
    pairs, and whether there are more. A cluster shows only the pairs the user may see."""
    pairs = duplicate_pairs(user=user, verdict=verdict, status=status)
    heads = list(pairs.order_by().values("cluster_id").annotate(best=Max("score"), size=Count("id"))
                 .order_by("-best", "cluster_id")[offset:offset + limit + 1])
    has_more = len(heads) > limit
    clusters = [ClusterView(h["cluster_id"], h["best"], h["size"]) for h in heads[:limit]]
    by_id = {c.cluster_id: c for c in clusters}
    members = list(pairs.filter(cluster_id__in=list(by_id)))
    for view in pair_views(members):
        by_id[view.pair.cluster_id].pairs.append(view)
    return clusters, has_more


def duplicate_pair_get(*, user: Any, pair_id: int) -> PairView | None:
    pair = duplicate_pairs(user=user, status=None).filter(pk=pair_id).first()
    if pair is None:
        return None
    views = pair_views([pair])
    return views[0] if views else None


def duplicate_counts(*, user: Any) -> dict[str, int]:
    """Open pairs per verdict within the user's scope, for the filter tabs."""
    counts = dict(duplicate_pairs(user=user).order_by().values_list("verdict").annotate(n=Count("id")))
    return {verdict: int(counts.get(verdict, 0)) for verdict in VERDICTS}


def scan_status() -> DedupeScan | None:
    return DedupeScan.objects.filter(pk=1).first()


# Duplicate contacts within one customer -------------------------------------------------------------


@dataclass(frozen=True)
class PairContact:
    id: int
    name: str
    title: str
    mobile: str
    email: str
    is_primary: bool


@dataclass(frozen=True)
class ContactPairView:
    """A pair of likely duplicate contacts with their customer (numbers as the viewing user may see
    them: `contact_pair_views(pairs, user)`)."""

    pair: ContactDuplicatePair
    customer: PairCustomer
    a: PairContact
    b: PairContact
    reasons: list[tuple[str, float]]

    @property
    def id(self) -> int:
        return self.pair.pk

    @property
    def text(self) -> str:
        separator = "; " if _language() == "en" else "；"
        return separator.join(phrase for phrase, _weight in self.reasons)


def contact_pairs(*, user: Any, verdict: str | None = None, status: str | None = DuplicateStatus.OPEN,
                  customer_id: int | None = None) -> QuerySet[ContactDuplicatePair]:
    """The contact pairs of customers `user` may see, strongest first."""
    visible = restrict(Customer.objects.all(), user).values("pk")
    pairs = ContactDuplicatePair.objects.filter(customer_id__in=visible)
    if customer_id is not None:
        pairs = pairs.filter(customer_id=customer_id)
    if status:
        pairs = pairs.filter(status=status)
    if verdict:
        pairs = pairs.filter(verdict=verdict)
    return pairs.select_related("decided_by").order_by("-score", "customer_id", "low_id", "high_id")


def contact_pair_views(pairs: Sequence[ContactDuplicatePair], user: Any = None) -> list[ContactPairView]:
    """Views of the pairs; a merged pair's vanished contact is shown by the name it had. Mobiles
    and e-mails follow `user`'s field access (masked or left out), like every other output."""
    from kehu.customers.models import Contact
    from kehu.dataquality.models import ContactMerge

    customers = _customers({pair.customer_id for pair in pairs})
    ids = {pk for pair in pairs for pk in (pair.low_id, pair.high_id)}
    contacts = {row[0]: PairContact(*row) for row in Contact.objects.filter(pk__in=ids).values_list(
        "pk", "name", "title", "mobile", "email", "is_primary")}
    missing = ids - set(contacts)
    if missing:
        for merge in ContactMerge.objects.filter(customer_id__in={p.customer_id for p in pairs}):
            for pk, row in merge.snapshot.get("contacts", {}).items():
                if int(pk) in missing:
                    contacts.setdefault(int(pk), PairContact(int(pk), row.get("name") or "", row.get("title") or "",
                                                             row.get("mobile") or "", row.get("email") or "",
                                                             bool(row.get("is_primary"))))
    if user is not None and masking.policy(user, "contact"):
        contacts = {pk: dataclasses.replace(
            person, mobile=masking.mask_field(user, "contact", "mobile", person.mobile) or "",
            email=masking.mask_field(user, "contact", "email", person.email) or "") for pk, person in contacts.items()}
    language = _language()
    return [ContactPairView(pair, customers[pair.customer_id], contacts[pair.low_id], contacts[pair.high_id],
                            reason_phrases(pair.reasons, language))
            for pair in pairs
            if pair.customer_id in customers and pair.low_id in contacts and pair.high_id in contacts]


def contact_pairs_page(*, user: Any, verdict: str | None = None, status: str | None = DuplicateStatus.OPEN,
                       customer_id: int | None = None, offset: int = 0,
                       limit: int = 50) -> tuple[list[ContactPairView], bool]:
    pairs = list(contact_pairs(user=user, verdict=verdict, status=status, customer_id=customer_id)
                 [offset:offset + limit + 1])
    return contact_pair_views(pairs[:limit], user), len(pairs) > limit


def contact_pair_get(*, user: Any, pair_id: int) -> ContactPairView | None:
    pair = contact_pairs(user=user, status=None).filter(pk=pair_id).first()
    if pair is None:
        return None
    views = contact_pair_views([pair], user)
    return views[0] if views else None


def contact_pair_counts(*, user: Any) -> dict[str, int]:
    counts = dict(contact_pairs(user=user).order_by().values_list("verdict").annotate(n=Count("id")))
    return {verdict: int(counts.get(verdict, 0)) for verdict in VERDICTS}
