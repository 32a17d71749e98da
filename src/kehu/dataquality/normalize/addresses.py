"""Addresses: free text -> 省 / 市 / 区县 / detail, one canonical line.

``value`` is province + city + district + detail, a municipality written once
("北京市朝阳区建国路88号", "广东省深圳市南山区科技园"). Short forms and aliases are written out in
full, missing upper levels are filled in from a lower one that is unique in the country
(海淀区 -> 北京市), and the detail (street, building, room) is kept exactly, only cleaned of
stray spaces and full-width digits. Text with no recognisable region is kept as typed and flagged.

A postcode (6 digits set apart at the start or end) is moved out of the line into ``postcode``;
a "中国"/"China" prefix is dropped when a region follows it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from kehu.dataquality.normalize.base import Normalized, Problem
from kehu.dataquality.normalize.regions import (
    CITY,
    DEFAULT_ALIASES,
    DEFAULT_CITY_ALIASES,
    DISTRICT,
    PROVINCE,
    AliasTable,
    Parse,
    Region,
    _latin_key,
    alias_table,
    parse_prefix,
    reach,
)

__all__ = ["DEFAULT_CITY_ALIASES", "MESSAGES", "Address", "normalize_address", "normalize_address_parts"]

MESSAGES: dict[str, str] = {
    "address.whitespace": "去掉了多余的空格",
    "address.halfwidth": "全角数字和字母改为半角",
    "address.english_order": "英文地址：省市移到开头，写成中文标准名称",
    "address.country_removed": "去掉了“中国”前缀",
    "address.label_removed": "去掉了“地址：”等标签",
    "address.postcode_removed": "邮政编码移到了单独的字段",
    "address.region_expanded": "省市区简称改为全称",
    "address.alias_resolved": "城市别名改为标准名称",
    "address.region_completed": "根据下级行政区补全了省或市",
    "address.duplicate_removed": "去掉了重复的省市名称",
    "address.unrecognised": "无法识别地址中的省市区",
    "address.ambiguous_district": "区县名称有重名，需要填写所在城市",
    "address.conflict": "省市区互相矛盾，已按更具体的一级处理",
    "address.province_unrecognised": "无法识别的省份",
    "address.city_unrecognised": "无法识别的城市",
    "address.district_unrecognised": "无法识别的区县",
}


@dataclass(frozen=True, slots=True)
class Address(Normalized):
    province: str = ""
    city: str = ""
    district: str = ""
    detail: str = ""
    adcode: str = ""
    postcode: str = ""


# Full-width ASCII letters, digits and the usual separators; brackets become full-width （）.
_HALFWIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F) if chr(c) not in "（），：；"}
_HALFWIDTH[0x3000] = 0x20
_BRACKETS = str.maketrans({"(": "（", ")": "）"})
_FULLWIDTH_RE = re.compile("[" + "".join(re.escape(chr(c)) for c in _HALFWIDTH) + "]")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060\ufeff\u00ad]")
_SPACE_NEAR_CJK = re.compile(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])")
_ANY_SPACE = re.compile(r"\s")
_SPACES = re.compile(r"\s{2,}|[\t\r\n\f\v]")
_LABEL = re.compile(r"(?:(?:收货|收件|联系|详细|办公|公司|注册|通讯|通信|家庭)?地址|住址)\s*[:：]\s*")
_COUNTRY = re.compile(
    r"(?:中华人民共和国|中国大陆|中国|(?:the\s+)?(?:people'?s\s+republic\s+of\s+china|p\.?\s?r\.?\s?c(?:hina)?\.?|china))"
    r"[\s,，:：-]*",
    re.I,
)
_POSTCODE_HEAD = re.compile(r"(?:邮编|邮政编码)?[:：]?\s*([0-8]\d{5})(?:\s+|[,，、]\s*)(?=\S)")
_POSTCODE_TAIL = re.compile(
    r"(?:\s*[,，、(（]?\s*(?:邮编|邮政编码)\s*[:：]?\s*|\s*[(（]\s*|\s+|[,，、]\s*)([0-8]\d{5})\s*[)）]?$"
)
# another six digits just before a trailing postcode, however separated: neither is taken
# (after spaces are squeezed a second pass must see the same)
_SIX_DIGITS_BEFORE = re.compile(r"\d{6}(?:[\s,，、:：()（）]|邮编|邮政编码)*$")
_POSTCODE_LAST = frozenset("0123456789)）")
# Anything the cleaning steps before the region parse would change: without it the text goes to
# the parse as typed (`_plain`).
_NOT_PLAIN = re.compile(r"[\s()\u200b-\u200f\u2060\ufeff\u00ad" + "".join(re.escape(chr(c)) for c in _HALFWIDTH) + "]")
MEMO_SIZE = 50_000  # region starts remembered per alias table (a few thousand in practice)
_DETAIL_LEAD = " ,，、;；:：-—"


def _clean(text: str, changes: list[str]) -> str:
    if _INVISIBLE.search(text):
        text = _INVISIBLE.sub("", text)
    if _FULLWIDTH_RE.search(text):
        text = text.translate(_HALFWIDTH)
        changes.append("address.halfwidth")
    return text


def _squeeze(text: str, changes: list[str]) -> str:
    """Spaces next to Chinese characters go; runs of spaces between Latin words become one."""
    if _ANY_SPACE.search(text) is None:
        return text
    out = _SPACE_NEAR_CJK.sub("", text)
    out = _SPACES.sub(" ", out) if _SPACES.search(out) else out
    if out != text:
        changes.append("address.whitespace")
    return out


def _compose(p: Parse, detail: str) -> str:
    parts = [r.name for r in (p.province, p.city, p.district) if r is not None]
    if p.province is not None and p.city is p.province:
        parts.pop(1)
    return "".join(parts) + detail


def _adcode(p: Parse) -> str:
    r = p.most_specific
    return r.adcode if r is not None else ""


def _region_changes(p: Parse, changes: list[str]) -> None:
    if p.alias:
        changes.append("address.alias_resolved")
    if p.expanded:
        changes.append("address.region_expanded")
    if p.duplicate:
        changes.append("address.duplicate_removed")
    named = {id(r) for r in p.explicit}
    for r in p.explicit:
        if r.municipality:
            named.add(id(r))
    implied = [r for r in (p.province, p.city) if r is not None and id(r) not in named]
    if implied:
        changes.append("address.region_completed")


def _unrecognised(raw: str, stripped: str, problems: list[Problem]) -> Address:
    problems.append(Problem("address.unrecognised", stripped))
    return Address(raw, stripped, (), tuple(problems), detail=stripped)


def normalize_address(raw: str, *, aliases: Mapping[str, str] | None = None) -> Address:
    """Split a free-text address into its parts and one canonical line.

    ``aliases`` (alias -> canonical city or province name, from the admin alias table) is merged
    over :data:`DEFAULT_CITY_ALIASES`; mapping an alias to "" switches a default off."""
    stripped = raw.strip()
    if not stripped:
        return Address(raw, "")
    table = alias_table(aliases)
    if _is_plain(stripped):
        found = _plain(stripped, table)
        if found is not None:
            end, province, city, district, adcode, head, changes_done, problems_found = found
            detail = stripped[end:].lstrip(_DETAIL_LEAD)
            return Address(raw, head + detail, changes_done, problems_found, province=province, city=city,
                           district=district, detail=detail, adcode=adcode)
    changes: list[str] = []
    problems: list[Problem] = []
    text = _clean(stripped, changes)
    postcode = ""
    m = _LABEL.match(text)
    if m is not None:
        text = text[m.end() :]
        changes.append("address.label_removed")
    head = _POSTCODE_HEAD.match(text) if text and (text[0].isdigit() or text[0] == "邮") else None
    tail = _POSTCODE_TAIL.search(text) if text and text[-1] in _POSTCODE_LAST else None
    if tail is not None and (tail.start() == 0 or _SIX_DIGITS_BEFORE.search(text, 0, tail.start())):
        tail = None  # two six-digit groups at the end: which is the postcode? neither is taken
    # one postcode at the start or at the end; with both, neither (nothing is dropped, and a second
    # pass sees the same)
    if head is not None and tail is None:
        postcode, text = head.group(1), text[head.end() :]
    elif tail is not None and head is None:
        postcode, text = tail.group(1), text[: tail.start()]
    if postcode:
        changes.append("address.postcode_removed")
    text = text.strip()
    if "(" in text or ")" in text:
        text = text.translate(_BRACKETS)
    text = _squeeze(text, changes)
    if text.isascii() and "," in text:
        m = _EN_COUNTRY_TAIL.search(text)
        if m is not None and m.start() > 0:
            text = text[: m.start()]
            changes.append("address.country_removed")
    p = parse_prefix(text, aliases=table)
    if p.most_specific is None:
        m = _COUNTRY.match(text)
        if m is not None and m.end() < len(text):
            p = parse_prefix(text, m.end(), aliases=table)
            if p.most_specific is not None:
                changes.append("address.country_removed")
    if p.most_specific is None and text.isascii() and "," in text:
        english = _english_order(text, table)
        if english is not None:
            p, detail, code = english
            changes.append("address.english_order")
            if p.conflict is not None:
                problems.append(Problem("address.conflict", p.conflict[0], p.conflict[1]))
            postcode = postcode or code
            if code:
                changes.append("address.postcode_removed")
            _region_changes(p, changes)
            return _address(raw, p, detail, changes, problems, postcode)
    if p.most_specific is None:
        if p.ambiguous is not None:
            word, regions = p.ambiguous
            problems.append(Problem("address.ambiguous_district", word, _candidates(regions)))
            return Address(raw, stripped, (), tuple(problems), detail=stripped)
        return _unrecognised(raw, stripped, problems)
    if p.conflict is not None:
        problems.append(Problem("address.conflict", p.conflict[0], p.conflict[1]))
    detail = text[p.end :].lstrip(_DETAIL_LEAD)
    _region_changes(p, changes)
    return _address(raw, p, detail, changes, problems, postcode)


_Template = tuple[int, str, str, str, str, str, tuple[str, ...], tuple[Problem, ...]]


def _is_plain(stripped: str) -> bool:
    """Nothing for the cleaning steps before the region parse to do: no invisible or full-width
    characters, spaces or brackets, no label, no postcode at either end, not an English address."""
    return (
        _NOT_PLAIN.search(stripped) is None
        and not stripped[0].isdigit()
        and stripped[0] != "邮"
        and stripped[-1] not in _POSTCODE_LAST
        and not (stripped.isascii() and "," in stripped)
        and _LABEL.match(stripped) is None
    )


def _plain(text: str, table: AliasTable) -> _Template | None:
    """What the region at the start of a plain text gives: (where it ends, province, city, district,
    adcode, the canonical region line, changes, problems). It depends only on the first `reach`
    characters, and the same few thousand region starts come back with every street: they are
    remembered per alias table. None when the region is not recognised (the general path reports
    why)."""
    memo = table.memo
    sizes = table.memo_sizes.get(text[:2])
    if sizes is not None:
        for size in sizes:
            found = memo.get(text[:size])
            if found is not None:
                return found
    p = parse_prefix(text, aliases=table)
    if p.most_specific is None:
        return None
    changes: list[str] = []
    _region_changes(p, changes)
    problems = (Problem("address.conflict", p.conflict[0], p.conflict[1]),) if p.conflict is not None else ()
    prov, city, dist = p.province, p.city, p.district
    found = (p.end, prov.name if prov else "", city.name if city else "", dist.name if dist else "",
             _adcode(p), _compose(p, ""), tuple(changes), problems)
    size = reach(text, p, table)
    if size is not None and size <= len(text):
        if len(memo) >= MEMO_SIZE:
            memo.clear()
            table.memo_sizes.clear()
        memo[text[:size]] = found
        known = table.memo_sizes.get(text[:2], ())
        if size not in known:
            table.memo_sizes[text[:2]] = (*known, size)
    return found


def quick_address(cell: str) -> tuple[str, str, str, str, str] | None:
    """(province, city, district, detail, canonical line) of the usual address cell (plain, region
    recognised, nothing to flag), else None. The row engine's fast path: what `normalize_address`
    gives for such a cell with the default aliases, without building the result."""
    stripped = cell.strip()
    if not stripped or not _is_plain(stripped):
        return None
    found = _plain(stripped, DEFAULT_ALIASES)
    if found is None or found[7]:
        return None
    end, province, city, district, _adcode_, head, _changes, _problems = found
    detail = stripped[end:].lstrip(_DETAIL_LEAD)
    return province, city, district, detail, head + detail


_EN_COUNTRY = re.compile(r"(?:the\s+)?(?:people'?s\s+republic\s+of\s+china|p\.?\s?r\.?\s?c(?:hina)?\.?|china|cn)", re.I)
_EN_COUNTRY_TAIL = re.compile(
    r"\s*,\s*(?:the\s+)?(?:people'?s\s+republic\s+of\s+china|p\.?\s?r\.?\s?c(?:hina)?\.?|china|cn)\s*$", re.I
)
_EN_REGION_WORD = re.compile(r"\s+(?:city|shi|province|sheng|municipality|prefecture)$", re.I)
_EN_POSTCODE = re.compile(r"(?:^|\s+)([0-8]\d{5})$")


def _english_order(text: str, table: AliasTable) -> tuple[Parse, str, str] | None:
    """ "No. 88 Jianguo Road, Chaoyang District, Beijing 100022, China": the place comes last.
    Returns the region, the rest as detail, and the postcode; None when the end names no place."""
    parts = [part for part in (piece.strip() for piece in text.split(",")) if part]
    postcode = ""
    while parts and (_EN_COUNTRY.fullmatch(parts[-1]) or not parts[-1]):
        parts.pop()
    found: list[Region] = []
    while parts and len(found) < 2:
        last, code = parts[-1], ""
        m = _EN_POSTCODE.search(last)
        if m is not None:
            code, last = m.group(1), last[: m.start()].strip()
            if not last:
                postcode = postcode or code
                parts.pop()
                continue
        entry = table.latin.get(_latin_key(_EN_REGION_WORD.sub("", last)))
        if entry is None:
            break
        postcode = postcode or code
        found.append(entry.region)
        parts.pop()
    if not found:
        return None
    # most specific first: "Shenzhen, Guangdong" -> 深圳市 (its province must agree)
    region = max(found, key=lambda r: r.level)
    p = Parse(*region.lin)
    p.explicit = [r for r in found if r in region.lin]
    p.alias = True
    detail = ", ".join(parts)
    # what follows the place once it is written first must read the same way next time
    p = parse_prefix(detail, aliases=table, state=p)
    detail = detail[p.end :].lstrip(_DETAIL_LEAD)
    m = _POSTCODE_TAIL.search(detail)
    if m is not None and m.start() > 0 and not _SIX_DIGITS_BEFORE.search(detail, 0, m.start()):
        postcode, detail = postcode or m.group(1), detail[: m.start()]
    return p, detail, postcode


def _candidates(regions: tuple[Region, ...]) -> str:
    """ "北京市朝阳区、吉林省长春市朝阳区": where each same-named district lies."""
    out = []
    for r in regions:
        prov, city, _ = r.lin
        out.append(prov.name + ("" if city is None or city is prov else city.name) + r.name)
    return "、".join(out)


def _address(raw: str, p: Parse, detail: str, changes: list[str], problems: list[Problem], postcode: str) -> Address:
    prov, city, dist = p.province, p.city, p.district
    return Address(
        raw,
        _compose(p, detail),
        tuple(changes),
        tuple(problems),
        province=prov.name if prov else "",
        city=city.name if city else "",
        district=dist.name if dist else "",
        detail=detail,
        adcode=_adcode(p),
        postcode=postcode,
    )


def _part(text: str, level: int, p: Parse, table: object) -> tuple[bool, Parse]:
    """Match one form field as exactly one region of ``level`` under what ``p`` already holds."""
    got = parse_prefix(text, aliases=table, state=p.copy())  # type: ignore[arg-type]
    region = got.most_specific
    ok = (
        got.end == len(text)
        and got.conflict is None
        and region is not None
        and (
            region.level == level
            or (level == CITY and region.municipality)
            # 昆山 typed as the city: a county-level city is a district of its prefecture
            or (level == CITY and region.level == DISTRICT and region.name.endswith("市"))
        )
    )
    return ok, got


def normalize_address_parts(
    *,
    province: str = "",
    city: str = "",
    district: str = "",
    detail: str = "",
    aliases: Mapping[str, str] | None = None,
) -> Address:
    """Validate and canonicalise an address a form stores as parts.

    Each part is matched at its own level ("北京" -> 北京市, "朝阳" under 北京 -> 朝阳区); a missing
    province or city is filled from the level below; a part that cannot be recognised is kept as
    typed with a problem naming it. When all region parts are empty the detail is parsed as a
    free-text address; a detail that repeats the region ("北京市朝阳区建国路88号" under 北京/朝阳)
    loses the repetition."""
    province, city, district = province.strip(), city.strip(), district.strip()
    raw = province + city + district + detail.strip()
    if not (province or city or district):
        return normalize_address(detail, aliases=aliases)
    changes: list[str] = []
    problems: list[Problem] = []
    table = alias_table(aliases)
    p = Parse()
    kept: dict[int, str] = {}
    for text, level, code in (
        (province, PROVINCE, "address.province_unrecognised"),
        (city, CITY, "address.city_unrecognised"),
        (district, DISTRICT, "address.district_unrecognised"),
    ):
        if not text:
            continue
        cleaned = _squeeze(_clean(text, changes), changes)
        ok, got = _part(cleaned, level, p, table)
        if ok:
            if level == CITY and got.city is p.city:
                got.duplicate = p.duplicate  # 北京 + 北京: a municipality's city field, not a repetition
            p = got
            continue
        alone_ok, alone = _part(cleaned, level, Parse(), table) if p.explicit else (False, got)
        if alone_ok and alone.most_specific is not None:
            # 广东 + 北京: the more specific part wins, the other is reported
            lin = alone.most_specific.lin
            dropped = "".join(dict.fromkeys(r.name for r in (p.province, p.city) if r is not None and r not in lin))
            problems.append(Problem("address.conflict", dropped, alone.most_specific.name))
            alone.explicit = [r for r in p.explicit if r in lin] + alone.explicit
            p = alone
            continue
        if level == DISTRICT and got.ambiguous is not None and got.district is None:
            word, regions = got.ambiguous
            problems.append(Problem("address.ambiguous_district", word, _candidates(regions)))
        else:
            problems.append(Problem(code, text))
        kept[level] = cleaned
    detail_text = _squeeze(_clean(detail.strip(), changes).translate(_BRACKETS), changes)
    if detail_text and p.most_specific is not None and p.district is None:
        # the detail may carry the next level (city form field, district typed into the street)
        extended = parse_prefix(detail_text, aliases=table, state=p.copy())
        if extended.conflict is None and extended.end > 0:
            if extended.duplicate:
                changes.append("address.duplicate_removed")
            p, detail_text = extended, detail_text[extended.end :].lstrip(_DETAIL_LEAD)
    while detail_text and p.most_specific is not None:
        # 北京/朝阳 + "北京市朝阳区建国路88号": drop the repeated region; official names only, as in
        # free text ("朝阳门外大街" under 朝阳区 is a street)
        again = parse_prefix(detail_text, aliases=table)
        if not (again.end and again.most_specific is p.most_specific and again.conflict is None):
            break
        if again.expanded or again.alias:
            break
        detail_text = detail_text[again.end :].lstrip(_DETAIL_LEAD)
        changes.append("address.duplicate_removed")
    detail_text = detail_text.lstrip(_DETAIL_LEAD)
    _region_changes(p, changes)
    prov_name = p.province.name if p.province else kept.get(PROVINCE, "")
    city_name = p.city.name if p.city else kept.get(CITY, "")
    dist_name = p.district.name if p.district else kept.get(DISTRICT, "")
    parts = [prov_name, "" if city_name == prov_name else city_name, dist_name, detail_text]
    seen = list(dict.fromkeys(c for c in changes))
    return Address(
        raw,
        "".join(parts),
        tuple(seen),
        tuple(problems),
        province=prov_name,
        city=city_name,
        district=dist_name,
        detail=detail_text,
        adcode=_adcode(p),
    )
