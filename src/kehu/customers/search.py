"""The search box: an inverted index of normalised fragments (see `SearchToken`).

Query kinds and how each becomes an indexed lookup:
- Chinese, 1-2 characters: equality on the gram ("h:张伟").
- Chinese, 3+ characters: the query's bigrams; candidates from the rarest bigram, verified
  against the name so "分扬科" never matches "扬科分".
- Latin letters: prefix on full pinyin ("py:zhangwei"), initials ("in:zw"), e-mail parts and
  Latin words.
- Digits: phone tails ("t:5678", any suffix of 4+ digits), phone prefixes and credit codes.
Prefix lookups are range scans (token >= 'x' AND token < 'x\\uffff'), which both SQLite and
PostgreSQL answer from the B-tree index regardless of collation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q

from kehu.core.scoping import restrict
from kehu.customers.models import Contact, Customer, SearchToken
from kehu.customers.pinyin import has_han, pinyin_forms

MAX_TOKEN = 64
_HAN_RUN = re.compile(r"[\u3400-\u9fff]+")
_WORD = re.compile(r"[0-9a-z]+")
_DIGITS = re.compile(r"\D")
PREFIX_END = "\uffff"


def _han_grams(text: str) -> set[str]:
    grams: set[str] = set()
    for run in _HAN_RUN.findall(text):
        grams.update(run)
        grams.update(run[i : i + 2] for i in range(len(run) - 1))
    return {f"h:{g}" for g in grams}


def _name_tokens(name: str, *, is_person: bool) -> set[str]:
    tokens = _han_grams(name)
    full, initials = pinyin_forms(name, is_person=is_person)
    if full:
        tokens.add(f"py:{full}")
        tokens.add(f"in:{initials}")
    for word in _WORD.findall(name.lower()):
        tokens.add(f"w:{word}")
    return tokens


def _phone_tokens(phone: str) -> set[str]:
    digits = _DIGITS.sub("", phone)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) < 4:
        return set()
    tokens = {f"t:{digits[-n:]}" for n in range(4, len(digits) + 1)}
    tokens.add(f"p:{digits}")
    return tokens


def _email_tokens(email: str) -> set[str]:
    email = email.strip().lower()
    if not email:
        return set()
    local, _, domain = email.partition("@")
    tokens = {f"em:{email}"}
    if domain:
        tokens.add(f"em:{domain}")
    for word in _WORD.findall(local):
        tokens.add(f"em:{word}")
    return tokens


def customer_tokens(customer: Customer) -> set[str]:
    is_person = customer.kind == "person"
    tokens = _name_tokens(customer.name, is_person=is_person)
    if customer.short_name:
        tokens |= _name_tokens(customer.short_name, is_person=False)
    for phone in customer.phones or []:
        tokens |= _phone_tokens(str(phone))
    for email in customer.emails or []:
        tokens |= _email_tokens(str(email))
    if customer.credit_code:
        tokens.add(f"cc:{customer.credit_code.lower()}")
    return {t[:MAX_TOKEN] for t in tokens}


def contact_tokens(contact: Contact) -> set[str]:
    tokens = _name_tokens(contact.name, is_person=True)
    for phone in (contact.mobile, contact.phone):
        if phone:
            tokens |= _phone_tokens(phone)
    if contact.email:
        tokens |= _email_tokens(contact.email)
    return {t[:MAX_TOKEN] for t in tokens}


@transaction.atomic
def index_customer(customer: Customer) -> None:
    """Rebuild the customer's own tokens (not its contacts')."""
    SearchToken.objects.filter(customer=customer, contact__isnull=True).delete()
    SearchToken.objects.bulk_create(
        [SearchToken(token=t, customer=customer) for t in sorted(customer_tokens(customer))]
    )


@transaction.atomic
def index_contact(contact: Contact) -> None:
    SearchToken.objects.filter(contact=contact).delete()
    SearchToken.objects.bulk_create(
        [
            SearchToken(token=t, customer_id=contact.customer_id, contact=contact)
            for t in sorted(contact_tokens(contact))
        ]
    )


def reindex_all(customers: Iterable[Customer] | None = None, *, batch_size: int = 2000) -> int:
    """Rebuild the index for all (or the given) customers and their contacts."""
    queryset = Customer.objects.all() if customers is None else customers
    count = 0
    batch: list[SearchToken] = []
    for customer in queryset.iterator(chunk_size=batch_size) if hasattr(queryset, "iterator") else queryset:
        batch.extend(SearchToken(token=t, customer_id=customer.pk) for t in customer_tokens(customer))
        count += 1
        if len(batch) >= batch_size * 10:
            SearchToken.objects.bulk_create(batch, batch_size=5000)
            batch = []
    for contact in Contact.objects.all().iterator(chunk_size=batch_size):
        batch.extend(
            SearchToken(token=t, customer_id=contact.customer_id, contact_id=contact.pk)
            for t in contact_tokens(contact)
        )
        if len(batch) >= batch_size * 10:
            SearchToken.objects.bulk_create(batch, batch_size=5000)
            batch = []
    SearchToken.objects.bulk_create(batch, batch_size=5000)
    return count


@dataclass(frozen=True)
class QueryPlan:
    exact: list[str]
    prefixes: list[str]
    verify: str | None  # a substring every hit's name must contain (long Chinese queries)


def plan_query(raw: str) -> QueryPlan | None:
    q = raw.strip().lower()
    q = re.sub(r"\s+", "", q)
    if not q:
        return None
    if has_han(q):
        han = "".join(_HAN_RUN.findall(q))
        if len(han) <= 2:
            return QueryPlan(exact=[f"h:{han}"], prefixes=[], verify=None)
        bigrams = [han[i : i + 2] for i in range(len(han) - 1)]
        return QueryPlan(exact=[f"h:{b}" for b in bigrams], prefixes=[], verify=han)
    digits = _DIGITS.sub("", q)
    if digits and digits == q:
        if len(digits) < 3:
            return None
        exact = [f"t:{digits}"] if len(digits) >= 4 else []
        return QueryPlan(exact=exact, prefixes=[f"p:{digits}", f"cc:{digits}"], verify=None)
    if "@" in q or "." in q:
        return QueryPlan(exact=[], prefixes=[f"em:{q[:MAX_TOKEN - 3]}"], verify=None)
    word = re.sub(r"[^0-9a-z]", "", q)
    if not word:
        return None
    prefixes = [f"py:{word}", f"in:{word}", f"w:{word}", f"em:{word}"]
    if len(word) >= 6:
        prefixes.append(f"cc:{word}")
    return QueryPlan(exact=[], prefixes=[p[:MAX_TOKEN] for p in prefixes], verify=None)


@dataclass(frozen=True)
class SearchHit:
    customer: Customer
    contact: Contact | None


def _token_q(plan: QueryPlan) -> list[Q]:
    if plan.verify is None:
        conditions = [Q(token=t) for t in plan.exact]
    else:
        conditions = []  # long Chinese queries are handled by intersecting bigrams
    conditions += [Q(token__gte=p, token__lt=p + PREFIX_END) for p in plan.prefixes]
    return conditions


def _candidate_rows(plan: QueryPlan, limit: int) -> list[tuple[int, int | None]]:
    if plan.verify is not None:
        return _bigram_candidates(plan, limit)
    rows: list[tuple[int, int | None]] = []
    seen: set[tuple[int, int | None]] = set()
    for condition in _token_q(plan):
        for row in SearchToken.objects.filter(condition).values_list("customer_id", "contact_id")[:limit]:
            if row not in seen:
                seen.add(row)
                rows.append(row)
    return rows


def _bigram_candidates(plan: QueryPlan, limit: int) -> list[tuple[int, int | None]]:
    """Intersect the bigram postings, starting from the smallest, then keep rows whose name
    really contains the query (bigrams can match out of order)."""
    probe = limit * 20
    postings: list[set[tuple[int, int | None]]] = []
    for token in dict.fromkeys(plan.exact):
        rows = set(SearchToken.objects.filter(token=token).values_list("customer_id", "contact_id")[:probe])
        if not rows:
            return []
        postings.append(rows)
    postings.sort(key=len)
    candidates = set.intersection(*postings) if len(postings[0]) < probe else postings[0]
    if len(postings[0]) >= probe:
        # Every bigram is common: narrow by database instead, pairing the two shortest lists.
        subquery = SearchToken.objects.filter(token=plan.exact[0]).values("customer_id")
        candidates = set(
            SearchToken.objects.filter(token=plan.exact[-1], customer_id__in=subquery).values_list(
                "customer_id", "contact_id"
            )[:probe]
        )
    verify = plan.verify or ""
    customer_ids = {c for c, _ in candidates}
    names = dict(
        Customer.objects.filter(pk__in=customer_ids).values_list("pk", "name")
    )
    short = dict(Customer.objects.filter(pk__in=customer_ids).values_list("pk", "short_name"))
    contact_ids = {k for _, k in candidates if k}
    contact_names = dict(Contact.objects.filter(pk__in=contact_ids).values_list("pk", "name"))
    kept = []
    for customer_id, contact_id in candidates:
        text = contact_names.get(contact_id, "") if contact_id else (
            names.get(customer_id, "") + " " + short.get(customer_id, "")
        )
        if verify in text:
            kept.append((customer_id, contact_id))
    return kept[: limit * 5]


def search(*, user: Any, query: str, limit: int = 20) -> list[SearchHit]:
    """Customers and contacts the user may see that match `query`, best first."""
    plan = plan_query(query)
    if plan is None:
        return []
    rows = _candidate_rows(plan, limit * 5)
    if not rows:
        return []
    customer_ids = {c for c, _ in rows}
    customers = {
        c.pk: c
        for c in restrict(Customer.objects.filter(pk__in=customer_ids), user).select_related("owner", "stage")
    }
    contact_ids = {k for c, k in rows if k and c in customers}
    contacts = {k.pk: k for k in Contact.objects.filter(pk__in=contact_ids)}
    hits: list[SearchHit] = []
    seen: set[tuple[int, int | None]] = set()
    for customer_id, contact_id in rows:
        customer = customers.get(customer_id)
        if customer is None or (customer_id, contact_id) in seen:
            continue
        seen.add((customer_id, contact_id))
        hits.append(SearchHit(customer=customer, contact=contacts.get(contact_id) if contact_id else None))
    # Customer hits before contact hits, most recently updated first.
    hits.sort(key=lambda h: (h.contact is not None, -h.customer.updated_at.timestamp()))
    return hits[:limit]


def search_customer_ids_q(*, query: str, limit: int = 5000) -> Q:
    """A filter for the customer list: customers matching `query` (directly or through a contact)."""
    plan = plan_query(query)
    if plan is None:
        return Q(pk__in=[])
    ids = {c for c, _ in _candidate_rows(plan, limit)}
    return Q(pk__in=ids)
