"""Writes of follow-ups, tasks and calendar feeds. Every path (web form, quick entry, API, demo
data, the automation engine) calls these, so validation, scoping, audit, the customer's
"last contacted" and the domain events are handled once.

Permissions: a follow-up is logged on a customer the acting user can see (`restrict()`); it is
edited or deleted by its author, or by an admin or manager whose scope covers the customer. A task
is created by anyone for anyone (with the related records visible to the creator); it is edited by
its assignee, its creator, or an admin or manager whose scope covers the assignee. `acting_user=None`
is the system (the automation engine, imports): no scope check.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import User, hash_token
from kehu.core import audit
from kehu.core.errors import ErrorCode, FieldError, NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.events import DomainEvent, publish
from kehu.core.scoping import restrict
from kehu.customers.models import Contact, Customer

from .models import CalendarFeed, FollowUp, FollowUpContact, FollowUpKind, Task, TaskPriority, TaskStatus

logger = logging.getLogger("kehu.activities")

# Logging a follow-up "now" from a phone whose clock is a little ahead must not fail.
FUTURE_SLACK = dt.timedelta(minutes=10)
FOLLOWUP_FIELDS = ("kind", "content", "outcome", "occurred_at", "contact_ids", "opportunity_id", "next_step",
                   "next_followup_at", "check_in", "owner_id")
TASK_FIELDS = ("title", "description", "assignee", "assignee_id", "due_at", "priority", "customer_id",
               "opportunity_id", "contract_id")


def _fail(field: str, code: ErrorCode, message: str) -> ValidationFailed:
    return ValidationFailed([FieldError(field=field, code=code, message=message)])


def _text(value: Any, max_length: int) -> str:
    return ("" if value is None else str(value)).replace("\x00", "").strip()[:max_length]


def parse_datetime(value: Any, field: str, errors: list[FieldError]) -> dt.datetime | None:
    """A datetime, an ISO string ("2026-11-28T14:30", "2026-11-28 14:30", "2026-11-28") or empty;
    naive times are in the site's time zone."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time(9, 0))
    else:
        text = str(value).strip().replace("/", "-")
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            errors.append(FieldError(field, ErrorCode.INVALID,
                                     _("时间格式不正确（应为 YYYY-MM-DD HH:MM）：%(value)s") % {"value": value}))
            return None
        if len(text) == 10:  # a date alone: 09:00 that day
            moment = moment.replace(hour=9)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _int_or_none(value: Any, field: str, errors: list[FieldError]) -> int | None:
    if value in (None, "", 0, "0"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        errors.append(FieldError(field, ErrorCode.INVALID, _("编号不正确：%(value)s") % {"value": value}))
        return None


def _can_manage(user: Any, owner_id: int | None) -> bool:
    """The author/assignee, an admin, or a manager (department or all scope) of the record."""
    if user is None:
        return True
    return owner_id == user.pk or user.is_kehu_admin or user.data_scope != "own"


def _visible_customer(user: Any, customer_id: int) -> Customer:
    rows = Customer.objects.all() if user is None else restrict(Customer.objects.all(), user)
    customer = rows.filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("客户不存在或无权查看"))
    return customer


def _touch_customer(customer_id: int, at: dt.datetime) -> None:
    """The customer was contacted at `at`: last_activity_at moves forward (never back), like a note."""
    now = timezone.now()
    Customer.objects.filter(pk=customer_id).update(
        updated_at=now, last_activity_at=Greatest(Coalesce(F("last_activity_at"), at), at))


# Follow-up kinds (admin data) ------------------------------------------------------------------


def _require_admin(user: Any) -> None:
    from kehu.accounts.permissions import has_operation

    if user is not None and not has_operation(user, "settings.manage"):
        raise PermissionDenied(_("只有管理员可以修改跟进方式"))


