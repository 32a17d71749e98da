"""kehu.core.masking: the mask functions (examples and hypothesis properties) and the field policy."""

from __future__ import annotations

import datetime as dt
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kehu.core import masking
from kehu.core.masking import (
    mask_address,
    mask_email,
    mask_id_number,
    mask_name,
    mask_phone,
    mask_text,
    mask_value,
)

# ---- examples ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "masked"), [
    ("13812345678", "138****5678"),
    ("+8613812345678", "138****5678"),
    ("+86 138 1234 5678", "138****5678"),
    ("138-1234-5678", "138****5678"),
    ("008613812345678", "138****5678"),
    ("010-65529988", "010-****9988"),
    ("+861065529988", "010-****9988"),
    ("0755-88889999", "0755-****9999"),
    ("010-65529988 转 123", "010-****9988 转 ***"),
    ("+16502530000", "+1650***0000"),
    ("65529988", "****9988"),
    ("", ""),
])
def test_phones(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


def test_email_id_address_text_examples() -> None:
    assert mask_email("zhang.san@example.com") == "z***@example.com"
    assert mask_email("z@example.com") == "***@example.com"  # one letter would be the whole local part
    assert mask_id_number("110101199003071234") == "110101********1234"
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_id_number("110101900307123") == "110101*****7123"  # the old 15-digit numbers
    assert mask_address("北京市海淀区中关村大街1号") == "北京市海淀区****"
    assert mask_address("广东省深圳市南山区科技园科苑路15号") == "广东省深圳市南山区****"
    assert mask_address("浙江省杭州西湖区文三路") == "浙江省杭州西湖区****"
    assert mask_address("中关村软件园区3号楼") == "****"  # no province or city in front: nothing kept
    assert mask_text("wx_zhangsan") == "w*********n"
    assert mask_name("北京分扬科技有限公司") == "北京******公司"


def test_mask_value_kinds_lists_and_dates() -> None:
    assert mask_value("phone", ["13812345678", "010-65529988"]) == ["138****5678", "010-****9988"]
    assert mask_value("date", dt.date(1990, 3, 7)) is None
    assert mask_value("id_number", "") == "" and mask_value("phone", None) is None
    assert mask_value("customer", "phones_e164", ["+8613812345678"]) == ["138****5678"]  # (object, field, value)


def test_old_helper_names_delegate() -> None:
    from kehu.customers.export import mask_id_number as export_mask
    from kehu.dataquality.matching.reasons import mask_email as reasons_email
    from kehu.dataquality.matching.reasons import mask_identifier
    from kehu.dataquality.matching.reasons import mask_phone as reasons_phone
    from kehu.dataquality.rules import mask_name as rules_mask_name

    assert reasons_phone("+8613812345678") == mask_phone("+8613812345678")
    assert reasons_email("li@qq.com") == mask_email("li@qq.com") == "l***@qq.com"
    assert mask_identifier("110101199003071234") == export_mask("110101199003071234") == "110101********1234"
    assert rules_mask_name("张伟") == "张*"


# ---- properties ----------------------------------------------------------------------------------

# Any text at all: full-width forms, right-to-left marks and scripts, control characters, emoji.
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=60) | st.sampled_from([
    "\u202e13812345678", "１３８１２３４５６７８", "+٨٦١٣٨١٢٣٤٥٦٧٨", "\x00\x1f\x7f", "转", "@", "@@", "*",
    "ext.", "+", "＋86", "010-", "省市区县", "\u200f北京市海淀区\u200e",
])
DIGITS = st.text(alphabet=string.digits, min_size=1, max_size=20)
SEPARATED = st.lists(st.text(alphabet=string.digits, min_size=1, max_size=5), min_size=1, max_size=5).map(
    lambda parts: "-".join(parts))


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdecimal())


@settings(max_examples=300)
@given(ANY_TEXT)
def test_no_mask_raises_on_any_text(value: str) -> None:
    for mask in (mask_phone, mask_email, mask_id_number, mask_address, mask_text, mask_name):
        assert isinstance(mask(value), str)
    for kind in ("phone", "email", "id_number", "address", "text", "date", "unknown"):
        mask_value(kind, value)


