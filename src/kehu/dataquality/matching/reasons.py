"""Why two records were judged alike or different, as stable codes and words in Chinese and English.

A `Reason` is a code ("phone.same_mobile"), its arguments (already masked: 138****5678) and the
weight it added to the score. The scoring never formats text; `describe(reason, "en")` and
`explain(reasons, "zh")` do, from the tables below, so the engine stays pure and a later UI can
show the same reasons in either language. Arguments never carry a full phone number, e-mail or ID
number: a reason can be shown to someone who may not see the other record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kehu.core import masking

MESSAGES_ZH: dict[str, str] = {
    "phone.same_mobile": "同一手机号 {0}",
    "phone.same_phone": "同一电话 {0}",
    "phone.shared": "同一电话 {0}（{1} 条记录共用）",
    "phone.differ": "电话不同",
    "phone.mobile_differ": "手机号不同",
    "email.same": "同一邮箱 {0}",
    "email.differ": "邮箱不同",
    "id_number.same": "同一证件号 {0}",
    "id_number.similar": "证件号只差一位（{0} / {1}）",
    "id_number.differ": "证件号不同（{0} / {1}）",
    "credit_code.same": "同一统一社会信用代码 {0}",
    "credit_code.differ": "统一社会信用代码不同（{0} / {1}）",
    "company.same": "公司名相同（{0}）",
    "company.core_without_form": "公司名去掉“{1}”后相同（{0}）",
    "company.core_without_region": "公司名去掉地区“{1}”后相同（{0}）",
    "company.core_without_form_region": "公司名去掉“{1}”和地区“{2}”后相同（{0}）",
    "company.same_brand": "公司字号相同（{0} / {1}）",
    "company.brand_pinyin": "公司名拼音相同（{0} / {1}）",
    "company.similar": "公司名相近（{0} / {1}）",
    "company.differ": "公司名不同（{0} / {1}）",
    "company.region_differ": "公司所在地不同（{0} / {1}）",
    "name.same": "姓名相同（{0}）",
    "name.same_common": "姓名相同（{0}），但这个姓名很常见",
    "name.same_pinyin": "姓名同音（{0} / {1}）",
    "name.latin_pinyin": "姓名拼音相同（{0} / {1}）",
    "name.similar": "姓名相近（{0} / {1}）",
    "name.swapped": "姓和名颠倒（{0} / {1}）",
    "name.surname_only": "只有姓相同（{0} / {1}）",
    "name.given_differ": "姓相同，名不同（{0} / {1}）",
    "name.differ": "姓名不同（{0} / {1}）",
    "contact.same": "联系人相同（{0}）",
    "contact.surname": "联系人同姓（{0} / {1}）",
    "contact.differ": "联系人不同（{0} / {1}）",
    "contact.same_customer": "同一客户下的联系人",
    "birth_date.same": "生日相同（{0}）",
    "birth_date.similar": "生日相近（{0} / {1}）",
    "birth_date.differ": "生日不同（{0} / {1}）",
    "address.same": "地址相同（{0}）",
    "address.similar": "地址相近（{0} / {1}）",
    "address.differ": "地址不同（{0} / {1}）",
    "city.same": "同在{0}",
    "city.similar": "城市相近（{0} / {1}）",
    "city.differ": "城市不同（{0} / {1}）",
    "postcode.same": "邮编相同（{0}）",
    "postcode.differ": "邮编不同（{0} / {1}）",
}

MESSAGES_EN: dict[str, str] = {
    "phone.same_mobile": "same mobile {0}",
    "phone.same_phone": "same phone {0}",
    "phone.shared": "same phone {0} (shared by {1} records)",
    "phone.differ": "phones differ",
    "phone.mobile_differ": "mobiles differ",
    "email.same": "same e-mail {0}",
    "email.differ": "e-mails differ",
    "id_number.same": "same ID number {0}",
    "id_number.similar": "ID numbers differ in one character ({0} vs {1})",
    "id_number.differ": "ID numbers differ ({0} vs {1})",
    "credit_code.same": "same unified social credit code {0}",
    "credit_code.differ": "credit codes differ ({0} vs {1})",
    "company.same": "same company name ({0})",
    "company.core_without_form": "company names equal after removing {1} ({0})",
    "company.core_without_region": "company names equal after removing the region {1} ({0})",
    "company.core_without_form_region": "company names equal after removing {1} and the region {2} ({0})",
    "company.same_brand": "same company trade name ({0} vs {1})",
    "company.brand_pinyin": "company names spelt the same in pinyin ({0} vs {1})",
    "company.similar": "similar company names ({0} vs {1})",
    "company.differ": "company names differ ({0} vs {1})",
    "company.region_differ": "companies in different places ({0} vs {1})",
    "name.same": "same name ({0})",
    "name.same_common": "same name ({0}), but a common one",
    "name.same_pinyin": "names sound the same ({0} vs {1})",
    "name.latin_pinyin": "same name in pinyin ({0} vs {1})",
    "name.similar": "similar names ({0} vs {1})",
    "name.swapped": "given and family name swapped ({0} vs {1})",
    "name.surname_only": "only the surname agrees ({0} vs {1})",
    "name.given_differ": "same surname, different given names ({0} vs {1})",
    "name.differ": "names differ ({0} vs {1})",
    "contact.same": "same contact person ({0})",
    "contact.surname": "contact persons with the same surname ({0} vs {1})",
    "contact.differ": "different contact persons ({0} vs {1})",
    "contact.same_customer": "contacts of the same customer",
    "birth_date.same": "same birth date ({0})",
    "birth_date.similar": "close birth dates ({0} vs {1})",
    "birth_date.differ": "birth dates differ ({0} vs {1})",
    "address.same": "same address ({0})",
    "address.similar": "similar addresses ({0} vs {1})",
    "address.differ": "addresses differ ({0} vs {1})",
    "city.same": "both in {0}",
    "city.similar": "similar cities ({0} vs {1})",
    "city.differ": "different cities ({0} vs {1})",
    "postcode.same": "same postcode ({0})",
    "postcode.differ": "postcodes differ ({0} vs {1})",
}

MESSAGES: dict[str, dict[str, str]] = {"zh": MESSAGES_ZH, "en": MESSAGES_EN}
_SEPARATOR = {"zh": "；", "en": "; "}


@dataclass(frozen=True, slots=True)
class Reason:
    """One piece of evidence: `code`, its (masked) arguments, and the weight it added (negative:
    evidence against)."""

    code: str
    args: tuple[str, ...] = ()
    weight: float = 0.0


def _language(language: str) -> str:
    return "en" if language.lower().startswith("en") else "zh"


def describe(reason: Reason, language: str = "zh") -> str:
    """The reason as a phrase in `language` ("zh" or "en"); an unknown code is shown as itself."""
    template = MESSAGES[_language(language)].get(reason.code)
    if template is None:
        return reason.code
    return template.format(*reason.args, *([""] * 3))


def explain(reasons: Iterable[Reason], language: str = "zh") -> str:
    """All reasons as one sentence, strongest evidence first (as `compare` orders them)."""
    lang = _language(language)
    return _SEPARATOR[lang].join(describe(r, lang) for r in reasons)


# ---- masking --------------------------------------------------------------------------------------


# The masks are kehu.core.masking's (one rule for every output); these names stay for the matcher.


def mask_phone(number: str) -> str:
    """+8613812345678 -> 138****5678; +861065529988 -> 010-****9988; +16502530000 -> +1650***0000."""
    return masking.mask_phone(number)


def mask_email(address: str) -> str:
    """zhang.san@qq.com -> z***@qq.com (the domain stays: it often names the company)."""
    return masking.mask_email(address)


def mask_identifier(value: str) -> str:
    """110101199003071234 -> 110101********1234; short numbers keep their first and last two."""
    return masking.mask_id_number(value)


def show_date(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:]}" if len(value) == 8 and value.isdigit() else value
