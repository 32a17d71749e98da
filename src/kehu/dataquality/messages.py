"""Words for the stable problem and change codes the normalisers and checks emit."""

from __future__ import annotations

from functools import cache

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

# Codes produced here (checks on whole records) rather than by a normaliser.
RECORD_MESSAGES: dict[str, object] = {
    "phone.not_mobile": _("填在手机栏的号码不是手机号"),
    "email.bounced": _("邮件被退回，该邮箱可能已失效"),
    "unique.duplicate": _("与其他记录重复"),
    "record.stale": _("长期未更新或跟进"),
    "rule.required": _("必填字段为空"),
    "rule.pattern": _("格式不符合规则"),
    "rule.range": _("取值超出允许范围"),
    "id_number.birthday_mismatch": _("生日与身份证号不一致"),
    "picklist.unknown": _("未知的选项值"),
}

# Field labels for reports and the quality page (missing.<field> codes use them too).
FIELD_LABELS: dict[str, object] = {
    "name": _("名称"),
    "phones": _("电话"),
    "emails": _("邮箱"),
    "address": _("地址"),
    "province": _("省份"),
    "city": _("城市"),
    "district": _("区县"),
    "industry": _("行业"),
    "source": _("来源渠道"),
    "level": _("客户级别"),
    "stage": _("生命周期阶段"),
    "credit_code": _("统一社会信用代码"),
    "id_number": _("身份证号"),
    "website": _("网站"),
    "birthday": _("生日"),
    "contacts": _("联系人"),
    "owner": _("负责人"),
    "mobile": _("手机"),
    "phone": _("座机"),
    "email": _("邮箱"),
}


# English for the normalisers' codes. Kept here rather than in the .po file because the Chinese
# sentences live in plain dicts beside the pure normalisers, out of makemessages' reach.
ENGLISH: dict[str, str] = {
    "phone.invalid": "Unrecognised phone number",
    "phone.missing_area_code": "Landline without an area code",
    "phone.halfwidth": "Full-width characters converted to half-width",
    "phone.prefix_removed": "Country code +86 removed",
    "phone.reformatted": "Number format unified (spaces, dashes, brackets)",
    "phone.area_code_zero_added": "Leading 0 added to the area code",
    "phone.extension": "Extension recognised",
    "phone.label_removed": "Label such as 电话/Tel removed",
    "email.invalid": "Invalid e-mail address",
    "email.domain_typo": "The e-mail domain looks mistyped",
    "email.trimmed": "Stray spaces or punctuation removed",
    "email.halfwidth": "Full-width characters converted to half-width",
    "email.mailto_removed": "mailto: prefix removed",
    "email.display_name_removed": "Display name removed",
    "email.domain_lowercased": "Domain lower-cased",
    "credit_code.length": "A unified social credit code has 18 characters",
    "credit_code.charset": "The credit code contains characters it may not use (I, O, Z, S, V)",
    "credit_code.checksum": "The credit code's check character is wrong",
    "credit_code.formatted": "Spaces and dashes removed, upper-cased",
    "resident_id.length": "A resident ID has 18 characters (or 15, old format)",
    "resident_id.charset": "A resident ID has digits only, the last may be X",
    "resident_id.region": "The resident ID's region code does not exist",
    "resident_id.birthday": "The birth date in the resident ID is not valid",
    "resident_id.checksum": "The resident ID's check digit is wrong",
    "resident_id.upgraded": "Old 15-digit ID upgraded to 18 digits",
    "resident_id.formatted": "Spaces removed, X upper-cased",
    "url.invalid": "Unrecognised web address",
    "url.scheme_added": "https:// added",
    "url.lowercased": "Scheme and host lower-cased",
    "url.default_port_removed": "Default port removed",
    "url.trailing_slash_removed": "Trailing slash removed",
    "url.idn_decoded": "Internationalised domain shown readable",
    "url.halfwidth": "Full-width characters converted to half-width",
    "name.halfwidth": "Full-width characters converted to half-width",
    "name.spaces_removed": "Spaces between Chinese characters removed",
    "name.spaces_collapsed": "Repeated spaces collapsed",
    "name.middle_dot": "Middle dot unified to ·",
    "name.salutation_split": "Salutation (先生, 女士, 总 …) stored separately",
    "name.case_fixed": "Latin name capitalised",
    "name.salutation_only": "Only a salutation, no name",
    "name.contains_digits": "The name contains digits",
    "address.whitespace": "Extra spaces removed",
    "address.halfwidth": "Full-width digits and letters converted",
    "address.english_order": "English address: region moved first, in standard Chinese names",
    "address.country_removed": "Country prefix removed",
    "address.label_removed": "Label such as 地址： removed",
    "address.postcode_removed": "Postcode moved to its own field",
    "address.region_expanded": "Short region names written in full",
    "address.alias_resolved": "City alias replaced by its standard name",
    "address.region_completed": "Province or city completed from the lower level",
    "address.duplicate_removed": "Repeated region names removed",
    "address.unrecognised": "Province/city/district not recognised",
    "address.ambiguous_district": "The district name exists in several cities: add the city",
    "address.conflict": "Region parts contradict each other; the more specific one was kept",
    "address.province_unrecognised": "Unrecognised province",
    "address.city_unrecognised": "Unrecognised city",
    "address.district_unrecognised": "Unrecognised district",
    "company.halfwidth": "Full-width letters and digits converted",
    "company.brackets": "Brackets unified",
    "company.whitespace": "Extra spaces removed",
    "company.punctuation": "Trailing punctuation removed",
    "company.legal_form": "English legal form written in standard form",
    "company.placeholder": "The company name is a placeholder (无, 个人 …), not a real name",
    "company.no_name": "Only a legal form or a place, no trade name",
    "picklist.unknown": "Unknown picklist value (add it as a synonym)",
    "picklist.synonym": "Mapped to the standard option through a synonym",
}


@cache
def _normaliser_messages() -> dict[str, str]:
    from kehu.dataquality import picklists
    from kehu.dataquality.normalize import addresses, companies, emails, identifiers, names, phones, text

    merged: dict[str, str] = {}
    for module in (text, phones, emails, identifiers, names, addresses, companies, picklists):
        merged.update(getattr(module, "MESSAGES", {}))
    return merged


def field_label(field: str) -> str:
    if field.startswith("custom."):
        return field.removeprefix("custom.")
    return str(FIELD_LABELS.get(field, field))


def describe(code: str) -> str:
    """A sentence for a code in the current language; an unknown code is shown as itself."""
    if code.startswith("missing."):
        return str(_("缺少%(field)s")) % {"field": field_label(code.removeprefix("missing."))}
    if code in RECORD_MESSAGES:
        return str(RECORD_MESSAGES[code])
    if (get_language() or "").startswith("en"):
        return ENGLISH.get(code) or code
    return _normaliser_messages().get(code) or code
