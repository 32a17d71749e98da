"""Duplicate warnings on entry: before a customer is saved (form, API, import), which existing
customers it likely duplicates, and why.

Candidates come from the indexes every write path keeps fresh, so a customer saved a minute ago is
found: the match keys (mobile/phone E.164, e-mail, credit code; `dataquality.MatchKey`) and the
search postings (the pinyin of a company's core name as a prefix, a person's full name in pinyin;
`customers.SearchToken`). At most `NAME_CANDIDATES` come from the name, the most recently updated
first. Each candidate is scored by the matching engine (`dataquality.matching`) against the new
values; pairs below the review threshold are dropped.

The lookup is not limited to the user's data scope: preventing 撞单 (two reps chasing one client)
is the point. A match the user may not see is reported with its owner and department only, the
evidence named by kind ("手机号、公司名") without values, so a rep cannot fish for other teams'
customers by typing numbers into the form.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext as _

from kehu.core import masking
from kehu.dataquality.matching import REVIEW, MatchRecord, MatchStats, build_record, compare, explain

NAME_CANDIDATES = 30
KEY_CANDIDATES = 50
_PREFIX_END = "\uffff"
# Reason code prefixes → the kind of evidence shown for a match the user may not see.
_EVIDENCE_KINDS = {
    "phone": gettext_noop("电话"), "email": gettext_noop("邮箱"), "id_number": gettext_noop("证件号"),
    "credit_code": gettext_noop("统一社会信用代码"), "company": gettext_noop("公司名"), "name": gettext_noop("姓名"),
    "birth_date": gettext_noop("生日"), "address": gettext_noop("地址"), "city": gettext_noop("城市"),
    "postcode": gettext_noop("邮编"),
}  # fmt: skip


@dataclass(frozen=True)
class DuplicateWarning:
    """One existing customer the new values likely duplicate. `visible`: the user may open it;
    otherwise `name` and `reasons` are withheld and only owner and department are shown."""

    customer_id: int
    score: float
    verdict: str  # "certain" | "review"
    visible: bool
    name: str
    owner_name: str
    department_name: str
    reasons: str

    def as_dict(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id if self.visible else None, "score": self.score,
                "verdict": self.verdict, "visible": self.visible, "name": self.name, "owner": self.owner_name,
                "department": self.department_name, "reasons": self.reasons}


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value if v]


def role_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The matching roles of a customer's field values (as the services and forms name them),
    built exactly as the archive scan builds a stored customer's (`scanning.customer_role_values`),
    so a warning on entry and the review queue score a pair alike."""
    from kehu.dataquality.scanning import customer_role_values

    return customer_role_values(
        kind=str(values.get("kind") or "company"), name=str(values.get("name") or "").strip(),
        phones=_as_list(values.get("phones")), emails=_as_list(values.get("emails")),
        province=str(values.get("province") or ""), city=str(values.get("city") or ""),
        district=str(values.get("district") or ""), address=str(values.get("address") or ""),
        birthday=values.get("birthday") or None, credit_code=str(values.get("credit_code") or ""),
        id_number=str(values.get("id_number") or ""),
    )


