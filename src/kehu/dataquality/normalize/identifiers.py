"""Identifiers with check digits (统一社会信用代码, 居民身份证号码) and web addresses.

- Credit code (GB 32100-2015): 18 characters from ``0-9`` and ``A-Z`` without I, O, Z, S, V; the
  last one is a weighted check character. Stored upper-case without spaces or dashes.
- Resident ID (GB 11643-1999): 17 digits and a mod 11-2 check character (``X`` for 10); the digits
  carry the region (1-6), birthday (7-14) and gender (17th: odd male, even female). The 15-digit
  pre-1999 form is upgraded to 18 digits.
- URL: ``https://`` added when no scheme was typed, host lower-case, default port and a bare
  trailing slash dropped, international hosts shown readable (``中国.cn``, not ``xn--fiqs8s.cn``).

Anything that fails is kept as typed (surrounding whitespace removed) and flagged.
"""

from __future__ import annotations

import datetime
import operator
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from kehu.dataquality.normalize.base import Normalized, Problem
from kehu.dataquality.normalize.text import _FULLWIDTH, _INVISIBLE

MESSAGES: dict[str, str] = {
    "credit_code.length": "统一社会信用代码应为 18 位",
    "credit_code.charset": "统一社会信用代码含有不允许的字符（不使用 I、O、Z、S、V）",
    "credit_code.checksum": "统一社会信用代码校验位不正确",
    "credit_code.formatted": "已去掉空格、横线并转为大写",
    "resident_id.length": "身份证号码应为 18 位（或旧版 15 位）",
    "resident_id.charset": "身份证号码只能包含数字，最后一位可以是 X",
    "resident_id.region": "身份证号码的地区码不存在",
    "resident_id.birthday": "身份证号码中的出生日期不正确",
    "resident_id.checksum": "身份证号码校验位不正确",
    "resident_id.upgraded": "15 位旧身份证号码已升级为 18 位",
    "resident_id.formatted": "已去掉空格并统一大写 X",
    "url.invalid": "无法识别的网址",
    "url.scheme_added": "已补上 https://",
    "url.lowercased": "协议和域名已转为小写",
    "url.default_port_removed": "已去掉默认端口",
    "url.trailing_slash_removed": "已去掉末尾的斜杠",
    "url.idn_decoded": "国际化域名已显示为可读形式",
    "url.halfwidth": "全角字符已转为半角",
}

_CLEAN = {**_INVISIBLE, **_FULLWIDTH}
_SEPARATORS = {ord(c): None for c in " \t\r\n-_.·/"}

# ---- 统一社会信用代码 -------------------------------------------------------------------------

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUE = {c: i for i, c in enumerate(CREDIT_CODE_ALPHABET)}
_CREDIT_CHARS = frozenset(CREDIT_CODE_ALPHABET)
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Look-alikes people type for digits; offered as a hint only when the result passes the check.
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "Z": "2", "S": "5", "V": "U"})


@dataclass(frozen=True, slots=True)
class CreditCode(Normalized):
    valid: bool = False


def credit_code_check_char(first17: str) -> str:
    """The 18th character for 17 valid characters (GB 32100-2015, 31-radix weighted sum)."""
    if len(first17) != 17:
        raise ValueError(f"a credit code's check character needs 17 characters, got {len(first17)}")
    # map/operator instead of a generator: this runs for every stored credit code of a duplicate scan.
    total = sum(map(operator.mul, map(_CREDIT_VALUE.__getitem__, first17), _CREDIT_WEIGHTS))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def normalize_credit_code(raw: str) -> CreditCode:
    if len(raw) == 18 and _CREDIT_CHARS.issuperset(raw):
        # Already in stored form (what every saved customer holds, so the duplicate scan's case):
        # the cleaning below would change nothing; only the check character is left to verify.
        if _credit_ok(raw):
            return CreditCode(raw, raw, (), (), True)
        return CreditCode(raw, raw, (), (Problem("credit_code.checksum", raw),))
    kept = raw.translate(_INVISIBLE).strip()
    if not kept:
        return CreditCode(raw, kept)
    code = kept.translate(_CLEAN).translate(_SEPARATORS).upper()
    if len(code) != 18:
        return CreditCode(raw, kept, (), (Problem("credit_code.length", kept),))
    if not _CREDIT_CHARS.issuperset(code):
        fixed = code.translate(_LOOKALIKES)
        hint = fixed if all(c in _CREDIT_VALUE for c in fixed) and _credit_ok(fixed) else ""
        return CreditCode(raw, kept, (), (Problem("credit_code.charset", kept, hint),))
    if not _credit_ok(code):
        return CreditCode(raw, kept, (), (Problem("credit_code.checksum", kept),))
    changes = ("credit_code.formatted",) if code != raw else ()
    return CreditCode(raw, code, changes, (), True)


def _credit_ok(code: str) -> bool:
    return credit_code_check_char(code[:17]) == code[17]


