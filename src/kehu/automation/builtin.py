"""Built-in rule templates (docs/automation.md explains each). "从模板创建" makes an ordinary,
paused rule from one: the admin reviews the users, texts and conditions, then switches it on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


@dataclass(frozen=True)
class RuleTemplate:
    key: str
    name: Any
    description: Any


TEMPLATES = (
    RuleTemplate("new_lead", gettext_lazy("新线索：轮流分配 + 欢迎邮件"),
                 gettext_lazy("新线索进来时在销售之间轮流分配负责人，"
                              "并给留了邮箱的线索发送欢迎邮件（模板 lead_welcome）。")),
    RuleTemplate("stale_opportunity", gettext_lazy("商机 7 天未跟进：提醒负责人和主管"),
                 gettext_lazy("进行中的商机，客户 7 天没有跟进记录时，给负责人创建跟进任务，并通知其主管。")),
    RuleTemplate("birthday", gettext_lazy("客户生日问候"),
                 gettext_lazy("个人客户生日当天 09:00 发送生日问候邮件（模板 birthday_greeting），每年一次。")),
    RuleTemplate("no_followup_pool", gettext_lazy("30 天未跟进：退回公海"),
                 gettext_lazy("有负责人的客户 30 天没有跟进，"
                              "按所在公海的规则（进行中商机、生效合同可豁免）退回公海。")),
)

MAIL_TEMPLATES = {
    "lead_welcome": (gettext_lazy("线索欢迎邮件"), gettext_lazy("感谢您的关注"),
                     gettext_lazy("您好！\n\n感谢您的关注，我们的顾问 {{ sender.name }} 会尽快与您联系。\n")),
    "birthday_greeting": (gettext_lazy("生日问候"), gettext_lazy("生日快乐！"),
                          gettext_lazy("{{ customer.name }}，您好：\n\n祝您生日快乐，万事如意！"
                                       "\n\n{{ sender.name }}\n")),
}


def template(key: str) -> RuleTemplate | None:
    return next((t for t in TEMPLATES if t.key == key), None)


def _ensure_mail_template(key: str, acting_user: Any) -> None:
    """The mail the template sends, created once (editable in the mail templates) when missing."""
    from kehu.mailing.models import MailTemplate
    from kehu.mailing.services import template_save

    # One version per language, each written in its own language: the sender picks the recipient's.
    for language in ("zh-hans", "en"):
        if MailTemplate.objects.filter(key=key, language=language).exists():
            continue
        with translation.override(language):
            name, subject, body = (str(text) for text in MAIL_TEMPLATES[key])
        template_save(acting_user=acting_user, data={"key": key, "name": name, "subject": subject, "body": body,
                                                      "language": language})


def _sales_users(acting_user: Any) -> list[int]:
    from kehu.accounts.models import User

    ids = list(User.objects.filter(is_active=True, role__code="sales").order_by("pk").values_list("pk", flat=True))
    return ids or [acting_user.pk]


def rule_data(rule_template: RuleTemplate, *, acting_user: Any) -> dict[str, Any]:
    key = rule_template.key
    base = {"name": str(rule_template.name), "description": str(rule_template.description)}
    if key == "new_lead":
        _ensure_mail_template("lead_welcome", acting_user)
        return {**base, "object_type": "lead", "trigger": "created", "trigger_params": {}, "conditions": {},
                "actions": [{"type": "assign_owner", "params": {"mode": "round_robin",
                                                                "users": _sales_users(acting_user)}},
                            {"type": "send_mail", "params": {"template": "lead_welcome", "to": "record"}}]}
    if key == "stale_opportunity":
        return {**base, "object_type": "opportunity", "trigger": "inactive",
                "trigger_params": {"anchor": "last_activity", "days": 7, "at": "09:00"},
                "conditions": {"status": "open"},
                "actions": [{"type": "create_task", "params": {
                    "title": _("跟进商机：{{ opportunity.name }}"), "due_in_days": 1, "priority": "high",
                    "assignee": "owner", "description": _("该商机的客户已 7 天没有跟进记录。")}},
                    {"type": "notify", "params": {
                        "to": "manager", "title": _("商机 7 天未跟进：{{ opportunity.name }}"),
                        "body": _("负责人：{{ owner }}；客户：{{ customer.name }}")}}]}
    if key == "birthday":
        _ensure_mail_template("birthday_greeting", acting_user)
        return {**base, "object_type": "customer", "trigger": "date_offset",
                "trigger_params": {"field": "birthday", "days": 0, "direction": "before", "at": "09:00"},
                "conditions": {"kind": "person"},
                "actions": [{"type": "send_mail", "params": {"template": "birthday_greeting", "to": "customer"}}]}
    return {**base, "object_type": "customer", "trigger": "inactive",
            "trigger_params": {"anchor": "last_activity", "days": 30, "at": "02:00"}, "conditions": {},
            "actions": [{"type": "move_to_pool", "params": {"reason": _("30 天未跟进，自动退回公海")}}]}
