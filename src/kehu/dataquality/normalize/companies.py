"""Company names: one canonical spelling, and the parts used for matching.

``value`` is the name as the business registry writes it: full-width letters and digits made
half-width, brackets unified (Chinese names use full-width （）, Latin names ASCII ()), spaces
between Chinese characters removed, runs of spaces in Latin names collapsed, trailing
punctuation dropped, and an English legal form spelt one way ("Co.,Ltd" -> "Co., Ltd.").

The name is then taken apart, without changing ``value``:

- ``legal_form``: 有限公司, 股份有限公司, （集团）有限公司, 合伙企业（有限合伙）, 事务所, Co., Ltd., Inc. ...
- ``branch``: the branch part after the parent's legal form ("北京分公司", "北京朝阳支行");
- ``region``: the place a name starts with (北京华为 -> 北京, 广东省深圳市... -> 深圳, the most
  specific) or carries in brackets (华为技术（北京）有限公司 -> 北京), as its short form;
- ``core``: what is left, the name used for matching and search: 北京分扬科技有限公司,
  分扬科技（北京）有限公司, 分扬科技有限公司 and 北京分扬科技 all have core 分扬科技. The
  industry word stays in ``core`` (dropping it would merge 分扬科技 with 分扬贸易);
  ``core_brand`` drops trailing industry words (分扬) for fuzzy matching.

A region is not taken off when what remains is only a generic word (海南航空, 青岛啤酒 keep
their region in ``core``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from kehu.dataquality.normalize.base import Normalized, Problem
from kehu.dataquality.normalize.regions import DEFAULT_ALIASES, KEYS, Region, _latin_key, strict_prefix

__all__ = ["MESSAGES", "CompanyName", "normalize_company", "core_brand"]

MESSAGES: dict[str, str] = {
    "company.halfwidth": "全角字母和数字改为半角",
    "company.brackets": "括号统一为规范写法",
    "company.whitespace": "去掉了多余的空格",
    "company.punctuation": "去掉了名称末尾的标点",
    "company.legal_form": "英文公司类型改为规范写法",
    "company.placeholder": "公司名称是占位内容（如“无”“个人”），不是真实名称",
    "company.no_name": "只有公司类型或地名，缺少字号",
}

# Trailing industry words: dropped (repeatedly, longest first) for core_brand only.
INDUSTRY_WORDS: tuple[str, ...] = tuple(
    sorted(
        {
            "科技",
            "信息技术",
            "信息科技",
            "网络科技",
            "网络技术",
            "智能科技",
            "电子科技",
            "生物科技",
            "数字科技",
            "技术",
            "贸易",
            "商贸",
            "国际贸易",
            "进出口",
            "实业",
            "电子",
            "软件",
            "咨询",
            "管理咨询",
            "企业管理",
            "管理",
            "文化传媒",
            "文化传播",
            "传媒",
            "广告",
            "投资",
            "投资管理",
            "资产管理",
            "发展",
            "工程",
            "建设",
            "建筑",
            "建筑工程",
            "机械",
            "设备",
            "机电",
            "制造",
            "服务",
            "信息",
            "网络",
            "数据",
            "智能",
            "物流",
            "供应链",
            "控股",
            "国际",
            "电气",
            "新材料",
            "材料",
            "环保",
            "环境",
            "医疗",
            "医药",
            "生物",
            "食品",
            "教育",
            "文化",
            "装饰",
            "装饰工程",
            "物业",
            "物业管理",
            "房地产",
            "置业",
            "能源",
            "新能源",
            "汽车",
            "汽车销售",
            "化工",
            "工贸",
            "商务",
            "人力资源",
            "餐饮",
            "印务",
            "包装",
        },
        key=len,
        reverse=True,
    )
)
_INDUSTRY_SET = frozenset(INDUSTRY_WORDS)
_INDUSTRY_SIZES = tuple(sorted({len(w) for w in INDUSTRY_WORDS}, reverse=True))
# A region is kept in core when only one of these would remain (海南航空, 青岛啤酒, 北京银行).
GENERIC_WORDS = frozenset(INDUSTRY_WORDS) | {
    "航空",
    "银行",
    "证券",
    "保险",
    "啤酒",
    "电力",
    "电信",
    "移动",
    "联通",
    "燃气",
    "水务",
    "地铁",
    "公交",
    "医院",
    "大学",
    "学院",
    "日报",
    "晚报",
    "电视台",
    "农商银行",
    "农村商业银行",
    "城建",
    "城投",
    "交通",
    "市政",
    "自来水",
    "热力",
    "供电",
    "钢铁",
    "港务",
    "机场",
    "卷烟厂",
    "烟草",
    "百货",
    "酒店",
    "宾馆",
}
_LATIN_INDUSTRY = re.compile(
    r"(?:[\s,]+(?:information\s+technology|technolog(?:y|ies)|tech|trading|software|consulting|holdings?|group"
    r"|international|industrial|industries|electronics?|network|investments?|engineering|media|development"
    r"|manufacturing|equipment|machinery|services?|solutions|logistics|enterprises?))+$",
    re.I,
)

# Chinese legal forms, longest first; （集团） may sit inside.
_CN_FORMS = (
    "集团股份有限公司",
    "集团有限责任公司",
    "集团有限公司",
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "股份合作公司",
    "集团公司",
    "总公司",
    "合伙企业",
    "个人独资企业",
    "个体工商户",
    "专业合作社",
    "合作社",
    "律师事务所",
    "会计师事务所",
    "税务师事务所",
    "事务所",
    "研究院",
    "研究所",
    "工作室",
    "公司",
    "集团",
    "商行",
    "经营部",
    "门市部",
    "厂",
)
_PARTNERSHIP = r"（(?:有限合伙|普通合伙|特殊普通合伙)）"
# 会计师事务所（特殊普通合伙）, 合伙企业（有限合伙）, a bare （有限合伙）
_CN_FORM_RE = re.compile(
    r"(?:(?:（集团）|（控股）)?(?:" + "|".join(map(re.escape, _CN_FORMS)) + f")(?:{_PARTNERSHIP})?|{_PARTNERSHIP})$"
)
_CN_FORM_ANY = re.compile(r"(?:（集团）)?(?:股份有限公司|有限责任公司|有限公司|集团公司|总公司|公司)")
_BRANCH_RE = re.compile(
    r"(?:第[一二三四五六七八九十\d]+)?(?:分公司|分厂|分店|分行|支行|营业部|办事处|代表处|分部|分所|分中心)$"
)

_LATIN_FORMS: tuple[tuple[str, str], ...] = (
    (r"pte\.?\s*ltd\.?", "Pte. Ltd."),
    (r"co(?:mpany)?\.?\s*,?\s*ltd\.?", "Co., Ltd."),
    (r"company\s*,?\s*limited", "Company Limited"),
    (r"co\.?\s*,?\s*limited", "Co., Limited"),
    (r"corporation", "Corporation"),
    (r"corp\.?", "Corp."),
    (r"incorporated", "Incorporated"),
    (r"inc\.?", "Inc."),
    (r"limited", "Limited"),
    (r"ltd\.?", "Ltd."),
    (r"l\.?\s?l\.?\s?c\.?", "LLC"),
    (r"gmbh", "GmbH"),
    (r"plc\.?", "PLC"),
    (r"llp\.?", "LLP"),
    (r"s\.\s?a\.?", "S.A."),
)
_LATIN_FORM_RE = re.compile(r"[\s,]*(?<![A-Za-z])(" + "|".join(f"(?:{p})" for p, _ in _LATIN_FORMS) + r")$", re.I)
_LATIN_CANON = [(re.compile(p + "$", re.I), c) for p, c in _LATIN_FORMS]

_PLACEHOLDERS = frozenset(
    {
        "无",
        "暂无",
        "没有",
        "个人",
        "个体",
        "自由职业",
        "未知",
        "不详",
        "待定",
        "测试",
        "test",
        "none",
        "null",
        "n/a",
        "na",
        "-",
        "--",
        "/",
        "\\",
        ".",
        "0",
        "空",
        "其他",
        "其它",
        "私人",
    }
)

_HALFWIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F) if chr(c) not in "（），：；、"}
_HALFWIDTH[0x3000] = 0x20
_FULLWIDTH_RE = re.compile("[" + "".join(re.escape(chr(c)) for c in _HALFWIDTH) + "]")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060\ufeff\u00ad]")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_TO_CN_BRACKETS = str.maketrans(
    {"(": "（", ")": "）", "[": "（", "]": "）", "【": "（", "】": "）", "〔": "（", "〕": "）"}
)
_TO_LATIN_BRACKETS = str.maketrans({"（": "(", "）": ")", "【": "(", "】": ")", "[": "(", "]": ")"})
_SPACE_NEAR_CJK = re.compile(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])")
_SPACES = re.compile(r"\s+")
_SPACE_IN_BRACKETS = re.compile(r"\(\s+|\s+\)")
_LATIN_BEFORE_BRACKET = re.compile(r"(?<=[A-Za-z0-9.,])\(")  # Siemens(China) -> Siemens (China)
_LATIN_AFTER_BRACKET = re.compile(r"\)(?=[A-Za-z0-9])")  # (China)Co. -> (China) Co.
_TRAILING_PUNCT = re.compile(r"[\s.,;:!?。，；：！？、·\-—_~*#\"'“”‘’]+$")
_LEADING_PUNCT = re.compile(r"^[\s.,;:!?。，；：！？、·\-—_~*#\"'“”‘’]+")
# Chinese characters and Chinese brackets only: `_clean` would change nothing, `_bilingual` find no English.
_PLAIN_CJK = re.compile(r"[\u3400-\u9fff（）]+")
_BRACKETED = re.compile(r"（([^（）]{1,16})）")
_LATIN_BRACKETED = re.compile(r"\s*\(([^()]{1,24})\)")


@dataclass(frozen=True, slots=True)
class CompanyName(Normalized):
    core: str = ""
    legal_form: str = ""
    region: str = ""
    branch: str = ""

    @property
    def core_brand(self) -> str:
        """``core`` without trailing industry words (分扬网络科技 -> 分扬), for fuzzy matching."""
        return core_brand(self.core)


@lru_cache(maxsize=65536)
def core_brand(core: str) -> str:
    """Drop trailing industry words while at least two characters of name remain."""
    if not core:
        return core
    if not _CJK.search(core):
        out = _LATIN_INDUSTRY.sub("", core)
        return out if out.strip() else core
    out = core
    while True:
        for size in _INDUSTRY_SIZES:
            if len(out) - size >= 2 and out[-size:] in _INDUSTRY_SET:
                out = out[:-size]
                break
        else:
            return out


def _region_label(region: Region) -> str:
    return region.short or region.name


def _bracket_region(text: str) -> Region | str | None:
    """A bracketed place: 北京 / 北京市 / 中国 / Beijing / China."""
    text = text.strip()
    if text in ("中国", "中华人民共和国") or text.lower() in ("china", "prc", "p.r.c.", "p.r.china"):
        return "中国"
    entries = KEYS.get(text)
    if entries:
        top = min(e.region.level for e in entries)
        best = [e.region for e in entries if e.region.level == top]
        if len(best) == 1 and not (entries[0].short and best[0].level == 2):
            return best[0]
    if text.isascii():
        entry = DEFAULT_ALIASES.latin.get(_latin_key(text))
        return entry.region if entry is not None else None
    return None


def _trailing_regions(text: str) -> int:
    """Where the run of place names ending ``text`` begins (腾讯北京海淀 -> index of 北京)."""
    end = len(text)
    while end > 0:
        for size in range(min(8, end), 1, -1):
            if text[end - size : end] in KEYS:
                end -= size
                break
        else:
            break
    return end


def _clean(stripped: str, changes: list[str]) -> tuple[str, bool]:
    text = _INVISIBLE.sub("", stripped) if _INVISIBLE.search(stripped) else stripped
    if _FULLWIDTH_RE.search(text):
        text = text.translate(_HALFWIDTH)
        changes.append("company.halfwidth")
    cjk = _CJK.search(text) is not None
    before = text
    text = text.translate(_TO_CN_BRACKETS if cjk else _TO_LATIN_BRACKETS)
    if text != before:
        changes.append("company.brackets")
    before = text
    if cjk:
        text = _SPACE_NEAR_CJK.sub("", text)
    text = _SPACES.sub(" ", text)
    if not cjk and "(" in text:
        text = _SPACE_IN_BRACKETS.sub(lambda m: m.group(0).strip(), text)
        text = _LATIN_AFTER_BRACKET.sub(") ", _LATIN_BEFORE_BRACKET.sub(" (", text))
    if text != before:
        changes.append("company.whitespace")
    before = text
    text = _LEADING_PUNCT.sub("", text)
    if not cjk:
        # keep the dot of "Inc." / "Co., Ltd." - the legal form is re-spelt below anyway
        m = _LATIN_FORM_RE.search(text)
        if m is None:
            text = _TRAILING_PUNCT.sub("", text)
    else:
        text = _TRAILING_PUNCT.sub("", text)
    if text != before and text:
        changes.append("company.punctuation")
    return text, cjk


def _split_cjk(text: str) -> tuple[str, str, str, str]:
    """(core, legal_form, region, branch) of a Chinese name."""
    base, branch = text, ""
    m = _BRANCH_RE.search(text)
    if m is not None and m.start() > 0:
        head = text[: m.start()]
        forms = list(_CN_FORM_ANY.finditer(head))
        cut = forms[-1].end() if forms else _trailing_regions(head)
        if cut > 0:
            base, branch = text[:cut], text[cut:]
    legal = ""
    m = _CN_FORM_RE.search(base)
    if m is not None:
        legal, base = m.group(0), base[: m.start()]
    region = ""
    for bm in _BRACKETED.finditer(base):
        found = _bracket_region(bm.group(1))
        if found is not None:
            region = found if isinstance(found, str) else _region_label(found)
            base = base[: bm.start()] + base[bm.end() :]
            break
    end, lead = strict_prefix(base)
    if lead is not None:
        rest = base[end:]
        if len(rest) >= 2 and rest not in GENERIC_WORDS and core_brand(rest) not in GENERIC_WORDS:
            base = rest
            region = _region_label(lead)
    return base, legal, region, branch


def _split_latin(text: str, changes: list[str]) -> tuple[str, str, str, str, str]:
    """(value, core, legal_form, region, branch) of a Latin-script name."""
    legal = ""
    base = text
    m = _LATIN_FORM_RE.search(text)
    if m is not None:
        written = m.group(1)
        for pattern, canon in _LATIN_CANON:
            if pattern.fullmatch(written):
                legal = canon
                break
        base = text[: m.start()].rstrip(" ,")
        value = f"{base} {legal}" if base else legal
        if value != text and "company.legal_form" not in changes:
            changes.append("company.legal_form")
    else:
        value = text
    region = ""
    core = base
    bm = _LATIN_BRACKETED.search(core)
    if bm is not None:
        found = _bracket_region(bm.group(1))
        if found is not None:
            region = found if isinstance(found, str) else _region_label(found)
            core = (core[: bm.start()] + core[bm.end() :]).strip()
    first, _, rest = core.partition(" ")
    lead = DEFAULT_ALIASES.latin.get(_latin_key(first)) if rest else None
    if lead is not None:
        core, region = rest, _region_label(lead.region)
    return value, core.strip(" ,"), legal, region, ""


# the Chinese half holds no Latin letters, the English half no Chinese characters
_CN_THEN_EN = re.compile(r"([^A-Za-z]*[\u3400-\u9fff）])\s*([A-Za-z][^\u3400-\u9fff（）]*)")
_EN_THEN_CN = re.compile(r"([A-Za-z][^\u3400-\u9fff（）]*?)\s*([\u3400-\u9fff][^A-Za-z]*)")


def _bilingual(text: str) -> CompanyName | None:
    """ "华为技术有限公司 Huawei Technologies Co., Ltd.": both names in one cell. Each half is
    normalised on its own and kept (Chinese first, one space between); the parts come from the
    Chinese name."""
    wide = _FULLWIDTH_RE.search(text) is not None
    if wide:
        text = text.translate(_HALFWIDTH)
    text = _LEADING_PUNCT.sub("", text)
    m = _CN_THEN_EN.fullmatch(text)
    if m is not None:
        cn, en = m.group(1), m.group(2)
    else:
        m = _EN_THEN_CN.fullmatch(text)
        if m is None:
            return None
        en, cn = m.group(1), m.group(2)
    cn_name, en_name = _normalize(cn), _normalize(en)
    if len(cn_name.core) < 2 or cn_name.problems or not en_name.legal_form or en_name.problems:
        return None  # "分扬 Tech 有限公司", "IBM中国": one name with Latin letters in it
    value = f"{cn_name.value} {en_name.value}"
    changes = tuple(dict.fromkeys((("company.halfwidth",) if wide else ()) + cn_name.changes + en_name.changes))
    if f"{cn} {en}" != text and "company.whitespace" not in changes:
        changes += ("company.whitespace",)  # glued together, or English first
    return CompanyName(
        text,
        value,
        changes,
        (),
        core=cn_name.core,
        legal_form=cn_name.legal_form,
        region=cn_name.region or en_name.region,
        branch=cn_name.branch,
    )


def _with_raw(name: CompanyName, raw: str) -> CompanyName:
    if name.raw == raw:
        return name
    return CompanyName(
        raw,
        name.value,
        name.changes,
        name.problems,
        core=name.core,
        legal_form=name.legal_form,
        region=name.region,
        branch=name.branch,
    )


@lru_cache(maxsize=65536)
def _normalize(raw: str) -> CompanyName:
    stripped = raw.strip()
    if not stripped:
        return CompanyName(raw, "")
    changes: list[str] = []
    if _PLAIN_CJK.fullmatch(stripped) is not None:  # the usual name: nothing to clean, no English half
        text, cjk = stripped, True
    else:
        bilingual = _bilingual(stripped)
        if bilingual is not None:
            return _with_raw(bilingual, raw)
        text, cjk = _clean(stripped, changes)
    if not text or text.lower() in _PLACEHOLDERS:
        # "无", "个人", "N/A": kept as typed so nothing is lost, but flagged
        return CompanyName(raw, stripped, (), (Problem("company.placeholder", stripped),))
    if cjk:
        value = text
        core, legal, region, branch = _split_cjk(text)
    else:
        value, core, legal, region, branch = _split_latin(text, changes)
    if not core:
        # Only a legal form or a place ("LIMITED", "北京有限公司"): nothing to canonicalise, kept as typed.
        return CompanyName(raw, stripped, (), (Problem("company.no_name", stripped),), legal_form=legal,
                           region=region, branch=branch)
    return CompanyName(raw, value, tuple(changes), (), core=core, legal_form=legal, region=region, branch=branch)


def normalize_company(raw: str) -> CompanyName:
    """Canonical company name plus legal form, region, branch and the core used for matching."""
    return _normalize(raw)
