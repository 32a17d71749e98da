"""The national division table (省 / 市 / 区县) and a fast prefix matcher over it.

Shared by the address and company-name normalisers. The data is cpca's ``adcodes.csv`` (read once
at import straight from the installed package: importing cpca itself would build its own
automaton through pkg_resources, and ``cpca.transform`` builds a pandas DataFrame per call).

Every region is reachable by its full name (``深圳市``) and, where it is unambiguous enough, a
short form (``深圳``; ``内蒙古``; ``延边`` for ``延边朝鲜族自治州``; ``南山`` for ``南山区``).
Municipalities (北京, 上海, 天津, 重庆) and 香港/澳门 are their own city: their districts hang
directly under them, never under the table's ``市辖区`` placeholder. County-level places that a
province governs directly (济源市, 仙桃市, 石河子市 ...) are treated as cities.

Matching is by prefix at a position, longest key first, restricted by what has already been
recognised (a district only under the city already matched), so "朝阳路" inside a street never
turns into a district.
"""

from __future__ import annotations

import csv
import importlib.util
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

PROVINCE, CITY, DISTRICT = 0, 1, 2

# 北京 天津 上海 重庆 香港 澳门: the province is also the city.
_MUNICIPALITY_PREFIXES = frozenset({"11", "12", "31", "50", "81", "82"})
_PLACEHOLDERS = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})
_PROVINCE_SHORT = {
    "内蒙古自治区": "内蒙古",
    "广西壮族自治区": "广西",
    "西藏自治区": "西藏",
    "新疆维吾尔自治区": "新疆",
    "宁夏回族自治区": "宁夏",
    "香港特别行政区": "香港",
    "澳门特别行政区": "澳门",
}


@dataclass(frozen=True, slots=True, eq=False)
class Region:
    """One division. ``province``/``city`` point at the enclosing regions (a municipality's
    district has ``city`` = the municipality; a province-level region has ``province`` = itself)."""

    adcode: str
    name: str
    short: str
    level: int
    province: Region | None = field(default=None, repr=False)
    city: Region | None = field(default=None, repr=False)
    # a county-level place governed by the province directly (济源市): its short form is too
    # likely to be an ordinary word (东方, 五指山) to be trusted without context
    direct: bool = False
    _lin: tuple[Region, Region | None, Region | None] = field(default=None, repr=False)  # type: ignore[assignment]

    @property
    def municipality(self) -> bool:
        return self.level == PROVINCE and self.adcode[:2] in _MUNICIPALITY_PREFIXES

    @property
    def lin(self) -> tuple[Region, Region | None, Region | None]:
        return self._lin

    def lineage(self) -> tuple[Region, Region | None, Region | None]:
        """(province, city, district) this region implies."""
        if self.level == PROVINCE:
            return self, (self if self.municipality else None), None
        if self.level == CITY:
            assert self.province is not None
            return self.province, self, None
        assert self.province is not None
        return self.province, self.city, self


@dataclass(frozen=True, slots=True)
class Entry:
    """A key's meaning: the region, and whether the key is a short form or an alias (both need
    more care than a full official name)."""

    region: Region
    short: bool = False
    alias: bool = False


def _cpca_table() -> Path:
    spec = importlib.util.find_spec("cpca")
    if spec is None or spec.origin is None:  # pragma: no cover - cpca is a hard dependency
        raise RuntimeError("cpca is not installed: it ships the national division table")
    return Path(spec.origin).parent / "resources" / "adcodes.csv"


def _nations_pattern() -> str:
    path = _cpca_table().with_name("56_nations.csv")
    nations = [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()]
    # 巴音郭楞蒙古自治州, 伊犁哈萨克自治州: the nation appears without 族 too
    names = sorted({n for n in nations} | {n[:-1] for n in nations if len(n) > 2}, key=len, reverse=True)
    return "|".join(names)


