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
    """A sentence for a code; codes of normalisers are written in Chinese and shown as such
    (the English UI shows the code's words from RECORD_MESSAGES where they exist)."""
    if code.startswith("missing."):
        return str(_("缺少%(field)s")) % {"field": field_label(code.removeprefix("missing."))}
    if code in RECORD_MESSAGES:
        return str(RECORD_MESSAGES[code])
    text = _normaliser_messages().get(code)
    if text is None:
        return code
    if (get_language() or "").startswith("en"):
        return f"{text} ({code})"
    return text
