"""Phone numbers: one canonical display form plus E.164.

Stored forms (``value == display``):

- Chinese mobile: ``13812345678`` (E.164 ``+8613812345678``)
- Chinese landline: ``010-65529988``, ``0755-8888888``; an extension is appended as `` 转 123``
- 400/800 numbers: ``400-810-8888``
- foreign numbers: international format from libphonenumber, ``+1 650-253-0000``, ``+852 2345 6789``
- anything else is kept as typed (surrounding whitespace and invisible characters removed) and flagged.

The common Chinese shapes are recognised by regexes on the bare digits; `phonenumbers.parse` is only
called for what those do not cover (foreign numbers, odd shapes), so a typical row costs a couple of
microseconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from kehu.dataquality.normalize.base import Normalized, Problem
from kehu.dataquality.normalize.text import _FULLWIDTH, _INVISIBLE

MESSAGES: dict[str, str] = {
    "phone.invalid": "无法识别的电话号码",
    "phone.missing_area_code": "固定电话缺少区号",
    "phone.halfwidth": "全角字符已转为半角",
    "phone.prefix_removed": "已去掉国家代码 +86",
    "phone.reformatted": "已统一号码格式（去掉空格、横线、括号）",
    "phone.area_code_zero_added": "区号前已补 0",
    "phone.extension": "已识别分机号",
    "phone.label_removed": "已去掉号码前的“电话/手机/Tel”等标签",
}


@dataclass(frozen=True, slots=True)
class PhoneNumber(Normalized):
    e164: str = ""
    display: str = ""
    kind: str = "unknown"  # mobile | landline | toll_free | voip | unknown
    extension: str = ""
    region: str = ""
    area_code: str = ""

    @property
    def valid(self) -> bool:
        return self.e164 != ""


# Invisible characters out, full-width to half-width, odd dashes to "-", in one translate.
_CLEAN = {**_INVISIBLE, **_FULLWIDTH}
_CLEAN.update({cp: 0x2D for cp in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xFE63)})
# Same, and also every separator a number is typed with deleted: the fast path sees "+8613812345678".
_COMPACT = dict(_CLEAN)
_COMPACT.update({ord(c): None for c in " \t\n\r-.()[]/"})
_COMPACT.update({cp: None for cp in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xFE63, 0x3000, 0xA0)})

_MOBILE = re.compile(r"(?:\+?86|0086)?(1[3-9]\d{9})")
_LANDLINE = re.compile(r"(\+?86|0086)?(0[1-9]\d{8,10})")
_EXTENSION = re.compile(
    r"\s*[(\[]?\s*(?:转|轉|分机号?|分機|ext\.?|extension|x|#)\s*[:.]?\s*(\d{1,6})\s*[)\]]?\s*$", re.IGNORECASE
)
_CN_PREFIX = re.compile(r"^\s*(?:\(\s*\+?\s*86\s*\)|\+\s*86|0086|\+\s*\(\s*86\s*\))[\s\-.]*")
_PLAIN_86 = re.compile(r"^\s*86[\s\-.]*(?=[(\d])")
_BRACKETED_CC = re.compile(r"^\(\s*\+?\s*(852|853|886)\s*\)")
_TRUNK_ZERO = re.compile(r"^\(\s*0\s*\)")
_IDD = re.compile(r"^\s*(?:\+|00)\s*(?=\d)")
_LABEL = re.compile(
    r"^\s*(?:tel|phone|mobile|mob|fax|cell|手机号码|手机号|手机|电话号码|电话|座机|固话|联系电话|办公电话|[tm])\s*[:.]?\s*(?=[+(\d])",
    re.IGNORECASE,
)
_DIGIT_GROUP = re.compile(r"\d+")
_ALLOWED = re.compile(r"^[\d\s\-.()\[\]+/]*$")
_TAIL = re.compile(r"\d{3,}$")
_SPLIT = re.compile(r"[/,;、\n\r|／，；｜]+|\s*或\s*")  # on the raw text: pieces stay as typed
_KIND = {
    phonenumbers.PhoneNumberType.MOBILE: "mobile",
    phonenumbers.PhoneNumberType.FIXED_LINE: "landline",
    phonenumbers.PhoneNumberType.TOLL_FREE: "toll_free",
    phonenumbers.PhoneNumberType.VOIP: "voip",
}
_NON_DIGITS = re.compile(r"\D+")
_THREE_DIGIT_AREAS = frozenset({"010", "020", "021", "022", "023", "024", "025", "027", "028", "029"})


def _DIGITS_ONLY(text: str) -> str:  # noqa: N802 - reads as the constant tables around it
    return _NON_DIGITS.sub("", text)


def normalize_phone(raw: str, *, default_region: str = "CN") -> PhoneNumber:
    """One phone number -> canonical display + E.164 (see module docstring)."""
    compact = raw.translate(_COMPACT)
    match = _MOBILE.fullmatch(compact)
    if match is not None:  # fast path: by far the most common shape
        number = match.group(1)
        changes: tuple[str, ...] = ()
        if number != raw:
            changes = _changes(raw, prefix=match.start(1) > 0)
        return PhoneNumber(raw, number, changes, (), "+86" + number, number, "mobile", "", "CN", "")
    match = _LANDLINE.fullmatch(compact)
    if match is not None:  # second most common: a landline with its area code, no extension
        landline = _landline(match.group(2))
        if landline is not None:
            display, _, area = landline
            changes = _changes(raw, prefix=match.start(2) > 0) if display != raw else ()
            return PhoneNumber(raw, display, changes, (), "+86" + display[1:].replace("-", ""), display, "landline",
                               "", "CN", area)  # fmt: skip
    return _slow(raw, default_region)


def _changes(
    raw: str, *, prefix: bool, extension: bool = False, zero: bool = False, label: bool = False
) -> tuple[str, ...]:
    out = []
    if not raw.isascii() and raw.translate(_CLEAN) != raw:
        out.append("phone.halfwidth")
    if label:
        out.append("phone.label_removed")
    if prefix:
        out.append("phone.prefix_removed")
    if zero:
        out.append("phone.area_code_zero_added")
    if extension:
        out.append("phone.extension")
    out.append("phone.reformatted")
    return tuple(out)


def _slow(raw: str, default_region: str) -> PhoneNumber:
    kept = raw.translate(_INVISIBLE).strip()
    if not kept:
        return PhoneNumber(raw, kept)
    text = kept.translate(_CLEAN)
    label = _LABEL.match(text)
    if label is not None:
        text = text[label.end() :]
    extension = ""
    ext = _EXTENSION.search(text)
    if ext is not None and ext.start() > 0:
        extension, text = ext.group(1), text[: ext.start()]
    text = text.strip()
    unprefixed = text
    international = False
    prefix = _CN_PREFIX.match(text)
    if prefix is not None:
        international, text = True, text[prefix.end() :]
    elif (bracketed := _BRACKETED_CC.match(text)) is not None:  # "(852) 2345 6789"
        return _foreign(raw, kept, "+" + bracketed.group(1) + text[bracketed.end() :], extension, default_region)
    elif (idd := _IDD.match(text)) is not None and not text.lstrip("+0 ").startswith("86"):
        return _foreign(raw, kept, text, extension, default_region)
    elif idd is not None:  # "+ 86..." / "00 86" with odd spacing
        international, text = True, text[idd.end() :].lstrip()[2:]
    text = _TRUNK_ZERO.sub("0", text.strip())  # "+86 (0)10 ..." means 010 ...
    if not _ALLOWED.match(text):
        return _invalid(raw, kept)
    groups = _DIGIT_GROUP.findall(text)
    digits = "".join(groups)
    plain86 = not international and _PLAIN_86.match(text) is not None
    found = _cn_number(digits, groups, extension, after_country_code=international)
    if found is None and plain86:
        found = _cn_number(digits[2:], [digits[2:]], extension, after_country_code=True)
        international = found is not None
    if found is None:
        if not international and 7 <= len(digits) <= 8 and digits[0] in "23456789" and len(groups) <= 2:
            problem = Problem("phone.missing_area_code", kept)
            return PhoneNumber(raw, kept, (), (problem,), display=kept, kind="landline")
        if default_region == "CN" and "+" not in unprefixed and not _DIGITS_ONLY(unprefixed).startswith("00"):
            # no country code (+ or 00) anywhere: libphonenumber would read a Chinese number, which the
            # rules above have already turned down
            return _invalid(raw, kept)
        return _foreign(raw, kept, unprefixed, extension, default_region)
    national, kind, area, extension, zero = found
    display = national + (f" 转 {extension}" if extension else "")
    e164 = "+86" + national.replace("-", "")[1 if area else 0 :]
    changes: tuple[str, ...] = ()
    if display != raw:
        changes = _changes(raw, prefix=international, extension=bool(extension), zero=zero, label=label is not None)
    return PhoneNumber(raw, display, changes, (), e164, display, kind, extension, "CN", area)


def _cn_number(
    digits: str, groups: list[str], extension: str, *, after_country_code: bool
) -> tuple[str, str, str, str, bool] | None:
    """(national display, kind, area code, extension, zero added) for a Chinese number, else None."""
    if len(digits) == 11 and _MOBILE.fullmatch(digits):
        return digits, "mobile", "", extension, False
    if len(digits) == 10 and digits[:3] in ("400", "800"):
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}", "toll_free", "", extension, False
    zero = False
    if after_country_code and digits[:1] not in ("0", ""):  # "+86 10 6552 9988": area code typed without 0
        digits, zero = "0" + digits, True
    landline = _landline(digits)
    if landline is not None:
        return (*landline, extension, zero)
    # "010-65529988-123": a complete landline (or 400 number) followed by a short last group.
    if not extension and len(groups) >= 2 and len(groups[-1]) <= 6:
        head = digits[: len(digits) - len(groups[-1])]
        if len(head) == 10 and head[:3] in ("400", "800"):
            return f"{head[:3]}-{head[3:6]}-{head[6:]}", "toll_free", "", groups[-1], zero
        landline = _landline(head)
        if landline is not None:
            return (*landline, groups[-1], zero)
    return None


def _landline(digits: str) -> tuple[str, str, str] | None:
    if len(digits) < 10 or digits[0] != "0":
        return None
    if digits[:3] in _THREE_DIGIT_AREAS:
        area, subscriber = digits[:3], digits[3:]
        if len(subscriber) != 8:
            return None
    else:
        area, subscriber = digits[:4], digits[4:]
        if len(subscriber) not in (7, 8) or not _four_digit_area(area):
            return None
    if subscriber[0] in "01":
        return None
    return f"{area}-{subscriber}", "landline", area


@lru_cache(maxsize=1024)
def _four_digit_area(area: str) -> bool:
    """Whether libphonenumber knows the area code; asked once per code (a few hundred exist)."""
    if area[1] in "012":
        return False
    for subscriber in ("62345678", "6234567", "82345678", "2345678", "52345678", "5234567"):
        if phonenumbers.is_valid_number(phonenumbers.parse(area + subscriber, "CN")):
            return True
    return False


def _foreign(raw: str, kept: str, text: str, extension: str, default_region: str) -> PhoneNumber:
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return _invalid(raw, kept)
    if not phonenumbers.is_valid_number(number):
        return _invalid(raw, kept)
    region = phonenumbers.region_code_for_number(number) or ""
    if region == "CN":  # the Chinese rules above already said no; libphonenumber is more lenient with junk
        return _invalid(raw, kept)
    extension = extension or (number.extension or "")
    kind = _KIND.get(phonenumbers.number_type(number), "unknown")
    number.extension = None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    display = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    display += f" 转 {extension}" if extension else ""
    changes = ("phone.reformatted",) if display != raw else ()
    return PhoneNumber(raw, display, changes, (), e164, display, kind, extension, region, "")


def _invalid(raw: str, kept: str) -> PhoneNumber:
    return PhoneNumber(raw, kept, (), (Problem("phone.invalid", kept),), display=kept)


def quick_phone(cell: str) -> tuple[str, str] | None:
    """(display, E.164) when the cell holds exactly one mobile, or one landline with its area code
    and no extension; None for anything else. The row engine's fast path: what `normalize_phones`
    would give for such a cell, without building result objects."""
    compact = cell.translate(_COMPACT)
    match = _MOBILE.fullmatch(compact)
    if match is not None:
        number = match.group(1)
        return number, "+86" + number
    if _SPLIT.search(cell) is None:  # one piece: normalize_phones would not split it
        match = _LANDLINE.fullmatch(compact)
        if match is not None:
            landline = _landline(match.group(2))
            if landline is not None:
                display = landline[0]
                return display, "+86" + display[1:].replace("-", "")
        elif len(compact) == 10 and compact[:3] in ("400", "800") and compact.isdigit() and compact.isascii():
            return f"{compact[:3]}-{compact[3:6]}-{compact[6:]}", "+86" + compact
    return None


def split_phones(raw: str) -> list[str]:
    """One cell holding several numbers -> the raw pieces, in order.

    Splits on / , ， ; ； 、 | newlines and 或; two complete mobiles separated only by spaces are also
    split. A dash never splits (it is part of "010-65529988"). A short all-digit piece after a number
    replaces that number's last digits: "010-65529988/89" -> "010-65529988", "010-65529989"."""
    pieces: list[str] = []
    cleaned: list[str] = []  # the same pieces without invisible characters, for the checks
    for typed in _SPLIT.split(raw):
        piece = typed.strip()
        clean = piece.translate(_INVISIBLE).strip()
        if not clean:
            continue
        words = piece.split()
        if len(words) > 1 and all(len(w) >= 11 and _MOBILE.fullmatch(w.translate(_COMPACT)) for w in words):
            pieces.extend(words)
            cleaned.extend(w.translate(_INVISIBLE) for w in words)
        elif cleaned and clean.isdigit() and len(clean) <= 4 and (tail := _TAIL.search(cleaned[-1])) is not None:
            # "010-65529988/89": the short piece replaces the end of the number before it
            if len(tail.group()) >= len(clean) and sum(c.isdigit() for c in cleaned[-1]) >= 7:
                clean = cleaned[-1][: len(cleaned[-1]) - len(clean)] + clean
                piece = clean
            pieces.append(piece)
            cleaned.append(clean)
        else:
            pieces.append(piece)
            cleaned.append(clean)
    return pieces


def normalize_phones(raw: str | Iterable[str], *, default_region: str = "CN") -> list[PhoneNumber]:
    """Split (when given one string), normalise each piece, drop repeats of the same number."""
    if isinstance(raw, str):
        if _MOBILE.fullmatch(raw.translate(_COMPACT)):  # the usual cell: one mobile number
            return [normalize_phone(raw, default_region=default_region)]
        pieces = split_phones(raw)
    else:
        pieces = [p for item in raw for p in split_phones(item)]
    seen: set[str] = set()
    out = []
    for piece in pieces:
        phone = normalize_phone(piece, default_region=default_region)
        key = phone.e164 + "#" + phone.extension if phone.valid else phone.value
        if key not in seen:
            seen.add(key)
            out.append(phone)
    return out
