"""Person names and the pinyin used to search them.

Stored form: the name as people write it, without the honorific. ``"张 伟"`` -> ``张伟`` (no spaces
between Chinese characters), ``"john  smith"`` -> ``John Smith``, ``"王总"`` -> ``王`` with salutation
``总``, ``"Mr. Smith"`` -> ``Smith`` with salutation ``Mr.``. Pinyin is stored in full
(``zhangwei``) and as initials (``zw``) with surnames read as surnames (单 shan, 曾 zeng, 解 xie ...).

Speed: a person's name is read one character at a time from a dict filled lazily from pypinyin, so
a name costs a few lookups; other text (company names) goes through pypinyin's phrase dictionary
once per distinct string (lru_cache), which reads words like 重庆 and 银行 right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pypinyin import Style, lazy_pinyin
from pypinyin.converter import UltimateConverter
from pypinyin.core import Pinyin

from kehu.dataquality.normalize.base import Normalized, Problem
from kehu.dataquality.normalize.text import _FULLWIDTH, _INVISIBLE

MESSAGES: dict[str, str] = {
    "name.halfwidth": "全角字符已转为半角",
    "name.spaces_removed": "已去掉汉字之间的空格",
    "name.spaces_collapsed": "已合并多余的空格",
    "name.middle_dot": "已统一姓名中的间隔号为“·”",
    "name.salutation_split": "称呼（先生、女士、总、经理等）已单独存放",
    "name.case_fixed": "英文姓名已改为首字母大写",
    "name.salutation_only": "只有称呼，没有姓名",
    "name.contains_digits": "姓名中含有数字",
}

# Heteronyms whose surname reading differs from the common one, and compound surnames (read as a unit).
_SURNAME_SYLLABLES: dict[str, tuple[str, ...]] = {
    "单": ("shan",), "曾": ("zeng",), "解": ("xie",), "仇": ("qiu",), "区": ("ou",), "朴": ("piao",),
    "查": ("zha",), "盖": ("ge",), "尉": ("yu",), "乐": ("yue",), "翟": ("zhai",), "覃": ("qin",),
    "缪": ("miao",), "繁": ("po",), "褚": ("chu",), "华": ("hua",), "任": ("ren",), "纪": ("ji",),
    "燕": ("yan",), "蕃": ("pi",), "员": ("yun",), "长": ("chang",), "种": ("chong",), "秘": ("bi",),
    "万俟": ("mo", "qi"), "尉迟": ("yu", "chi"), "欧阳": ("ou", "yang"), "司马": ("si", "ma"),
    "诸葛": ("zhu", "ge"), "上官": ("shang", "guan"), "长孙": ("zhang", "sun"), "澹台": ("tan", "tai"),
    "令狐": ("ling", "hu"), "皇甫": ("huang", "fu"), "东方": ("dong", "fang"), "公孙": ("gong", "sun"),
    "慕容": ("mu", "rong"), "宇文": ("yu", "wen"), "夏侯": ("xia", "hou"), "司徒": ("si", "tu"),
    "司空": ("si", "kong"), "端木": ("duan", "mu"), "独孤": ("du", "gu"), "南宫": ("nan", "gong"),
    "闻人": ("wen", "ren"), "钟离": ("zhong", "li"), "轩辕": ("xuan", "yuan"),
}  # fmt: skip
SURNAME_READINGS: dict[str, str] = {surname: "".join(s) for surname, s in _SURNAME_SYLLABLES.items()}
COMPOUND_SURNAMES = frozenset(s for s in _SURNAME_SYLLABLES if len(s) == 2)

# Common single-character surnames: a salutation is only split off a name that starts with one.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟"
    "谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安"
    "齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛"
    "靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应"
    "臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳"
    "谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都"
    "普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元"
    "束檀衣信展阴昝智幸奉植衡富尧闭由"
)

# Honorifics and titles, by how safely they split: strong ones after a 1-3 character name that starts
# with a surname (张伟先生), weak single characters only after a lone surname (王总, 刘哥; 张文工 stays).
_STRONG = (
    "先生", "女士", "小姐", "太太", "夫人", "总经理", "副总经理", "董事长", "副总", "总监", "经理", "老师", "老板",
    "主任", "博士", "教授", "律师", "医生", "会计", "主管", "院长", "校长", "部长", "处长", "科长", "局长", "厂长",
    "所长", "书记", "工程师", "助理", "秘书", "师傅", "老总", "总裁", "行长", "店长", "队长", "组长", "董事",
)  # fmt: skip
_WEAK = ("总", "工", "姐", "哥", "董", "导", "师", "叔", "姨")
_SALUTATIONS = {**{s: True for s in _STRONG}, **{s: False for s in _WEAK}}
_SALUTATION_ENDS = frozenset(s[-1] for s in _SALUTATIONS)
_DOTS = frozenset(".•・‧∙⋅･")
_MAX_SALUTATION = max(len(s) for s in _SALUTATIONS)
_LATIN_TITLES = {
    "mr": "Mr.", "mrs": "Mrs.", "ms": "Ms.", "miss": "Miss", "dr": "Dr.", "prof": "Prof.", "sir": "Sir",
    "madam": "Madam", "mx": "Mx.",
}  # fmt: skip
_LATIN_TITLE = re.compile(r"^(" + "|".join(_LATIN_TITLES) + r")\.?\s+(?=\S)", re.IGNORECASE)

_LATIN_NAME = re.compile(r"[A-Za-z][A-Za-z'\-. ]*")
_HAN = re.compile(r"[\u3400-\u9fff]")
_HAN_NAME = re.compile(r"[\u3400-\u9fff]+(?:·[\u3400-\u9fff]+)*")
_HAN_SPACE = re.compile(r"(?<=[\u3400-\u9fff·])\s+(?=[\u3400-\u9fff·])")
_HAN_DOT = re.compile(r"(?<=[\u3400-\u9fff])\s*[.•・‧∙⋅･]\s*(?=[\u3400-\u9fff])")
_KEEP = re.compile(r"[^0-9a-z]")
_CLEAN = {**_INVISIBLE, **_FULLWIDTH}


@dataclass(frozen=True, slots=True)
class PersonName(Normalized):
    salutation: str = ""
    pinyin: str = ""
    initials: str = ""


def normalize_person_name(raw: str) -> PersonName:
    kept = raw.translate(_INVISIBLE).strip()
    text = kept if kept.isascii() else kept.translate(_CLEAN)
    ascii_only = text.isascii()
    changes: list[str] = []
    if text != kept:
        changes.append("name.halfwidth")
    if " " in text or "\t" in text or "\n" in text:
        collapsed = " ".join(text.split())
        if collapsed != text:
            changes.append("name.spaces_collapsed")
        text = collapsed
        if not ascii_only and " " in text:
            joined = _HAN_SPACE.sub("", text)
            if joined != text:
                text = joined
                changes.append("name.spaces_removed")
    if not ascii_only and not _DOTS.isdisjoint(text):
        dotted = _HAN_DOT.sub("·", text)
        if dotted != text:
            text = dotted
            changes.append("name.middle_dot")
    salutation = ""
    if ascii_only:
        title = _LATIN_TITLE.match(text)
        if title is not None:
            salutation, text = _LATIN_TITLES[title.group(1).lower()], text[title.end() :]
            changes.append("name.salutation_split")
        if (text.islower() or text.isupper()) and _LATIN_NAME.fullmatch(text):
            text = text.title()
            changes.append("name.case_fixed")
    elif len(text) > 1 and text[-1] in _SALUTATION_ENDS and _HAN_NAME.fullmatch(text):
        name, salutation = _split_salutation(text)
        if salutation:
            text = name
            changes.append("name.salutation_split")
    problems: tuple[Problem, ...] = ()
    if not salutation and text in _SALUTATIONS:
        problems = (Problem("name.salutation_only", text),)
    elif not text.isalpha() and any(c.isdigit() for c in text):
        problems = (Problem("name.contains_digits", text),)
    full = initials = ""
    if not ascii_only:
        syllables = _person_syllables(text)
        full, initials = "".join(syllables), "".join([s[0] for s in syllables])
    return PersonName(
        raw, text, tuple(changes) if text != raw or salutation else (), problems, salutation, full, initials
    )


def _split_salutation(text: str) -> tuple[str, str]:
    for size in range(min(_MAX_SALUTATION, len(text) - 1), 0, -1):
        strong = _SALUTATIONS.get(text[-size:])
        if strong is None:
            continue
        name = text[:-size]
        surname = name[:2] if name[:2] in COMPOUND_SURNAMES else name[:1]
        if surname not in SURNAMES and surname not in COMPOUND_SURNAMES:
            continue
        if name == surname or (strong and len(name) - len(surname) <= 2):
            if _split_salutation(name)[1]:  # "曾总先生": two titles, leave it for a person (and stay idempotent)
                return text, ""
            return name, text[-size:]
    return text, ""


# ---- pinyin ------------------------------------------------------------------------------------

_CHAR_READING: dict[str, str] = {}


def has_han(text: str) -> bool:
    return _HAN.search(text) is not None


def _reading(ch: str) -> str:
    """One character's reading, lower-case ASCII ("" for anything pypinyin cannot read)."""
    reading = _CHAR_READING.get(ch)
    if reading is None:
        found = lazy_pinyin(ch, errors="ignore")
        reading = _KEEP.sub("", found[0].lower()) if found else ""
        _CHAR_READING[ch] = reading
    return reading