@transaction.atomic
def followup_kind_save(*, acting_user: Any, code: str, name_zh: str, name_en: str = "", icon: str = "",
                       position: int | None = None, allows_check_in: bool = False, is_active: bool = True,
                       kind_id: int | None = None) -> FollowUpKind:
    """Create (kind_id None) or edit an admin-defined follow-up kind."""
    _require_admin(acting_user)
    kind = FollowUpKind() if kind_id is None else FollowUpKind.objects.filter(pk=kind_id).first()
    if kind is None:
        raise NotFound(_("跟进方式不存在"))
    code = _text(code, 30).lower()
    errors: list[FieldError] = []
    if not code or not code.replace("-", "").replace("_", "").isalnum() or not code.isascii():
        errors.append(FieldError("code", ErrorCode.INVALID, _("代码只能用英文字母、数字、- 和 _")))
    elif FollowUpKind.objects.filter(code=code).exclude(pk=kind.pk).exists():
        errors.append(FieldError("code", ErrorCode.UNIQUE, _("代码已存在：%(code)s") % {"code": code}))
    if not _text(name_zh, 50):
        errors.append(FieldError("name_zh", ErrorCode.REQUIRED, _("中文名不能为空")))
    if errors:
        raise ValidationFailed(errors)
    kind.code, kind.name_zh, kind.name_en, kind.icon = code, _text(name_zh, 50), _text(name_en, 50), _text(icon, 10)
    if position is not None:
        kind.position = position
    elif kind.pk is None:
        kind.position = (FollowUpKind.objects.order_by("-position").values_list("position", flat=True).first()
                         or 0) + 10
    kind.allows_check_in, kind.is_active = bool(allows_check_in), bool(is_active)
    kind.save()
    return kind


def _resolve_kind(value: Any, errors: list[FieldError]) -> FollowUpKind | None:
    if isinstance(value, FollowUpKind):
        return value
    text = _text(value, 30)
    if not text:
        errors.append(FieldError("kind", ErrorCode.REQUIRED, _("请选择跟进方式")))
        return None
    kind = FollowUpKind.objects.filter(Q(code=text.lower()) | Q(name_zh=text) | Q(name_en__iexact=text)).first()
    if kind is None and text.isdigit():
        kind = FollowUpKind.objects.filter(pk=int(text)).first()
    if kind is None or not kind.is_active:
        errors.append(FieldError("kind", ErrorCode.UNKNOWN_CHOICE, _("未知的跟进方式：%(value)s") % {"value": text}))
        return None
    return kind


# Follow-ups -------------------------------------------------------------------------------------


def _clean_check_in(value: Any, errors: list[FieldError], now: dt.datetime) -> dict[str, Any] | None:
    """{"latitude", "longitude", "accuracy", "address", "checked_in_at"}; None or {} = no check-in."""
    if not value:
        return None
    data = dict(value)
    lat_raw, lng_raw = data.get("latitude"), data.get("longitude")
    address = _text(data.get("address"), 300)
    if lat_raw in (None, "") and lng_raw in (None, ""):
        if address:
            return {"latitude": None, "longitude": None, "accuracy_m": None, "address": address,
                    "checked_in_at": now}
        return None
    try:
        lat, lng = Decimal(str(lat_raw)).quantize(Decimal("0.000001")), Decimal(str(lng_raw)).quantize(
            Decimal("0.000001"))
    except (InvalidOperation, ValueError):
        errors.append(FieldError("check_in", ErrorCode.INVALID, _("签到坐标不正确")))
        return None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        errors.append(FieldError("check_in", ErrorCode.INVALID, _("签到坐标超出范围")))
        return None
    accuracy = data.get("accuracy")
    try:
        accuracy_m = round(float(accuracy), 1) if accuracy not in (None, "") else None
    except (TypeError, ValueError):
        accuracy_m = None
    checked = parse_datetime(data.get("checked_in_at"), "check_in", errors) or now
    return {"latitude": lat, "longitude": lng, "accuracy_m": accuracy_m, "address": address, "checked_in_at": checked}


