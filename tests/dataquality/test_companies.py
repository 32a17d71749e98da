"""Company names: canonical spelling, legal form, region, branch and core. Pure: no database."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kehu.dataquality.normalize.companies import MESSAGES, CompanyName, core_brand, normalize_company

# raw, value, core, legal_form, region, branch
CASES: list[tuple[str, str, str, str, str, str]] = [
    ("北京分扬科技有限公司", "北京分扬科技有限公司", "分扬科技", "有限公司", "北京", ""),
    ("分扬科技（北京）有限公司", "分扬科技（北京）有限公司", "分扬科技", "有限公司", "北京", ""),
    ("分扬科技(北京)有限公司", "分扬科技（北京）有限公司", "分扬科技", "有限公司", "北京", ""),
    ("分扬科技有限公司", "分扬科技有限公司", "分扬科技", "有限公司", "", ""),
    ("北京分扬科技", "北京分扬科技", "分扬科技", "", "北京", ""),
    ("北京市分扬科技有限公司", "北京市分扬科技有限公司", "分扬科技", "有限公司", "北京", ""),
    ("北京市海淀区分扬网络科技有限公司", "北京市海淀区分扬网络科技有限公司", "分扬网络科技", "有限公司", "海淀", ""),
    (" 北京 分扬 科技 有限公司 ", "北京分扬科技有限公司", "分扬科技", "有限公司", "北京", ""),
    ("北京分扬科技有限公司。", "北京分扬科技有限公司", "分扬科技", "有限公司", "北京", ""),
    ("北京分扬科技有限公司,", "北京分扬科技有限公司", "分扬科技", "有限公司", "北京", ""),
    ("ＡＢＣ科技有限公司", "ABC科技有限公司", "ABC科技", "有限公司", "", ""),
    ("北京ＡＢＣ信息技术有限公司", "北京ABC信息技术有限公司", "ABC信息技术", "有限公司", "北京", ""),
    ("深圳市腾讯计算机系统有限公司", "深圳市腾讯计算机系统有限公司", "腾讯计算机系统", "有限公司", "深圳", ""),
    (
        "广东省深圳市腾讯计算机系统有限公司",
        "广东省深圳市腾讯计算机系统有限公司",
        "腾讯计算机系统",
        "有限公司",
        "深圳",
        "",
    ),
    ("腾讯科技（深圳）有限公司", "腾讯科技（深圳）有限公司", "腾讯科技", "有限公司", "深圳", ""),
    ("华为技术有限公司", "华为技术有限公司", "华为技术", "有限公司", "", ""),
    ("华为技术（北京）有限公司", "华为技术（北京）有限公司", "华为技术", "有限公司", "北京", ""),
    ("华为(北京)科技有限公司", "华为（北京）科技有限公司", "华为科技", "有限公司", "北京", ""),
    ("华为技术有限公司北京分公司", "华为技术有限公司北京分公司", "华为技术", "有限公司", "", "北京分公司"),
    ("腾讯科技有限公司北京分公司", "腾讯科技有限公司北京分公司", "腾讯科技", "有限公司", "", "北京分公司"),
    ("腾讯北京分公司", "腾讯北京分公司", "腾讯", "", "", "北京分公司"),
    (
        "中国工商银行股份有限公司北京朝阳支行",
        "中国工商银行股份有限公司北京朝阳支行",
        "中国工商银行",
        "股份有限公司",
        "",
        "北京朝阳支行",
    ),
    ("招商银行股份有限公司深圳分行", "招商银行股份有限公司深圳分行", "招商银行", "股份有限公司", "", "深圳分行"),
    (
        "中国平安保险（集团）股份有限公司",
        "中国平安保险（集团）股份有限公司",
        "中国平安保险",
        "（集团）股份有限公司",
        "",
        "",
    ),
    (
        "中国平安保险(集团)股份有限公司",
        "中国平安保险（集团）股份有限公司",
        "中国平安保险",
        "（集团）股份有限公司",
        "",
        "",
    ),
    ("阿里巴巴（中国）有限公司", "阿里巴巴（中国）有限公司", "阿里巴巴", "有限公司", "中国", ""),
    ("阿里巴巴(中国)网络技术有限公司", "阿里巴巴（中国）网络技术有限公司", "阿里巴巴网络技术", "有限公司", "中国", ""),
    ("大连万达集团股份有限公司", "大连万达集团股份有限公司", "万达", "集团股份有限公司", "大连", ""),
    ("万达集团", "万达集团", "万达", "集团", "", ""),
    ("海尔集团公司", "海尔集团公司", "海尔", "集团公司", "", ""),
    ("青岛海尔股份有限公司", "青岛海尔股份有限公司", "海尔", "股份有限公司", "青岛", ""),
    ("青岛啤酒股份有限公司", "青岛啤酒股份有限公司", "青岛啤酒", "股份有限公司", "", ""),
    ("海南航空控股股份有限公司", "海南航空控股股份有限公司", "海南航空控股", "股份有限公司", "", ""),
    ("北京银行股份有限公司", "北京银行股份有限公司", "北京银行", "股份有限公司", "", ""),
    ("东方财富信息股份有限公司", "东方财富信息股份有限公司", "东方财富信息", "股份有限公司", "", ""),
    ("中山大学", "中山大学", "中山大学", "", "", ""),
    ("长城汽车股份有限公司", "长城汽车股份有限公司", "长城汽车", "股份有限公司", "", ""),
    ("上海浦东发展银行股份有限公司", "上海浦东发展银行股份有限公司", "浦东发展银行", "股份有限公司", "上海", ""),
    ("杭州阿里巴巴广告有限公司", "杭州阿里巴巴广告有限公司", "阿里巴巴广告", "有限公司", "杭州", ""),
    (
        "上海分扬投资管理合伙企业（有限合伙）",
        "上海分扬投资管理合伙企业（有限合伙）",
        "分扬投资管理",
        "合伙企业（有限合伙）",
        "上海",
        "",
    ),
    (
        "上海分扬投资管理合伙企业(有限合伙)",
        "上海分扬投资管理合伙企业（有限合伙）",
        "分扬投资管理",
        "合伙企业（有限合伙）",
        "上海",
        "",
    ),
    ("分扬创投（有限合伙）", "分扬创投（有限合伙）", "分扬创投", "（有限合伙）", "", ""),
    ("北京分扬律师事务所", "北京分扬律师事务所", "分扬", "律师事务所", "北京", ""),
    ("金杜律师事务所", "金杜律师事务所", "金杜", "律师事务所", "", ""),
    (
        "普华永道中天会计师事务所（特殊普通合伙）",
        "普华永道中天会计师事务所（特殊普通合伙）",
        "普华永道中天",
        "会计师事务所（特殊普通合伙）",
        "",
        "",
    ),
    ("北京分扬文化传媒工作室", "北京分扬文化传媒工作室", "分扬文化传媒", "工作室", "北京", ""),
    ("江苏昆山分扬电子厂", "江苏昆山分扬电子厂", "分扬电子", "厂", "昆山", ""),
    ("昆山分扬电子厂", "昆山分扬电子厂", "分扬电子", "厂", "昆山", ""),
    ("义乌分扬商行", "义乌分扬商行", "分扬", "商行", "义乌", ""),
    ("张三个体工商户", "张三个体工商户", "张三", "个体工商户", "", ""),
    ("分扬有限责任公司", "分扬有限责任公司", "分扬", "有限责任公司", "", ""),
    ("分扬股份有限公司", "分扬股份有限公司", "分扬", "股份有限公司", "", ""),
    ("分扬集团有限公司", "分扬集团有限公司", "分扬", "集团有限公司", "", ""),
    ("分扬集团股份有限公司", "分扬集团股份有限公司", "分扬", "集团股份有限公司", "", ""),
    ("中科院分扬研究所", "中科院分扬研究所", "中科院分扬", "研究所", "", ""),
    ("广州分扬贸易有限公司第一分公司", "广州分扬贸易有限公司第一分公司", "分扬贸易", "有限公司", "广州", "第一分公司"),
    ("内蒙古伊利实业集团股份有限公司", "内蒙古伊利实业集团股份有限公司", "伊利实业", "集团股份有限公司", "内蒙古", ""),
    ("新疆分扬商贸有限公司", "新疆分扬商贸有限公司", "分扬商贸", "有限公司", "新疆", ""),
    ("广西分扬科技有限公司", "广西分扬科技有限公司", "分扬科技", "有限公司", "广西", ""),
    ("Huawei Technologies Co., Ltd.", "Huawei Technologies Co., Ltd.", "Huawei Technologies", "Co., Ltd.", "", ""),
    ("Huawei Technologies Co.,Ltd", "Huawei Technologies Co., Ltd.", "Huawei Technologies", "Co., Ltd.", "", ""),
    ("Huawei Technologies Co Ltd", "Huawei Technologies Co., Ltd.", "Huawei Technologies", "Co., Ltd.", "", ""),
    ("HUAWEI TECHNOLOGIES CO., LTD.", "HUAWEI TECHNOLOGIES Co., Ltd.", "HUAWEI TECHNOLOGIES", "Co., Ltd.", "", ""),
    ("Acme Inc", "Acme Inc.", "Acme", "Inc.", "", ""),
    ("Acme, Inc.", "Acme Inc.", "Acme", "Inc.", "", ""),
    ("Acme Corp.", "Acme Corp.", "Acme", "Corp.", "", ""),
    ("Acme Corporation", "Acme Corporation", "Acme", "Corporation", "", ""),
    ("Acme Company Limited", "Acme Company Limited", "Acme", "Company Limited", "", ""),
    ("Acme Ltd", "Acme Ltd.", "Acme", "Ltd.", "", ""),
    ("Acme Limited", "Acme Limited", "Acme", "Limited", "", ""),
    ("Acme LLC", "Acme LLC", "Acme", "LLC", "", ""),
    ("Acme L.L.C.", "Acme LLC", "Acme", "LLC", "", ""),
    ("Example GmbH", "Example GmbH", "Example", "GmbH", "", ""),
    ("Sea Pte Ltd", "Sea Pte. Ltd.", "Sea", "Pte. Ltd.", "", ""),
    ("Sea Pte. Ltd.", "Sea Pte. Ltd.", "Sea", "Pte. Ltd.", "", ""),
    ("Foo  Bar   LLC", "Foo Bar LLC", "Foo Bar", "LLC", "", ""),
    ("Siemens (China) Co., Ltd.", "Siemens (China) Co., Ltd.", "Siemens", "Co., Ltd.", "中国", ""),
    ("Siemens（China）Co.,Ltd.", "Siemens (China) Co., Ltd.", "Siemens", "Co., Ltd.", "中国", ""),
    (
        "Shenzhen Tencent Computer Systems Company Limited",
        "Shenzhen Tencent Computer Systems Company Limited",
        "Tencent Computer Systems",
        "Company Limited",
        "深圳",
        "",
    ),
    (
        "Huawei Technologies (Beijing) Co., Ltd.",
        "Huawei Technologies (Beijing) Co., Ltd.",
        "Huawei Technologies",
        "Co., Ltd.",
        "北京",
        "",
    ),
    ("ＡＣＭＥ Ｉｎｃ．", "ACME Inc.", "ACME", "Inc.", "", ""),
    ("Acme", "Acme", "Acme", "", "", ""),
    ("北京分扬科技有限公司(筹)", "北京分扬科技有限公司（筹）", "分扬科技有限公司（筹）", "", "北京", ""),
    ("Ｈｕａｗｅｉ技术有限公司", "Huawei技术有限公司", "Huawei技术", "有限公司", "", ""),
    ("分扬【北京】科技有限公司", "分扬（北京）科技有限公司", "分扬科技", "有限公司", "北京", ""),
    ("“分扬科技有限公司”", "分扬科技有限公司", "分扬科技", "有限公司", "", ""),
]


@pytest.mark.parametrize(("raw", "value", "core", "legal_form", "region", "branch"), CASES)
def test_company_parts(raw: str, value: str, core: str, legal_form: str, region: str, branch: str) -> None:
    got = normalize_company(raw)
    assert (got.value, got.core, got.legal_form, got.region, got.branch) == (value, core, legal_form, region, branch)
    assert got.ok


@pytest.mark.parametrize(("raw", "value", "core", "legal_form", "region", "branch"), CASES)
def test_company_idempotent_on_table(
    raw: str, value: str, core: str, legal_form: str, region: str, branch: str
) -> None:
    again = normalize_company(value)
    assert (again.value, again.core, again.legal_form, again.region, again.branch) == (
        value,
        core,
        legal_form,
        region,
        branch,
    )
    assert again.changes == ()


@pytest.mark.parametrize(
    "raw",
    [
        "北京分扬科技有限公司",
        "分扬科技（北京）有限公司",
        "分扬科技(北京)有限公司",
        "分扬科技有限公司",
        "北京分扬科技",
        "北京市分扬科技有限公司",
        "分扬科技有限公司北京分公司",
        " 北京 分扬科技 有限公司。",
    ],
)
def test_one_firm_many_spellings_one_core(raw: str) -> None:
    assert normalize_company(raw).core == "分扬科技"


@pytest.mark.parametrize(
    ("raw", "value", "core", "legal_form"),
    [
        (
            "华为技术有限公司 Huawei Technologies Co., Ltd.",
            "华为技术有限公司 Huawei Technologies Co., Ltd.",
            "华为技术",
            "有限公司",
        ),
        (
            "华为技术有限公司Huawei Technologies Co.,Ltd",
            "华为技术有限公司 Huawei Technologies Co., Ltd.",
            "华为技术",
            "有限公司",
        ),
        ("Apple Inc. 苹果公司", "苹果公司 Apple Inc.", "苹果", "公司"),
        ("西门子（中国）有限公司 Siemens Ltd", "西门子（中国）有限公司 Siemens Ltd.", "西门子", "有限公司"),
        # one name with Latin letters in it is not two names
        ("分扬 Tech 有限公司", "分扬Tech有限公司", "分扬Tech", "有限公司"),
        ("IBM中国有限公司", "IBM中国有限公司", "IBM中国", "有限公司"),
    ],
)
def test_bilingual_cell(raw: str, value: str, core: str, legal_form: str) -> None:
    got = normalize_company(raw)
    assert (got.value, got.core, got.legal_form) == (value, core, legal_form)
    assert normalize_company(got.value).value == got.value


@pytest.mark.parametrize(
    ("core", "brand"),
    [
        ("分扬科技", "分扬"),
        ("分扬网络科技", "分扬"),
        ("分扬信息技术", "分扬"),
        ("分扬管理咨询", "分扬"),
        ("分扬文化传媒", "分扬"),
        ("分扬投资管理", "分扬"),
        ("分扬建筑工程", "分扬"),
        ("腾讯计算机系统", "腾讯计算机系统"),
        ("科技", "科技"),  # nothing but an industry word: kept
        ("华科技", "华科技"),  # at least two characters of name remain
        ("Huawei Technologies", "Huawei"),
        ("Acme Trading Group", "Acme"),
        ("Technologies", "Technologies"),
        ("", ""),
    ],
)
def test_core_brand(core: str, brand: str) -> None:
    assert core_brand(core) == brand


def test_core_brand_property() -> None:
    assert normalize_company("北京分扬网络科技有限公司").core_brand == "分扬"
    # the industry word stays in core: 分扬科技 and 分扬贸易 are different firms
    assert normalize_company("分扬科技有限公司").core != normalize_company("分扬贸易有限公司").core


@pytest.mark.parametrize(
    ("raw", "changes"),
    [
        ("北京分扬科技有限公司", ()),
        ("ＡＢＣ科技有限公司", ("company.halfwidth",)),
        ("分扬科技(北京)有限公司", ("company.brackets",)),
        ("北京 分扬 科技 有限公司", ("company.whitespace",)),
        ("北京分扬科技有限公司。", ("company.punctuation",)),
        ("Huawei Technologies Co.,Ltd", ("company.legal_form",)),
        ("Foo  Bar LLC", ("company.whitespace",)),
        ("Siemens（China）Co.,Ltd.", ("company.brackets", "company.whitespace", "company.legal_form")),
    ],
)
def test_changes(raw: str, changes: tuple[str, ...]) -> None:
    assert normalize_company(raw).changes == changes


@pytest.mark.parametrize("raw", ["无", "暂无", "个人", "N/A", "n/a", "NULL", "-", "/", "测试", "不详", "ｎ／ａ", "。"])
def test_placeholders_kept_and_flagged(raw: str) -> None:
    got = normalize_company(raw)
    assert got.value == raw.strip()
    assert [p.code for p in got.problems] == ["company.placeholder"]
    assert got.core == ""


@pytest.mark.parametrize("raw", ["有限公司", "股份有限公司", "Co., Ltd."])
def test_legal_form_without_name(raw: str) -> None:
    got = normalize_company(raw)
    assert [p.code for p in got.problems] == ["company.no_name"]


@pytest.mark.parametrize("raw", ["", "  ", "\u3000"])
def test_empty(raw: str) -> None:
    assert normalize_company(raw) == CompanyName(raw, "")


@pytest.mark.parametrize(
    ("raw", "core"),
    [
        # a region is not taken off when only a generic word would remain
        ("青岛啤酒股份有限公司", "青岛啤酒"),
        ("海南航空控股股份有限公司", "海南航空控股"),
        ("北京银行股份有限公司", "北京银行"),
        # words that merely start like a place
        ("东方财富信息股份有限公司", "东方财富信息"),
        ("阿里巴巴（中国）有限公司", "阿里巴巴"),
        ("中山大学", "中山大学"),
        ("长城汽车股份有限公司", "长城汽车"),
        ("海西分扬", "海西分扬"),
        # 中国 at the start is part of the name (state firms), only （中国） is a region
        ("中国平安保险（集团）股份有限公司", "中国平安保险"),
        ("中国工商银行股份有限公司", "中国工商银行"),
    ],
)
def test_region_lookalikes(raw: str, core: str) -> None:
    assert normalize_company(raw).core == core


def test_every_emitted_code_has_a_message() -> None:
    codes: set[str] = set()
    for raw in [c[0] for c in CASES] + ["无", "有限公司", "ＡＢＣ科技有限公司", "Acme Co Ltd", "a  b。", "x(y)"]:
        got = normalize_company(raw)
        codes.update(got.changes)
        codes.update(p.code for p in got.problems)
    assert codes <= set(MESSAGES)
    assert all(MESSAGES.values())


# -- properties --------------------------------------------------------------------------------

_NAME_CHARS = "分扬华为腾讯北京上海深圳市省科技信息有限公司股份集团（）() 分行支ABCxyz.,。Co.Ltd Inc１２ＡＢ"


@given(st.text(max_size=40))
@settings(max_examples=500)
def test_idempotent_any_text(raw: str) -> None:
    once = normalize_company(raw)
    twice = normalize_company(once.value)
    assert twice.value == once.value
    assert (twice.core, twice.legal_form, twice.region, twice.branch) == (
        once.core,
        once.legal_form,
        once.region,
        once.branch,
    )


@given(st.text(alphabet=_NAME_CHARS, max_size=30))
@settings(max_examples=1000)
def test_idempotent_name_like_text(raw: str) -> None:
    once = normalize_company(raw)
    twice = normalize_company(once.value)
    assert twice.value == once.value
    assert (twice.core, twice.legal_form, twice.region, twice.branch) == (
        once.core,
        once.legal_form,
        once.region,
        once.branch,
    )


_BRAND = st.text(alphabet="甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉", min_size=2, max_size=8)


@given(
    st.sampled_from(["", "北京", "北京市", "上海市", "广东省深圳市", "杭州"]),
    _BRAND,
    st.sampled_from(["", "科技", "网络科技", "贸易"]),
    st.sampled_from(["", "（北京）", "(上海)"]),
    st.sampled_from(["", "有限公司", "股份有限公司", "集团有限公司", "有限责任公司"]),
)
@settings(max_examples=500)
def test_core_survives(region: str, brand: str, industry: str, bracket: str, form: str) -> None:
    got = normalize_company(region + brand + industry + bracket + form)
    assert got.core == brand + industry
    assert got.legal_form == form
    assert got.core_brand == brand


@given(st.text(max_size=40))
@settings(max_examples=500)
def test_never_loses_the_name(raw: str) -> None:
    got = normalize_company(raw)
    if got.problems:
        assert got.value == raw.strip()
    # every letter, digit and CJK character of the input survives in the value (bar full-width forms)
    kept = {c for c in got.value}
    for ch in raw:
        if ch.isalnum() and ch.isascii():
            assert ch in kept or ch.upper() in kept or ch.lower() in kept
        elif "\u4e00" <= ch <= "\u9fff":
            assert ch in kept


_COMPANY_PIECES = [
    "北京", "北京市", "朝阳", "朝阳区", "海淀", "上海", "浦东", "深圳", "深圳市", "广东", "广东省", "南山", "华为",
    "腾讯", "中山", "大连", "科技", "有限公司", "（北京）", "市", "区", "省", "路", "大学", "场", "民", "集团",
    "吉林", "长春",
]


@given(st.lists(st.lists(st.sampled_from(_COMPANY_PIECES), min_size=1, max_size=6).map("".join), min_size=1,
                max_size=10))
@settings(max_examples=500)
def test_a_remembered_region_start_of_a_company_reads_as_a_fresh_parse(texts: list[str]) -> None:
    from kehu.dataquality.normalize import regions

    fresh = []
    for text in texts:
        p = regions.parse_prefix(text, aliases=None, strict=True)
        fresh.append((p.end, p.most_specific))
    regions._STRICT_MEMO.clear()
    regions._STRICT_SIZES.clear()
    assert [regions.strict_prefix(text) for text in texts] == fresh
    assert [regions.strict_prefix(text) for text in reversed(texts)] == fresh[::-1]