def _fetch(sql: str, params: Sequence[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _candidate_ids(record: MatchRecord, *, exclude: Collection[int]) -> list[int]:
    """Customers sharing an identifying key, then customers whose name reads the same, in one round trip."""
    from kehu.customers.models import SearchToken
    from kehu.dataquality.models import MatchKey

    keys = [("phone", p) for p in record.phones if p.startswith("+")]
    keys += [("email", e) for e in record.emails]
    if record.credit_code:
        keys.append(("credit_code", record.credit_code))
    parts: list[str] = []
    params: list[Any] = []
    if keys:
        matches = " OR ".join("(kind = %s AND value = %s)" for _key in keys)
        # A contact's number or address counts for its customer (the scan does the same): a new
        # company whose phone is another customer's contact's mobile is the 撞单 case.
        parts.append(f"SELECT customer_id FROM {MatchKey._meta.db_table} WHERE ({matches}) LIMIT {KEY_CANDIDATES}")
        params += [v for pair in keys for v in pair]
    tokens = SearchToken._meta.db_table
    if record.company_core_latin:
        # The core name in pinyin as a prefix: 分扬科技 finds 北京分扬科技有限公司 (its postings read
        # from every character of the core) and "Beijing FenYang" finds both.
        prefix = f"py:{record.company_core_latin}"
        parts.append(f"SELECT customer_id FROM {tokens} WHERE token >= %s AND token < %s AND contact_id IS NULL "
                     f"ORDER BY token LIMIT {NAME_CANDIDATES}")
        params += [prefix, prefix + _PREFIX_END]
    if record.has_person and record.name_han and record.name_latin:
        parts.append(f"SELECT customer_id FROM {tokens} WHERE token = %s AND contact_id IS NULL "
                     f"ORDER BY rank DESC LIMIT {NAME_CANDIDATES}")
        params.append(f"py:{record.name_latin}")
    if not parts:
        return []
    sql = " UNION ".join(f"SELECT * FROM ({part}) AS c{i}" for i, part in enumerate(parts))
    return [pk for (pk,) in _fetch(sql, params) if pk not in exclude]


def _candidates(ids: Sequence[int]) -> list[tuple[Any, MatchRecord, dict[str, Any]]]:
    """(row, record, owner/department names) of the candidates, records built as the scan builds them
    (the customer's fields plus its contacts' phones and e-mails)."""
    from kehu.customers.models import Contact, Customer
    from kehu.dataquality.scanning import CUSTOMER_COLUMNS, _attach_contacts, record_of_row

    width = len(CUSTOMER_COLUMNS)
    found = list(Customer.objects.filter(pk__in=ids).values_list(
        *CUSTOMER_COLUMNS, "owner__display_name", "owner__username", "department__name"))
    names = {row[0]: {"owner": row[width] or row[width + 1] or "", "department": row[width + 2] or ""}
             for row in found}
    contacts = Contact.objects.filter(customer_id__in=ids).values_list("customer_id", "mobile", "phone", "email")
    rows = _attach_contacts([row[:width] for row in found], contacts)
    return [(row, record_of_row(row), names[row[0]]) for row in rows]


def _evidence_kinds(codes: Sequence[str]) -> str:
    kinds = list(dict.fromkeys(_EVIDENCE_KINDS.get(code.split(".")[0], "") for code in codes))
    return _("、").join(_(k) for k in kinds if k)


def likely_duplicates(
    values: Mapping[str, Any], *, user: Any, exclude_id: int | None = None, limit: int = 5,
    stats: MatchStats | None = None,
) -> list[DuplicateWarning]:
    """Existing customers the values (a customer's fields, as a form or the API sends them) likely
    duplicate, strongest first. `exclude_id`: the customer being edited."""
    from kehu.core.scoping import restrict
    from kehu.customers.models import Customer

    record = build_record(role_values(values))
    ids = _candidate_ids(record, exclude={exclude_id} if exclude_id else set())
    if not ids:
        return []
    stats = stats or MatchStats()
    scored: list[tuple[float, Any, Any, dict[str, Any]]] = []
    for row, candidate, names in _candidates(ids):
        outcome = compare(record, candidate, stats)
        if outcome.score >= REVIEW:
            scored.append((outcome.score, row, outcome, names))
    if not scored:
        return []
    scored.sort(key=lambda item: (-item[0], -item[1][0]))
    scored = scored[:limit]
    visible = set(restrict(Customer.objects.filter(pk__in=[row[0] for _s, row, _o, _n in scored]), user)
                  .values_list("pk", flat=True)) if user is not None else set()
    language = "en" if (get_language() or "").startswith("en") else "zh"
    warnings = []
    for score, row, outcome, names in scored:
        seen = row[0] in visible
        warnings.append(DuplicateWarning(
            customer_id=row[0], score=score, verdict=outcome.verdict, visible=seen,
            name=row[2] if seen else "", owner_name=names["owner"] or _("公海"), department_name=names["department"],
            # Values in the reasons as the user's field-level security allows (kehu.core.masking).
            reasons=explain(masking.redact_reasons(user, outcome.reasons), language) if seen else _evidence_kinds(
                [r.code for r in outcome.reasons if r.weight > 0]),
        ))
    return warnings


def blocking_duplicates(warnings: Sequence[DuplicateWarning]) -> list[DuplicateWarning]:
    """The warnings that stop a save when an admin turned blocking on: the certain ones."""
    return [w for w in warnings if w.verdict == "certain"]


def blocking_enabled() -> bool:
    from kehu.dataquality.quality import quality_settings

    return quality_settings().duplicate_block_certain


def duplicates_blocked(warnings: Sequence[DuplicateWarning]) -> bool:
    """True when these warnings stop the save (blocking is on and one of them is certain)."""
    return bool(blocking_duplicates(warnings)) and blocking_enabled()


def customer_values(customer: Any) -> dict[str, Any]:
    """A customer's (cleaned) fields in the shape `likely_duplicates` takes."""
    return {name: getattr(customer, name) for name in (
        "kind", "name", "phones", "emails", "credit_code", "id_number", "birthday", "province", "city", "district",
        "address")}


def refuse_certain_duplicates(values: Mapping[str, Any], *, user: Any, exclude_id: int | None = None) -> None:
    """The server-side guard of every write path: when an admin made certain matches block the
    save, raise ValidationFailed naming the owner (and the customer, when the user may see it)."""
    if not blocking_enabled():
        return
    blocked = blocking_duplicates(likely_duplicates(values, user=user, exclude_id=exclude_id))
    if not blocked:
        return
    from kehu.core.errors import ErrorCode, FieldError, ValidationFailed

    first = blocked[0]
    owner = first.owner_name + (f"（{first.department_name}）" if first.department_name else "")
    if first.visible:
        message = _("与已有客户“%(name)s”（#%(id)s，负责人 %(owner)s）重复：%(reasons)s") % {
            "name": first.name, "id": first.customer_id, "owner": owner, "reasons": first.reasons}
    else:
        message = _("与负责人 %(owner)s 的一个客户重复（依据：%(reasons)s），请联系对方或管理员") % {
            "owner": owner, "reasons": first.reasons}
    raise ValidationFailed([FieldError(field="name", code=ErrorCode.DUPLICATE, message=message)])