def _clean_followup(data: Mapping[str, Any], *, customer: Customer, acting_user: Any,
                    current: FollowUp | None) -> dict[str, Any]:
    """Validated values of the given keys (all keys when creating)."""
    errors: list[FieldError] = []
    unknown = sorted(set(data) - set(FOLLOWUP_FIELDS))
    for field in unknown:
        errors.append(FieldError(field, ErrorCode.INVALID, _("未知字段：%(field)s") % {"field": field}))
    now = timezone.now()
    out: dict[str, Any] = {}
    if "kind" in data:
        out["kind"] = _resolve_kind(data["kind"], errors)
    if "content" in data:
        out["content"] = _text(data["content"], 20000)
        if not out["content"]:
            errors.append(FieldError("content", ErrorCode.REQUIRED, _("跟进内容不能为空")))
    if "outcome" in data:
        out["outcome"] = _text(data["outcome"], 300)
    if "occurred_at" in data:
        occurred = parse_datetime(data["occurred_at"], "occurred_at", errors) or now
        if occurred > now + FUTURE_SLACK:
            errors.append(FieldError("occurred_at", ErrorCode.INVALID,
                                     _("跟进时间不能晚于现在；计划中的跟进请填写“下次跟进时间”")))
        out["occurred_at"] = occurred
    if "next_step" in data:
        out["next_step"] = _text(data["next_step"], 300)
    if "next_followup_at" in data:
        out["next_followup_at"] = parse_datetime(data["next_followup_at"], "next_followup_at", errors)
    if "opportunity_id" in data:
        opportunity_id = _int_or_none(data["opportunity_id"], "opportunity_id", errors)
        out["opportunity_id"] = None
        if opportunity_id:
            from kehu.sales.models import Opportunity

            rows = Opportunity.objects.filter(pk=opportunity_id, customer_id=customer.pk)
            if acting_user is not None:
                rows = restrict(rows, acting_user)
            if not rows.exists():
                errors.append(FieldError("opportunity_id", ErrorCode.INVALID, _("商机不属于该客户或无权查看")))
            out["opportunity_id"] = opportunity_id
    if "contact_ids" in data:
        ids: list[int] = []
        for raw in data["contact_ids"] or []:
            value = _int_or_none(raw, "contact_ids", errors)
            if value and value not in ids:
                ids.append(value)
        found = set(Contact.objects.filter(pk__in=ids, customer_id=customer.pk).values_list("pk", flat=True))
        if set(ids) - found:
            errors.append(FieldError("contact_ids", ErrorCode.INVALID, _("联系人不属于该客户")))
        out["contact_ids"] = ids
    if "check_in" in data:
        out["check_in"] = _clean_check_in(data["check_in"], errors, now)
    if "owner_id" in data:
        owner_id = _int_or_none(data["owner_id"], "owner_id", errors)
        if owner_id and not User.objects.filter(pk=owner_id, is_active=True).exists():
            errors.append(FieldError("owner_id", ErrorCode.INVALID, _("跟进人不存在或已停用")))
        out["owner_id"] = owner_id
    next_at = out.get("next_followup_at", current.next_followup_at if current else None)
    if next_at is not None and "next_followup_at" in out:
        base = out.get("occurred_at") or (current.occurred_at if current else now)
        if next_at < base:
            errors.append(FieldError("next_followup_at", ErrorCode.INVALID, _("下次跟进时间不能早于本次跟进时间")))
    if errors:
        raise ValidationFailed(errors)
    return out


def _followup_snapshot(followup: FollowUp) -> dict[str, Any]:
    return {
        "kind": followup.kind.label if followup.kind_id else "",
        "content": followup.content, "outcome": followup.outcome, "occurred_at": followup.occurred_at,
        "next_step": followup.next_step, "next_followup_at": followup.next_followup_at,
        "opportunity": str(followup.opportunity) if followup.opportunity_id else "",
        "contacts": sorted(c.name for c in followup.contacts.all()),
        "address": followup.address,
    }


SNAPSHOT_FIELDS = ("kind", "content", "outcome", "occurred_at", "next_step", "next_followup_at", "opportunity",
                   "contacts", "address")


def _next_task_title(followup: FollowUp, customer: Customer) -> str:
    step = followup.next_step or _("跟进")
    return _text(_("%(step)s（%(customer)s）") % {"step": step, "customer": customer.name}, 200)


