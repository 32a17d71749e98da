"""The action registry: each action type declares its parameters (the rule builder renders them),
validates them when a rule is saved, and runs through the owning app's service (never a raw
update), passing the idempotency key down where the service takes one (mail, task, notification)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.template import Context, Template, TemplateSyntaxError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.automation import objects
from kehu.core.errors import ErrorCode, FieldError, ValidationFailed


class Skip(Exception):
    """Nothing to do for this record (already the owner, no e-mail address, ...): logged as skipped."""


class Refused(Exception):
    """The action cannot succeed as configured (a forbidden webhook target): failed at once, no retry."""


@dataclass
class ActionContext:
    rule: Any
    index: int
    params: Mapping[str, Any]
    object_type: str
    record_id: int
    record: Any  # None when the record is gone (a "deleted" trigger)
    customer_id: int | None
    key: str
    actor: Any
    now: dt.datetime
    event: Mapping[str, Any] = field(default_factory=dict)

    @property
    def owner(self) -> Any:
        return getattr(self.record, "owner", None) if self.record is not None else None

    def need_record(self) -> Any:
        if self.record is None:
            raise Skip(_("记录已不存在"))
        return self.record


@dataclass(frozen=True)
class Param:
    name: str
    label: Any
    kind: str = "text"  # text, textarea, int, user, users, select, territory
    choices: tuple[tuple[str, Any], ...] = ()
    required: bool = False
    help: Any = ""


@dataclass(frozen=True)
class ActionType:
    key: str
    label: Any
    objects: frozenset[str]
    params: tuple[Param, ...]
    run: Callable[[ActionContext], str]
    validate: Callable[[dict[str, Any], str], None] | None = None


REGISTRY: dict[str, ActionType] = {}


def register(action: ActionType) -> ActionType:
    REGISTRY[action.key] = action
    return action


def _error(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed([FieldError(field=field_name, code=ErrorCode.INVALID, message=message)])


def _int(value: Any) -> int | None:
    text = str(value if value is not None else "").strip()
    return int(text) if text.lstrip("-").isdigit() else None


def _ids(value: Any) -> list[int]:
    if isinstance(value, str):
        value = value.replace("，", ",").split(",")
    return [i for i in (_int(v) for v in (value or [])) if i is not None]


def clean_actions(actions: Any, object_type: str) -> list[dict[str, Any]]:
    """Validate an action list for a rule on `object_type`; returns it cleaned (raises ValidationFailed)."""
    if not isinstance(actions, list):
        raise _error("actions", _("动作应为列表"))
    cleaned: list[dict[str, Any]] = []
    errors: list[FieldError] = []
    for index, item in enumerate(actions):
        name = f"actions.{index}"
        kind = str((item or {}).get("type") or "") if isinstance(item, Mapping) else ""
        action = REGISTRY.get(kind)
        if action is None:
            errors.append(FieldError(name, ErrorCode.UNKNOWN_CHOICE, _("未知的动作类型：%(value)s") % {"value": kind}))
            continue
        if object_type not in action.objects:
            errors.append(FieldError(name, ErrorCode.INVALID, _("动作“%(action)s”不适用于该对象") % {
                "action": action.label}))
            continue
        raw = item.get("params") or {}
        if not isinstance(raw, Mapping):
            errors.append(FieldError(name, ErrorCode.INVALID, _("动作参数应为对象")))
            continue
        params: dict[str, Any] = {}
        for param in action.params:
            value = raw.get(param.name)
            if param.kind == "int":
                value = _int(value)
            elif param.kind == "users":
                value = _ids(value)
            elif param.kind == "user":
                value = _int(value)
            elif param.kind == "territory":
                value = [{"province": str(r.get("province") or "").strip(), "city": str(r.get("city") or "").strip(),
                          "user": _int(r.get("user"))} for r in (value or []) if isinstance(r, Mapping)]
                value = [r for r in value if r["user"] and (r["province"] or r["city"])]
            elif param.kind == "select":
                value = str(value or "").strip() or (param.choices[0][0] if param.choices else "")
                if value not in {c[0] for c in param.choices}:
                    errors.append(FieldError(f"{name}.{param.name}", ErrorCode.UNKNOWN_CHOICE,
                                             _("未知的选项：%(value)s") % {"value": value}))
            else:
                value = str(value or "").strip()
            if param.required and value in (None, "", []):
                errors.append(FieldError(f"{name}.{param.name}", ErrorCode.REQUIRED,
                                         _("%(action)s：请填写“%(param)s”") % {"action": action.label,
                                                                          "param": param.label}))
            params[param.name] = value
        for text_name in ("title", "body", "description"):
            if isinstance(params.get(text_name), str) and params[text_name]:
                try:
                    Template(params[text_name])
                except TemplateSyntaxError as exc:
                    errors.append(FieldError(f"{name}.{text_name}", ErrorCode.INVALID, str(exc)))
        if action.validate is not None and not any(e.field.startswith(name) for e in errors):
            try:
                action.validate(params, object_type)
            except ValidationFailed as exc:
                errors += [FieldError(f"{name}.{e.field}", e.code, e.message) for e in exc.errors]
        cleaned.append({"type": kind, "params": params})
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def render(text: str, ctx: ActionContext) -> str:
    """Merge fields in titles and bodies: {{ record.name }}, {{ customer.name }}, {{ owner }}, {{ rule.name }}."""
    if "{" not in (text or ""):
        return text or ""
    customer = None
    if ctx.record is not None:
        customer = ctx.record if ctx.object_type == "customer" else getattr(ctx.record, "customer", None)
    data = {"record": ctx.record, "customer": customer, "owner": ctx.owner, "rule": ctx.rule,
            "lead": ctx.record if ctx.object_type == "lead" else None,
            "opportunity": ctx.record if ctx.object_type == "opportunity" else None}
    return Template(text).render(Context(data, autoescape=False)).strip()


def record_url(object_type: str, record_id: int) -> str:
    from django.urls import reverse

    names = {"customer": "customers:detail", "lead": "leads:detail", "opportunity": "sales:detail"}
    try:
        return reverse(names[object_type], args=[record_id])
    except Exception:  # noqa: BLE001 - no detail page: no link
        return ""


def _user(user_id: Any) -> Any:
    from kehu.accounts.models import User

    user = User.objects.filter(pk=_int(user_id), is_active=True).select_related("department").first() \
        if _int(user_id) else None
    return user


def _check_users(params: Mapping[str, Any], names: tuple[str, ...]) -> None:
    from kehu.accounts.models import User

    wanted: set[int] = set()
    for name in names:
        value = params.get(name)
        if isinstance(value, list):
            wanted |= set(value)
        elif value:
            wanted.add(value)
    for row in params.get("territory") or []:
        wanted.add(row["user"])
    found = set(User.objects.filter(pk__in=wanted, is_active=True).values_list("pk", flat=True))
    missing = sorted(wanted - found)
    if missing:
        raise _error(names[0], _("用户不存在或已停用：%(ids)s") % {"ids": ", ".join(map(str, missing))})


def manager_of(user: Any) -> Any:
    """The head of the user's department; for a head, the head of the department above."""
    department = getattr(user, "department", None)
    while department is not None:
        manager = department.manager
        if manager is not None and manager.pk != user.pk and manager.is_active:
            return manager
        department = department.parent
    return None


