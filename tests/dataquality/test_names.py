"""Person names: honorifics split off, spaces tidied, pinyin with surnames read as surnames."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kehu.customers import pinyin as customers_pinyin
from kehu.dataquality.normalize.names import (
    MESSAGES,
    SURNAME_READINGS,
    normalize_person_name,
    pinyin_forms,
    syllables_of,
)
from kehu.dataquality.normalize.text import strip_invisible, to_halfwidth

# raw, value, salutation, pinyin, initials
CASES = [
    ("张伟", "张伟", "", "zhangwei", "zw"),
    ("  张伟  ", "张伟", "", "zhangwei", "zw"),
    ("张 伟", "张伟", "", "zhangwei", "zw"),
    ("张  伟", "张伟", "", "zhangwei", "zw"),
    ("张　伟", "张伟", "", "zhangwei", "zw"),
    ("王 小 明", "王小明", "", "wangxiaoming", "wxm"),
    ("\ufeff李娜", "李娜", "", "lina", "ln"),
    ("李\u200b娜", "李娜", "", "lina", "ln"),
    ("王总", "王", "总", "wang", "w"),
    ("李总", "李", "总", "li", "l"),
    ("李经理", "李", "经理", "li", "l"),
    ("张先生", "张", "先生", "zhang", "z"),
    ("张 先生", "张", "先生", "zhang", "z"),
    ("陈总监", "陈", "总监", "chen", "c"),
    ("刘女士", "刘", "女士", "liu", "l"),
    ("赵小姐", "赵", "小姐", "zhao", "z"),
    ("孙老师", "孙", "老师", "sun", "s"),
    ("周老板", "周", "老板", "zhou", "z"),
    ("吴主任", "吴", "主任", "wu", "w"),
    ("郑博士", "郑", "博士", "zheng", "z"),
    ("冯教授", "冯", "教授", "feng", "f"),
    ("何律师", "何", "律师", "he", "h"),
    ("高医生", "高", "医生", "gao", "g"),
    ("林工", "林", "工", "lin", "l"),
    ("马姐", "马", "姐", "ma", "m"),
    ("刘哥", "刘", "哥", "liu", "l"),
    ("赵董", "赵", "董", "zhao", "z"),
    ("李总经理", "李", "总经理", "li", "l"),
    ("黄董事长", "黄", "董事长", "huang", "h"),
    ("张伟先生", "张伟", "先生", "zhangwei", "zw"),
    ("王小明经理", "王小明", "经理", "wangxiaoming", "wxm"),
    ("欧阳娜娜女士", "欧阳娜娜", "女士", "ouyangnana", "oynn"),
    ("司马经理", "司马", "经理", "sima", "sm"),
    ("诸葛总", "诸葛", "总", "zhuge", "zg"),
    ("上官婉儿", "上官婉儿", "", "shangguanwaner", "sgwe"),
    ("王先", "王先", "", "wangxian", "wx"),  # 先 alone is a given name, not 先生
    ("张文工", "张文工", "", "zhangwengong", "zwg"),  # 工 only after a lone surname
    ("丽姐", "丽姐", "", "lijie", "lj"),  # a nickname: 丽 is not a surname
    ("大哥", "大哥", "", "dage", "dg"),
    ("马云", "马云", "", "mayun", "my"),
    ("王总监理", "王总监理", "", "wangzongjianli", "wzjl"),
    ("曾总先生", "曾总先生", "", "zengzongxiansheng", "zzxs"),  # two titles: left for a person
    ("欧阳 工先生", "欧阳工先生", "", "ouyanggongxiansheng", "oygxs"),
    # surnames read as surnames
    ("单田芳", "单田芳", "", "shantianfang", "stf"),
    ("曾小贤", "曾小贤", "", "zengxiaoxian", "zxx"),
    ("解晓东", "解晓东", "", "xiexiaodong", "xxd"),
    ("仇大伟", "仇大伟", "", "qiudawei", "qdw"),
    ("区志强", "区志强", "", "ouzhiqiang", "ozq"),
    ("朴树", "朴树", "", "piaoshu", "ps"),
    ("查良镛", "查良镛", "", "zhaliangyong", "zly"),
    ("万俟雪", "万俟雪", "", "moqixue", "mqx"),
    ("尉迟恭", "尉迟恭", "", "yuchigong", "ycg"),
    ("长孙无忌", "长孙无忌", "", "zhangsunwuji", "zswj"),
    ("乐嘉", "乐嘉", "", "yuejia", "yj"),
    ("曾总", "曾", "总", "zeng", "z"),
    ("单经理", "单", "经理", "shan", "s"),
    ("阿卜杜·热合曼", "阿卜杜·热合曼", "", "abodureheman", "abdrhm"),
    ("阿卜杜.热合曼", "阿卜杜·热合曼", "", "abodureheman", "abdrhm"),
    ("阿卜杜•热合曼", "阿卜杜·热合曼", "", "abodureheman", "abdrhm"),
    ("阿卜杜 · 热合曼", "阿卜杜·热合曼", "", "abodureheman", "abdrhm"),
    # Latin names
    ("John Smith", "John Smith", "", "", ""),
    ("john  smith", "John Smith", "", "", ""),
    ("JOHN SMITH", "John Smith", "", "", ""),
    ("Ｊｏｈｎ Ｓｍｉｔｈ", "John Smith", "", "", ""),
    ("McDonald", "McDonald", "", "", ""),
    ("ZHANG Wei", "ZHANG Wei", "", "", ""),
    ("o'neil", "O'Neil", "", "", ""),
    ("mary-jane watson", "Mary-Jane Watson", "", "", ""),
    ("Mr. Smith", "Smith", "Mr.", "", ""),
    ("Mr Smith", "Smith", "Mr.", "", ""),
    ("mrs smith", "Smith", "Mrs.", "", ""),
    ("Ms. Lee", "Lee", "Ms.", "", ""),
    ("Dr John Smith", "John Smith", "Dr.", "", ""),
    ("Prof. Wang", "Wang", "Prof.", "", ""),
    ("Miss Chen", "Chen", "Miss", "", ""),
    ("Mr.", "Mr.", "", "", ""),
    ("Ｍｒ．　Ｓｍｉｔｈ", "Smith", "Mr.", "", ""),
    ("zhang@qq.com", "zhang@qq.com", "", "", ""),  # not a name: no title-casing
    (". a", ". a", "", "", ""),
    ("Tony 王", "Tony 王", "", "wang", "w"),
    ("", "", "", "", ""),
]


@pytest.mark.parametrize(("raw", "value", "salutation", "full", "initials"), CASES)
def test_names(raw: str, value: str, salutation: str, full: str, initials: str) -> None:
    name = normalize_person_name(raw)
    assert (name.value, name.salutation, name.pinyin, name.initials) == (value, salutation, full, initials)
    again = normalize_person_name(name.value)
    assert (again.value, again.pinyin, again.initials, again.changes) == (value, full, initials, ())


@pytest.mark.parametrize(
    ("raw", "changes"),
    [
        ("张伟", ()),
        ("张 伟", ("name.spaces_removed",)),
        ("张  伟", ("name.spaces_collapsed", "name.spaces_removed")),
        ("张　伟", ("name.halfwidth", "name.spaces_removed")),
        ("王总", ("name.salutation_split",)),
        ("john smith", ("name.case_fixed",)),
        ("mr smith", ("name.salutation_split", "name.case_fixed")),
        ("阿卜杜.热合曼", ("name.middle_dot",)),
    ],
)
def test_change_codes(raw: str, changes: tuple[str, ...]) -> None:
    assert normalize_person_name(raw).changes == changes


@pytest.mark.parametrize(
    ("raw", "code"),
    [("先生", "name.salutation_only"), ("经理", "name.salutation_only"), ("张三13812345678", "name.contains_digits")],
)
def test_problems(raw: str, code: str) -> None:
    name = normalize_person_name(raw)
    assert name.value == raw
    assert [p.code for p in name.problems] == [code]


def test_every_code_has_a_message() -> None:
    assert {
        "name.halfwidth", "name.spaces_removed", "name.spaces_collapsed", "name.middle_dot", "name.salutation_split",
        "name.case_fixed", "name.salutation_only", "name.contains_digits",
    } == MESSAGES.keys()  # fmt: skip


@pytest.mark.parametrize(
    ("text", "is_person", "forms"),
    [
        ("北京分扬科技有限公司", False, ("beijingfenyangkejiyouxiangongsi", "bjfykjyxgs")),
        ("重庆银行", False, ("chongqingyinhang", "cqyh")),  # phrase dictionary: 重庆 chong, 银行 hang
        ("IBM中国", False, ("zhongguo", "zg")),
        ("分扬2号", False, ("fenyanghao", "fyh")),
        ("单田芳", True, ("shantianfang", "stf")),
        ("单田芳", False, ("dantianfang", "dtf")),  # not a person: common reading
        ("曾", True, ("zeng", "z")),
        ("绿", True, ("lv", "l")),
        ("ABC", False, ("", "")),
        ("", True, ("", "")),
        ("  张伟 ", True, ("zhangwei", "zw")),
    ],
)
def test_pinyin_forms(text: str, is_person: bool, forms: tuple[str, str]) -> None:
    assert pinyin_forms(text, is_person=is_person) == forms


def test_syllables_line_up_with_characters_for_the_search_index() -> None:
    assert syllables_of("欧阳娜娜", is_person=True) == ["ou", "yang", "na", "na"]
    assert syllables_of("尉迟恭", is_person=True) == ["yu", "chi", "gong"]
    assert syllables_of("分扬科技") == ["fen", "yang", "ke", "ji"]


def test_customers_pinyin_is_the_same_implementation() -> None:
    assert customers_pinyin.pinyin_forms is pinyin_forms
    assert customers_pinyin.syllables_of is syllables_of
    assert customers_pinyin.SURNAME_READINGS is SURNAME_READINGS
    assert customers_pinyin.has_han("a张") and not customers_pinyin.has_han("abc")
    assert SURNAME_READINGS["万俟"] == "moqi" and SURNAME_READINGS["单"] == "shan"


_HANISH = st.text(alphabet="张王李欧阳单曾先生总经理工姐 ·.伟芳a bJ", max_size=8)


@given(st.one_of(_HANISH, st.text(max_size=12)))
def test_idempotent(raw: str) -> None:
    first = normalize_person_name(raw)
    second = normalize_person_name(first.value)
    assert (second.value, second.pinyin, second.initials) == (first.value, first.pinyin, first.initials)
    assert second.salutation in ("", first.salutation) or not first.salutation


@given(st.one_of(_HANISH, st.text(max_size=12)))
def test_never_loses_the_input(raw: str) -> None:
    """Every letter, digit and Chinese character typed ends up in the name or the salutation."""
    name = normalize_person_name(raw)

    def alnum(text: str) -> list[str]:
        return sorted(c.lower() for c in to_halfwidth(strip_invisible(text)) if c.isalnum())

    assert alnum(raw) == alnum(name.value + name.salutation)
