"""E-mail normalisation: the shapes addresses arrive in, and the provider typos Chinese users make."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kehu.dataquality.normalize.emails import MESSAGES, normalize_email, normalize_emails, quick_email, suggest_domain
from kehu.dataquality.normalize.text import strip_invisible

# raw, stored value, changes
VALID = [
    ("zhang@qq.com", "zhang@qq.com", ()),
    ("  zhang@qq.com  ", "zhang@qq.com", ()),
    ("zhang@qq.com\n", "zhang@qq.com", ()),
    ("\ufeffzhang@qq.com", "zhang@qq.com", ()),
    ("zhang\u200b@qq.com", "zhang@qq.com", ()),
    ("Zhang.San@QQ.COM", "Zhang.San@qq.com", ("email.domain_lowercased",)),
    ("ZHANGSAN@163.COM", "ZHANGSAN@163.com", ("email.domain_lowercased",)),
    ("Li.Na@Fenyang-Tech.com.cn", "Li.Na@fenyang-tech.com.cn", ("email.domain_lowercased",)),
    ("mailto:zhang@qq.com", "zhang@qq.com", ("email.mailto_removed",)),
    ("MAILTO:zhang@qq.com", "zhang@qq.com", ("email.mailto_removed",)),
    ("mailto: zhang@qq.com", "zhang@qq.com", ("email.mailto_removed",)),
    ("ｚｈａｎｇ＠ｑｑ．ｃｏｍ", "zhang@qq.com", ("email.halfwidth",)),
    ("zhang＠qq.com", "zhang@qq.com", ("email.halfwidth",)),
    ("zhang@qq。com".replace("。", "．"), "zhang@qq.com", ("email.halfwidth",)),
    ("张三 <zhang@qq.com>", "zhang@qq.com", ("email.display_name_removed",)),
    ("Zhang San<Zhang@QQ.com>", "Zhang@qq.com", ("email.display_name_removed", "email.domain_lowercased")),
    ("<zhang@qq.com>", "zhang@qq.com", ("email.display_name_removed",)),
    ("zhang@qq.com。", "zhang@qq.com", ("email.trimmed",)),
    ("zhang@qq.com;", "zhang@qq.com", ("email.trimmed",)),
    ("zhang@qq.com.", "zhang@qq.com", ("email.trimmed",)),
    ("(zhang@qq.com)", "zhang@qq.com", ("email.trimmed",)),
    ("'zhang@qq.com'", "zhang@qq.com", ("email.trimmed",)),
    ("邮箱：zhang@qq.com".replace("邮箱：", ""), "zhang@qq.com", ()),
    ("zhang_san@sina.com", "zhang_san@sina.com", ()),
    ("zhang-san@sina.cn", "zhang-san@sina.cn", ()),
    ("zhang+crm@gmail.com", "zhang+crm@gmail.com", ()),
    ("12345678@qq.com", "12345678@qq.com", ()),
    ("wang.wei.1988@126.com", "wang.wei.1988@126.com", ()),
    ("sales@fenyang.cn", "sales@fenyang.cn", ()),
    ("info@example.co.uk", "info@example.co.uk", ()),
    ("x@vip.163.com", "x@vip.163.com", ()),
    ("x@139.com", "x@139.com", ()),
    ("x@yeah.net", "x@yeah.net", ()),
    ("x@foxmail.com", "x@foxmail.com", ()),
    ("x@aliyun.com", "x@aliyun.com", ()),
    ("x@sub.mail.company.com.cn", "x@sub.mail.company.com.cn", ()),
    ("user@例子.公司", "user@例子.公司", ()),
    ("用户@例子.中国", "用户@例子.中国", ()),
    ("a@yahoo.com.cn", "a@yahoo.com.cn", ()),
    ("abc@136.com", "abc@136.com", ()),
]

# raw, stored value (kept as typed), suggestion
TYPOS = [
    ("zhang@qq.con", "zhang@qq.com"),
    ("zhang@qq.cm", "zhang@qq.com"),
    ("zhang@qq.co", "zhang@qq.com"),
    ("zhang@q.com", "zhang@qq.com"),
    ("zhang@qq.comm", "zhang@qq.com"),
    ("zhang@qq.cn", "zhang@qq.com"),
    ("Zhang@QQ.CON", "Zhang@qq.com"),
    ("wang@163.con", "wang@163.com"),
    ("wang@163.cn", "wang@163.com"),
    ("wang@126.con", "wang@126.com"),
    ("li@sian.com", "li@sina.com"),
    ("li@sina.con", "li@sina.com"),
    ("li@souhu.com", "li@sohu.com"),
    ("li@sohu.co", "li@sohu.com"),
    ("li@foxmial.com", "li@foxmail.com"),
    ("li@foxmail.con", "li@foxmail.com"),
    ("john@gmial.com", "john@gmail.com"),
    ("john@gamil.com", "john@gmail.com"),
    ("john@gmail.co", "john@gmail.com"),
    ("john@gmail.cm", "john@gmail.com"),
    ("john@gmai.com", "john@gmail.com"),
    ("john@hotmial.com", "john@hotmail.com"),
    ("john@hotmal.com", "john@hotmail.com"),
    ("john@outlok.com", "john@outlook.com"),
    ("john@outlook.cm", "john@outlook.com"),
    ("john@yaho.com", "john@yahoo.com"),
    ("john@aliyun.con", "john@aliyun.com"),
    ("john@139.con", "john@139.com"),
    ("john@icloud.con", "john@icloud.com"),
    ("sales@fenyang.con", "sales@fenyang.com"),
    ("sales@fenyang.cmo", "sales@fenyang.com"),
    ("sales@gmail.con", "sales@gmail.com"),
]

INVALID = [
    "abc",
    "zhang",
    "zhang@",
    "@qq.com",
    "zhang@qq",
    "zhang@@qq.com",
    "a..b@qq.com",
    ".a@qq.com",
    "zhang san@qq.com",
    "zhang@qq .com",
    "zhang@-qq.com",
    "zhang@qq.c",
    '"john doe"@example.com',
    "无",
    "13812345678",
    "  见名片  ",
]


@pytest.mark.parametrize(("raw", "value", "changes"), VALID)
def test_valid_addresses(raw: str, value: str, changes: tuple[str, ...]) -> None:
    email = normalize_email(raw)
    assert (email.value, email.valid, email.changes, email.problems, email.suggestion) == (value, True, changes, (), "")
    assert normalize_email(email.value).value == value


@pytest.mark.parametrize(("raw", "suggestion"), TYPOS)
def test_provider_typos_are_suggested_not_applied(raw: str, suggestion: str) -> None:
    email = normalize_email(raw)
    local, _, domain = raw.rpartition("@")
    assert email.value == f"{local}@{domain.lower()}"
    assert email.valid
    assert email.suggestion == suggestion
    assert [(p.code, p.hint) for p in email.problems] == [("email.domain_typo", suggestion)]


@pytest.mark.parametrize("raw", INVALID)
def test_invalid_addresses_are_kept_as_typed(raw: str) -> None:
    email = normalize_email(raw)
    assert (email.value, email.valid, email.changes) == (raw.strip(), False, ())
    assert [p.code for p in email.problems] == ["email.invalid"]


def test_invalid_address_with_a_provider_typo_still_gets_the_suggestion() -> None:
    email = normalize_email("abc@qqcom")
    assert (email.value, email.valid, email.suggestion) == ("abc@qqcom", False, "abc@qq.com")
    assert [p.code for p in email.problems] == ["email.invalid", "email.domain_typo"]


@pytest.mark.parametrize(
    ("domain", "suggestion"),
    [
        ("qq.com", ""),
        ("163.com", ""),
        ("126.com", ""),
        ("sina.cn", ""),
        ("qq.cn", "qq.com"),
        ("gmail.comm", "gmail.com"),
        ("hotmail.cm", "hotmail.com"),
        ("fenyang.com", ""),
        ("huawei.com", ""),
        ("mail.com", ""),
        ("qqmail.com", ""),
        ("136.com", ""),  # one edit from both 126.com and 163.com: no guess
        ("gnail.com", "gmail.com"),
        ("outlook.cn", ""),
    ],
)
def test_suggest_domain(domain: str, suggestion: str) -> None:
    assert suggest_domain(domain) == suggestion


def test_normalize_emails_splits_and_dedupes() -> None:
    emails = normalize_emails("zhang@qq.com; Zhang@QQ.com，li@163.com / wang@gmial.com 、 坏地址")
    assert [e.value for e in emails] == ["zhang@qq.com", "li@163.com", "wang@gmial.com", "坏地址"]
    assert [e.valid for e in emails] == [True, True, True, False]
    assert [e.value for e in normalize_emails(["a@qq.com b@qq.com", "A@QQ.COM"])] == ["a@qq.com", "b@qq.com"]
    assert [e.value for e in normalize_emails("张三 <zhang@qq.com>")] == ["zhang@qq.com"]
    assert normalize_emails("") == []


def test_pieces_of_a_cell_are_kept_as_typed_when_invalid() -> None:
    assert [e.value for e in normalize_emails("ａｂｃ；zhang＠qq.com")] == ["ａｂｃ", "zhang@qq.com"]
    assert (
        [e.value for e in normalize_emails(["ａｂｃ"])] == [e.value for e in normalize_emails("ａｂｃ")] == ["ａｂｃ"]
    )


def test_every_code_has_a_message() -> None:
    codes = {c for raw, *_ in VALID for c in normalize_email(raw).changes}
    codes |= {p.code for raw in [*INVALID, *(t[0] for t in TYPOS)] for p in normalize_email(raw).problems}
    assert codes <= MESSAGES.keys()


_LOCAL = st.text(alphabet="abcXYZ019._+-", min_size=1, max_size=12)
_DOMAIN = st.sampled_from(["qq.com", "QQ.COM", "qq.con", "gmial.com", "163.com", "x", "例子.公司", "a-b.cn"])
_ADDRESS = st.builds(lambda a, b, pad: f"{pad}{a}@{b}{pad}", _LOCAL, _DOMAIN, st.sampled_from(["", " ", "\u200b"]))


@given(st.one_of(_ADDRESS, st.text(max_size=30)))
def test_idempotent(raw: str) -> None:
    first = normalize_email(raw)
    second = normalize_email(first.value)
    assert (second.value, second.valid, second.suggestion, second.changes) == (
        first.value,
        first.valid,
        first.suggestion,
        (),
    )
    assert [p.code for p in second.problems] == [p.code for p in first.problems]


@given(st.one_of(_ADDRESS, st.text(max_size=30)))
def test_never_loses_the_input(raw: str) -> None:
    email = normalize_email(raw)
    if email.valid:
        local = email.value.rpartition("@")[0]
        assert local in strip_invisible(raw).translate({cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)})
    else:
        assert email.value == strip_invisible(raw).strip()


@given(st.one_of(_ADDRESS, st.text(max_size=30), st.builds(lambda a, b: f"{a}@{b}", _LOCAL, _DOMAIN)))
def test_the_quick_path_gives_what_normalize_emails_gives(cell: str) -> None:
    quick = quick_email(cell)
    if quick is not None:
        [email] = normalize_emails(cell)
        assert (email.value, email.valid, email.problems) == (quick, True, ())


@pytest.mark.parametrize(
    ("cell", "quick"),
    [
        ("zhang.san@qq.com", "zhang.san@qq.com"),
        ("Zhang.San@zhangwang123.com.cn", "Zhang.San@zhangwang123.com.cn"),
        ("Zhang@QQ.COM", "Zhang@qq.com"),
        (" zhang@qq.com ", "zhang@qq.com"),
        ("zhang@qq.con", None),
        ("zhang@gmial.com", None),
        ("zhang@", None),
        ("zhang qq.com", None),
        ("mailto:zhang@qq.com", None),
        ("zhang＠qq.com", None),
        ("zhang@例子.公司", None),
    ],
)
def test_quick_email(cell: str, quick: str | None) -> None:
    assert quick_email(cell) == quick
