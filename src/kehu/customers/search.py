"""The search box: an inverted index of normalised fragments (see `SearchToken`).

Query kinds and how each becomes an indexed lookup:
- Chinese, 1-2 characters: equality on the gram ("h:张伟"), most recently updated first.
- Chinese, 3+ characters: the rarest of the query's bigrams drives (capped counts decide), and
  only rows whose name really contains the query are kept, so "分扬科" never matches "扬科分".
- Latin letters: equality first, then prefix, on full pinyin read from every character of the
  name ("py:zhangwei", "py:fenyang..." for 北京分扬科技有限公司), initials ("in:zw", also of the
  name without its leading province/city), e-mail parts and Latin words.
- Digits: reversed phone digits ("r:8765..." answers any tail: last 4, last 6...), phone
  prefixes and credit codes.
Prefix lookups are range scans (token >= 'x' AND token < 'x\\uffff') answered from the B-tree
index; the column uses binary ordering (SQLite's default, COLLATE "C" on PostgreSQL, set by the
migration) so a range is exactly the strings with that prefix.

The token builders work on plain values (`customer_token_rows`, `contact_token_rows`) so the
bench data generator produces exactly the rows the services would.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connection, transaction
from django.db.models import Model, Q, QuerySet, signals
from django.db.models.base import ModelState

from kehu.core.scoping import has_shares, restrict, scope_for, scope_q
from kehu.customers.models import Contact, Customer, PicklistOption, SearchToken
from kehu.customers.pinyin import has_han, syllables_of

MAX_TOKEN = 64
PREFIX_END = "\uffff"
_HAN_RUN = re.compile(r"[\u3400-\u9fff]+")
_WORD = re.compile(r"[0-9a-z]+")
_NOT_DIGIT = re.compile(r"[^0-9]")
_FULLWIDTH_DIGITS = {ord(c): ord("0") + i for i, c in enumerate("０１２３４５６７８９")}
_SPACES = re.compile(r"\s+")

# Legal-form endings: pinyin is not indexed from inside them ("gongsi" alone finds nothing useful).
ORG_SUFFIXES = (
    "股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "分公司", "公司", "集团", "工作室", "事务所",
    "合作社", "研究院", "研究所", "中心", "商行", "门市部", "经营部", "厂", "店",
)
# Leading places, so initials of "北京分扬科技有限公司" are also indexed as "fykj..." (分扬科技).
_PLACES = (
    "北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾|内蒙古|广西|西藏|"
    "宁夏|新疆|香港|澳门|深圳|广州|杭州|南京|苏州|成都|武汉|西安|长沙|郑州|青岛|厦门|宁波|大连|沈阳|济南|合肥|福州|无锡|东莞|佛山|昆明|哈尔滨|长春|石家庄|太原|"
    "南昌|南宁|贵阳|兰州|海口|珠海|中山|温州|常州|烟台|绍兴|嘉兴|台州|金华|泉州|徐州|南通|扬州|惠州"
)
_PLACE_RE = re.compile(
    r"^(?:(?:" + "|".join(sorted(_PLACES.split("|"), key=len, reverse=True)) + r")(?:省|市|自治区|特别行政区)?"
    r"|[\u3400-\u9fff]{2,3}[省市])+"
)
# A person's name has at most this many characters worth reading pinyin from each position.
MAX_PINYIN_STARTS = 8

def char_readings(text: str, is_person: bool = False) -> list[str]:
    """Pinyin aligned with `text`: one syllable per Chinese character, "" for anything else."""
    readings = [""] * len(text)
    for match in _HAN_RUN.finditer(text):
        run = match.group()
        syllables = syllables_of(run, is_person=is_person and match.start() == 0)
        if len(syllables) != len(run):  # a character pypinyin cannot read: go one by one
            syllables = [(syllables_of(ch) or [""])[0] for ch in run]
        readings[match.start() : match.end()] = syllables
    return readings


def _han_grams(text: str) -> set[str]:
    grams: set[str] = set()
    for run in _HAN_RUN.findall(text):
        grams.update(run)
        grams.update(run[i : i + 2] for i in range(len(run) - 1))
    return {f"h:{g}" for g in grams}


def _core_span(name: str, *, is_person: bool) -> tuple[int, int]:
    """(start, end) of the distinctive part: without a leading place and a trailing legal form."""
    if is_person:
        return 0, len(name)
    end = len(name)
    for suffix in ORG_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            end = len(name) - len(suffix)
            break
    place = _PLACE_RE.match(name[:end])
    start = place.end() if place and place.end() < end else 0
    return start, end


def name_tokens(name: str, *, is_person: bool, readings: Sequence[str] | None = None) -> set[str]:
    """Grams, pinyin from every character of the core name, initials of the whole name and of
    the name without its place, and Latin words. `readings` is `char_readings(name)`."""
    if readings is None:  # a pure function of the name then: imports and reindexing repeat names
        return set(_name_tokens_of(name, is_person))
    return _name_tokens(name, is_person=is_person, readings=readings)


@functools.lru_cache(maxsize=16384)
def _name_tokens_of(name: str, is_person: bool) -> frozenset[str]:
    return frozenset(_name_tokens(name, is_person=is_person, readings=None))


def _name_tokens(name: str, *, is_person: bool, readings: Sequence[str] | None) -> set[str]:
    tokens = _han_grams(name)
    for word in _WORD.findall(name.lower()):
        tokens.add(f"w:{word}")
    if not has_han(name):
        return tokens
    if readings is None:
        readings = char_readings(name, is_person)
    start, end = _core_span(name, is_person=is_person)
    syllable_at = [i for i, s in enumerate(readings) if s]
    if not syllable_at:
        return tokens
    tokens.add("py:" + "".join(readings[i] for i in syllable_at))
    tokens.add("in:" + "".join(readings[i][0] for i in syllable_at))
    starts = [i for i in syllable_at if start <= i < end][:MAX_PINYIN_STARTS]
    for position in starts:
        tokens.add("py:" + "".join(readings[i] for i in syllable_at if i >= position))
    if starts and starts[0] > 0:
        tokens.add("in:" + "".join(readings[i][0] for i in syllable_at if i >= starts[0]))
    return tokens


def normalise_phone_digits(phone: str) -> str:
    digits = _NOT_DIGIT.sub("", phone.translate(_FULLWIDTH_DIGITS))
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def phone_tokens(phone: str) -> set[str]:
    """Digits forwards (prefix search) and reversed (any tail, e.g. the last 4, is a prefix)."""
    digits = normalise_phone_digits(phone)
    if len(digits) < 4:
        return set()
    return {f"p:{digits}", f"r:{digits[::-1]}"}


def email_tokens(email: str) -> set[str]:
    email = email.strip().lower()
    if not email:
        return set()
    local, _, domain = email.partition("@")
    tokens = {f"em:{email}"}
    if domain:
        tokens.add(f"em:{domain}")
    # Each later word of the local part, with the rest of the address: "wei88@fen" and "wei88"
    # both find zhang.wei88@fenyang.com.
    for match in list(_WORD.finditer(local))[1:]:
        tokens.add(f"em:{email[match.start():]}")
    return tokens


def customer_token_set(
    *, name: str, kind: str, short_name: str = "", phones: Iterable[str] = (), emails: Iterable[str] = (),
    credit_code: str = "", readings: Sequence[str] | None = None,
) -> set[str]:
    is_person = kind == "person"
    tokens = name_tokens(name, is_person=is_person, readings=readings)
    if short_name:
        tokens |= name_tokens(short_name, is_person=False)
    for phone in phones:
        tokens |= phone_tokens(str(phone))
    for email in emails:
        tokens |= email_tokens(str(email))
    if credit_code:
        tokens.add(f"cc:{credit_code.lower()}")
    return {t[:MAX_TOKEN] for t in tokens}


def contact_token_set(
    *, name: str, mobile: str = "", phone: str = "", email: str = "", readings: Sequence[str] | None = None
) -> set[str]:
    tokens = name_tokens(name, is_person=True, readings=readings)
    for number in (mobile, phone):
        if number:
            tokens |= phone_tokens(number)
    if email:
        tokens |= email_tokens(email)
    return {t[:MAX_TOKEN] for t in tokens}


def customer_tokens(customer: Customer) -> set[str]:
    return customer_token_set(
        name=customer.name, kind=customer.kind, short_name=customer.short_name,
        phones=customer.phones or [], emails=customer.emails or [], credit_code=customer.credit_code,
    )


def contact_tokens(contact: Contact) -> set[str]:
    return contact_token_set(name=contact.name, mobile=contact.mobile, phone=contact.phone, email=contact.email)


def rank_of(moment: dt.datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


@transaction.atomic
def index_customer(customer: Customer) -> None:
    """Rebuild the customer's own tokens and copy its owner onto its contacts' tokens."""
    SearchToken.objects.filter(customer=customer, contact__isnull=True).delete()
    rank = rank_of(customer.updated_at)
    SearchToken.objects.bulk_create(
        [
            SearchToken(token=t, customer=customer, owner_id=customer.owner_id, rank=rank)
            for t in sorted(customer_tokens(customer))
        ]
    )
    SearchToken.objects.filter(customer=customer, contact__isnull=False).exclude(
        owner_id=customer.owner_id
    ).update(owner_id=customer.owner_id)


@transaction.atomic
def index_contact(contact: Contact) -> None:
    SearchToken.objects.filter(contact=contact).delete()
    owner_id = Customer.objects.filter(pk=contact.customer_id).values_list("owner_id", flat=True).first()
    rank = rank_of(contact.updated_at)
    SearchToken.objects.bulk_create(
        [
            SearchToken(token=t, customer_id=contact.customer_id, contact=contact, owner_id=owner_id, rank=rank)
            for t in sorted(contact_tokens(contact))
        ]
    )


def reindex_all(customers: Iterable[Customer] | None = None, *, batch_size: int = 2000) -> int:
    """Rebuild the index for all (or the given) customers and their contacts; returns the
    number of customers indexed."""
    queryset = Customer.objects.all() if customers is None else customers
    if not isinstance(queryset, QuerySet):
        queryset = Customer.objects.filter(pk__in=[c.pk for c in queryset])
    count = 0
    batch: list[SearchToken] = []

    def flush(force: bool = False) -> None:
        nonlocal batch
        if batch and (force or len(batch) >= batch_size * 10):
            SearchToken.objects.bulk_create(batch, batch_size=5000)
            batch = []

    with transaction.atomic():
        if customers is None:
            SearchToken.objects.all().delete()
        else:
            SearchToken.objects.filter(customer__in=queryset).delete()
        owners: dict[int, int | None] = {}
        for customer in queryset.iterator(chunk_size=batch_size):
            owners[customer.pk] = customer.owner_id
            rank = rank_of(customer.updated_at)
            batch.extend(
                SearchToken(token=t, customer_id=customer.pk, owner_id=customer.owner_id, rank=rank)
                for t in customer_tokens(customer)
            )
            count += 1
            flush()
        for contact in Contact.objects.filter(customer__in=queryset).iterator(chunk_size=batch_size):
            rank = rank_of(contact.updated_at)
            batch.extend(
                SearchToken(
                    token=t, customer_id=contact.customer_id, contact_id=contact.pk,
                    owner_id=owners.get(contact.customer_id), rank=rank,
                )
                for t in contact_tokens(contact)
            )
            flush()
        flush(force=True)
    return count


# Queries --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryPlan:
    exact: list[str]  # equality lookups, most recent first
    prefixes: list[str]  # equality on the prefix itself, then range scans
    verify: str | None = None  # long Chinese queries: the name must contain this


def plan_query(raw: str) -> QueryPlan | None:
    q = _SPACES.sub("", raw.strip().lower().translate(_FULLWIDTH_DIGITS))
    if not q:
        return None
    if has_han(q):
        han = "".join(_HAN_RUN.findall(q))
        if len(han) <= 2:
            return QueryPlan(exact=[f"h:{han}"], prefixes=[])
        bigrams = list(dict.fromkeys(han[i : i + 2] for i in range(len(han) - 1)))
        return QueryPlan(exact=[f"h:{b}" for b in bigrams], prefixes=[], verify=han)
    digits = _NOT_DIGIT.sub("", q)
    if digits and digits == q:
        if len(digits) < 3:
            return None
        return QueryPlan(exact=[], prefixes=[f"r:{digits[::-1]}", f"p:{digits}", f"cc:{digits}"])
    if "@" in q or "." in q:
        return QueryPlan(exact=[], prefixes=[f"em:{q[: MAX_TOKEN - 3]}"])
    word = re.sub(r"[^0-9a-z]", "", q)
    if not word:
        return None
    prefixes = [f"py:{word}", f"in:{word}", f"w:{word}", f"em:{word}"]
    if len(word) >= 6:
        prefixes.append(f"cc:{word}")
    return QueryPlan(exact=[], prefixes=[p[:MAX_TOKEN] for p in prefixes])


Row = tuple[int, int | None]
Candidate = tuple[int, int | None, int, int]  # customer_id, contact_id, group (0 whole token, 1 prefix), rank

# A token with more rows than this is "common": it is never read whole.
COMMON_CAP = 2000
_TABLE = SearchToken._meta.db_table


@dataclass(frozen=True)
class _Scope:
    """A SQL condition on the token table (alias `st`) limiting rows to what a user may see."""

    sql: str
    params: tuple[Any, ...]


def _scope_for(user: Any) -> _Scope | None:
    """None when the user sees nothing. Own scope uses the copied owner column (index
    `search_owner_token_rank`); department scope joins the customers `restrict()` allows."""
    if user is None:
        return _Scope("", ())
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    scope = scope_for(user, "customer")
    if scope == "all":
        return _Scope("", ())
    if scope == "own" and not has_shares(user, "customers.customer"):
        return _Scope("st.owner_id = %s AND ", (user.pk,))
    sql, params = restrict(Customer.objects.all(), user).values("pk").query.sql_with_params()
    return _Scope(f"st.customer_id IN ({sql}) AND ", tuple(params))


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fetch(sql: str, params: Sequence[Any]) -> list[tuple]:
    # Raw SQL: these few statements run on every keystroke, and building them through the ORM
    # costs more than the index lookups themselves.
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _candidate_rows(plan: QueryPlan, scope: _Scope, limit: int) -> list[Candidate]:
    """One round trip: equality lookups (most recent first) then prefix ranges (index order,
    capped at 4 x limit, re-ranked by recency), as a UNION ALL of independently limited parts."""
    if plan.verify is not None:
        return _long_han_rows(plan, scope, limit)
    parts: list[str] = []
    params: list[Any] = []
    select = f"SELECT st.customer_id, st.contact_id, %s AS grp, st.rank FROM {_TABLE} st WHERE {scope.sql}"
    for token in [*plan.exact, *plan.prefixes]:
        parts.append(f"{select}st.token = %s ORDER BY st.rank DESC LIMIT {int(limit)}")
        params += [0, *scope.params, token]
    for prefix in plan.prefixes:
        parts.append(f"{select}st.token > %s AND st.token < %s ORDER BY st.token LIMIT {int(limit) * 4}")
        params += [1, *scope.params, prefix, prefix + PREFIX_END]
    sql = " UNION ALL ".join(f"SELECT * FROM ({part}) AS p{i}" for i, part in enumerate(parts))
    return _fetch(sql, params)


def _long_han_rows(plan: QueryPlan, scope: _Scope, limit: int) -> list[Candidate]:
    """Drive from the rarest bigram (capped counts, so a common one costs at most COMMON_CAP
    index entries), keep rows whose customer name/short name or contact name contains the query."""
    counts_sql = ", ".join(
        f"(SELECT COUNT(*) FROM (SELECT 1 FROM {_TABLE} st WHERE {scope.sql}st.token = %s LIMIT {COMMON_CAP}) AS c{i})"
        for i in range(len(plan.exact))
    )
    counts = _fetch(f"SELECT {counts_sql}", [p for token in plan.exact for p in (*scope.params, token)])[0]
    if min(counts) == 0:
        return []
    driver = min(zip(counts, plan.exact, strict=True))[1]
    pattern = f"%{_like_escape(plan.verify or '')}%"
    sql = (
        f"SELECT st.customer_id, st.contact_id, 0, st.rank FROM {_TABLE} st "
        f"JOIN {Customer._meta.db_table} c ON c.id = st.customer_id "
        f"LEFT JOIN {Contact._meta.db_table} k ON k.id = st.contact_id "
        f"WHERE {scope.sql}st.token = %s AND ("
        "(st.contact_id IS NULL AND (c.name LIKE %s ESCAPE '\\' OR c.short_name LIKE %s ESCAPE '\\')) "
        "OR (st.contact_id IS NOT NULL AND k.name LIKE %s ESCAPE '\\')) "
        f"ORDER BY st.rank DESC LIMIT {int(limit)}"
    )
    return _fetch(sql, [*scope.params, driver, pattern, pattern, pattern])


def _ranked(candidates: list[Candidate]) -> list[Row]:
    """Distinct (customer, contact) pairs: customer hits before contact hits, whole-token
    matches before completions, most recently updated first."""
    ordered = sorted(candidates, key=lambda r: (r[1] is not None, r[2], -r[3]))
    return list(dict.fromkeys((c, k) for c, k, _, _ in ordered))


@dataclass(frozen=True)
class SearchHit:
    customer: Customer
    contact: Contact | None


# Hydration: what the callers of `search()` read from a hit (the search box partial,
# /api/v1/search, the contact list's `q`). The rest of each instance is deferred, exactly as
# `.only()` leaves it (read on first access). Building full instances with every field and two
# joined relations through the ORM was ~85% of a search's CPU.
_CUSTOMER_COLUMNS = ("id", "kind", "name", "short_name", "city", "phones", "owner_id", "stage_id")
_OPTION_COLUMNS = ("id", "kind", "code", "label_zh", "label_en", "color")
_USER_COLUMNS = ("id", "username", "display_name")
_CONTACT_COLUMNS = ("id", "name", "title", "mobile", "email", "customer_id")
_STAGE_CACHE = Customer._meta.get_field("stage").cache_name
_OWNER_CACHE = Customer._meta.get_field("owner").cache_name
_CUSTOMER_CACHE = Contact._meta.get_field("customer").cache_name
_M = TypeVar("_M", bound=Model)


def _select_list(alias: str, model: type[Model], attnames: Sequence[str]) -> str:
    columns = {f.attname: f.column for f in model._meta.concrete_fields}
    return ", ".join(f"{alias}.{connection.ops.quote_name(columns[a])}" for a in attnames)


@functools.cache
def _hydrate_sql(vendor: str, with_contacts: bool) -> str:
    """The hydration statement up to its IN lists, built once per backend (`{contacts}` and
    `{customers}` become the placeholders, `{scope}` the `restrict()` condition)."""
    from kehu.accounts.models import User

    quote = connection.ops.quote_name
    stage, owner = Customer._meta.get_field("stage"), Customer._meta.get_field("owner")
    contact_columns = _select_list("k", Contact, _CONTACT_COLUMNS[:-1]) if with_contacts else ", ".join(
        ["NULL"] * (len(_CONTACT_COLUMNS) - 1)
    )
    select = ", ".join((
        _select_list("c", Customer, _CUSTOMER_COLUMNS), _select_list("s", PicklistOption, _OPTION_COLUMNS[1:]),
        _select_list("u", User, _USER_COLUMNS[1:]), contact_columns,
    ))
    sql = (
        f"SELECT {select} FROM {quote(Customer._meta.db_table)} c "
        f"LEFT JOIN {quote(PicklistOption._meta.db_table)} s ON s.id = c.{quote(stage.column)} "
        f"LEFT JOIN {quote(User._meta.db_table)} u ON u.id = c.{quote(owner.column)} "
    )
    if with_contacts:
        customer_fk = quote(Contact._meta.get_field("customer").column)
        sql += f"LEFT JOIN {quote(Contact._meta.db_table)} k ON k.{customer_fk} = c.id AND k.id IN ({{contacts}}) "
    return sql + "WHERE c.id IN ({customers}){scope}"


def _customer_scope_sql(user: Any, customer_ids: list[int]) -> tuple[str, list[Any]] | None:
    """`restrict()`'s condition for the hit customers as SQL on alias `c` ("" for everything),
    None when the user sees nothing. Hits are re-checked against it: the token table's copied
    owner only narrows the candidates. The subquery is limited to the hits' ids: unbounded,
    SQLite materialised all of a rep's customers (~4 ms for 10,000) on every search."""
    condition = scope_q(Customer, user)
    if condition is None:
        return "", []
    if condition == Q(pk__in=[]):
        return None
    visible = restrict(Customer.objects.filter(pk__in=customer_ids), user).values("pk")
    sql, params = visible.query.sql_with_params()
    return f" AND c.id IN ({sql})", list(params)