# Assign owner -------------------------------------------------------------------------------------

ASSIGN_MODES = (("fixed", gettext_lazy("指定用户")), ("round_robin", gettext_lazy("轮流分配")),
                ("least_loaded", gettext_lazy("分给负责记录最少的人")), ("territory", gettext_lazy("按省份/城市")))


def _validate_assign(params: dict[str, Any], object_type: str) -> None:
    mode = params["mode"]
    if mode == "fixed" and not params.get("user"):
        raise _error("user", _("请选择负责人"))
    if mode in ("round_robin", "least_loaded") and not params.get("users"):
        raise _error("users", _("请选择参与分配的用户"))
    if mode == "territory" and not params.get("territory") and not params.get("user"):
        raise _error("territory", _("请填写地区与负责人的对应关系"))
    _check_users(params, ("user", "users"))


def _load(object_type: str, owner_ids: list[int]) -> dict[int, int]:
    from django.db.models import Count

    model = objects.model_of(object_type)
    rows = model.objects.filter(owner_id__in=owner_ids)
    if object_type == "lead":
        rows = rows.exclude(status__in=["converted", "disqualified"])
    elif object_type == "opportunity":
        rows = rows.filter(stage__kind="open")
    counts = {r["owner_id"]: r["n"] for r in rows.order_by().values("owner_id").annotate(n=Count("id"))}
    return {pk: counts.get(pk, 0) for pk in owner_ids}