def _sync_next_task(followup: FollowUp, customer: Customer, acting_user: Any) -> Task | None:
    """The follow-up's planned next contact as an open task for its author: created, moved to the
    new time, or cancelled when the time is cleared. Done tasks are left alone."""
    task = followup.next_tasks.filter(status=TaskStatus.OPEN).order_by("id").first()
    if followup.next_followup_at is None:
        if task is not None:
            _task_set_status(task, TaskStatus.CANCELLED, acting_user)
        return None
    assignee_id = followup.owner_id or getattr(acting_user, "pk", None) or customer.owner_id
    if assignee_id is None:
        return None
    if task is None:
        return _task_insert(acting_user=acting_user, assignee_id=assignee_id,
                            title=_next_task_title(followup, customer), description=followup.next_step,
                            due_at=followup.next_followup_at,
                            priority=TaskPriority.NORMAL, customer_id=customer.pk,
                            opportunity_id=followup.opportunity_id, contract_id=None, source_key=None,
                            followup=followup)
    task.due_at = followup.next_followup_at
    task.title = _next_task_title(followup, customer)
    task.description = followup.next_step
    task.version += 1
    task.updated_at, task.updated_by = timezone.now(), acting_user if getattr(acting_user, "pk", None) else None
    task.save(update_fields=["due_at", "title", "description", "version", "updated_at", "updated_by"])
    return task


def _apply_check_in(followup: FollowUp, check_in: dict[str, Any] | None) -> None:
    if check_in is None:
        followup.latitude = followup.longitude = followup.accuracy_m = followup.checked_in_at = None
        followup.address = ""
        return
    followup.latitude, followup.longitude = check_in["latitude"], check_in["longitude"]
    followup.accuracy_m, followup.address = check_in["accuracy_m"], check_in["address"]
    followup.checked_in_at = check_in["checked_in_at"]


@transaction.atomic
def followup_create(*, acting_user: Any, customer_id: int, kind: Any, content: str, outcome: str = "",
                    occurred_at: Any = None, contact_ids: Iterable[int] = (), opportunity_id: int | None = None,
                    next_step: str = "", next_followup_at: Any = None, check_in: Mapping[str, Any] | None = None,
                    owner_id: int | None = None) -> FollowUp:
    """Log a follow-up on a customer the acting user can see. `kind` is a code ("call"), a name
    or a FollowUpKind. A `next_followup_at` creates an open task for the author due then."""
    customer = _visible_customer(acting_user, customer_id)
    values = _clean_followup({
        "kind": kind, "content": content, "outcome": outcome, "occurred_at": occurred_at,
        "contact_ids": list(contact_ids or []), "opportunity_id": opportunity_id, "next_step": next_step,
        "next_followup_at": next_followup_at, "check_in": check_in,
        **({"owner_id": owner_id} if owner_id else {}),
    }, customer=customer, acting_user=acting_user, current=None)
    actor = acting_user if getattr(acting_user, "pk", None) else None
    followup = FollowUp(customer=customer, kind=values["kind"], content=values["content"], outcome=values["outcome"],
                        occurred_at=values["occurred_at"], opportunity_id=values["opportunity_id"],
                        next_step=values["next_step"], next_followup_at=values["next_followup_at"],
                        owner_id=values.get("owner_id") or getattr(actor, "pk", None) or customer.owner_id,
                        created_by=actor, updated_by=actor)
    _apply_check_in(followup, values["check_in"])
    followup.save()
    FollowUpContact.objects.bulk_create([FollowUpContact(followup=followup, contact_id=c)
                                         for c in values["contact_ids"]])
    task = _sync_next_task(followup, customer, acting_user)
    _touch_customer(customer.pk, followup.occurred_at)
    audit.record_event(actor=actor, action="create", obj=followup, customer_id=customer.pk)
    publish(DomainEvent(name="followup.logged", object_type="followup", object_id=followup.pk,
                        customer_id=customer.pk, actor_id=getattr(actor, "pk", None),
                        data={"kind": followup.kind.code, "opportunity_id": followup.opportunity_id,
                              "owner_id": followup.owner_id, "occurred_at": followup.occurred_at.isoformat(),
                              "next_task_id": task.pk if task else None}))
    return followup


def _followup_for_write(acting_user: Any, followup_id: int) -> FollowUp:
    rows = FollowUp.objects.select_related("customer", "kind", "opportunity")
    if acting_user is not None:
        rows = restrict(rows, acting_user, write=True)  # a read-only share may not change it
    followup = rows.select_for_update(of=("self",)).filter(pk=followup_id).first()
    if followup is None:
        raise NotFound(_("跟进记录不存在或无权查看"))
    if not _can_manage(acting_user, followup.owner_id):
        raise PermissionDenied(_("只能修改自己的跟进记录"))
    return followup


