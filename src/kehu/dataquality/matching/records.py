"""A record ready for matching: raw values by role in, every comparable form computed once.

`build_record({"name": "张先生", "phone": "+86 138-1234-5678", "company": "北京分扬科技有限公司"})`
runs the project's normalisers (phones to E.164, e-mails, company core name, person name with
pinyin, address to province/city/district, resident ID, credit code) and keeps only what the
comparison needs, as plain strings and tuples: comparing two records never normalises anything
again, and a record is small enough to keep a million of them in memory.

Roles (`ROLES`): name, given_name, family_name, contact, company, phone, email, address, street,
city, province, district, postcode, birth_date, id_number, credit_code. phone, email, address and
street may take several values (several columns, or several numbers in one cell); a missing role is
simply unknown, never a disagreement.

Who a record is: with a person name (name, given_name, family_name) it is that person, and its
company is the employer; without one it is the company, and `contact` is a person to ask for there
(a customer file's 联系人 column), weak evidence only. A row with a contact but no company is the
contact's own record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from kehu.dataquality.normalize.addresses import normalize_address, normalize_address_parts, quick_address
from kehu.dataquality.normalize.companies import _CN_FORMS, INDUSTRY_WORDS, core_brand, normalize_company
from kehu.dataquality.normalize.emails import normalize_emails, quick_email
from kehu.dataquality.normalize.identifiers import normalize_credit_code, normalize_resident_id
from kehu.dataquality.normalize.names import COMPOUND_SURNAMES, has_han, normalize_person_name, syllables_of
from kehu.dataquality.normalize.phones import normalize_phones, quick_phone
from kehu.dataquality.normalize.text import clean_text

ROLES: tuple[str, ...] = (
    "name", "given_name", "family_name", "contact", "company", "phone", "email", "address", "street", "city",
    "province", "district", "postcode", "birth_date", "id_number", "credit_code",
)  # fmt: skip
# Roles that may take several columns (joined, or kept as several values).
MULTI_ROLES = frozenset({"phone", "email", "address", "street"})

RoleValues = Mapping[str, "str | Sequence[str] | None"]

_LATIN_WORD = re.compile(r"[a-z0-9]+")
_NOT_ALNUM = re.compile(r"[^0-9a-z\u3400-\u9fff]+")
_DIGITS = re.compile(r"\d+")
_ID_CHARS = re.compile(r"[^0-9A-Z]+")


@dataclass(slots=True)
class MatchRecord:
    """The comparable forms of one record. Every text field is "" when unknown.

    Names: `name` is the display form without honorific (张, 张伟, John Smith); `family`/`given`
    are comparison keys (lower-case Latin, or Chinese characters), `family_latin`/`given_latin`
    their Latin spelling (pinyin for Chinese) so 张伟 meets "Zhang Wei". Companies: `company_core`
    has legal form and region removed (分扬科技), `company_brand` also trailing industry words (分扬),
    `company_brand_latin` the brand in Latin letters (fenyang) for "Beijing FenYang"."""

    name: str = ""
    salutation: str = ""
    family: str = ""
    given: str = ""
    family_latin: str = ""
    given_latin: str = ""
    name_han: bool = False
    contact: str = ""  # a company record's contact person, as written (张先生)
    contact_family: str = ""  # ... the surname in Latin letters (zhang)
    contact_key: str = ""  # ... the name's parts in Latin letters, sorted ("wei|zhang": 张伟 = Zhang Wei)
    company: str = ""
    company_core: str = ""
    company_brand: str = ""
    company_brand_latin: str = ""
    company_core_latin: str = ""  # the core in Latin letters: pinyin of 分扬科技 = "fenyangkeji"
    company_region: str = ""
    company_legal: str = ""
    phones: tuple[str, ...] = ()  # E.164 (or the bare digits of a number the phone rules cannot read)
    mobiles: tuple[str, ...] = ()  # those of `phones` that are mobiles (a tuple: 1 item is the norm)
    emails: tuple[str, ...] = ()  # lower-case
    province: str = ""
    city: str = ""
    district: str = ""
    street: str = ""  # lower-case detail line: street, number, building (Chinese kept as written)
    street_numbers: str = ""  # the numbers in the detail line, space-separated ("88 1203")
    postcode: str = ""
    birth_date: str = ""  # YYYYMMDD when it could be read, else its digits
    id_number: str = ""
    id_checked: bool = False  # a resident ID that passed its check digit (typos rarely survive one)
    credit_code: str = ""

    @property
    def has_person(self) -> bool:
        return bool(self.family or self.given)

    @property
    def name_latin(self) -> str:
        return self.family_latin + self.given_latin if self.name_han else self.given_latin + self.family_latin


def _texts(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    return [v for v in value if v and v.strip()]


def _one(values: RoleValues, role: str) -> str:
    value = values.get(role)
    if value is None or isinstance(value, str):  # the usual case: one cell
        return value.strip() if value else ""
    return " ".join(_texts(value))


def build_record(values: RoleValues) -> MatchRecord:
    """A `MatchRecord` from raw values keyed by role (unknown roles are ignored)."""
    record = MatchRecord()
    name, contact, company = _one(values, "name"), _one(values, "contact"), _one(values, "company")
    if contact and not company and not name:
        name, contact = contact, ""  # no company: the contact is who this row is
    _set_name(record, name, _one(values, "given_name"), _one(values, "family_name"))
    if company:
        _set_company(record, company)
    if contact and not record.has_person:
        display, salutation, family, given, family_latin, given_latin, han = _person(contact)
        record.contact = display + salutation if han else contact.strip()
        record.contact_family = family_latin or family
        record.contact_key = "|".join(sorted(p for p in (family_latin or family, given_latin or given) if p))
    phones = _texts(values.get("phone"))
    if phones:
        _set_phones(record, phones)
    emails = _texts(values.get("email"))
    if emails:
        quick = quick_email(emails[0]) if len(emails) == 1 else None
        record.emails = (quick.lower(),) if quick is not None else _emails(tuple(emails))
    _set_address(record, values)
    birth = _one(values, "birth_date")
    if birth:
        record.birth_date = parse_birth_date(birth)
    id_number = _one(values, "id_number")
    if id_number:
        resident = normalize_resident_id(id_number)
        if resident.valid:
            record.id_number = resident.value
            record.id_checked = True
            if not record.birth_date and resident.birthday is not None:
                record.birth_date = resident.birthday.strftime("%Y%m%d")
        else:
            record.id_number = _ID_CHARS.sub("", clean_text(id_number).upper())
    credit = _one(values, "credit_code")
    if credit:
        code = normalize_credit_code(credit)
        record.credit_code = code.value if code.valid else _ID_CHARS.sub("", clean_text(credit).upper())
    return record


# ---- names --------------------------------------------------------------------------------------


def _set_name(record: MatchRecord, name: str, given: str, family: str) -> None:
    if name:
        parsed = _person(name)
        record.name, record.salutation = parsed[0], parsed[1]
        record.family, record.given, record.family_latin, record.given_latin, record.name_han = parsed[2:]
    if given or family:  # separate columns win over what was read from a full name
        given_parts = _person(given) if given else None
        family_parts = _person(family) if family else None
        han = bool((given_parts and given_parts[6]) or (family_parts and family_parts[6]))
        record.name_han = han
        if family_parts is not None:
            record.family = family_parts[0] if han else _latin_key(family_parts[0])
            record.family_latin = family_parts[4] + family_parts[5] if han else record.family
        if given_parts is not None:
            record.given = given_parts[0] if han else _latin_key(given_parts[0])
            record.given_latin = given_parts[4] + given_parts[5] if han else record.given
        if not record.name:
            shown = [p[0] for p in (family_parts, given_parts) if p is not None]
            record.name = "".join(shown) if han else " ".join(reversed(shown))


@lru_cache(maxsize=65536)
def _person(text: str) -> tuple[str, str, str, str, str, str, bool]:
    """(display, salutation, family key, given key, family latin, given latin, is Chinese)."""
    parsed = normalize_person_name(text)
    value = parsed.value
    if has_han(value):
        plain = value.replace("·", "")
        size = 2 if plain[:2] in COMPOUND_SURNAMES else 1
        family, given = plain[:size], plain[size:]
        syllables = syllables_of(plain, is_person=True)
        if len(syllables) == len(plain):
            return value, parsed.salutation, family, given, "".join(syllables[:size]), "".join(syllables[size:]), True
        return value, parsed.salutation, family, given, parsed.pinyin, "", True
    words = _LATIN_WORD.findall(value.lower())
    if not words:
        return value, parsed.salutation, "", "", "", "", False
    if len(words) == 1:  # one word: a surname as often as a given name; kept as the family name
        return value, parsed.salutation, words[0], "", words[0], "", False
    given, family = words[0], words[-1]  # "John Paul Smith": the middle name is left out
    return value, parsed.salutation, family, given, family, given, False


def _latin_key(text: str) -> str:
    return "".join(_LATIN_WORD.findall(text.lower()))


# ---- companies ----------------------------------------------------------------------------------


def _set_company(record: MatchRecord, text: str) -> None:
    parsed = normalize_company(text)
    record.company = parsed.value
    if parsed.problems:  # a placeholder ("无", "个人") or only a legal form: nothing to match on
        return
    record.company_region = parsed.region
    record.company_legal = parsed.legal_form
    if has_han(parsed.core):
        record.company_core = parsed.core
        record.company_brand = core_brand(parsed.core)
        record.company_core_latin = _pinyin(parsed.core)
        record.company_brand_latin = _pinyin(record.company_brand)
        return
    words = _LATIN_WORD.findall(parsed.core.lower())
    words = _strip_pinyin_tail(words, _PINYIN_FORMS)  # "mishenhai dianzi youxian gongsi"
    record.company_core = " ".join(words)
    record.company_core_latin = "".join(words)
    brand = core_brand(parsed.core).lower()
    brand_words = _strip_pinyin_tail(_LATIN_WORD.findall(brand), _BRAND_ENDINGS)
    record.company_brand = " ".join(brand_words)
    record.company_brand_latin = "".join(brand_words)


@lru_cache(maxsize=65536)
def _pinyin(text: str) -> str:
    return "".join(syllables_of(text))


def _pinyin_words(words: Sequence[str]) -> frozenset[str]:
    """Chinese words as people spell them in pinyin: 有限公司 -> "youxiangongsi" and "youxian gongsi"."""
    return frozenset(_pinyin(w) for w in words)


_PINYIN_FORMS = _pinyin_words(_CN_FORMS)
# English industry words beyond those `core_brand` drops: "ChengKuang Environmental" is 成旷环保's brand.
_ENGLISH_INDUSTRY = frozenset({
    "environmental", "environment", "energy", "new", "food", "foods", "pharmaceutical", "pharmaceuticals",
    "biotechnology", "biotech", "bio", "culture", "cultural", "education", "educational", "automotive", "auto",
    "construction", "electric", "electrical", "information", "science", "sciences", "digital", "smart",
    "intelligent", "materials", "material", "chemical", "chemicals", "medical", "health", "healthcare",
    "advertising", "design", "property", "realestate", "management", "supplychain", "import", "export",
    "trade", "commerce", "commercial", "investment", "industry", "machinery", "textile", "textiles", "apparel",
})  # fmt: skip
_BRAND_ENDINGS = _PINYIN_FORMS | _pinyin_words(INDUSTRY_WORDS) | _ENGLISH_INDUSTRY
_LONGEST_TAIL = 4  # words: "gufen youxian gongsi" is three


def _strip_pinyin_tail(words: list[str], endings: frozenset[str]) -> list[str]:
    """Drop trailing words that spell a legal form or industry in pinyin, keeping at least one."""
    while len(words) > 1:
        for size in range(min(_LONGEST_TAIL, len(words) - 1), 0, -1):
            if "".join(words[-size:]) in endings:
                words = words[:-size]
                break
        else:
            return words
    return words


# ---- phones and e-mails -------------------------------------------------------------------------


def _set_phones(record: MatchRecord, cells: list[str]) -> None:
    numbers: list[str] = []
    mobiles: list[str] = []
    for cell in cells:
        quick = quick_phone(cell)  # one mobile or landline in the cell: the normaliser's fast path
        found = ((quick[1], len(quick[1]) == 14 and quick[1][3] == "1"),) if quick is not None else _phones(cell)
        for key, mobile in found:
            if key not in numbers:
                numbers.append(key)
                if mobile:
                    mobiles.append(key)
    record.phones = tuple(numbers)
    record.mobiles = tuple(mobiles)


def _phones(cell: str) -> tuple[tuple[str, bool], ...]:
    """(E.164 or bare digits, is a mobile) for each number in a cell."""
    out: list[tuple[str, bool]] = []
    for phone in normalize_phones(cell):
        if phone.valid:
            out.append((phone.e164, phone.kind == "mobile"))
        else:
            digits = "".join(_DIGITS.findall(clean_text(phone.raw)))
            if len(digits) >= 7:  # a number the rules cannot read still matches itself
                out.append((digits, False))
    return tuple(out)


@lru_cache(maxsize=65536)
def _emails(cells: tuple[str, ...]) -> tuple[str, ...]:
    found: list[str] = []
    for email in normalize_emails(list(cells)):
        key = email.value.lower()
        if "@" in key and key not in found:
            found.append(key)
    return tuple(found)


# ---- addresses ----------------------------------------------------------------------------------


def _set_address(record: MatchRecord, values: RoleValues) -> None:
    address = " ".join(_texts(values.get("address")))
    street = " ".join(_texts(values.get("street")))
    province, city, district = _one(values, "province"), _one(values, "city"), _one(values, "district")
    postcode = _one(values, "postcode")
    if not (address or street or province or city or district or postcode):
        return
    parts = _address(address, province, city, district)
    record.province, record.city, record.district, detail, found_postcode = parts
    detail = " ".join(d for d in (detail, _detail_key(street)) if d)
    record.street = detail
    record.street_numbers = " ".join(_DIGITS.findall(detail))
    record.postcode = "".join(_DIGITS.findall(clean_text(postcode))) if postcode else found_postcode


@lru_cache(maxsize=65536)
def _address(address: str, province: str, city: str, district: str) -> tuple[str, str, str, str, str]:
    """(province, city, district, detail key, postcode). Region columns, Chinese addresses and
    comma-separated English ones go through the address normaliser ("Beijing" is 北京市); what it
    does not recognise (a street line alone, a place outside China) is kept as lower-case words."""
    if address and (found := quick_address(address)) is not None and (found[1] or not (province or city)):
        return (found[0], found[1], found[2], _detail_key(found[3]), "")  # the usual cell, parsed from memo
    if province or city or district or "," in address or has_han(address):
        parsed = (
            normalize_address_parts(province=province, city=city, district=district, detail=address)
            if province or city or district
            else normalize_address(address)
        )
        if parsed.province or parsed.city:
            return (parsed.province, parsed.city, parsed.district, _detail_key(parsed.detail), parsed.postcode)
    return (_plain(province), _plain(city), _plain(district), _detail_key(address), "")


def _plain(text: str) -> str:
    return " ".join(clean_text(text).lower().split())


def _detail_key(text: str) -> str:
    return " ".join(_NOT_ALNUM.sub(" ", clean_text(text).lower()).split())


# ---- dates --------------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def parse_birth_date(text: str) -> str:
    """"1990-03-07", "1990/3/7", "1990年3月7日", "19900307", "3/7/1990" -> "19900307".

    A date with the year last is read month first (what Excel exports in US English write) unless
    the first number cannot be a month; the comparison treats a day/month swap as nearly equal.
    Anything else is kept as its digits (two records typing the same odd value still agree)."""
    groups = _DIGITS.findall(clean_text(text))
    if len(groups) == 1 and len(groups[0]) == 8:
        year, month, day = groups[0][:4], groups[0][4:6], groups[0][6:]
    elif len(groups) >= 3 and len(groups[0]) == 4:
        year, month, day = groups[0], groups[1], groups[2]
    elif len(groups) >= 3 and len(groups[2]) == 4:
        month, day, year = groups[0], groups[1], groups[2]
        if int(month) > 12 >= int(day):
            day, month = month, day
    else:
        return "".join(groups)
    return year + month.zfill(2) + day.zfill(2)