@settings(max_examples=300)
@given(st.one_of(DIGITS, SEPARATED, DIGITS.map(lambda d: "+" + d), DIGITS.map(lambda d: "+86 " + d),
                 DIGITS.map(lambda d: d + " 转 12")))
def test_masked_phone_never_holds_all_the_digits(value: str) -> None:
    masked = mask_phone(value)
    original = _digits(value)
    assert len(_digits(masked)) < len(original)
    assert original not in _digits(masked)
    assert "*" in masked


@settings(max_examples=300)
@given(st.text(alphabet=string.digits + "Xx", min_size=1, max_size=24))
def test_masked_id_number_keeps_the_length_and_hides_something(value: str) -> None:
    masked = mask_id_number(value)
    assert len(masked) == len(value)
    assert masked != value and "*" in masked
    if len(value) == 18:
        assert masked[:6] == value[:6] and masked[-4:] == value[-4:] and masked[6:14] == "*" * 8


@settings(max_examples=200)
@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_mobile_shape(mobile: str) -> None:
    masked = mask_phone(mobile)
    assert len(masked) == 11 and masked == mobile[:3] + "****" + mobile[-4:]
    assert mask_phone("+86" + mobile) == masked


@settings(max_examples=200)
@given(st.emails())
def test_email_keeps_domain_hides_local_part(address: str) -> None:
    masked = mask_email(address)
    local, _, domain = address.rpartition("@")
    assert masked.endswith("@" + domain)
    assert local not in masked.rpartition("@")[0] or len(local) <= 1


@settings(max_examples=300)
@given(st.one_of(DIGITS, SEPARATED, DIGITS.map(lambda d: "+" + d), st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)))
def test_masking_a_masked_phone_changes_nothing(value: str) -> None:
    once = mask_phone(value)
    assert mask_phone(once) == once


@settings(max_examples=200)
@given(st.one_of(st.emails(), st.text(alphabet=string.digits + "X", max_size=20),
                 st.sampled_from(["北京市海淀区中关村大街1号", "广东省深圳市南山区科技园", "中关村大街1号"])))
def test_other_masks_are_idempotent(value: str) -> None:
    for mask in (mask_email, mask_id_number, mask_address):
        once = mask(value)
        assert mask(once) == once


# ---- policy --------------------------------------------------------------------------------------


class _User:
    is_authenticated = True
    is_active = True
    is_kehu_admin = False
    role_id = None

    def __init__(self, rules: dict[str, str]) -> None:
        self._kehu_field_access = rules


def test_mask_record_masks_hides_and_follows_companions() -> None:
    user = _User({"customer.phones": "masked", "customer.id_number": "hidden", "customer.birthday": "masked"})
    data = {"name": "张三", "phones": ["13812345678"], "phones_e164": ["+8613812345678"],
            "id_number": "110101199003071234", "birthday": dt.date(1990, 3, 7), "emails": ["a.b@c.cn"]}
    out = masking.mask_record(user, "customer", data)
    assert out == {"name": "张三", "phones": ["138****5678"], "phones_e164": ["138****5678"], "id_number": None,
                   "birthday": None, "emails": ["a.b@c.cn"]}
    assert data["phones"] == ["13812345678"]  # a copy: the input is untouched
    assert "id_number" not in masking.mask_record(user, "customer", data, drop_hidden=True)


def test_operator_and_admin_see_everything() -> None:
    admin = _User({"customer.phones": "hidden"})
    admin.is_kehu_admin = True
    data = {"phones": ["13812345678"]}
    assert masking.mask_record(admin, "customer", data) == data
    assert masking.mask_record(None, "customer", data) == data  # the command line's operator


def test_redact_reasons_masks_address_and_hides_hidden_fields() -> None:
    from kehu.dataquality.matching.reasons import Reason

    user = _User({"customer.address": "masked", "customer.phones": "hidden"})
    reasons = [Reason("address.same", ("北京市海淀区中关村大街1号",), 2.0),
               Reason("phone.same_mobile", ("138****5678",), 5.0), Reason("company.same", ("分扬科技",), 3.0)]
    out = masking.redact_reasons(user, reasons)
    assert out[0].args == ("北京市海淀区****",)
    assert "5678" not in out[1].args[0]
    assert out[2] == reasons[2]