_NATIONS = _nations_pattern()
_CITY_SUFFIX = re.compile(rf"(?:(?:{_NATIONS})*自治州|地区|盟|市)$")
_DISTRICT_SUFFIX = re.compile(rf"(?:(?:{_NATIONS})*自治[县旗]|新区|林区|特区|区|县|市|旗)$")
_PLAIN_SUFFIX = re.compile(r"(?:新区|林区|特区|地区|区|县|市|旗|盟|省)$")
_PROVINCE_SUFFIX = re.compile(r"(?:省|市|特别行政区|自治区)$")


def _short(name: str, pattern: re.Pattern[str]) -> str:
    # the plain suffixes are much cheaper than the nation alternation on 3,000 names
    short = pattern.sub("", name) if "自治" in name else _PLAIN_SUFFIX.sub("", name)
    return short if len(short) >= 2 and short != name else ""


def _load() -> tuple[dict[str, Region], dict[str, list[Entry]]]:
    rows: list[tuple[str, str]] = []
    with _cpca_table().open(encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            rows.append((rec["adcode"][:6], rec["name"]))
    rows.sort()
    by_code: dict[str, Region] = {}
    for code, name in rows:
        if name in _PLACEHOLDERS:
            continue
        if code.endswith("0000"):
            short = _PROVINCE_SHORT.get(name) or _short(name, _PROVINCE_SUFFIX)
            by_code[code] = Region(code, name, short, PROVINCE)
            continue
        province = by_code[code[:2] + "0000"]
        if code.endswith("00"):
            by_code[code] = Region(code, name, _short(name, _CITY_SUFFIX), CITY, province)
            continue
        parent = by_code.get(code[:4] + "00")
        if parent is None and not province.municipality:
            # 省直辖县级行政区划: a county-level city that acts as a city
            by_code[code] = Region(code, name, _short(name, _DISTRICT_SUFFIX), CITY, province, direct=True)
            continue
        city = parent or province
        short = _short(name, _DISTRICT_SUFFIX)
        if short and short in (city.short, province.short):
            short = ""  # 本溪满族自治县 must not take 本溪 from 本溪市
        by_code[code] = Region(code, name, short, DISTRICT, province, city)
    # the frozen dataclass holds its own parents; cities point at themselves for lineage()
    fixed: dict[str, Region] = {}
    for code, r in by_code.items():
        if r.level == PROVINCE:
            fixed[code] = r
        elif r.level == CITY:
            object.__setattr__(r, "city", r)
            fixed[code] = r
        else:
            fixed[code] = r
    for r in fixed.values():
        object.__setattr__(r, "_lin", r.lineage())
    keys: dict[str, list[Entry]] = {}
    for r in fixed.values():
        keys.setdefault(r.name, []).append(Entry(r))
        if r.short:
            keys.setdefault(r.short, []).append(Entry(r, short=True))
            if r.name.endswith("自治州"):
                keys.setdefault(r.short + "州", []).append(Entry(r, short=True))  # 恩施州, 延边州
    return fixed, keys


BY_ADCODE, KEYS = _load()
PROVINCES: tuple[Region, ...] = tuple(r for r in BY_ADCODE.values() if r.level == PROVINCE)


_KeyInfo = tuple[str, int, tuple[Entry, ...], bool, bool]  # key, length, meanings, all short forms, ends in 市


def _prefix_index(keys: Mapping[str, list[Entry]]) -> dict[str, tuple[_KeyInfo, ...]]:
    """Keys by their first two characters, longest first, with what the matcher checks per key."""
    index: dict[str, list[str]] = {}
    for key in keys:
        index.setdefault(key[:2], []).append(key)
    return {
        k: tuple(
            (key, len(key), tuple(keys[key]), all(e.short for e in keys[key]), key.endswith("市"))
            for key in sorted(v, key=len, reverse=True)
        )
        for k, v in index.items()
    }


PREFIX = _prefix_index(KEYS)


def resolve_name(name: str) -> Region | None:
    """The region a canonical name (or unambiguous short form) denotes, preferring the highest
    level: ``北京`` -> 北京市, ``深圳市`` -> 深圳市, ``海淀区`` -> 海淀区; None if unknown or
    ambiguous at its best level (``朝阳区``)."""
    entries = KEYS.get(name.strip())
    if not entries:
        return None
    top = min(e.region.level for e in entries)
    best = [e.region for e in entries if e.region.level == top]
    return best[0] if len(best) == 1 else None


# A short form followed by a street word is a street name: 北京东路, 中山路, 南京大街, 中山大学,
# and an old city gate: 朝阳门外大街 is in 东城区, not 朝阳区.
_STREET_AFTER = re.compile(r"[东西南北中]?(?:路|街|大街|大道|道|巷|弄|胡同|门)|大学|公园")
_PLACE_AFTER_CITY = re.compile(r"场|民")  # 南京市场, 中山市民中心: the 市 belongs to the next word

# Alias -> canonical region name. Admins extend or override this (the CityAlias table passes its
# rows as ``aliases``); mapping an alias to "" switches a default off. Ambiguous codes such as
# SZ (深圳/苏州), HZ (杭州/惠州/湖州) and Suzhou (苏州/宿州) are deliberately absent.
DEFAULT_CITY_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        # abbreviations in everyday use; single characters only count as a whole value or when a
        # district follows (京朝阳区), since 京/沪 also start ordinary words
        "京": "北京市",
        "沪": "上海市",
        "津": "天津市",
        "渝": "重庆市",
        "帝都": "北京市",
        "魔都": "上海市",
        "羊城": "广州市",
        "花城": "广州市",
        "鹏城": "深圳市",
        "蓉城": "成都市",
        "春城": "昆明市",
        "泉城": "济南市",
        "榕城": "福州市",
        "星城": "长沙市",
        "内蒙": "内蒙古自治区",
        "襄樊": "襄阳市",
        "思茅": "普洱市",
        "BJ": "北京市",
        "SH": "上海市",
        "TJ": "天津市",
        "CQ": "重庆市",
        "GZ": "广州市",
        "CD": "成都市",
        "NJ": "南京市",
        "Peking": "北京市",
        "Beijing": "北京市",
        "Shanghai": "上海市",
        "Tianjin": "天津市",
        "Chongqing": "重庆市",
        "Guangzhou": "广州市",
        "Canton": "广州市",
        "Shenzhen": "深圳市",
        "Hangzhou": "杭州市",
        "Nanjing": "南京市",
        "Wuhan": "武汉市",
        "Chengdu": "成都市",
        "Xian": "西安市",
        "Changsha": "长沙市",
        "Zhengzhou": "郑州市",
        "Qingdao": "青岛市",
        "Dalian": "大连市",
        "Xiamen": "厦门市",
        "Ningbo": "宁波市",
        "Hefei": "合肥市",
        "Jinan": "济南市",
        "Shenyang": "沈阳市",
        "Harbin": "哈尔滨市",
        "Changchun": "长春市",
        "Kunming": "昆明市",
        "Nanning": "南宁市",
        "Guiyang": "贵阳市",
        "Lanzhou": "兰州市",
        "Urumqi": "乌鲁木齐市",
        "Hohhot": "呼和浩特市",
        "Taiyuan": "太原市",
        "Shijiazhuang": "石家庄市",
        "Nanchang": "南昌市",
        "Haikou": "海口市",
        "Sanya": "三亚市",
        "Dongguan": "东莞市",
        "Foshan": "佛山市",
        "Zhuhai": "珠海市",
        "Wuxi": "无锡市",
        "Wenzhou": "温州市",
        "Changzhou": "常州市",
        "Nantong": "南通市",
        "Xuzhou": "徐州市",
        "Zhongshan": "中山市",
        "Huizhou": "惠州市",
        "Yantai": "烟台市",
        "Lhasa": "拉萨市",
        "Xining": "西宁市",
        "Yinchuan": "银川市",
        "Hong Kong": "香港特别行政区",
        "HK": "香港特别行政区",
        "Macau": "澳门特别行政区",
        "Macao": "澳门特别行政区",
        "Guangdong": "广东省",
        "Jiangsu": "江苏省",
        "Zhejiang": "浙江省",
        "Shandong": "山东省",
        "Fujian": "福建省",
        "Sichuan": "四川省",
        "Hubei": "湖北省",
        "Hunan": "湖南省",
        "Henan": "河南省",
        "Hebei": "河北省",
        "Anhui": "安徽省",
        "Yunnan": "云南省",
    }
)