@transaction.atomic
def followup_update(*, acting_user: Any, followup_id: int, data: Mapping[str, Any],
                    version: int | None = None) -> FollowUp:
    """Change some fields (keys of FOLLOWUP_FIELDS); `version` guards against overwriting a newer save."""
    followup = _followup_for_write(acting_user, followup_id)
    if version is not None and version != followup.version:
        raise VersionConflict(_("这条跟进记录已被其他人修改，请刷新后再试"))
    before = _followup_snapshot(followup)
    values = _clean_followup(data, customer=followup.customer, acting_user=acting_user, current=followup)
    for field in ("kind", "content", "outcome", "occurred_at", "next_step", "next_followup_at", "opportunity_id",
                  "owner_id"):
        if field in values:
            setattr(followup, field, values[field])
    if "check_in" in values:
        _apply_check_in(followup, values["check_in"])
    actor = acting_user if getattr(acting_user, "pk", None) else None
    followup.version += 1
    followup.updated_at, followup.updated_by = timezone.now(), actor
    followup.save()
    if "contact_ids" in values:
        followup.contact_links.all().delete()
        FollowUpContact.objects.bulk_create([FollowUpContact(followup=followup, contact_id=c)
                                             for c in values["contact_ids"]])
    if "next_followup_at" in values or "next_step" in values:
        _sync_next_task(followup, followup.customer, acting_user)
    if "occurred_at" in values:
        _touch_customer(followup.customer_id, followup.occurred_at)
    followup = FollowUp.objects.select_related("customer", "kind", "opportunity").get(pk=followup.pk)
    changes = audit.diff_values(before, _followup_snapshot(followup), SNAPSHOT_FIELDS)
    if changes:
        audit.record_event(actor=actor, action="update", obj=followup, customer_id=followup.customer_id,
                           changes=changes)
        publish(DomainEvent(name="followup.updated", object_type="followup", object_id=followup.pk,
                            customer_id=followup.customer_id, actor_id=getattr(actor, "pk", None),
                            changes={c["field"]: (c["old"], c["new"]) for c in changes},
                            data={"kind": followup.kind.code, "opportunity_id": followup.opportunity_id}))
    return followup


@transaction.atomic
def followup_delete(*, acting_user: Any, followup_id: int) -> None:
    """Delete a follow-up; its planned (open) next task is cancelled, done tasks stay."""
    followup = _followup_for_write(acting_user, followup_id)
    actor = acting_user if getattr(acting_user, "pk", None) else None
    for task in followup.next_tasks.filter(status=TaskStatus.OPEN):
        _task_set_status(task, TaskStatus.CANCELLED, acting_user)
    audit.record_event(actor=actor, action="delete", obj=followup, customer_id=followup.customer_id,
                       changes=audit.diff_values(_followup_snapshot(followup), {}, SNAPSHOT_FIELDS))
    publish(DomainEvent(name="followup.deleted", object_type="followup", object_id=followup.pk,
                        customer_id=followup.customer_id, actor_id=getattr(actor, "pk", None),
                        data={"kind": followup.kind.code}))
    followup.delete()


# Tasks ------------------------------------------------------------------------------------------


def _clean_task_relations(acting_user: Any, customer_id: Any, opportunity_id: Any, contract_id: Any,
                          errors: list[FieldError]) -> tuple[int | None, int | None, int | None]:
    """The related customer / opportunity / contract, each visible to the acting user; a deal or a
    contract without a customer brings its own customer; they must agree."""
    from kehu.contracts.models import Contract
    from kehu.sales.models import Opportunity

    customer = _int_or_none(customer_id, "customer_id", errors)
    opportunity = _int_or_none(opportunity_id, "opportunity_id", errors)
    contract = _int_or_none(contract_id, "contract_id", errors)
    if customer:
        rows = Customer.objects.filter(pk=customer)
        if acting_user is not None:
            rows = restrict(rows, acting_user)
        if not rows.exists():
            errors.append(FieldError("customer_id", ErrorCode.NOT_FOUND, _("客户不存在或无权查看")))
    for field, model, value in (("opportunity_id", Opportunity, opportunity), ("contract_id", Contract, contract)):
        if not value:
            continue
        rows = model.objects.filter(pk=value)  # type: ignore[attr-defined]
        if acting_user is not None:
            rows = restrict(rows, acting_user)
        owner_customer = rows.values_list("customer_id", flat=True).first()
        if owner_customer is None:
            errors.append(FieldError(field, ErrorCode.NOT_FOUND, _("关联记录不存在或无权查看")))
        elif customer and owner_customer != customer:
            errors.append(FieldError(field, ErrorCode.INVALID, _("关联记录不属于该客户")))
        else:
            customer = customer or owner_customer
    return customer, opportunity, contract