# ---- 居民身份证号码 ---------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Province-level prefixes (11 北京 ... 65 新疆, 71 台湾, 81 香港, 82 澳门, 83 台湾居民居住证).
_PROVINCES = frozenset(
    str(n)
    for n in (11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54)
) | frozenset({"61", "62", "63", "64", "65", "71", "81", "82", "83"})
_ID_SHAPE = re.compile(r"\d{17}[\dX]|\d{15}")


@dataclass(frozen=True, slots=True)
class ResidentId(Normalized):
    valid: bool = False
    birthday: datetime.date | None = None
    gender: str = ""  # "male" | "female"
    region_code: str = ""


def resident_id_check_char(first17: str) -> str:
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def normalize_resident_id(raw: str, *, today: datetime.date | None = None) -> ResidentId:
    """`today` bounds the birthday (default: the current date)."""
    kept = raw.translate(_INVISIBLE).strip()
    if not kept:
        return ResidentId(raw, kept)
    number = kept.translate(_CLEAN).translate(_SEPARATORS).upper()
    if len(number) not in (15, 18):
        return _bad_id(raw, kept, "resident_id.length")
    if not _ID_SHAPE.fullmatch(number):
        return _bad_id(raw, kept, "resident_id.charset")
    changes: list[str] = []
    if len(number) == 15:
        first17 = number[:6] + "19" + number[6:]
        number = first17 + resident_id_check_char(first17)
        changes.append("resident_id.upgraded")
    if number[:2] not in _PROVINCES:
        return _bad_id(raw, kept, "resident_id.region")
    try:
        birthday = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return _bad_id(raw, kept, "resident_id.birthday")
    if birthday > (today or datetime.date.today()) or birthday.year < 1880:
        return _bad_id(raw, kept, "resident_id.birthday")
    if resident_id_check_char(number[:17]) != number[17]:
        return _bad_id(raw, kept, "resident_id.checksum")
    if number != raw and not changes:
        changes.append("resident_id.formatted")
    gender = "male" if int(number[16]) % 2 else "female"
    return ResidentId(raw, number, tuple(changes), (), True, birthday, gender, number[:6])


def _bad_id(raw: str, kept: str, code: str) -> ResidentId:
    return ResidentId(raw, kept, (), (Problem(code, kept),))


# ---- URLs -------------------------------------------------------------------------------------

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_ALLOWED_SCHEMES = frozenset({"http", "https", "ftp"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}
_LABEL = re.compile(r"^(?!-)[\w\-]{1,63}(?<!-)$")
_BAD_CHARS = re.compile(r"[\s<>\"{}|\\^`]")


@dataclass(frozen=True, slots=True)
class Url(Normalized):
    valid: bool = False
    host: str = ""


def normalize_url(raw: str) -> Url:
    kept = raw.translate(_INVISIBLE).strip()
    if not kept:
        return Url(raw, kept)
    text = kept.translate(_CLEAN).strip().replace("。", ".")
    changes: list[str] = []
    if text != kept:
        changes.append("url.halfwidth")
    scheme_match = _SCHEME.match(text)
    if scheme_match is not None and text[scheme_match.end() :][:1].isdigit():
        scheme_match = None  # "localhost:8000" / "example.com:8080": a port, not a scheme
    if scheme_match is None:
        text = "https://" + text.lstrip("/")
        changes.append("url.scheme_added")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return _bad_url(raw, kept)
    scheme = parts.scheme.lower()
    if scheme not in _ALLOWED_SCHEMES or not parts.netloc or _BAD_CHARS.search(text):
        return _bad_url(raw, kept)
    host = parts.hostname or ""
    readable = _readable_host(host)
    if readable is None:
        return _bad_url(raw, kept)
    if "xn--" in host.lower():
        changes.append("url.idn_decoded")
    if text.partition(":")[0] != scheme or parts.netloc != parts.netloc.lower():  # urlsplit lower-cases both
        changes.append("url.lowercased")
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (userinfo + "@" if userinfo else "") + readable
    if port is not None:
        if port == _DEFAULT_PORTS[scheme]:
            changes.append("url.default_port_removed")
        else:
            netloc += f":{port}"
    path = parts.path
    if path == "/" and not parts.query and not parts.fragment:
        path = ""
        changes.append("url.trailing_slash_removed")
    value = urlunsplit((scheme, netloc, path, parts.query, parts.fragment))
    if value == raw:
        changes = []
    return Url(raw, value, tuple(changes), (), True, readable)


def _readable_host(host: str) -> str | None:
    """Lower-case host with punycode labels decoded, or None when it is not a usable host name."""
    host = host.lower().rstrip(".")
    if host == "localhost":
        return host
    if "." not in host:
        return None
    labels = host.split(".")
    out = []
    for label in labels:
        if label.startswith("xn--"):
            try:
                label = label.encode("ascii").decode("idna")
            except UnicodeError:
                return None
        if not _LABEL.match(label) or "_" in label:
            return None
        out.append(label)
    if out[-1].isdigit() and not (len(out) == 4 and all(p.isdigit() and int(p) < 256 for p in out)):
        return None  # a numeric top-level label is only fine in an IPv4 address
    return ".".join(out)


def _bad_url(raw: str, kept: str) -> Url:
    return Url(raw, kept, (), (Problem("url.invalid", kept),))