def _latin_key(text: str) -> str:
    return text.lower().replace(" ", "").replace("'", "").replace("-", "")


class AliasTable:
    """Aliases compiled for prefix matching: CJK keys by first character, Latin keys folded
    (case, spaces, apostrophes: "Xi'an" == "xian", "Hong Kong" == "hongkong")."""

    __slots__ = ("cjk", "cjk_prefix", "latin", "memo", "memo_sizes")

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self.cjk: dict[str, Entry] = {}
        self.latin: dict[str, Entry] = {}
        for alias, target in mapping.items():
            alias = alias.strip()
            region = resolve_name(target) if target else None
            if not alias or region is None:
                continue
            if alias.isascii():
                self.latin[_latin_key(alias)] = Entry(region, alias=True)
            else:
                self.cjk[alias] = Entry(region, alias=True)
        prefix: dict[str, list[str]] = {}
        for key in self.cjk:
            prefix.setdefault(key[0], []).append(key)
        self.cjk_prefix = {k: tuple(sorted(v, key=len, reverse=True)) for k, v in prefix.items()}
        # normalize_address's results by the start of the text that decides them (see `reach`),
        # and the lengths of those starts by their first two characters
        self.memo: dict[str, Any] = {}
        self.memo_sizes: dict[str, tuple[int, ...]] = {}