def _resolve_assignee(value: Any, errors: list[FieldError]) -> User | None:
    if isinstance(value, User):
        user: User | None = value if value.is_active else None
    else:
        pk = _int_or_none(value, "assignee", errors)
        user = User.objects.filter(pk=pk, is_active=True).first() if pk else None
    if user is None:
        errors.append(FieldError("assignee", ErrorCode.REQUIRED, _("请选择有效的负责人")))
    return user


def _task_insert(*, acting_user: Any, assignee_id: int, title: str, description: str, due_at: dt.datetime | None,
                 priority: str, customer_id: int | None, opportunity_id: int | None, contract_id: int | None,
                 source_key: str | None, followup: FollowUp | None = None) -> Task:
    actor = acting_user if getattr(acting_user, "pk", None) else None
    task = Task.objects.create(title=title, description=description, assignee_id=assignee_id, due_at=due_at,
                               priority=priority, customer_id=customer_id, opportunity_id=opportunity_id,
                               contract_id=contract_id, source_key=source_key, followup=followup,
                               created_by=actor, updated_by=actor)
    audit.record_event(actor=actor, action="create", obj=task, customer_id=customer_id)
    publish(DomainEvent(name="task.created", object_type="task", object_id=task.pk, customer_id=customer_id,
                        actor_id=getattr(actor, "pk", None),
                        data={"assignee_id": assignee_id, "due_at": due_at.isoformat() if due_at else None,
                              "priority": priority, "source_key": source_key,
                              "followup_id": followup.pk if followup else None,
                              "opportunity_id": opportunity_id, "contract_id": contract_id}))
    return task


def task_create(*, acting_user: Any, assignee: Any, title: str, due_at: Any = None, priority: str = "normal",
                description: str = "", customer_id: int | None = None, opportunity_id: int | None = None,
                contract_id: int | None = None, source_key: str | None = None) -> Task:
    """Create a task (`assignee` a User or a user id). With a `source_key` that already exists the
    existing task is returned and nothing is written: the automation engine may call it again
    after a restart."""
    key = _text(source_key, 200) or None
    if key:
        existing = Task.objects.filter(source_key=key).first()
        if existing is not None:
            return existing
    try:
        return _task_create(acting_user=acting_user, assignee=assignee, title=title, due_at=due_at,
                            priority=priority, description=description, customer_id=customer_id,
                            opportunity_id=opportunity_id, contract_id=contract_id, source_key=key)
    except IntegrityError:
        if key:  # another worker created it between our check and insert
            existing = Task.objects.filter(source_key=key).first()
            if existing is not None:
                return existing
        raise


@transaction.atomic
def _task_create(*, acting_user: Any, assignee: Any, title: str, due_at: Any, priority: str, description: str,
                 customer_id: Any, opportunity_id: Any, contract_id: Any, source_key: str | None) -> Task:
    errors: list[FieldError] = []
    user = _resolve_assignee(assignee, errors)
    clean_title = _text(title, 200)
    if not clean_title:
        errors.append(FieldError("title", ErrorCode.REQUIRED, _("任务标题不能为空")))
    if priority not in TaskPriority.values:
        errors.append(FieldError("priority", ErrorCode.UNKNOWN_CHOICE,
                                 _("未知的优先级：%(value)s") % {"value": priority}))
    due = parse_datetime(due_at, "due_at", errors)
    customer, opportunity, contract = _clean_task_relations(acting_user, customer_id, opportunity_id, contract_id,
                                                            errors)
    if errors:
        raise ValidationFailed(errors)
    assert user is not None
    return _task_insert(acting_user=acting_user, assignee_id=user.pk, title=clean_title,
                        description=_text(description, 5000), due_at=due, priority=priority, customer_id=customer,
                        opportunity_id=opportunity, contract_id=contract, source_key=source_key)


