"""Credit codes, resident ID numbers and URLs."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kehu.dataquality.normalize.identifiers import (
    CREDIT_CODE_ALPHABET,
    MESSAGES,
    credit_code_check_char,
    normalize_credit_code,
    normalize_resident_id,
    normalize_url,
    resident_id_check_char,
)
from kehu.dataquality.normalize.text import strip_invisible

# Real-format codes (登记管理部门 + 机构类别 + 行政区划 + 组织机构代码 + 校验码). The check characters were
# computed separately (weights 3^i mod 31 as GB 32100-2015 defines them) and are written out here, so a
# broken implementation cannot agree with itself. The first is a published real code (华为技术有限公司).
VALID_CODES = [
    "914403001922038216",
    "91110108MA01ABCD1E",  # 工商 企业, 北京海淀
    "91440300708461136T",  # 深圳
    "91310000710932800P",  # 上海
    "91330100MA27XY012B",  # 杭州
    "12100000400000624D",  # 事业单位
    "52440300MA5DKT5M2A",  # 民办非企业
    "93110105MA00BX7K34",  # 农民专业合作社
    "31110000MD01234564",  # 律师事务所
    "11100000000013127D",  # 机关
    "92440300MA5F0E1L3W",  # 个体工商户
]


@pytest.mark.parametrize("code", VALID_CODES)
def test_valid_credit_codes(code: str) -> None:
    result = normalize_credit_code(code)
    assert (result.value, result.valid, result.changes, result.problems) == (code, True, (), ())
    assert credit_code_check_char(code[:17]) == code[17]


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("91110108ma01abcd1e", "91110108MA01ABCD1E"),
        (" 91110108MA01ABCD1E ", "91110108MA01ABCD1E"),
        ("9111 0108 MA01 ABCD 1E", "91110108MA01ABCD1E"),
        ("911101-08MA01-ABCD1E", "91110108MA01ABCD1E"),
        ("９１１１０１０８ＭＡ０１ＡＢＣＤ１Ｅ", "91110108MA01ABCD1E"),
        ("\ufeff91440300708461136t", "91440300708461136T"),
        ("91440300\u200b708461136T", "91440300708461136T"),
    ],
)
def test_credit_codes_are_tidied(raw: str, value: str) -> None:
    result = normalize_credit_code(raw)
    assert (result.value, result.valid, result.problems) == (value, True, ())
    assert result.changes == (("credit_code.formatted",) if raw.strip() != value or raw != value else ())


@pytest.mark.parametrize(
    ("raw", "code", "hint"),
    [
        ("91110108MA01ABCD1", "credit_code.length", ""),
        ("91110108MA01ABCD1E0", "credit_code.length", ""),
        ("110108000000000", "credit_code.length", ""),  # old 15-digit business licence number
        ("91110108MA01ABCD10", "credit_code.checksum", ""),
        ("91440300708461136X", "credit_code.checksum", ""),
        ("91440300708461163T", "credit_code.checksum", ""),  # two digits swapped
        ("9111O108MA01ABCD1E", "credit_code.charset", "91110108MA01ABCD1E"),  # letter O for zero
        ("91110108MA01ABCDIE", "credit_code.charset", "91110108MA01ABCD1E"),  # letter I for one
        ("91110108MA0IABCDIE", "credit_code.charset", "91110108MA01ABCD1E"),
        ("91110108MA01ABCD1V", "credit_code.charset", ""),
        ("91110108MA01ABC*1E", "credit_code.charset", ""),
        ("统一社会信用代码91110108", "credit_code.length", ""),
        ("无", "credit_code.length", ""),
    ],
)
def test_bad_credit_codes_are_kept_and_flagged(raw: str, code: str, hint: str) -> None:
    result = normalize_credit_code(raw)
    assert (result.value, result.valid, result.changes) == (raw.strip(), False, ())
    assert [(p.code, p.hint) for p in result.problems] == [(code, hint)]


@given(st.text(alphabet=CREDIT_CODE_ALPHABET, min_size=17, max_size=17))
def test_any_body_with_its_check_char_is_valid_and_one_change_breaks_it(body: str) -> None:
    code = body + credit_code_check_char(body)
    assert normalize_credit_code(code).valid
    wrong = CREDIT_CODE_ALPHABET[(CREDIT_CODE_ALPHABET.index(code[17]) + 1) % 31]
    assert [p.code for p in normalize_credit_code(body + wrong).problems] == ["credit_code.checksum"]


TODAY = datetime.date(2026, 11, 27)


@pytest.mark.parametrize(
    ("raw", "value", "birthday", "gender", "changes"),
    [
        ("11010519491231002X", "11010519491231002X", datetime.date(1949, 12, 31), "female", ()),
        ("11010519491231002x", "11010519491231002X", datetime.date(1949, 12, 31), "female", ("resident_id.formatted",)),
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X", datetime.date(1949, 12, 31), "female",
         ("resident_id.formatted",)),
        ("110105 19491231 002X", "11010519491231002X", datetime.date(1949, 12, 31), "female",
         ("resident_id.formatted",)),
        ("440300199003071234", "440300199003071234", datetime.date(1990, 3, 7), "male", ()),
        ("440300-19900307-1234", "440300199003071234", datetime.date(1990, 3, 7), "male", ("resident_id.formatted",)),
        ("320102200002291235", "320102200002291235", datetime.date(2000, 2, 29), "male", ()),
        ("510104198512310027", "510104198512310027", datetime.date(1985, 12, 31), "female", ()),
        ("650102197001010018", "650102197001010018", datetime.date(1970, 1, 1), "male", ()),
        ("810000199507011238", "810000199507011238", datetime.date(1995, 7, 1), "male", ()),
        ("110105491231002", "11010519491231002X", datetime.date(1949, 12, 31), "female", ("resident_id.upgraded",)),
        ("440300900307123", "440300199003071234", datetime.date(1990, 3, 7), "male", ("resident_id.upgraded",)),
        ("110105800101001", "110105198001010016", datetime.date(1980, 1, 1), "male", ("resident_id.upgraded",)),
        ("510104851231002", "510104198512310027", datetime.date(1985, 12, 31), "female", ("resident_id.upgraded",)),
    ],
)  # fmt: skip
def test_valid_resident_ids(
    raw: str, value: str, birthday: datetime.date, gender: str, changes: tuple[str, ...]
) -> None:
    result = normalize_resident_id(raw, today=TODAY)
    assert (result.value, result.valid, result.birthday, result.gender, result.region_code) == (
        value,
        True,
        birthday,
        gender,
        value[:6],
    )
    assert result.changes == changes
    assert result.problems == ()
    assert resident_id_check_char(value[:17]) == value[17]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("110105194912310021", "resident_id.checksum"),
        ("440300199003071235", "resident_id.checksum"),
        ("11010519491231002", "resident_id.length"),
        ("1101051949123100211", "resident_id.length"),
        ("11010519491231002Y", "resident_id.charset"),
        ("1101051949123100X2", "resident_id.charset"),
        ("11010519491331002" + resident_id_check_char("11010519491331002"), "resident_id.birthday"),
        ("11010519490230002" + resident_id_check_char("11010519490230002"), "resident_id.birthday"),
        ("11010520991231002" + resident_id_check_char("11010520991231002"), "resident_id.birthday"),
        ("11010518001231002" + resident_id_check_char("11010518001231002"), "resident_id.birthday"),
        ("99010519491231002" + resident_id_check_char("99010519491231002"), "resident_id.region"),
        ("00010519491231002" + resident_id_check_char("00010519491231002"), "resident_id.region"),
        ("110105491331002", "resident_id.birthday"),
        ("身份证", "resident_id.length"),
    ],
)
def test_bad_resident_ids_are_kept_and_flagged(raw: str, code: str) -> None:
    result = normalize_resident_id(raw, today=TODAY)
    assert (result.value, result.valid, result.birthday, result.gender) == (raw.strip(), False, None, "")
    assert [p.code for p in result.problems] == [code]


def test_birthday_today_is_fine_tomorrow_is_not() -> None:
    body = "110105" + TODAY.strftime("%Y%m%d") + "001"
    assert normalize_resident_id(body + resident_id_check_char(body), today=TODAY).valid
    assert not normalize_resident_id(
        body + resident_id_check_char(body), today=TODAY - datetime.timedelta(days=1)
    ).valid


@given(
    st.sampled_from(["110105", "440300", "310115", "510104"]),
    st.dates(min_value=datetime.date(1900, 1, 1), max_value=TODAY),
    st.integers(min_value=0, max_value=999),
)
def test_generated_ids_give_back_birthday_and_gender(region: str, birthday: datetime.date, seq: int) -> None:
    body = f"{region}{birthday:%Y%m%d}{seq:03d}"
    result = normalize_resident_id(body + resident_id_check_char(body), today=TODAY)
    assert (result.valid, result.birthday, result.gender) == (True, birthday, "male" if seq % 2 else "female")
    assert normalize_resident_id(result.value, today=TODAY) == result


@pytest.mark.parametrize(
    ("raw", "value", "host", "changes"),
    [
        ("www.Example.com/", "https://www.example.com", "www.example.com",
         ("url.scheme_added", "url.lowercased", "url.trailing_slash_removed")),
        ("example.com", "https://example.com", "example.com", ("url.scheme_added",)),
        ("www.fenyang.com.cn", "https://www.fenyang.com.cn", "www.fenyang.com.cn", ("url.scheme_added",)),
        ("https://www.fenyang.com", "https://www.fenyang.com", "www.fenyang.com", ()),
        ("http://www.fenyang.com", "http://www.fenyang.com", "www.fenyang.com", ()),
        ("https://www.fenyang.com/", "https://www.fenyang.com", "www.fenyang.com", ("url.trailing_slash_removed",)),
        ("  https://www.fenyang.com  ", "https://www.fenyang.com", "www.fenyang.com", ()),
        ("HTTPS://WWW.Fenyang.COM/About?x=1", "https://www.fenyang.com/About?x=1", "www.fenyang.com",
         ("url.lowercased",)),
        ("http://EXAMPLE.com:80/", "http://example.com", "example.com",
         ("url.lowercased", "url.default_port_removed", "url.trailing_slash_removed")),
        ("https://example.com:443/path/", "https://example.com/path/", "example.com", ("url.default_port_removed",)),
        ("example.com:8080", "https://example.com:8080", "example.com", ("url.scheme_added",)),
        ("localhost:8000", "https://localhost:8000", "localhost", ("url.scheme_added",)),
        ("http://localhost", "http://localhost", "localhost", ()),
        ("https://xn--fiqs8s.cn", "https://中国.cn", "中国.cn", ("url.idn_decoded",)),
        ("中国.cn", "https://中国.cn", "中国.cn", ("url.scheme_added",)),
        ("https://分扬科技.公司/产品", "https://分扬科技.公司/产品", "分扬科技.公司", ()),
        ("ftp://files.example.com/a", "ftp://files.example.com/a", "files.example.com", ()),
        ("http://192.168.1.1/admin", "http://192.168.1.1/admin", "192.168.1.1", ()),
        ("１２７.０.０.１", "https://127.0.0.1", "127.0.0.1", ("url.halfwidth", "url.scheme_added")),
        ("ｗｗｗ．ｆｅｎｙａｎｇ．ｃｏｍ", "https://www.fenyang.com", "www.fenyang.com",
         ("url.halfwidth", "url.scheme_added")),
        ("www.fenyang.com。cn", "https://www.fenyang.com.cn", "www.fenyang.com.cn",
         ("url.halfwidth", "url.scheme_added")),
        ("//cdn.example.com/x.js", "https://cdn.example.com/x.js", "cdn.example.com", ("url.scheme_added",)),
        ("https://example.com/a?b=1#c", "https://example.com/a?b=1#c", "example.com", ()),
        ("https://example.com/?utm=1", "https://example.com/?utm=1", "example.com", ()),
        ("\ufeffwww.example.com", "https://www.example.com", "www.example.com", ("url.scheme_added",)),
        ("https://shop.example.com.", "https://shop.example.com", "shop.example.com", ()),
    ],
)  # fmt: skip
def test_urls(raw: str, value: str, host: str, changes: tuple[str, ...]) -> None:
    result = normalize_url(raw)
    assert (result.value, result.valid, result.host, result.changes, result.problems) == (
        value,
        True,
        host,
        changes,
        (),
    )
    again = normalize_url(result.value)
    assert (again.value, again.changes) == (value, ())


@pytest.mark.parametrize(
    "raw",
    [
        "javascript:alert(1)",
        "JavaScript:void(0)",
        "data:text/html,<b>hi</b>",
        "vbscript:msgbox",
        "mailto:a@b.com",
        "file:///etc/passwd",
        "www",
        "http://",
        "https://localhost_x",
        "exa mple.com",
        "http://exa mple.com",
        "http://-bad-.com",
        "http://example.123",
        "http://300.1.1.1",
        "无",
        "http://example.com:99999",
    ],
)
def test_bad_urls_are_kept_and_flagged(raw: str) -> None:
    result = normalize_url(raw)
    assert (result.value, result.valid, result.host, result.changes) == (raw.strip(), False, "", ())
    assert [p.code for p in result.problems] == ["url.invalid"]


def test_empty_values_are_empty_not_problems() -> None:
    for fn in (normalize_credit_code, normalize_resident_id, normalize_url):
        result = fn("  ")
        assert (result.value, result.problems) == ("", ())


def test_every_code_has_a_message() -> None:
    seen = {"credit_code.length", "credit_code.charset", "credit_code.checksum", "credit_code.formatted"}
    seen |= {"resident_id.length", "resident_id.charset", "resident_id.region", "resident_id.birthday"}
    seen |= {"resident_id.checksum", "resident_id.upgraded", "resident_id.formatted", "url.invalid"}
    seen |= {"url.scheme_added", "url.lowercased", "url.default_port_removed", "url.trailing_slash_removed"}
    seen |= {"url.idn_decoded", "url.halfwidth"}
    assert seen == MESSAGES.keys()


_IDISH = st.text(alphabet="0123456789Xx -ABCDEFGHJKLMNPQRTUWXYIOZSV１", max_size=22)
_URLISH = st.text(alphabet="abcXYZ.:/-_?#=1２ 中ｗ", max_size=25)


@given(st.one_of(_IDISH, st.text(max_size=20)))
def test_identifiers_idempotent_and_lossless(raw: str) -> None:
    for fn in (normalize_credit_code, normalize_resident_id):
        first = fn(raw)
        second = fn(first.value)
        assert (second.value, second.valid, [p.code for p in second.problems]) == (
            first.value,
            first.valid,
            [p.code for p in first.problems],
        )
        if not first.valid:
            assert first.value == strip_invisible(raw).strip()


@given(st.one_of(_URLISH, st.text(max_size=20)))
def test_urls_idempotent_and_lossless(raw: str) -> None:
    first = normalize_url(raw)
    second = normalize_url(first.value)
    assert (second.value, second.valid, second.host) == (first.value, first.valid, first.host)
    if not first.valid:
        assert first.value == strip_invisible(raw).strip()
    else:
        assert first.host.replace(".", "") in first.value.replace(".", "")


def test_the_stored_form_fast_path_agrees_with_the_full_cleaning():
    import random

    from kehu.dataquality.normalize import identifiers

    rng = random.Random(3)
    alphabet = identifiers.CREDIT_CODE_ALPHABET
    for _ in range(2000):
        body = "".join(rng.choice(alphabet) for _ in range(17))
        good = body + identifiers.credit_code_check_char(body)
        bad = body + rng.choice([c for c in alphabet if c != good[-1]])
        for code in (good, bad):
            fast = identifiers.normalize_credit_code(code)
            slow = identifiers.normalize_credit_code(" " + code)  # not in stored form: the full path
            assert (fast.value, fast.valid, [p.code for p in fast.problems]) == \
                (slow.value, slow.valid, [p.code for p in slow.problems])