def _region(ctx: ActionContext) -> tuple[str, str]:
    record = ctx.record
    if ctx.object_type == "opportunity":
        record = record.customer
    return (getattr(record, "province", "") or "", getattr(record, "city", "") or "")


def _pick_owner(ctx: ActionContext) -> Any:
    from kehu.accounts.models import User
    from kehu.automation.models import Rule

    params, mode = ctx.params, ctx.params.get("mode")
    if mode == "fixed":
        return _user(params.get("user"))
    if mode == "territory":
        province, city = _region(ctx)
        rows = params.get("territory") or []
        for row in rows:  # a city entry wins over a province entry
            if row["city"] and city and (row["city"] == city or city.startswith(row["city"])):
                return _user(row["user"])
        for row in rows:
            if row["province"] and province and (row["province"] == province or province.startswith(row["province"])):
                return _user(row["user"])
        return _user(params.get("user"))  # the fallback
    active = [pk for pk in params.get("users") or []
              if pk in set(User.objects.filter(pk__in=params.get("users") or [], is_active=True)
                           .values_list("pk", flat=True))]
    if not active:
        return None
    if mode == "least_loaded":
        load = _load(ctx.object_type, active)
        return _user(min(active, key=lambda pk: (load[pk], active.index(pk))))
    # Round robin: the cursor lives on the rule's row, moved under its lock in the action's transaction,
    # so two workers never hand out the same turn and a failed action gives its turn back.
    rule = Rule.objects.select_for_update().get(pk=ctx.rule.pk)
    cursor_key = str(ctx.index)
    last = rule.state.get(cursor_key)
    position = (active.index(last) + 1) % len(active) if last in active else 0
    chosen = active[position]
    rule.state = {**rule.state, cursor_key: chosen}
    Rule.objects.filter(pk=rule.pk).update(state=rule.state)
    return _user(chosen)


def _set_owner(ctx: ActionContext, user: Any) -> None:
    record = ctx.record
    if ctx.object_type == "customer":
        from kehu.customers.services import customer_update

        customer_update(acting_user=ctx.actor, customer=record, data={"owner": user})
    elif ctx.object_type == "lead":
        from kehu.leads.services import lead_update

        lead_update(acting_user=ctx.actor, lead_id=record.pk, data={"owner": user.pk})
    else:
        from kehu.sales.services import opportunity_update

        opportunity_update(acting_user=ctx.actor, opportunity_id=record.pk, data={"owner": user.pk})


def run_assign(ctx: ActionContext) -> str:
    ctx.need_record()
    user = _pick_owner(ctx)
    if user is None:
        raise Skip(_("没有可分配的用户"))
    if ctx.record.owner_id == user.pk:
        raise Skip(_("已是负责人：%(user)s") % {"user": user})
    _set_owner(ctx, user)
    return _("分配给 %(user)s") % {"user": user}


register(ActionType(
    "assign_owner", gettext_lazy("分配负责人"), frozenset({"customer", "lead", "opportunity"}),
    (Param("mode", gettext_lazy("方式"), "select", ASSIGN_MODES),
     Param("user", gettext_lazy("负责人（指定 / 按地区未匹配时）"), "user"),
     Param("users", gettext_lazy("参与分配的用户"), "users"),
     Param("territory", gettext_lazy("地区 → 负责人"), "territory",
           help=gettext_lazy("每行：省份,城市,用户ID（城市优先）"))),
    run_assign, _validate_assign))


# Send templated mail --------------------------------------------------------------------------------

MAIL_TO = (("customer", gettext_lazy("客户（首要联系人/客户邮箱）")), ("owner", gettext_lazy("负责人")),
           ("record", gettext_lazy("线索本人")))


