"""What a fresh install starts with; a data migration loads it, admins change it afterwards."""

from __future__ import annotations

from typing import Any

from kehu.dataquality.picklists import fold

# (kind, option code) -> synonyms typed in spreadsheets and other CRMs
DEFAULT_SYNONYMS: dict[tuple[str, str], list[str]] = {
    ("source", "baidu_ads"): ["百度", "baidu", "百度竞价", "百度SEM", "百度推广", "Baidu ads", "SEM"],
    ("source", "referral"): ["转介绍", "老客户介绍", "朋友介绍", "介绍", "referral", "推荐"],
    ("source", "website"): ["官网", "网站", "官方网站", "website", "web", "官网咨询", "在线咨询"],
    ("source", "exhibition"): ["展会", "展览会", "会展", "trade show", "expo", "exhibition"],
    ("source", "cold_call"): ["电话陌拜", "陌拜", "电销", "cold call", "电话营销"],
    ("source", "wechat"): ["微信", "wechat", "weixin", "公众号", "微信公众号", "企业微信"],
    ("source", "douyin"): ["抖音", "douyin", "tiktok", "抖音广告"],
    ("industry", "it"): ["IT", "互联网", "软件", "信息技术", "计算机", "information technology", "software"],
    ("industry", "manufacturing"): ["制造", "制造业", "工厂", "生产制造", "manufacturing"],
    ("industry", "retail"): ["零售", "批发", "批发零售", "商贸", "retail", "wholesale"],
    ("industry", "finance"): ["金融", "银行", "保险", "证券", "finance", "banking"],
    ("industry", "education"): ["教育", "培训", "教育培训", "education"],
    ("industry", "healthcare"): ["医疗", "医药", "健康", "医疗健康", "healthcare"],
    ("level", "a"): ["A", "A类", "重点客户", "重要客户", "VIP", "key account"],
    ("level", "b"): ["B", "B类", "普通客户"],
    ("level", "c"): ["C", "C类", "一般客户", "小客户"],
    ("stage", "lead"): ["线索", "潜在客户", "潜客", "lead", "prospect"],
    ("stage", "opportunity"): ["商机", "意向客户", "opportunity"],
    ("stage", "customer"): ["成交客户", "已成交", "签约客户", "客户", "customer"],
}

# (target, field, rule type, severity, params, customer kind)
DEFAULT_RULES: list[dict[str, Any]] = [
    {"field": "phones", "rule_type": "valid", "severity": "warning"},
    {"field": "emails", "rule_type": "valid", "severity": "warning"},
    {"field": "credit_code", "rule_type": "valid", "severity": "error"},
    {"field": "id_number", "rule_type": "valid", "severity": "error"},
    {"field": "credit_code", "rule_type": "unique", "severity": "error"},
    {"field": "phones", "rule_type": "unique", "severity": "warning"},
    {"field": "emails", "rule_type": "unique", "severity": "warning"},
    {"target": "contact", "field": "mobile", "rule_type": "valid", "severity": "warning"},
    {"target": "contact", "field": "phone", "rule_type": "valid", "severity": "warning"},
    {"target": "contact", "field": "email", "rule_type": "valid", "severity": "warning"},
    {"target": "contact", "field": "mobile", "rule_type": "unique", "severity": "warning"},
]

DEFAULT_KEY_FIELDS = {
    "company": ["phones", "address", "city", "industry", "source", "credit_code", "contacts"],
    "person": ["phones", "city", "source", "emails", "birthday"],
}


def load_defaults(apps: Any) -> None:
    option_model = apps.get_model("customers", "PicklistOption")
    synonym_model = apps.get_model("dataquality", "PicklistSynonym")
    rule_model = apps.get_model("dataquality", "ValidationRule")
    settings_model = apps.get_model("dataquality", "QualitySettings")
    for (kind, code), texts in DEFAULT_SYNONYMS.items():
        option = option_model.objects.filter(kind=kind, code=code).first()
        if option is None:
            continue
        for text in texts:
            synonym_model.objects.get_or_create(kind=kind, key=fold(text), defaults={"option": option, "text": text})
    if not rule_model.objects.exists():
        for position, rule in enumerate(DEFAULT_RULES):
            rule_model.objects.create(position=position, **{"target": "customer", **rule})
    settings_model.objects.get_or_create(
        pk=1,
        defaults={
            "key_fields_company": DEFAULT_KEY_FIELDS["company"],
            "key_fields_person": DEFAULT_KEY_FIELDS["person"],
        },
    )