DEFAULT_ALIASES = AliasTable(DEFAULT_CITY_ALIASES)
_alias_cache: dict[int, tuple[Mapping[str, str], dict[str, str], AliasTable]] = {}


def alias_table(aliases: Mapping[str, str] | None) -> AliasTable:
    """The defaults merged with admin ``aliases`` (which win), compiled once per distinct mapping."""
    if not aliases:
        return DEFAULT_ALIASES
    hit = _alias_cache.get(id(aliases))
    if hit is not None and hit[0] is aliases and hit[1] == aliases:
        return hit[2]
    snapshot = dict(aliases)
    merged = dict(DEFAULT_CITY_ALIASES)
    # admin keys replace a default that differs only in case ("bj" overrides "BJ")
    folded = {_latin_key(k) if k.isascii() else k for k in snapshot}
    merged = {k: v for k, v in merged.items() if (_latin_key(k) if k.isascii() else k) not in folded}
    merged.update(snapshot)
    table = AliasTable(merged)
    if len(_alias_cache) > 16:
        _alias_cache.clear()
    _alias_cache[id(aliases)] = (aliases, snapshot, table)
    return table


_LATIN_TWO = re.compile(r"([A-Za-z][A-Za-z']*)(?: ([A-Za-z][A-Za-z']*))?")
_LATIN_TAIL = re.compile(r"(?:[ ]*(?:city|shi|province|sheng|municipality|prefecture)(?![A-Za-z]))?[ ,，]*", re.I)


class Parse:
    """What a prefix of the text says about the region (a plain slotted class: built per call)."""

    __slots__ = (
        "province",
        "city",
        "district",
        "end",
        "explicit",
        "expanded",
        "alias",
        "duplicate",
        "conflict",
        "ambiguous", "probes", "repeat_at")

    def __init__(
        self,
        province: Region | None = None,
        city: Region | None = None,
        district: Region | None = None,
        explicit: list[Region] | None = None,
    ) -> None:
        self.province = province
        self.city = city
        self.district = district
        self.end = 0
        self.explicit: list[Region] = explicit if explicit is not None else []  # regions the text names
        self.expanded = False  # a short form was written out in full
        self.alias = False  # an alias was resolved
        self.duplicate = False  # 北京市北京市 / 市辖区 skipped
        self.conflict: tuple[str, str] | None = None  # (names dropped, name kept)
        self.ambiguous: tuple[str, tuple[Region, ...]] | None = None  # (text, candidates)
        # where the parse looked for a region (see `reach`); filled by parse_prefix
        self.probes: list[int] = []
        self.repeat_at = -1

    @property
    def most_specific(self) -> Region | None:
        return self.district or self.city or self.province

    def copy(self) -> Parse:
        """The recognised regions and what was done to reach them (not conflicts or ambiguity)."""
        twin = Parse(self.province, self.city, self.district, list(self.explicit))
        twin.expanded, twin.alias, twin.duplicate = self.expanded, self.alias, self.duplicate
        return twin