def _validate_mail(params: dict[str, Any], object_type: str) -> None:
    from kehu.mailing.models import MailTemplate

    if not MailTemplate.objects.filter(key=params["template"]).exists():
        raise _error("template", _("邮件模板不存在：%(key)s") % {"key": params["template"]})


def run_mail(ctx: ActionContext) -> str:
    from kehu.mailing.models import MailTemplate
    from kehu.mailing.services import default_recipient, send_template_mail

    record = ctx.need_record()
    if not MailTemplate.objects.filter(key=ctx.params["template"], is_active=True).exists():
        raise Refused(_("邮件模板不存在或已停用：%(key)s") % {"key": ctx.params["template"]})
    customer = contact = to = None
    if ctx.object_type == "customer":
        customer = record
    elif ctx.object_type == "opportunity":
        customer = record.customer
    if customer is not None:
        contact = customer.contacts.filter(is_primary=True).first() or customer.contacts.first()
    if ctx.params.get("to") == "owner":
        to = getattr(ctx.owner, "email", "")
    elif ctx.object_type == "lead":
        to = record.email
    else:
        to = default_recipient(customer, contact) or ("" if contact is None else
                                                      default_recipient(customer, None))
    if not to:
        raise Skip(_("没有收件人邮箱"))
    sent = send_template_mail(template=ctx.params["template"], acting_user=ctx.actor, customer=customer,
                              contact=contact, to=to, idempotency_key=ctx.key)
    if sent is None:  # the key was used: an earlier attempt sent it before the log could say so
        return _("邮件已发送过（%(key)s）") % {"key": ctx.key}
    if sent.status == "failed":  # the SMTP server could not be reached: retried with back-off
        raise RuntimeError(_("邮件发送失败：%(error)s") % {"error": sent.error})
    if sent.status == "bounced":
        raise Skip(_("收件地址被退回：%(to)s") % {"to": to})
    return _("邮件“%(template)s”→ %(to)s（%(status)s）") % {"template": ctx.params["template"], "to": to,
                                                       "status": sent.status}


register(ActionType(
    "send_mail", gettext_lazy("发送模板邮件"), frozenset({"customer", "lead", "opportunity"}),
    (Param("template", gettext_lazy("邮件模板（键）"), required=True),
     Param("to", gettext_lazy("收件人"), "select", MAIL_TO)),
    run_mail, _validate_mail))


# Create task ----------------------------------------------------------------------------------------

PRIORITIES = (("normal", gettext_lazy("普通")), ("high", gettext_lazy("高")), ("low", gettext_lazy("低")))
ASSIGNEES = (("owner", gettext_lazy("负责人")), ("manager", gettext_lazy("负责人的主管")),
             ("user", gettext_lazy("指定用户")))


def _validate_assignee(params: dict[str, Any], object_type: str) -> None:
    if params.get("to") == "user" or params.get("assignee") == "user":
        if not params.get("user"):
            raise _error("user", _("请选择用户"))
        _check_users(params, ("user",))


def _assignee(ctx: ActionContext, choice: str) -> Any:
    if choice == "user":
        return _user(ctx.params.get("user"))
    owner = ctx.owner
    if owner is None and ctx.object_type == "opportunity" and ctx.record is not None:
        owner = ctx.record.customer.owner
    if choice == "manager":
        return manager_of(owner) if owner is not None else None
    return owner


def run_task(ctx: ActionContext) -> str:
    from kehu.activities.services import task_create

    record = ctx.need_record()
    assignee = _assignee(ctx, ctx.params.get("assignee") or "owner")
    if assignee is None:
        raise Skip(_("没有可指派的人"))
    days = ctx.params.get("due_in_days")
    task = task_create(
        acting_user=ctx.actor, assignee=assignee, title=render(ctx.params["title"], ctx)[:200],
        due_at=ctx.now + dt.timedelta(days=days) if days is not None else None,
        priority=ctx.params.get("priority") or "normal", description=render(ctx.params.get("description") or "", ctx),
        customer_id=ctx.customer_id, opportunity_id=record.pk if ctx.object_type == "opportunity" else None,
        source_key=ctx.key)
    return _("已创建任务 #%(id)s 给 %(user)s") % {"id": task.pk, "user": assignee}


