"""Merge fields: mail templates rendered by a sandboxed Django template engine.

- A dedicated `Engine` whose builtins are only the whitelist in `kehu.mailing.sandbox` (no
  {% load %}, so no other library can be pulled in; no loaders, so nothing can be included).
- The context holds plain, read-only mappings of strings, numbers and dates built here
  (`merge_context`), never model instances: `{{ customer.delete }}` or `{{ contact.customer.owner.password }}`
  find nothing, there is no ORM to walk into. Names starting with "_" are refused by Django itself.
- Subject and text body render without escaping (plain text); the HTML body with autoescape.

The known fields are listed in `MERGE_FIELDS`; `check_template` reports unknown ones so a typo
(`{{ custmer.name }}`) is caught when the template is saved, not when the mail goes out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import VariableNode
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

MAX_TEMPLATE_CHARS = 50_000

# object -> field -> label (shown in the editor's merge field list and checked on save)
MERGE_FIELDS: dict[str, dict[str, Any]] = {
    "customer": {
        "name": _("客户名称"), "short_name": _("简称"), "salutation": _("称呼"), "kind": _("类型"),
        "owner_name": _("负责人"), "owner_email": _("负责人邮箱"), "email": _("邮箱（第一个）"),
        "phone": _("电话（第一个）"), "website": _("网站"), "province": _("省份"), "city": _("城市"),
        "district": _("区县"), "address": _("详细地址"), "industry": _("行业"), "level": _("客户级别"),
        "birthday": _("生日"),
    },
    "contact": {
        "name": _("姓名"), "salutation": _("称呼"), "title": _("职务"), "email": _("邮箱"), "mobile": _("手机"),
        "birthday": _("生日"),
    },
    "sender": {"name": _("发件人姓名"), "email": _("发件人邮箱"), "mobile": _("发件人手机")},
    "user": {"name": _("当前用户姓名"), "email": _("当前用户邮箱"), "mobile": _("当前用户手机")},
    "today": {},
}


class SandboxEngine(Engine):
    default_builtins: list[str] = []  # noqa: RUF012 - Django's class attribute, replaced on purpose


_TEXT_ENGINE = SandboxEngine(builtins=["kehu.mailing.sandbox"], loaders=[("django.template.loaders.locmem.Loader",
                                                                          {})], autoescape=False)
_HTML_ENGINE = SandboxEngine(builtins=["kehu.mailing.sandbox"], loaders=[("django.template.loaders.locmem.Loader",
                                                                          {})], autoescape=True)


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    body: str
    body_html: str = ""


class MergeData:
    """A read-only bag of merge values. Only item lookup works: no methods a template could reach
    (`{{ customer.items }}`, `{{ customer.clear }}` find nothing), and it prints as nothing."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_values", {k: ("" if v is None else v) for k, v in values.items()})

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(name)

    def __bool__(self) -> bool:
        return any(v not in ("", None) for v in self._values.values())

    def __str__(self) -> str:
        return ""


def _freeze(data: Mapping[str, Any]) -> MergeData:
    return MergeData(data)


def _label(option: Any) -> str:
    return str(getattr(option, "label", "") or "") if option is not None else ""


def customer_data(customer: Any) -> dict[str, Any]:
    owner = getattr(customer, "owner", None)
    return {
        "name": customer.name, "short_name": customer.short_name, "salutation": customer.salutation,
        "kind": customer.get_kind_display(), "owner_name": str(owner or ""), "owner_email": getattr(owner, "email", ""),
        "email": (customer.emails or [""])[0], "phone": (customer.phones or [""])[0], "website": customer.website,
        "province": customer.province, "city": customer.city, "district": customer.district,
        "address": customer.address, "industry": _label(customer.industry), "level": _label(customer.level),
        "birthday": customer.birthday,
    }


def contact_data(contact: Any) -> dict[str, Any]:
    return {"name": contact.name, "salutation": contact.salutation or contact.name, "title": contact.title,
            "email": contact.email, "mobile": contact.mobile, "birthday": contact.birthday}


def user_data(user: Any) -> dict[str, Any]:
    if user is None:
        return {"name": "", "email": "", "mobile": ""}
    return {"name": str(user), "email": user.email or "", "mobile": getattr(user, "mobile", "") or ""}