_DUP = 2
_SEPARATORS = frozenset(" ,，、/-")
_NONE, _ONE, _DUPLICATE, _AMBIGUOUS = 0, 1, 2, 3
_Step = tuple[int, int, "Entry | tuple[Region, ...] | None"]


def _allowed(e: Entry, p: Parse, strict: bool) -> int:
    r = e.region
    if r is p.province or r is p.city or r is p.district:
        return _DUP
    level = r.level
    if level == PROVINCE:
        return int(p.province is None and p.city is None)
    if level == CITY:
        if p.city is not None or (strict and e.short and not r.name.endswith("市")):
            return 0  # strict: 阿里巴巴 is not 阿里地区, 海西 not 海西州
        if p.province is not None:
            return int(r.province is p.province)
        return int(not (e.short and r.direct))
    if p.district is not None or (e.short and strict and not r.name.endswith("市")):
        return 0  # strict: only county-level cities (昆山) by their short form
    if p.city is not None:
        return int(r.city is p.city)
    if p.province is not None:
        return int(r.province is p.province)
    return int(not e.short or r.name.endswith("市"))  # 昆山 alone: a county-level city


def _ascii_alnum_at(text: str, pos: int) -> bool:
    """A Latin alias must end a word: "Beijing100022" / "BJ2" are not aliases."""
    return pos < len(text) and text[pos].isascii() and text[pos].isalnum()


def _street_follows(text: str, end: int) -> bool:
    return _STREET_AFTER.match(text, end) is not None


def _best(text: str, pos: int, p: Parse, aliases: AliasTable | None, strict: bool) -> _Step:
    """The longest key at ``pos`` meaningful in the current state: (end, kind, entry or candidates)."""
    result: _Step = (pos, _NONE, None)
    keys = PREFIX.get(text[pos : pos + 2])
    if keys:
        for key, size, entries, all_short, ends_shi in keys:
            if not text.startswith(key, pos):
                continue
            end = pos + size
            chosen: Entry | None = None
            level = 9
            tied: tuple[Region, ...] = ()
            dup = False
            for e in entries:
                ok = _allowed(e, p, strict)
                if not ok:
                    continue
                if ok == _DUP:
                    dup = True
                    break
                if e.region.level < level:
                    chosen, level, tied = e, e.region.level, (e.region,)
                elif e.region.level == level:
                    tied += (e.region,)
            if not dup and chosen is None:
                continue
            if all_short:
                if _street_follows(text, end):
                    continue
            elif ends_shi and _PLACE_AFTER_CITY.match(text, end):
                continue
            if dup:
                result = (end, _DUPLICATE, None)
            elif len(tied) > 1 and level == DISTRICT:
                result = (end, _AMBIGUOUS, tied)
            else:
                result = (end, _ONE, chosen)
            break
    if aliases is None:
        return result
    ch = text[pos]
    if ch.isascii():
        if ch.isalpha():
            m = _LATIN_TWO.match(text, pos)
            if m is not None:
                for stop, word in ((m.end(), m.group(0)), (m.end(1), m.group(1))):
                    e = aliases.latin.get(_latin_key(word))
                    if e is not None and _allowed(e, p, strict) and not _ascii_alnum_at(text, stop):
                        tail = _LATIN_TAIL.match(text, stop)
                        return (tail.end() if tail else stop), _ONE, e
        return result
    candidates = aliases.cjk_prefix.get(ch)
    if not candidates:
        return result
    for key in candidates:
        end = pos + len(key)
        if end <= result[0] or not text.startswith(key, pos):
            continue
        e = aliases.cjk[key]
        if not _allowed(e, p, strict) or _street_follows(text, end):
            continue
        if len(key) == 1 and end < len(text):
            # a lone 京/沪 only when a place under it follows
            probe = Parse(*e.region.lin)
            if _best(text, end, probe, None, strict)[1] != _ONE:
                continue
        return end, _ONE, e
    return result


