"""E-mail addresses: trimmed, domain lower-cased, syntax checked offline, provider typos suggested.

Stored form: ``Zhang.San@qq.com`` (the local part keeps its case: some servers honour it; the
domain never does). A plain address is checked by one regex; only unusual shapes (quoted local
parts, international domains) go through `email_validator` (without DNS). A domain that looks like
a misspelt big provider (``qq.con``, ``gmial.com``) is flagged with the corrected address as hint and
kept as typed: a suggestion is for a person to accept, never applied silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from rapidfuzz.distance import DamerauLevenshtein

from kehu.dataquality.normalize.base import Normalized, Problem
from kehu.dataquality.normalize.text import _FULLWIDTH, _INVISIBLE

MESSAGES: dict[str, str] = {
    "email.invalid": "邮箱地址格式不正确",
    "email.domain_typo": "邮箱域名可能拼错了",
    "email.trimmed": "已去掉多余的空格或标点",
    "email.halfwidth": "全角字符已转为半角",
    "email.mailto_removed": "已去掉 mailto: 前缀",
    "email.display_name_removed": "已去掉地址前的显示名",
    "email.domain_lowercased": "域名已转为小写",
}

PROVIDERS = (
    "qq.com", "163.com", "126.com", "yeah.net", "sina.com", "sina.cn", "sohu.com", "foxmail.com", "139.com",
    "aliyun.com", "189.cn", "21cn.com", "tom.com", "vip.qq.com", "vip.163.com", "vip.sina.com",
    "gmail.com", "hotmail.com", "outlook.com", "live.com", "yahoo.com", "icloud.com", "msn.com", "mail.com",
)  # fmt: skip
_PROVIDER_SET = frozenset(PROVIDERS)
_LONGEST_PROVIDER = max(map(len, PROVIDERS))

# Typos seen in real exports that an edit distance alone would miss or get wrong.
TYPOS = {
    "qq.con": "qq.com", "qq.cm": "qq.com", "qq.co": "qq.com", "qqcom": "qq.com", "q.com": "qq.com",
    "qq.comm": "qq.com", "qq.om": "qq.com", "qq.cpm": "qq.com", "qq.vom": "qq.com", "qq.xom": "qq.com",
    "qq.cn": "qq.com", "qq.c0m": "qq.com", "qq,com": "qq.com", "qqq.com": "qq.com", "qq..com": "qq.com",
    "163.con": "163.com", "163.cm": "163.com", "163.co": "163.com", "163com": "163.com", "163.cn": "163.com",
    "163.comm": "163.com", "163.om": "163.com", "163..com": "163.com",
    "126.con": "126.com", "126.cm": "126.com", "126.co": "126.com", "126com": "126.com", "126.cn": "126.com",
    "sina.con": "sina.com", "sian.com": "sina.com", "sina.co": "sina.com", "sina.com.con": "sina.com.cn",
    "sohu.con": "sohu.com", "souhu.com": "sohu.com",
    "foxmail.con": "foxmail.com", "foxmial.com": "foxmail.com", "foxmai.com": "foxmail.com",
    "gmail.co": "gmail.com", "gmail.con": "gmail.com", "gmial.com": "gmail.com", "gamil.com": "gmail.com",
    "gmai.com": "gmail.com", "gmal.com": "gmail.com", "gmail.cm": "gmail.com", "gmail.cn": "gmail.com",
    "hotmail.con": "hotmail.com", "hotmial.com": "hotmail.com", "hotmai.com": "hotmail.com",
    "hotmail.co": "hotmail.com",
    "outlook.con": "outlook.com", "outlok.com": "outlook.com", "outlook.co": "outlook.com",
    "yahoo.con": "yahoo.com", "yaho.com": "yahoo.com", "yahoo.co": "yahoo.com",
    "aliyun.con": "aliyun.com", "aliyun.cn": "aliyun.com",
    "139.con": "139.com", "139.co": "139.com", "139com": "139.com",
    "icloud.con": "icloud.com", "iclould.com": "icloud.com",
}  # fmt: skip

_TLD_TYPOS = {"con": "com", "cmo": "com", "comm": "com", "vom": "com", "xom": "com", "c0m": "com", "ocm": "com"}
_CLEAN = {**_INVISIBLE, **_FULLWIDTH}
# The plain shape nearly every address has: checked here so email_validator runs for the rest only.
_PLAIN = re.compile(
    r"(?P<local>[A-Za-z0-9_%+\-]+(?:\.[A-Za-z0-9_%+\-]+)*)@"
    r"(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})"
)
_DISPLAY_NAME = re.compile(r"^[^<>]*<\s*([^<>]+?)\s*>$")
_MAILTO = re.compile(r"^mailto:\s*", re.IGNORECASE)
_EDGE = " \t\r\n\"'`,;:。，；：、<>()[]"
_SPLIT = re.compile(r"[\s,;，；、/|／｜]+")  # on the raw text: pieces stay as typed


@dataclass(frozen=True, slots=True)
class EmailAddress(Normalized):
    valid: bool = False
    suggestion: str = ""


def normalize_email(raw: str) -> EmailAddress:
    """One address -> trimmed, domain lower-cased; flagged when invalid or a likely provider typo."""
    kept = raw.translate(_INVISIBLE).strip()
    text = kept.translate(_CLEAN) if not kept.isascii() else kept
    changes: list[str] = []
    if text != kept:
        changes.append("email.halfwidth")
    if text[:1] in ("m", "M") and (mailto := _MAILTO.match(text)) is not None:
        text = text[mailto.end() :]
        changes.append("email.mailto_removed")
    if text.endswith(">") and (named := _DISPLAY_NAME.match(text)) is not None:
        text = named.group(1)
        changes.append("email.display_name_removed")
    trimmed = text.strip(_EDGE).rstrip(".")
    if trimmed != text:
        text = trimmed
        if text != kept:
            changes.append("email.trimmed")
    local, at, domain = text.rpartition("@")
    if not at or not local:
        return _invalid(raw, kept, domain if at else "")
    lowered = domain.lower()
    value = local + "@" + lowered
    if lowered != domain:
        changes.append("email.domain_lowercased")
    if _PLAIN.fullmatch(value) is None and not _validates(value):
        return _invalid(raw, kept, lowered, local)
    problems: tuple[Problem, ...] = ()
    suggestion = ""
    if lowered not in _PROVIDER_SET:
        better = suggest_domain(lowered)
        if better:
            suggestion = local + "@" + better
            problems = (Problem("email.domain_typo", value, suggestion),)
    return EmailAddress(raw, value, tuple(changes) if value != raw else (), problems, True, suggestion)


def quick_email(cell: str) -> str | None:
    """The stored form when the cell is one plain address with nothing to flag (surrounding spaces
    and an upper-case domain are all it may need), else None. The row engine's fast path: the value
    `normalize_emails` would give, without building the result."""
    if not cell.isascii():
        return None
    text = cell.strip()
    if _PLAIN.fullmatch(text) is None:
        return None
    local, _, domain = text.rpartition("@")
    domain = domain.lower()
    if domain in _PROVIDER_SET or not suggest_domain(domain):
        return local + "@" + domain
    return None


def _validates(address: str) -> bool:
    try:
        result = validate_email(address, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        return False
    return len(result.domain.rpartition(".")[2]) >= 2  # it accepts "qq.c"


def _invalid(raw: str, kept: str, domain: str, local: str = "") -> EmailAddress:
    """Kept as typed; a misspelt provider ("abc@qqcom") still gets its suggestion."""
    problems = [Problem("email.invalid", kept)]
    suggestion = ""
    if local and domain:
        better = TYPOS.get(domain, "")
        if better:
            suggestion = f"{local}@{better}"
            problems.append(Problem("email.domain_typo", kept, suggestion))
    return EmailAddress(raw, kept, (), tuple(problems), False, suggestion)


@lru_cache(maxsize=4096)
def suggest_domain(domain: str) -> str:
    """The provider domain `domain` is probably a typo of, or "" (cached: domains repeat a lot)."""
    domain = domain.lower()
    if domain in _PROVIDER_SET:
        return ""
    if domain in TYPOS:
        return TYPOS[domain]
    head, dot, tld = domain.rpartition(".")
    if dot and head and tld in _TLD_TYPOS:  # no such top-level domain: "company.con" means .com
        return suggest_domain(f"{head}.{_TLD_TYPOS[tld]}") or f"{head}.{_TLD_TYPOS[tld]}"
    if len(domain) < 7:  # "qq.cn" or "q.com" style: only the explicit table, short real domains abound
        return ""
    if len(domain) > _LONGEST_PROVIDER + 1:  # one edit from no provider (most company domains)
        return ""
    limit = 1  # one edit or one swapped pair ("gmial"); two edits hit real domains ("qqmail.com")
    best, best_distance, tie = "", limit + 1, False
    for provider in PROVIDERS:
        if abs(len(provider) - len(domain)) > limit:
            continue
        distance = DamerauLevenshtein.distance(domain, provider, score_cutoff=limit)
        if distance < best_distance:
            best, best_distance, tie = provider, distance, False
        elif distance == best_distance:
            tie = True
    return "" if tie or not best else best


def split_emails(raw: str) -> list[str]:
    """Several addresses in one cell: split on spaces, commas, semicolons, 、 and slashes."""
    return [piece for piece in _SPLIT.split(raw.translate(_INVISIBLE)) if piece.translate(_CLEAN).strip(_EDGE)]


def normalize_emails(raw: str | Iterable[str]) -> list[EmailAddress]:
    """Split (when given one string), normalise each, drop repeats (compared case-insensitively)."""
    if isinstance(raw, str):
        stripped = raw.strip()
        if _SPLIT.search(stripped) is None:  # the usual cell: one address
            return [normalize_email(raw)] if stripped.translate(_CLEAN).strip(_EDGE) else []
        pieces = split_emails(raw) if not _DISPLAY_NAME.match(stripped) else [raw]
    else:
        pieces = [p for item in raw for p in split_emails(item)]
    seen: set[str] = set()
    out = []
    for piece in pieces:
        email = normalize_email(piece)
        key = email.value.lower()
        if key not in seen:
            seen.add(key)
            out.append(email)
    return out
