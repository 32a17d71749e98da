"""Record-level cleaning: the normalisers applied to a customer's or contact's fields, with the
admin-edited tables (city aliases, picklist synonyms) they need. The customer services call these
on every write; `kehu normalize` calls them over the stored data.

Everything here keeps what cannot be understood as typed; problems are reported, never fixed by
guessing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kehu.dataquality.normalize.addresses import Address, normalize_address, normalize_address_parts
from kehu.dataquality.normalize.base import Problem
from kehu.dataquality.normalize.companies import normalize_company
from kehu.dataquality.normalize.emails import EmailAddress, normalize_email, normalize_emails
from kehu.dataquality.normalize.identifiers import normalize_credit_code, normalize_resident_id, normalize_url
from kehu.dataquality.normalize.names import normalize_person_name
from kehu.dataquality.normalize.phones import PhoneNumber, normalize_phone, normalize_phones
from kehu.dataquality.picklists import PicklistMatch, fold, match_picklist


@dataclass
class FieldProblem:
    """A normaliser's problem tied to the record field it came from."""

    field: str
    problem: Problem


@dataclass
class Cleaned:
    """The canonical values of the fields that were given, plus the problems found on them."""

    values: dict[str, Any] = field(default_factory=dict)
    problems: list[FieldProblem] = field(default_factory=list)

    def add_problems(self, field_name: str, problems: Iterable[Problem]) -> None:
        self.problems.extend(FieldProblem(field_name, p) for p in problems)


def city_aliases() -> dict[str, str]:
    """Admin-defined aliases (tiny table, read per write so every process sees edits at once)."""
    from kehu.dataquality.models import CityAlias

    return dict(CityAlias.objects.values_list("alias", "canonical"))


def picklist_tables(kind: str) -> tuple[dict[str, tuple[int, str]], dict[str, tuple[int, str]]]:
    """({folded code or label: (id, code)}, {folded synonym: (id, code)}) for one picklist kind."""
    from kehu.customers.models import PicklistOption
    from kehu.dataquality.models import PicklistSynonym

    table: dict[str, tuple[int, str]] = {}
    for option_id, code, label_zh, label_en in PicklistOption.objects.filter(kind=kind).values_list(
        "id", "code", "label_zh", "label_en"
    ):
        for text in (label_en, label_zh, code):  # later wins: code beats a label that happens to equal it
            if text:
                table[fold(text)] = (option_id, code)
    synonyms = {
        key: (option_id, code)
        for key, option_id, code in PicklistSynonym.objects.filter(kind=kind).values_list(
            "key", "option_id", "option__code"
        )
    }
    return table, synonyms


def match_picklist_value(raw: str, kind: str) -> PicklistMatch:
    table, synonyms = picklist_tables(kind)
    return match_picklist(raw, table=table, synonyms=synonyms)


def clean_phone_values(raw: Any) -> list[PhoneNumber]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        return normalize_phones(raw)
    return normalize_phones([str(v) for v in raw if v not in (None, "")])


def clean_email_values(raw: Any) -> list[EmailAddress]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        return normalize_emails(raw)
    return normalize_emails([str(v) for v in raw if v not in (None, "")])


def clean_address(
    *, province: str = "", city: str = "", district: str = "", detail: str = "", aliases: Mapping[str, str]
) -> Address:
    """Parts when the form has them; a whole address typed into the detail box is split."""
    if not (province or city or district):
        return normalize_address(detail, aliases=aliases) if detail else Address(raw="", value="")
    return normalize_address_parts(province=province, city=city, district=district, detail=detail, aliases=aliases)


def clean_customer_fields(data: Mapping[str, Any], *, kind: str, aliases: Mapping[str, str] | None = None) -> Cleaned:
    """Canonical values for the customer fields present in `data` (name, phones, emails,
    address parts, credit code, ID number, website)."""
    out = Cleaned()
    if "name" in data and data["name"]:
        name = str(data["name"])
        if kind == "person":
            person = normalize_person_name(name)
            out.values.update(name=person.value, name_core="", salutation=person.salutation)
            out.add_problems("name", person.problems)
        else:
            company = normalize_company(name)
            out.values.update(name=company.value, name_core=company.core)
            out.add_problems("name", company.problems)
    if "phones" in data:
        phones = clean_phone_values(data["phones"])
        out.values["phones"] = [p.value for p in phones]
        out.values["phones_e164"] = [p.e164 for p in phones]
        for phone in phones:
            out.add_problems("phones", phone.problems)
    if "emails" in data:
        emails = clean_email_values(data["emails"])
        out.values["emails"] = [e.value for e in emails]
        for email in emails:
            out.add_problems("emails", email.problems)
    if {"province", "city", "district", "address"} & set(data):
        address = clean_address(
            province=str(data.get("province") or ""),
            city=str(data.get("city") or ""),
            district=str(data.get("district") or ""),
            detail=str(data.get("address") or ""),
            aliases={} if aliases is None else aliases,
        )
        if address.province or address.city or address.district:
            out.values.update(
                province=address.province, city=address.city, district=address.district, address=address.detail
            )
        out.add_problems("address", address.problems)
    if data.get("credit_code"):
        code = normalize_credit_code(str(data["credit_code"]))
        out.values["credit_code"] = code.value
        out.add_problems("credit_code", code.problems)
    if data.get("id_number"):
        resident = normalize_resident_id(str(data["id_number"]))
        out.values["id_number"] = resident.value
        out.add_problems("id_number", resident.problems)
        if resident.valid:
            out.values["_id_birthday"] = resident.birthday
            out.values["_id_gender"] = resident.gender
    if data.get("website"):
        url = normalize_url(str(data["website"]))
        out.values["website"] = url.value
        out.add_problems("website", url.problems)
    return out


def clean_contact_fields(data: Mapping[str, Any]) -> Cleaned:
    out = Cleaned()
    if data.get("name"):
        person = normalize_person_name(str(data["name"]))
        out.values.update(name=person.value)
        if person.salutation:
            out.values["salutation"] = person.salutation
        out.add_problems("name", person.problems)
    for field_name in ("mobile", "phone"):
        if field_name in data:
            raw = str(data[field_name] or "").strip()
            phone = normalize_phone(raw) if raw else None
            out.values[field_name] = phone.value if phone else ""
            out.values[f"{field_name}_e164"] = phone.e164 if phone else ""
            if phone:
                out.add_problems(field_name, phone.problems)
                if field_name == "mobile" and phone.valid and phone.kind not in ("mobile", "unknown"):
                    out.add_problems(field_name, [Problem("phone.not_mobile", phone.value)])
    if "email" in data:
        raw = str(data["email"] or "").strip()
        email = normalize_email(raw) if raw else None
        out.values["email"] = email.value if email else ""
        if email:
            out.add_problems("email", email.problems)
    return out