def _apply(p: Parse, region: Region) -> None:
    prov, city, dist = region.lin
    p.province, p.district = prov, dist
    if city is not None:
        p.city = city
    p.explicit.append(region)


def parse_prefix(
    text: str,
    pos: int = 0,
    *,
    aliases: AliasTable | None = DEFAULT_ALIASES,
    strict: bool = False,
    state: Parse | None = None,
) -> Parse:
    """Recognise the 省/市/区 at the start of ``text`` (from ``pos``), most general first.

    ``strict`` (company names) accepts only official names and the short forms of provinces and
    cities, and never reports conflicts. ``state`` starts from parts already known (a form's
    province/city fields)."""
    p = state if state is not None else Parse()
    n = len(text)
    probes = p.probes = []
    while pos < n and p.district is None:
        probes.append(pos)
        if p.city is not None and text.startswith("市辖区", pos):
            pos += 3
            p.duplicate = True
            continue
        if p.explicit and text[pos] in _SEPARATORS:
            # "广东省, 深圳市, 南山区": separators between parts, not the start of the detail
            q = pos
            while q < n and text[q] in _SEPARATORS:
                q += 1
            probes.append(q)
            if q == n:
                break
            if p.city is not None and text.startswith("市辖区", q):
                pos = q + 3
                p.duplicate = True
                continue
            end, kind, found = _best(text, q, p, aliases, strict)
            if kind == _NONE:
                if not strict:
                    moved = _conflict(text, q, p)
                    if moved > q:
                        pos = moved
                        continue
                break
            pos = q
        else:
            end, kind, found = _best(text, pos, p, aliases, strict)
        if kind == _ONE:
            e: Entry = found  # type: ignore[assignment]
            _apply(p, e.region)
            if e.short:
                p.expanded = True
            if e.alias:
                p.alias = True
            pos = end
        elif kind == _DUPLICATE:
            p.duplicate = True
            pos = end
        elif kind == _AMBIGUOUS:
            p.ambiguous = (text[pos:end], found)  # type: ignore[assignment]
            break
        else:
            if not strict and p.explicit:
                moved = _conflict(text, pos, p)
                if moved > pos:
                    pos = moved
                    continue
            break
    district = p.district
    while district is not None:
        q = pos
        while q < n and text[q] in _SEPARATORS:
            q += 1
        p.repeat_at = q
        if not text.startswith(district.name, q):
            break
        pos = q + len(district.name)  # 北京市朝阳区朝阳区: typed twice
        p.duplicate = True
    p.end = pos
    return p


def reach(text: str, p: Parse, aliases: AliasTable | None) -> int | None:
    """How far into ``text`` the parse that gave ``p`` may have looked (exclusive): any text with
    the same first ``reach`` characters parses the same, so a result can be reused for it. None
    when the parse looked at a Latin word (read to its end, however long)."""
    out = p.end + 1  # whether anything (a separator) follows the parse
    for pos in p.probes:
        bound = _bound(text, pos, aliases)
        if bound is None:
            return None
        if bound > out:
            out = bound
    if p.repeat_at >= 0 and p.district is not None:  # 朝阳区朝阳区: the district typed twice?
        out = max(out, _read(text, p.repeat_at, p.district.name, 0))
    return out