register(ActionType(
    "create_task", gettext_lazy("创建任务"), frozenset({"customer", "lead", "opportunity"}),
    (Param("title", gettext_lazy("标题"), required=True), Param("due_in_days", gettext_lazy("几天后到期"), "int"),
     Param("priority", gettext_lazy("优先级"), "select", PRIORITIES),
     Param("assignee", gettext_lazy("指派给"), "select", ASSIGNEES), Param("user", gettext_lazy("指定用户"), "user"),
     Param("description", gettext_lazy("说明"), "textarea")),
    run_task, _validate_assignee))


# Update a field -------------------------------------------------------------------------------------


def _validate_field(params: dict[str, Any], object_type: str) -> None:
    if objects.changeable(object_type, params["field"]) is None:
        raise _error("field", _("该字段不能由自动化修改：%(field)s") % {"field": params["field"]})


def run_update_field(ctx: ActionContext) -> str:
    record = ctx.need_record()
    name, value = ctx.params["field"], ctx.params.get("value")
    data = {name: value if value != "" else None} if name in objects.FK_FIELDS else {name: value}
    if ctx.object_type == "customer":
        from kehu.customers.services import customer_update

        customer_update(acting_user=ctx.actor, customer=record, data=data)
    elif ctx.object_type == "lead":
        from kehu.leads.services import lead_update

        lead_update(acting_user=ctx.actor, lead_id=record.pk, data=data)
    else:
        from kehu.sales.services import opportunity_update

        opportunity_update(acting_user=ctx.actor, opportunity_id=record.pk, data=data)
    return _("%(field)s → %(value)s") % {"field": name, "value": value}


register(ActionType(
    "update_field", gettext_lazy("修改字段"), frozenset({"customer", "lead", "opportunity"}),
    (Param("field", gettext_lazy("字段"), required=True), Param("value", gettext_lazy("新值（选项/用户填 ID）"))),
    run_update_field, _validate_field))


# Tags -----------------------------------------------------------------------------------------------


def _run_tag(ctx: ActionContext, add: bool) -> str:
    from kehu.customers.services import customer_update

    customer = ctx.need_record()
    tag = ctx.params["tag"]
    current = list(customer.tags.values_list("name", flat=True))
    if (tag in current) == add:
        raise Skip(_("标签无变化"))
    names = [*current, tag] if add else [n for n in current if n != tag]
    customer_update(acting_user=ctx.actor, customer=customer, data={"tags": names})
    return (_("添加标签 %(tag)s") if add else _("移除标签 %(tag)s")) % {"tag": tag}


register(ActionType("add_tag", gettext_lazy("添加标签"), frozenset({"customer"}),
                    (Param("tag", gettext_lazy("标签"), required=True),), lambda ctx: _run_tag(ctx, True)))
register(ActionType("remove_tag", gettext_lazy("移除标签"), frozenset({"customer"}),
                    (Param("tag", gettext_lazy("标签"), required=True),), lambda ctx: _run_tag(ctx, False)))


# Move to the pool -----------------------------------------------------------------------------------


def _release_pool(customer: Any, pool_id: int | None) -> Any:
    """The pool `pool_release` would put the customer in (the owner's own pool, else the default one)."""
    from kehu.pool.models import CustomerPool
    from kehu.pool.services import is_member

    pools = CustomerPool.objects.filter(is_active=True)
    if pool_id:
        return pools.filter(pk=pool_id).first()
    if customer.owner is not None:
        for pool in pools:
            if is_member(customer.owner, pool):
                return pool
    return pools.filter(is_default=True).first() or pools.first()