def _person_syllables(text: str) -> list[str]:
    text = text.strip()
    start, out = 0, []
    if text[:2] in _SURNAME_SYLLABLES:
        start, out = 2, list(_SURNAME_SYLLABLES[text[:2]])
    elif text[:1] in _SURNAME_SYLLABLES:
        start, out = 1, list(_SURNAME_SYLLABLES[text[:1]])
    for ch in text[start:]:
        reading = _CHAR_READING.get(ch)
        if reading is None:
            reading = _reading(ch)
        if reading:
            out.append(reading)
    return out


# What `lazy_pinyin(text, errors="ignore")` does (segment, then convert each word), with the words'
# readings cached: whole names rarely repeat, their words do (an import reads 10,000s of names).
_PINYIN = Pinyin(UltimateConverter())


@lru_cache(maxsize=65536)
def _word_syllables(word: str) -> tuple[str, ...]:
    items = _PINYIN._converter.convert(word, Style.NORMAL, False, "ignore", strict=True)
    return tuple(s for item in items for s in item)


@lru_cache(maxsize=65536)
def _phrase_syllables(text: str) -> tuple[str, ...]:
    syllables = (_KEEP.sub("", s.lower()) for word in _PINYIN.seg(text.strip()) for s in _word_syllables(word))
    return tuple(s for s in syllables if s)


def syllables_of(text: str, *, is_person: bool = False) -> list[str]:
    """Lower-case ASCII syllables of the Chinese characters in `text` (other characters skipped)."""
    if is_person:
        return _person_syllables(text)
    return list(_phrase_syllables(text))


PINYIN_MAX = 300
INITIALS_MAX = 50


def pinyin_forms(text: str, *, is_person: bool = False) -> tuple[str, str]:
    """(full, initials), lower-case ASCII; ('', '') when the text has no Chinese characters."""
    if _HAN.search(text) is None:
        return "", ""
    syllables = _person_syllables(text) if is_person else _phrase_syllables(text)
    # Cut to the smallest columns that hold them (Contact.name_pinyin 300, name_initials 50): a long
    # name's pinyin would not fit (a DataError on PostgreSQL), and search needs only the start.
    return "".join(syllables)[:PINYIN_MAX], "".join(s[0] for s in syllables)[:INITIALS_MAX]