def _bound(text: str, pos: int, aliases: AliasTable | None) -> int | None:
    """The furthest `_best` / `_conflict` (and the 市辖区 and separator checks) read from ``pos``:
    a key compared with the text is read up to its first differing character; a key that matches,
    plus what the street / 市场 checks look at after it."""
    out = max(pos + 2, _read(text, pos, "市辖区", 0))  # PREFIX is keyed by two characters
    for key, _size, _entries, all_short, ends_shi in PREFIX.get(text[pos : pos + 2], ()):
        out = max(out, _read(text, pos, key, 2 if all_short else 1 if ends_shi else 0))
    if aliases is None or pos >= len(text):
        return out
    ch = text[pos]
    if ch.isascii():
        return None if ch.isalpha() else out
    candidates = aliases.cjk_prefix.get(ch, ())
    for key in candidates:
        out = max(out, _read(text, pos, key, 2))
    if candidates and len(candidates[-1]) == 1:  # a lone 京: _best looks at the place after it
        after = _bound(text, pos + 1, None)
        assert after is not None
        out = max(out, after)
    return out


def _read(text: str, pos: int, key: str, after: int) -> int:
    """How far comparing ``key`` at ``pos`` reads: to the first differing character; when it matches,
    what the check after it reads too (after=1: 市场 / 市民; after=2: `_STREET_AFTER`)."""
    n = len(text)
    if not text.startswith(key, pos):
        end = pos
        for a, b in zip(key, text[pos : pos + len(key)], strict=False):
            if a != b:
                break
            end += 1
        return min(end, n) + 1  # the differing character, or the end of the text
    end = pos + len(key)
    if after == 1:
        return end + 1
    if after == 2:
        # [东西南北中]?(?:路|街|大街|大道|道|巷|弄|胡同|门)|大学|公园: at most three characters
        if end < n and text[end] in "东西南北中":
            end += 1
        if end < n and text[end] in "大胡公":
            end += 1
        return end + 1
    return end


_STRICT_MEMO: dict[str, tuple[int, Region | None]] = {}
_STRICT_SIZES: dict[str, tuple[int, ...]] = {}
STRICT_MEMO_SIZE = 50_000


def strict_prefix(text: str) -> tuple[int, Region | None]:
    """(end, most specific region) of ``parse_prefix(text, aliases=None, strict=True)`` (the region
    leading a company name), remembered by the characters the parse read (see `reach`): company
    names are many, the starts they share few."""
    sizes = _STRICT_SIZES.get(text[:2])
    if sizes is not None:
        for size in sizes:
            found = _STRICT_MEMO.get(text[:size])
            if found is not None:
                return found
    p = parse_prefix(text, aliases=None, strict=True)
    found = (p.end, p.most_specific)
    size = reach(text, p, None)
    if size is not None and size <= len(text):
        if len(_STRICT_MEMO) >= STRICT_MEMO_SIZE:
            _STRICT_MEMO.clear()
            _STRICT_SIZES.clear()
        _STRICT_MEMO[text[:size]] = found
        known = _STRICT_SIZES.get(text[:2], ())
        if size not in known:
            _STRICT_SIZES[text[:2]] = (*known, size)
    return found


def _conflict(text: str, pos: int, p: Parse) -> int:
    """A full official name that does not fit what came before (广东省北京市): the later, more
    specific name wins and the earlier ones are reported."""
    keys = PREFIX.get(text[pos : pos + 2])
    if not keys:
        return pos
    for key, _size, entries, _short, _shi in keys:
        if not text.startswith(key, pos):
            continue
        full = [e for e in entries if not e.short]
        if not full:
            continue
        end = pos + len(key)
        if key[-1] == "市" and _PLACE_AFTER_CITY.match(text, end):
            continue
        top = min(e.region.level for e in full)
        group = [e.region for e in full if e.region.level == top]
        if len(group) > 1:
            # several districts of that name, none under the city given: report, keep what we have
            p.conflict = (key, "")
            return pos
        region = group[0]
        lin = region.lin
        dropped = "".join(
            dict.fromkeys(r.name for r in (p.province, p.city, p.district) if r is not None and r not in lin)
        )
        dropped = dropped or "".join(r.name for r in p.explicit)
        p.province = p.city = p.district = None
        p.explicit.clear()
        _apply(p, region)
        p.conflict = (dropped, region.name)
        return end
    return pos