def _fast_init(model: type[Model]) -> bool:
    # Instances are built by filling __dict__ (what Model.from_db ends up doing, minus ~30 µs of
    # per-field bookkeeping); models with init signal receivers go through from_db instead.
    return not (signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model))


def _instance(model: type[_M], values: dict[str, Any], alias: str, fast: bool) -> _M:
    if fast:
        obj = model.__new__(model)
        state = ModelState()
        state.adding, state.db = False, alias
        obj.__dict__.update(values)
        obj._state = state
        return obj
    names = list(values)
    return model.from_db(alias, names, [values[n] for n in names])


def _hydrate(rows: list[Row], user: Any) -> list[SearchHit]:
    """The hits as model instances (only the columns above loaded; stage, owner and the
    contact's customer attached), in `rows` order, minus customers `restrict()` hides:
    one statement."""
    customer_ids = list(dict.fromkeys(c for c, _ in rows))
    scope = _customer_scope_sql(user, customer_ids)
    if scope is None:
        return []
    contact_ids = list(dict.fromkeys(k for _, k in rows if k))
    sql = _hydrate_sql(connection.vendor, bool(contact_ids)).format(
        contacts=", ".join(["%s"] * len(contact_ids)), customers=", ".join(["%s"] * len(customer_ids)),
        scope=scope[0],
    )
    params = [*contact_ids, *customer_ids, *scope[1]]
    from kehu.accounts.models import User

    alias = connection.alias
    fast = {model: _fast_init(model) for model in (Customer, Contact, PicklistOption, User)}
    phones = Customer._meta.get_field("phones")
    customers: dict[int, Customer] = {}
    contacts: dict[int, Contact] = {}
    options: dict[int, PicklistOption] = {}
    users: dict[int, Any] = {}
    for row in _fetch(sql, params):
        c_values = dict(zip(_CUSTOMER_COLUMNS, row[:8], strict=True))
        customer = customers.get(c_values["id"])
        if customer is None:
            c_values["phones"] = phones.from_db_value(c_values["phones"], None, connection)
            stage_id, owner_id = c_values["stage_id"], c_values["owner_id"]
            stage = owner = None
            if stage_id is not None and row[8] is not None:
                stage = options.get(stage_id)
                if stage is None:
                    stage = options[stage_id] = _instance(
                        PicklistOption, dict(zip(_OPTION_COLUMNS, (stage_id, *row[8:13]), strict=True)), alias,
                        fast[PicklistOption],
                    )
            if owner_id is not None and row[13] is not None:
                owner = users.get(owner_id)
                if owner is None:
                    owner = users[owner_id] = _instance(
                        User, dict(zip(_USER_COLUMNS, (owner_id, *row[13:15]), strict=True)), alias, fast[User]
                    )
            customer = customers[c_values["id"]] = _instance(Customer, c_values, alias, fast[Customer])
            customer._state.fields_cache = {_STAGE_CACHE: stage, _OWNER_CACHE: owner}
        if row[15] is not None and row[15] not in contacts:
            contact = _instance(
                Contact, dict(zip(_CONTACT_COLUMNS, (*row[15:20], customer.pk), strict=True)), alias, fast[Contact]
            )
            contact._state.fields_cache = {_CUSTOMER_CACHE: customer}
            contacts[row[15]] = contact
    return [
        SearchHit(customer=customers[c], contact=contacts[k] if k else None)
        for c, k in rows
        if c in customers and (k is None or k in contacts)
    ]


def search(*, user: Any, query: str, limit: int = 20) -> list[SearchHit]:
    """Customers and contacts the user may see that match `query`: customer hits before contact
    hits, whole-token matches before completions, most recently updated first. Two statements:
    the candidate lookup, then the hits' columns (see `_hydrate`)."""
    plan = plan_query(query)
    scope = _scope_for(user)
    if plan is None or scope is None:
        return []
    rows = _ranked(_candidate_rows(plan, scope, limit * 2))[:limit]
    if not rows:
        return []
    return _hydrate(rows, user)


def search_customer_ids(*, query: str, limit: int = 5000, user: Any = None) -> list[int]:
    """Ids of customers matching `query` directly or through a contact, most recent first."""
    plan = plan_query(query)
    scope = _scope_for(user)
    if plan is None or scope is None:
        return []
    return list(dict.fromkeys(c for c, _ in _ranked(_candidate_rows(plan, scope, limit))))[:limit]


def search_customer_ids_q(*, query: str, limit: int = 5000) -> Q:
    """A filter for the customer list: customers matching `query` (directly or through a contact).
    Row scoping is applied by the list itself."""
    return Q(pk__in=search_customer_ids(query=query, limit=limit))
