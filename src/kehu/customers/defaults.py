"""Default picklists, loaded by a data migration on first migrate; admins edit them afterwards."""

from __future__ import annotations

# kind -> [(code, 中文, English, colour)]
DEFAULT_PICKLISTS: dict[str, list[tuple[str, str, str, str]]] = {
    "stage": [
        ("lead", "线索", "Lead", "#8c8c8c"),
        ("opportunity", "商机", "Opportunity", "#1677ff"),
        ("customer", "成交客户", "Customer", "#52c41a"),
        ("repeat", "复购客户", "Repeat customer", "#13c2c2"),
        ("advocate", "忠诚客户", "Advocate", "#722ed1"),
        ("churned", "流失客户", "Churned", "#f5222d"),
    ],
    "industry": [
        ("it", "信息技术", "Information technology", ""),
        ("manufacturing", "制造业", "Manufacturing", ""),
        ("retail", "批发零售", "Wholesale & retail", ""),
        ("finance", "金融", "Finance", ""),
        ("education", "教育培训", "Education", ""),
        ("healthcare", "医疗健康", "Healthcare", ""),
        ("real_estate", "房地产", "Real estate", ""),
        ("logistics", "物流运输", "Logistics", ""),
        ("food", "餐饮食品", "Food & beverage", ""),
        ("services", "商务服务", "Business services", ""),
        ("other", "其他", "Other", ""),
    ],
    "source": [
        ("referral", "客户介绍", "Referral", ""),
        ("baidu_ads", "百度推广", "Baidu ads", ""),
        ("website", "官网", "Website", ""),
        ("exhibition", "展会", "Trade show", ""),
        ("cold_call", "电话陌拜", "Cold call", ""),
        ("wechat", "微信", "WeChat", ""),
        ("douyin", "抖音", "Douyin", ""),
        ("other", "其他", "Other", ""),
    ],
    "level": [
        ("a", "A 重点客户", "A — key account", "#f5222d"),
        ("b", "B 普通客户", "B — regular", "#fa8c16"),
        ("c", "C 一般客户", "C — small", "#1677ff"),
    ],
    "contact_role": [
        ("decision_maker", "决策人", "Decision maker", ""),
        ("influencer", "影响者", "Influencer", ""),
        ("user", "使用者", "User", ""),
        ("gatekeeper", "把关者", "Gatekeeper", ""),
        ("champion", "支持者", "Champion", ""),
    ],
}


def load_default_picklists(option_model) -> None:  # type: ignore[no-untyped-def]
    for kind, options in DEFAULT_PICKLISTS.items():
        for position, (code, zh, en, color) in enumerate(options):
            option_model.objects.get_or_create(
                kind=kind,
                code=code,
                defaults={"label_zh": zh, "label_en": en, "color": color, "position": position},
            )