def _task_for_write(acting_user: Any, task_id: int) -> Task:
    rows = Task.objects.all()
    if acting_user is not None:
        rows = rows.filter(Q(pk__in=restrict(Task.objects.all(), acting_user).values("pk"))
                           | Q(created_by=acting_user))
    task = rows.select_for_update().filter(pk=task_id).first()
    if task is None:
        raise NotFound(_("任务不存在或无权查看"))
    if acting_user is not None and not (_can_manage(acting_user, task.assignee_id)
                                        or task.created_by_id == acting_user.pk):
        raise PermissionDenied(_("只能修改自己的任务"))
    return task


TASK_SNAPSHOT = ("title", "description", "assignee", "due_at", "priority", "status", "customer", "opportunity",
                 "contract")


def _task_snapshot(task: Task) -> dict[str, Any]:
    return {"title": task.title, "description": task.description, "assignee": str(task.assignee),
            "due_at": task.due_at, "priority": task.get_priority_display(), "status": task.get_status_display(),
            "customer": str(task.customer) if task.customer_id else "",
            "opportunity": str(task.opportunity) if task.opportunity_id else "",
            "contract": str(task.contract) if task.contract_id else ""}


@transaction.atomic
def task_update(*, acting_user: Any, task_id: int, data: Mapping[str, Any], version: int | None = None) -> Task:
    """Change some fields (title, description, assignee, due_at, priority, customer_id,
    opportunity_id, contract_id); use task_complete / task_reopen / task_cancel for the status."""
    task = _task_for_write(acting_user, task_id)
    if version is not None and version != task.version:
        raise VersionConflict(_("这个任务已被其他人修改，请刷新后再试"))
    errors: list[FieldError] = []
    for field in sorted(set(data) - set(TASK_FIELDS)):
        errors.append(FieldError(field, ErrorCode.INVALID, _("未知字段：%(field)s") % {"field": field}))
    before = _task_snapshot(task)
    if "title" in data:
        task.title = _text(data["title"], 200)
        if not task.title:
            errors.append(FieldError("title", ErrorCode.REQUIRED, _("任务标题不能为空")))
    if "description" in data:
        task.description = _text(data["description"], 5000)
    if "assignee" in data or "assignee_id" in data:
        user = _resolve_assignee(data.get("assignee", data.get("assignee_id")), errors)
        if user is not None:
            task.assignee = user
    if "due_at" in data:
        task.due_at = parse_datetime(data["due_at"], "due_at", errors)
    if "priority" in data:
        if data["priority"] not in TaskPriority.values:
            errors.append(FieldError("priority", ErrorCode.UNKNOWN_CHOICE, _("未知的优先级")))
        else:
            task.priority = data["priority"]
    if {"customer_id", "opportunity_id", "contract_id"} & set(data):
        task.customer_id, task.opportunity_id, task.contract_id = _clean_task_relations(
            acting_user, data.get("customer_id", task.customer_id), data.get("opportunity_id", task.opportunity_id),
            data.get("contract_id", task.contract_id), errors)
    if errors:
        raise ValidationFailed(errors)
    actor = acting_user if getattr(acting_user, "pk", None) else None
    task.version += 1
    task.updated_at, task.updated_by = timezone.now(), actor
    task.save()
    changes = audit.diff_values(before, _task_snapshot(task), TASK_SNAPSHOT)
    if changes:
        audit.record_event(actor=actor, action="update", obj=task, customer_id=task.customer_id, changes=changes)
        publish(DomainEvent(name="task.updated", object_type="task", object_id=task.pk, customer_id=task.customer_id,
                            actor_id=getattr(actor, "pk", None),
                            changes={c["field"]: (c["old"], c["new"]) for c in changes},
                            data={"assignee_id": task.assignee_id}))
    return task