def run_move_to_pool(ctx: ActionContext) -> str:
    from kehu.contracts.models import Contract, ContractStatus
    from kehu.pool.models import PoolEntry
    from kehu.pool.services import pool_release
    from kehu.sales.models import Opportunity, StageKind

    customer = ctx.need_record()
    if customer.owner_id is None or PoolEntry.objects.filter(customer_id=customer.pk).exists():
        raise Skip(_("客户已在公海中或没有负责人"))
    pool = _release_pool(customer, ctx.params.get("pool"))
    if pool is None:
        raise Refused(_("还没有启用的公海"))
    # The pool's own exemptions hold for the rule too: open deals and live contracts keep the customer.
    if pool.exempt_open_opportunity and Opportunity.objects.filter(customer_id=customer.pk,
                                                                   stage__kind=StageKind.OPEN).exists():
        raise Skip(_("有进行中的商机，按公海规则不退回"))
    if pool.exempt_live_contract and Contract.objects.filter(
            customer_id=customer.pk, status=ContractStatus.ACTIVE, ends_on__gte=ctx.now.date()).exists():
        raise Skip(_("有生效中的合同，按公海规则不退回"))
    reason = render(ctx.params.get("reason") or "", ctx) or _("自动化规则“%(rule)s”") % {"rule": ctx.rule.name}
    pool_release(acting_user=ctx.actor, customer_id=customer.pk, reason=reason, pool_id=pool.pk, now=ctx.now)
    return _("退回公海“%(pool)s”") % {"pool": pool.name}


register(ActionType(
    "move_to_pool", gettext_lazy("退回公海"), frozenset({"customer"}),
    (Param("reason", gettext_lazy("退回原因")), Param("pool", gettext_lazy("公海 ID（空：负责人所在公海）"), "int")),
    run_move_to_pool))


# Notify ---------------------------------------------------------------------------------------------

NOTIFY_TO = ASSIGNEES


def run_notify(ctx: ActionContext) -> str:
    from kehu.notifications.services import notify

    user = _assignee(ctx, ctx.params.get("to") or "owner")
    if user is None:
        raise Skip(_("没有可通知的人"))
    title = render(ctx.params["title"], ctx)[:200]
    notify(user=user, title=title, body=render(ctx.params.get("body") or "", ctx),
           url=record_url(ctx.object_type, ctx.record_id) if ctx.record is not None else "", kind="automation",
           customer_id=ctx.customer_id, key=ctx.key, email=bool(ctx.params.get("email") == "yes"))
    return _("已通知 %(user)s") % {"user": user}


register(ActionType(
    "notify", gettext_lazy("发送通知"), frozenset({"customer", "lead", "opportunity"}),
    (Param("to", gettext_lazy("通知谁"), "select", NOTIFY_TO), Param("user", gettext_lazy("指定用户"), "user"),
     Param("title", gettext_lazy("标题"), required=True), Param("body", gettext_lazy("内容"), "textarea"),
     Param("email", gettext_lazy("同时发邮件"), "select", (("no", gettext_lazy("否")), ("yes", gettext_lazy("是"))))),
    run_notify, _validate_assignee))


# Webhook --------------------------------------------------------------------------------------------


def _validate_webhook(params: dict[str, Any], object_type: str) -> None:
    from urllib.parse import urlsplit

    if urlsplit(params["url"]).scheme.lower() not in ("http", "https"):
        raise _error("url", _("只支持 http/https 地址"))


def webhook_payload(ctx: ActionContext) -> dict[str, Any]:
    record = None
    if ctx.record is not None:
        record = {"id": ctx.record.pk, "label": str(ctx.record), "owner_id": getattr(ctx.record, "owner_id", None),
                  "updated_at": getattr(ctx.record, "updated_at", None)}
    return {"rule": {"id": ctx.rule.pk, "name": ctx.rule.name}, "object_type": ctx.object_type,
            "record_id": ctx.record_id, "customer_id": ctx.customer_id, "record": record,
            "event": dict(ctx.event), "delivery": ctx.key, "at": ctx.now.isoformat()}


def run_webhook(ctx: ActionContext) -> str:
    from kehu.automation import webhooks

    try:
        status = webhooks.post_json(ctx.params["url"], webhook_payload(ctx), secret=ctx.rule.webhook_secret,
                                    delivery=ctx.key, event=str(ctx.event.get("name") or ctx.rule.trigger))
    except webhooks.WebhookRefused as exc:
        raise Refused(str(exc)) from exc
    return f"HTTP {status}"


register(ActionType(
    "webhook", gettext_lazy("调用 Webhook"), frozenset({"customer", "lead", "opportunity"}),
    (Param("url", gettext_lazy("地址（POST JSON，带 HMAC 签名）"), required=True),), run_webhook, _validate_webhook))