def sample_data() -> dict[str, dict[str, Any]]:
    """What the editor's preview shows when no customer is chosen."""
    return {
        "customer": {"name": "示例科技有限公司", "short_name": "示例科技", "salutation": "", "kind": "企业",
                     "owner_name": "李销售", "owner_email": "li@example.com", "email": "info@example.com",
                     "phone": "010-88886666", "website": "https://example.com", "province": "北京市",
                     "city": "北京市", "district": "海淀区", "address": "中关村大街 1 号", "industry": "软件",
                     "level": "A", "birthday": None},
        "contact": {"name": "王小明", "salutation": "王总", "title": "总经理", "email": "wang@example.com",
                    "mobile": "13800138000", "birthday": None},
    }


# Merge fields that carry a protected field under another name (the first phone of `phones`).
_MERGE_PROTECTED = {"customer": {"phone": "phones", "email": "emails"}, "contact": {}}


def _as_seen_by(sender: Any, object_type: str, values: dict[str, Any]) -> dict[str, Any]:
    """Field-level security: a merge field shows what the sending user may see (masked, or empty
    when hidden), so a template can't print what the sender's role may not read."""
    if sender is None:
        return values
    from kehu.core import masking

    aliases = _MERGE_PROTECTED[object_type]
    return {key: masking.mask_field(sender, object_type, aliases.get(key, key), value)
            for key, value in values.items()}


def merge_context(*, customer: Any = None, contact: Any = None, sender: Any = None,
                  today: dt.date | None = None, sample: bool = False) -> dict[str, Any]:
    """The plain data a template sees. Model instances are flattened here and never passed on."""
    data: dict[str, Any] = sample_data() if sample else {"customer": {}, "contact": {}}
    if customer is not None:
        data["customer"] = _as_seen_by(sender, "customer", customer_data(customer))
    if contact is not None:
        data["contact"] = _as_seen_by(sender, "contact", contact_data(contact))
    empty_customer = dict.fromkeys(MERGE_FIELDS["customer"], "")
    empty_contact = dict.fromkeys(MERGE_FIELDS["contact"], "")
    sender_data = user_data(sender)
    return {
        "customer": _freeze({**empty_customer, **data["customer"]}),
        "contact": _freeze({**empty_contact, **data["contact"]}),
        "sender": _freeze(sender_data),
        "user": _freeze(sender_data),
        "today": today or timezone.localdate(),
    }


def _compile(source: str, *, html: bool) -> Any:
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateSyntaxError(str(_("模板过长（最多 %(n)s 个字符）") % {"n": MAX_TEMPLATE_CHARS}))
    return (_HTML_ENGINE if html else _TEXT_ENGINE).from_string(source)


def unknown_fields(source: str, *, html: bool = False) -> list[str]:
    """`{{ object.field }}` references that are not merge fields (syntax errors raise TemplateSyntaxError)."""
    template = _compile(source, html=html)
    unknown: list[str] = []
    for node in template.nodelist.get_nodes_by_type(VariableNode):
        var = node.filter_expression.var
        lookups = getattr(var, "lookups", None)
        if not lookups:
            continue  # a literal
        head, rest = lookups[0], lookups[1:]
        fields = MERGE_FIELDS.get(head)
        name = ".".join(lookups)
        if fields is None:
            unknown.append(name)
        elif head == "today":
            continue  # a date: {{ today.year }} and the like
        elif not rest or rest[0] not in fields or (len(rest) > 1 and not _date_field(rest)):
            unknown.append(name)
    return sorted(set(unknown))


def _date_field(rest: tuple[str, ...]) -> bool:
    return rest[0] == "birthday" and len(rest) == 2 and rest[1] in ("year", "month", "day")


def check_template(source: str, *, html: bool = False) -> str | None:
    """None when `source` compiles and uses only known merge fields, else a message for the user."""
    try:
        unknown = unknown_fields(source, html=html)
    except TemplateSyntaxError as exc:
        return str(_("模板语法错误：%(error)s") % {"error": exc})
    if unknown:
        return str(_("未知的合并字段：%(names)s") % {"names": "、".join(unknown)})
    return None


def render_string(source: str, context: Mapping[str, Any], *, html: bool = False, language: str | None = None) -> str:
    template = _compile(source, html=html)
    with translation.override(language or translation.get_language()):
        return template.render(Context(dict(context), autoescape=html))


def render_mail(*, subject: str, body: str, body_html: str = "", context: Mapping[str, Any],
                language: str | None = None) -> RenderedMail:
    rendered_subject = " ".join(render_string(subject, context, language=language).split())
    return RenderedMail(
        subject=rendered_subject[:300],
        body=render_string(body, context, language=language),
        body_html=render_string(body_html, context, html=True, language=language) if body_html.strip() else "",
    )