def _task_set_status(task: Task, status: str, acting_user: Any) -> Task:
    actor = acting_user if getattr(acting_user, "pk", None) else None
    before = task.get_status_display()
    task.status = status
    task.completed_at = timezone.now() if status == TaskStatus.DONE else None
    task.version += 1
    task.updated_at, task.updated_by = timezone.now(), actor
    task.save(update_fields=["status", "completed_at", "version", "updated_at", "updated_by"])
    audit.record_event(actor=actor, action="update", obj=task, customer_id=task.customer_id,
                       changes=[{"field": "status", "old": before, "new": task.get_status_display()}])
    name = {TaskStatus.DONE: "task.completed", TaskStatus.OPEN: "task.reopened",
            TaskStatus.CANCELLED: "task.cancelled"}[TaskStatus(status)]
    publish(DomainEvent(name=name, object_type="task", object_id=task.pk, customer_id=task.customer_id,
                        actor_id=getattr(actor, "pk", None),
                        data={"assignee_id": task.assignee_id, "followup_id": task.followup_id,
                              "source_key": task.source_key}))
    return task


@transaction.atomic
def task_complete(*, acting_user: Any, task_id: int) -> Task:
    task = _task_for_write(acting_user, task_id)
    if task.status == TaskStatus.DONE:
        return task
    return _task_set_status(task, TaskStatus.DONE, acting_user)


@transaction.atomic
def task_reopen(*, acting_user: Any, task_id: int) -> Task:
    task = _task_for_write(acting_user, task_id)
    if task.status == TaskStatus.OPEN:
        return task
    return _task_set_status(task, TaskStatus.OPEN, acting_user)


@transaction.atomic
def task_cancel(*, acting_user: Any, task_id: int) -> Task:
    task = _task_for_write(acting_user, task_id)
    if task.status == TaskStatus.CANCELLED:
        return task
    return _task_set_status(task, TaskStatus.CANCELLED, acting_user)


# Reminders --------------------------------------------------------------------------------------


def task_reminders_send(*, now: dt.datetime | None = None) -> int:
    """Remind each assignee of their tasks due within 15 minutes or overdue and not yet reminded for
    this due time (in-app notification + e-mail through kehu.notifications). Returns how many were
    sent. Each task is marked in its own transaction after its notification, so a crash sends at
    most the one in flight again (and notify's key makes that a no-op)."""
    from django.urls import reverse

    from . import selectors

    try:
        from kehu.notifications.services import notify
    except ImportError:  # the notifications app is not there: keep the reminders for later
        logger.warning("kehu.notifications.services.notify is missing; task reminders not sent")
        return 0
    sent = 0
    for task in selectors.tasks_to_remind(now=now):
        assert task.due_at is not None
        due = timezone.localtime(task.due_at)
        overdue = task.due_at < (now or timezone.now())
        title = (_("任务已逾期：%(title)s") if overdue else _("任务即将到期：%(title)s")) % {"title": task.title}
        body = _("截止时间 %(due)s") % {"due": due.strftime("%Y-%m-%d %H:%M")}
        if task.customer_id:
            body += " · " + _("客户：%(name)s") % {"name": task.customer.name}
        with transaction.atomic():
            locked = Task.objects.select_for_update().filter(pk=task.pk, status=TaskStatus.OPEN,
                                                             due_at=task.due_at).first()
            if locked is None or locked.reminded_due_at == locked.due_at:
                continue
            notify(user=task.assignee, title=title, body=body, url=reverse("activities:task_edit", args=[task.pk]),
                   kind="task_due", customer_id=task.customer_id,
                   key=f"task-due:{task.pk}:{task.due_at.isoformat()}", email=True)
            Task.objects.filter(pk=task.pk).update(reminded_due_at=task.due_at)
        sent += 1
    return sent


# Calendar feed ----------------------------------------------------------------------------------


@transaction.atomic
def calendar_feed_regenerate(*, acting_user: User) -> str:
    """A new secret token for the user's iCalendar URL (the old URL stops working). Only its hash
    is stored: the caller shows the URL once."""
    raw = secrets.token_urlsafe(32)
    CalendarFeed.objects.update_or_create(user=acting_user, defaults={"token_hash": hash_token(raw),
                                                                      "created_at": timezone.now(),
                                                                      "last_used_at": None})
    return raw


@transaction.atomic
def calendar_feed_revoke(*, acting_user: User) -> bool:
    deleted, _rows = CalendarFeed.objects.filter(user=acting_user).delete()
    return bool(deleted)


def calendar_feed_touch(feed: CalendarFeed) -> None:
    CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=timezone.now())
