"""Writes of the sales app: opportunities (create, edit, move between stages, delete), their
products and contacts; pipelines, stages, lost reasons and products as settings.

Every write is one transaction, checks the acting user's scope on the server, is audited on the
customer's timeline and keeps the running totals (`rollups.py`) in step. A stage move records a
`StageChange` with the time spent in the previous stage, enforces the target stage's required
fields, and asks for a lost reason when the deal is lost.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import F, Max, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.core import audit
from kehu.core.errors import ErrorCode, FieldError, NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.events import DomainEvent, publish
from kehu.core.scoping import restrict
from kehu.customers.models import Contact, Customer
from kehu.customers.validation import Collector, clean_date, clean_text
from kehu.recyclebin.services import move_to_bin
from kehu.sales import lifecycle, rollups
from kehu.sales.models import (
    LostReason,
    Opportunity,
    OpportunityContact,
    OpportunityLine,
    Pipeline,
    Product,
    Stage,
    StageChange,
    StageKind,
)

OPPORTUNITY_FIELDS = ["name", "customer", "owner", "pipeline", "stage", "amount", "currency", "expected_close_date",
                      "next_step", "description", "lost_reason", "lost_note", "external_id"]
# What a stage may require before a deal enters it (Stage.required_fields).
REQUIRABLE_FIELDS = ("amount", "expected_close_date", "next_step", "description", "contacts", "lines")
MAX_AMOUNT = Decimal("999999999999.99")
_AMOUNT_TEXT = re.compile(r"^[¥￥$]?\s*([0-9][0-9,，]*(?:\.[0-9]+)?)\s*(万|w|W|k|K)?\s*(元)?$")


# Cleaning ------------------------------------------------------------------------------------------


def clean_amount(value: Any, field: str, errors: Collector) -> Decimal | None:
    """A money amount from a number or text as people type it: 12,800 / ¥12800.50 / 1.28万 / 12k."""
    if value in (None, ""):
        return None
    if isinstance(value, Decimal | int | float):
        amount = Decimal(str(value))
    else:
        match = _AMOUNT_TEXT.match(str(value).strip())
        if match is None:
            errors.add(field, ErrorCode.INVALID, _("金额格式不正确：%(value)s") % {"value": value})
            return None
        try:
            amount = Decimal(match.group(1).replace(",", "").replace("，", ""))
        except InvalidOperation:
            errors.add(field, ErrorCode.INVALID, _("金额格式不正确：%(value)s") % {"value": value})
            return None
        unit = (match.group(2) or "").lower()
        amount *= {"万": Decimal(10000), "w": Decimal(10000), "k": Decimal(1000)}.get(unit, Decimal(1))
    if amount < 0 or amount > MAX_AMOUNT:
        errors.add(field, ErrorCode.INVALID, _("金额必须在 0 到 %(max)s 之间") % {"max": MAX_AMOUNT})
        return None
    return amount.quantize(Decimal("0.01"))


def _clean_quantity(value: Any, field: str, errors: Collector) -> Decimal | None:
    try:
        quantity = Decimal(str(value if value not in (None, "") else 1))
    except InvalidOperation:
        errors.add(field, ErrorCode.INVALID, _("数量格式不正确：%(value)s") % {"value": value})
        return None
    if quantity <= 0 or quantity > Decimal("9999999999"):
        errors.add(field, ErrorCode.INVALID, _("数量必须大于 0"))
        return None
    return quantity.quantize(Decimal("0.01"))


def _by_id(model: Any, value: Any, field: str, errors: Collector, message: str) -> Any:
    if value in (None, ""):
        return None
    if isinstance(value, model):
        return value
    try:
        found = model.objects.filter(pk=int(value)).first()
    except (TypeError, ValueError):
        found = None
    if found is None:
        errors.add(field, ErrorCode.NOT_FOUND, message)
    return found


# Pipelines ---------------------------------------------------------------------------------------


def default_pipeline() -> Pipeline:
    pipeline = Pipeline.objects.filter(is_active=True).order_by("-is_default", "position", "id").first()
    if pipeline is None:
        raise ValidationFailed([FieldError("pipeline", ErrorCode.REQUIRED, _("还没有启用的销售流程，请管理员先设置"))])
    return pipeline


def first_open_stage(pipeline: Pipeline) -> Stage:
    stage = pipeline.stages.filter(is_active=True, kind=StageKind.OPEN).order_by("position", "id").first()
    if stage is None:
        raise ValidationFailed([FieldError("stage", ErrorCode.REQUIRED,
                                           _("销售流程“%(name)s”没有进行中的阶段") % {"name": pipeline.label})])
    return stage


# Opportunities -----------------------------------------------------------------------------------


def _owner_allowed(acting_user: Any, owner: User | None) -> bool:
    """Reps keep deals to themselves; managers assign within their department; admins to anyone."""
    from kehu.accounts.permissions import may_assign_to

    return may_assign_to(acting_user, owner, "opportunity")


def _shown(opportunity: Opportunity) -> dict[str, Any]:
    return {name: audit.audit_value(getattr(opportunity, name)) for name in OPPORTUNITY_FIELDS}


def _contribution(opportunity: Opportunity, stage: Stage) -> rollups.Contribution:
    return rollups.Contribution.of(opportunity, stage)


def _missing_required(stage: Stage, opportunity: Opportunity, *, contacts: int, lines: int) -> list[FieldError]:
    present = {
        "amount": bool(opportunity.amount), "expected_close_date": opportunity.expected_close_date is not None,
        "next_step": bool(opportunity.next_step), "description": bool(opportunity.description),
        "contacts": contacts > 0, "lines": lines > 0,
    }
    labels = {"amount": _("金额"), "expected_close_date": _("预计成交日期"), "next_step": _("下一步"),
              "description": _("说明"), "contacts": _("联系人"), "lines": _("产品")}
    return [FieldError(name, ErrorCode.REQUIRED,
                       _("进入阶段“%(stage)s”前必须填写%(field)s") % {"stage": stage.label, "field": labels[name]})
            for name in stage.required_fields if name in present and not present[name]]


def _apply(opportunity: Opportunity, data: Mapping[str, Any], errors: Collector, *, acting_user: Any,
           creating: bool) -> tuple[list[Contact] | None, list[dict[str, Any]] | None]:
    """Clean `data` onto the opportunity (only the keys present when editing); returns the contacts
    and lines to set, None when `data` leaves them alone."""
    if creating or "name" in data:
        opportunity.name = clean_text(data.get("name"), max_length=200)
        if not opportunity.name:
            errors.add("name", ErrorCode.REQUIRED, _("商机名称不能为空"))
    if creating or "customer" in data:
        customer = _by_id(Customer, data.get("customer"), "customer", errors, _("客户不存在或无权查看"))
        if customer is not None and not restrict(Customer.objects.filter(pk=customer.pk), acting_user).exists():
            errors.add("customer", ErrorCode.NOT_FOUND, _("客户不存在或无权查看"))
            customer = None
        if customer is None and creating and not any(e.field == "customer" for e in errors.errors):
            errors.add("customer", ErrorCode.REQUIRED, _("请选择客户"))
        if customer is not None:
            opportunity.customer = customer
    if creating or "owner" in data:
        owner = _by_id(User, data.get("owner"), "owner", errors, _("负责人不存在")) if data.get("owner") not in (
            None, "") else (acting_user if creating else None)
        if owner is None and not creating and data.get("owner") in (None, ""):
            # A deal always has an owner: without one it would fall out of everyone's own scope.
            errors.add("owner", ErrorCode.REQUIRED, _("请选择负责人"))
        elif owner is not None and not owner.is_active:
            errors.add("owner", ErrorCode.INVALID, _("负责人已停用"))
        elif owner is not None and not _owner_allowed(acting_user, owner):
            errors.add("owner", ErrorCode.PERMISSION_DENIED, _("无权把商机分配给 %(name)s") % {"name": owner})
        else:
            opportunity.owner = owner
            opportunity.department_id = owner.department_id if owner is not None else None
    for name in ("amount",):
        if creating or name in data:
            amount = clean_amount(data.get(name), name, errors)
            opportunity.amount = amount if amount is not None else Decimal("0")
    if creating or "currency" in data:
        currency = clean_text(data.get("currency") or "CNY", max_length=10).upper()  # not 3: "JAVASCRIPT" is no "JAV"
        if not re.fullmatch(r"[A-Z]{3}", currency):
            errors.add("currency", ErrorCode.INVALID, _("币种应为三位字母代码，如 CNY"))
        opportunity.currency = currency
    if creating or "expected_close_date" in data:
        opportunity.expected_close_date = clean_date(data.get("expected_close_date"), "expected_close_date", errors)
    for name, length in (("next_step", 300), ("description", 20000), ("lost_note", 300), ("external_id", 100)):
        if creating or name in data:
            setattr(opportunity, name, clean_text(data.get(name), max_length=length))
    if "custom" in data and isinstance(data.get("custom"), Mapping):
        opportunity.custom = {str(k)[:50]: clean_text(v, max_length=500) for k, v in data["custom"].items()}

    contacts: list[Contact] | None = None
    if "contacts" in data:
        ids = [int(v) for v in (data.get("contacts") or []) if str(v).strip().isdigit()]
        contacts = list(Contact.objects.filter(pk__in=ids, customer_id=opportunity.customer_id))
        if len(contacts) != len(set(ids)):
            errors.add("contacts", ErrorCode.INVALID, _("联系人必须属于这个客户"))
    lines: list[dict[str, Any]] | None = None
    if "lines" in data:
        lines = []
        for i, raw in enumerate(data.get("lines") or []):
            field = f"lines.{i}"
            product = _by_id(Product, raw.get("product"), f"{field}.product", errors, _("产品不存在"))
            if product is None:
                if raw.get("product") in (None, ""):
                    errors.add(f"{field}.product", ErrorCode.REQUIRED, _("请选择产品"))
                continue
            quantity = _clean_quantity(raw.get("quantity"), f"{field}.quantity", errors)
            price = clean_amount(raw.get("unit_price"), f"{field}.unit_price", errors)
            discount = clean_amount(raw.get("discount_percent") or 0, f"{field}.discount_percent", errors)
            if discount is not None and discount > 100:
                errors.add(f"{field}.discount_percent", ErrorCode.INVALID, _("折扣必须在 0 到 100 之间"))
            lines.append({"product": product, "quantity": quantity or Decimal("1"),
                          "unit_price": price if price is not None else product.list_price,
                          "discount_percent": discount or Decimal("0")})
        if lines and "amount" not in data or (lines and data.get("amount") in (None, "")):
            opportunity.amount = sum((_line_total(line) for line in lines), Decimal("0"))
    return contacts, lines


def _line_total(line: Mapping[str, Any]) -> Decimal:
    gross = line["quantity"] * line["unit_price"]
    return (gross * (Decimal("100") - line["discount_percent"]) / Decimal("100")).quantize(Decimal("0.01"))


def _set_contacts(opportunity: Opportunity, contacts: Sequence[Contact]) -> None:
    OpportunityContact.objects.filter(opportunity=opportunity).exclude(
        contact_id__in=[c.pk for c in contacts]).delete()
    have = set(OpportunityContact.objects.filter(opportunity=opportunity).values_list("contact_id", flat=True))
    OpportunityContact.objects.bulk_create([OpportunityContact(opportunity=opportunity, contact=c)
                                            for c in contacts if c.pk not in have])


def _set_lines(opportunity: Opportunity, lines: Sequence[Mapping[str, Any]]) -> None:
    OpportunityLine.objects.filter(opportunity=opportunity).delete()
    OpportunityLine.objects.bulk_create([OpportunityLine(opportunity=opportunity, position=i, **line)
                                         for i, line in enumerate(lines)])


def _top_position(stage_id: int) -> float:
    lowest = Opportunity.objects.filter(stage_id=stage_id).aggregate(low=Min("position"))["low"]
    return (lowest - 1.0) if lowest is not None else 0.0


def _reach_stages(opportunity: Opportunity, stage: Stage) -> list[Stage]:
    """The stages a deal passes on its way to `stage` that it had not reached yet (the funnel)."""
    if stage.kind == StageKind.LOST or stage.position <= opportunity.reached_position:
        return []
    return [s for s in Stage.objects.filter(pipeline_id=stage.pipeline_id).order_by("position")
            if opportunity.reached_position < s.position <= stage.position and s.kind != StageKind.LOST]


def _check_lost(stage: Stage, opportunity: Opportunity, lost_reason: Any, errors: Collector) -> None:
    if stage.kind != StageKind.LOST:
        opportunity.lost_reason = None
        opportunity.lost_note = ""
        return
    reason = _by_id(LostReason, lost_reason, "lost_reason", errors, _("输单原因不存在")) if lost_reason not in (
        None, "") else opportunity.lost_reason
    if reason is None and not any(e.field == "lost_reason" for e in errors.errors):
        errors.add("lost_reason", ErrorCode.REQUIRED, _("输单时必须选择输单原因"))
    opportunity.lost_reason = reason


@transaction.atomic
def opportunity_create(*, acting_user: Any, data: Mapping[str, Any]) -> Opportunity:
    """A new opportunity in its pipeline's first open stage unless `data` names a stage."""
    errors = Collector()
    opportunity = Opportunity(created_by=acting_user, updated_by=acting_user)
    pipeline = _by_id(Pipeline, data.get("pipeline"), "pipeline", errors, _("销售流程不存在")) \
        if data.get("pipeline") not in (None, "") else default_pipeline()
    stage = None
    if pipeline is not None:
        opportunity.pipeline = pipeline
        if data.get("stage") not in (None, ""):
            stage = _by_id(Stage, data.get("stage"), "stage", errors, _("阶段不存在"))
            if stage is not None and stage.pipeline_id != pipeline.pk:
                errors.add("stage", ErrorCode.INVALID, _("阶段不属于这个销售流程"))
                stage = None
        else:
            stage = first_open_stage(pipeline)
    contacts, lines = _apply(opportunity, data, errors, acting_user=acting_user, creating=True)
    if stage is not None:
        _check_lost(stage, opportunity, data.get("lost_reason"), errors)
        errors.errors.extend(_missing_required(stage, opportunity, contacts=len(contacts or []),
                                               lines=len(lines or [])))
    if errors.errors:
        raise ValidationFailed(errors.errors)
    assert stage is not None
    now = timezone.now()
    opportunity.stage = stage
    opportunity.created_at = opportunity.updated_at = opportunity.stage_entered_at = now
    opportunity.closed_at = now if stage.is_closed else None
    opportunity.position = _top_position(stage.pk)
    reached = _reach_stages(opportunity, stage)
    if reached:
        opportunity.reached_position = reached[-1].position
    opportunity.save()
    if contacts:
        _set_contacts(opportunity, contacts)
    if lines:
        _set_lines(opportunity, lines)
    StageChange.objects.create(opportunity=opportunity, from_stage=None, to_stage=stage, changed_at=now,
                               changed_by=acting_user, amount=opportunity.amount)
    rollups.rollups_change(None, (_contribution(opportunity, stage),
                                  rollups.reach_rows(opportunity, reached, 1)))
    audit.record_event(actor=acting_user, action="create", obj=opportunity, customer_id=opportunity.customer_id,
                       changes=audit.diff_values({}, _shown(opportunity), OPPORTUNITY_FIELDS))
    lifecycle.on_opportunity_created(opportunity, acting_user)
    if stage.kind == StageKind.WON:
        _won(opportunity, acting_user)
    publish(DomainEvent(name="opportunity.created", object_type="opportunity", object_id=opportunity.pk,
                        customer_id=opportunity.customer_id, actor_id=getattr(acting_user, "pk", None),
                        data={"to_stage": stage.pk, "to_kind": stage.kind}))
    return opportunity


def _won(opportunity: Opportunity, acting_user: Any) -> None:
    """A deal won: the customer's lifecycle moves on (its first won deal: customer; later: repeat)."""
    won = Opportunity.objects.filter(customer_id=opportunity.customer_id, stage__kind=StageKind.WON).count()
    lifecycle.on_deal_won(opportunity.customer_id, won_count=won, actor=acting_user,
                          what=_("赢单“%(name)s”") % {"name": opportunity.name})


def _locked(acting_user: Any, opportunity_id: int, expected_version: int | None) -> Opportunity:
    opportunity = restrict(Opportunity.objects.select_for_update(of=("self",)), acting_user, write=True).filter(
        pk=opportunity_id).select_related("stage", "pipeline").first()
    if opportunity is None:
        raise NotFound(_("商机不存在或无权查看"))
    if expected_version is not None and opportunity.version != int(expected_version):
        raise VersionConflict(_("商机“%(name)s”已被他人修改（当前版本 %(current)s，你看到的是版本 %(yours)s），请刷新")
                              % {"name": opportunity.name, "current": opportunity.version, "yours": expected_version})
    return opportunity


def _save(opportunity: Opportunity, acting_user: Any) -> None:
    opportunity.version = F("version") + 1  # type: ignore[assignment]
    opportunity.updated_at = timezone.now()
    opportunity.updated_by = acting_user
    opportunity.save()
    opportunity.refresh_from_db()


@transaction.atomic
def opportunity_update(*, acting_user: Any, opportunity_id: int, data: Mapping[str, Any],
                       expected_version: int | None = None) -> Opportunity:
    """Edit the fields present in `data` (a stage in `data` moves the deal, as `opportunity_move`)."""
    opportunity = _locked(acting_user, opportunity_id, expected_version)
    if "stage" in data and str(data.get("stage") or "") not in ("", str(opportunity.stage_id)):
        moved = opportunity_move(acting_user=acting_user, opportunity_id=opportunity.pk, stage_id=data["stage"],
                                 lost_reason=data.get("lost_reason"), lost_note=data.get("lost_note"))
        opportunity = _locked(acting_user, moved.pk, None)
    data = {k: v for k, v in data.items() if k not in ("stage", "pipeline")}
    before_contribution = _contribution(opportunity, opportunity.stage)
    before_reach_key = rollups.reach_key(opportunity)
    shown_before = _shown(opportunity)
    errors = Collector()
    contacts, lines = _apply(opportunity, data, errors, acting_user=acting_user, creating=False)
    if "lost_reason" in data and opportunity.stage.kind == StageKind.LOST:
        _check_lost(opportunity.stage, opportunity, data.get("lost_reason"), errors)
    contact_count = len(contacts) if contacts is not None else opportunity.contact_links.count()
    line_count = len(lines) if lines is not None else opportunity.lines.count()
    errors.errors.extend(_missing_required(opportunity.stage, opportunity, contacts=contact_count, lines=line_count))
    if errors.errors:
        raise ValidationFailed(errors.errors)
    changes = audit.diff_values(shown_before, _shown(opportunity), OPPORTUNITY_FIELDS)
    if contacts is not None:
        _set_contacts(opportunity, contacts)
    if lines is not None:
        _set_lines(opportunity, lines)
        changes.append({"field": "lines", "old": None, "new": [f"{line['product'].name} × {line['quantity']}"
                                                               for line in lines]})
    if not changes and contacts is None:
        return opportunity
    _save(opportunity, acting_user)
    after_contribution = _contribution(opportunity, opportunity.stage)
    if rollups.reach_key(opportunity) != before_reach_key:  # the owner moved: its funnel counts move along
        passed = [s for s in Stage.objects.filter(pipeline_id=opportunity.pipeline_id)
                  if s.position <= opportunity.reached_position and s.kind != StageKind.LOST]
        owner, department, month = before_reach_key
        reach = [(opportunity.pipeline_id, s.pk, owner, department, month, -1) for s in passed]
        reach += rollups.reach_rows(opportunity, passed, 1)
    else:
        reach = []
    rollups.rollups_change((before_contribution, []), (after_contribution, reach))
    if changes:
        audit.record_event(actor=acting_user, action="update", obj=opportunity, customer_id=opportunity.customer_id,
                           changes=changes)
        publish(DomainEvent(name="opportunity.updated", object_type="opportunity", object_id=opportunity.pk,
                            customer_id=opportunity.customer_id, actor_id=getattr(acting_user, "pk", None),
                            changes={c["field"]: (c["old"], c["new"]) for c in changes}))
    return opportunity


@transaction.atomic
def opportunity_move(*, acting_user: Any, opportunity_id: int, stage_id: Any, before_id: int | None = None,
                     after_id: int | None = None, expected_version: int | None = None, lost_reason: Any = None,
                     lost_note: Any = None) -> Opportunity:
    """Move a deal to another stage of its pipeline (the kanban's drag and drop), or within its
    column: it lands between `after_id` (the card above) and `before_id` (the card below), at the
    top when neither is given."""
    opportunity = _locked(acting_user, opportunity_id, expected_version)
    errors = Collector()
    target = _by_id(Stage, stage_id, "stage", errors, _("阶段不存在"))
    if target is None and not errors.errors:  # no stage given at all (a form posted without one)
        errors.add("stage", ErrorCode.REQUIRED, _("请选择阶段"))
    if target is not None and target.pipeline_id != opportunity.pipeline_id:
        errors.add("stage", ErrorCode.INVALID, _("阶段不属于这个商机的销售流程"))
    if errors.errors:
        raise ValidationFailed(errors.errors)
    assert target is not None
    previous = opportunity.stage
    before_contribution = _contribution(opportunity, previous)
    now = timezone.now()
    if target.pk != previous.pk:
        if lost_note is not None:
            opportunity.lost_note = clean_text(lost_note, max_length=300)
        _check_lost(target, opportunity, lost_reason, errors)
        errors.errors.extend(_missing_required(target, opportunity, contacts=opportunity.contact_links.count(),
                                               lines=opportunity.lines.count()))
        if errors.errors:
            raise ValidationFailed(errors.errors)
    opportunity.position = _position_between(target.pk, before_id, after_id, exclude=opportunity.pk)
    reached: list[Stage] = []
    if target.pk != previous.pk:
        seconds = max(0, int((now - opportunity.stage_entered_at).total_seconds()))
        StageChange.objects.create(opportunity=opportunity, from_stage=previous, to_stage=target, changed_at=now,
                                   changed_by=acting_user, seconds_in_previous=seconds, amount=opportunity.amount)
        reached = _reach_stages(opportunity, target)
        if reached:
            opportunity.reached_position = reached[-1].position
        opportunity.stage = target
        opportunity.stage_entered_at = now
        opportunity.closed_at = now if target.is_closed else None
    _save(opportunity, acting_user)
    rollups.rollups_change((before_contribution, []), (_contribution(opportunity, target),
                                                       rollups.reach_rows(opportunity, reached, 1)))
    if target.pk != previous.pk and target.kind == StageKind.WON:
        _won(opportunity, acting_user)
    if target.pk != previous.pk:
        changes = [{"field": "stage", "old": previous.label, "new": target.label}]
        if target.kind == StageKind.LOST and opportunity.lost_reason is not None:
            changes.append({"field": "lost_reason", "old": None, "new": opportunity.lost_reason.label})
        audit.record_event(actor=acting_user, action="update", obj=opportunity, customer_id=opportunity.customer_id,
                           changes=changes)
        publish(DomainEvent(name="opportunity.stage_changed", object_type="opportunity", object_id=opportunity.pk,
                            customer_id=opportunity.customer_id, actor_id=getattr(acting_user, "pk", None),
                            changes={"stage": (previous.label, target.label)},
                            data={"from_stage": previous.pk, "to_stage": target.pk, "from_kind": previous.kind,
                                  "to_kind": target.kind}))
    return opportunity


def _position_between(stage_id: int, before_id: int | None, after_id: int | None, *, exclude: int) -> float:
    """A board position between the card above (`after_id`) and the card below (`before_id`)."""
    column = Opportunity.objects.filter(stage_id=stage_id).exclude(pk=exclude)
    above = column.filter(pk=after_id).values_list("position", flat=True).first() if after_id else None
    below = column.filter(pk=before_id).values_list("position", flat=True).first() if before_id else None
    if above is not None and below is not None:
        return (above + below) / 2
    if above is not None:
        following = column.filter(position__gt=above).aggregate(p=Min("position"))["p"]
        return (above + following) / 2 if following is not None else above + 1.0
    if below is not None:
        preceding = column.filter(position__lt=below).aggregate(p=Max("position"))["p"]
        return (preceding + below) / 2 if preceding is not None else below - 1.0
    return _top_position(stage_id)


@transaction.atomic
def opportunity_delete(*, acting_user: Any, opportunity_id: int) -> None:
    from kehu.accounts.permissions import require_operation

    require_operation(acting_user, "opportunity.delete")
    opportunity = _locked(acting_user, opportunity_id, None)
    passed = [s for s in Stage.objects.filter(pipeline_id=opportunity.pipeline_id)
              if s.position <= opportunity.reached_position and s.kind != StageKind.LOST]
    rollups.rollups_change((_contribution(opportunity, opportunity.stage), rollups.reach_rows(opportunity, passed, -1)),
                           None)
    audit.record_event(actor=acting_user, action="delete", obj=opportunity, customer_id=opportunity.customer_id,
                       changes=audit.diff_values(_shown(opportunity), {}, OPPORTUNITY_FIELDS))
    publish(DomainEvent(name="opportunity.deleted", object_type="opportunity", object_id=opportunity.pk,
                        customer_id=opportunity.customer_id, actor_id=getattr(acting_user, "pk", None)))
    move_to_bin(opportunity, acting_user=acting_user)


# Settings: pipelines, stages, lost reasons, products ------------------------------------------------


def _position(data: Mapping[str, Any], errors: Collector, default: int = 0) -> int:
    value = data.get("position")
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        errors.add("position", ErrorCode.INVALID, _("排序必须是整数"))
        return default


def _admin(acting_user: Any) -> None:
    from kehu.accounts.permissions import has_operation

    if not has_operation(acting_user, "settings.manage"):
        raise PermissionDenied(_("只有管理员可以修改销售设置"))


@transaction.atomic
def pipeline_save(*, acting_user: Any, data: Mapping[str, Any], pipeline_id: int | None = None) -> Pipeline:
    _admin(acting_user)
    pipeline = Pipeline.objects.select_for_update().filter(pk=pipeline_id).first() if pipeline_id else Pipeline()
    if pipeline is None:
        raise NotFound(_("销售流程不存在"))
    errors = Collector()
    pipeline.name_zh = clean_text(data.get("name_zh"), max_length=100)
    pipeline.name_en = clean_text(data.get("name_en"), max_length=100)
    if not pipeline.name_zh:
        errors.add("name_zh", ErrorCode.REQUIRED, _("请填写中文名"))
    pipeline.position = _position(data, errors)
    pipeline.is_active = bool(data.get("is_active", True))
    pipeline.is_default = bool(data.get("is_default", False))
    if errors.errors:
        raise ValidationFailed(errors.errors)
    pipeline.save()
    if pipeline.is_default:
        Pipeline.objects.exclude(pk=pipeline.pk).update(is_default=False)
    return pipeline


@transaction.atomic
def stage_save(*, acting_user: Any, pipeline_id: int, data: Mapping[str, Any], stage_id: int | None = None) -> Stage:
    """Add or edit a stage. Its probability may change freely (the weighted forecast reads it live);
    its kind only while no deal is in it."""
    _admin(acting_user)
    pipeline = Pipeline.objects.filter(pk=pipeline_id).first()
    if pipeline is None:
        raise NotFound(_("销售流程不存在"))
    stage = Stage.objects.select_for_update().filter(pk=stage_id, pipeline=pipeline).first() if stage_id \
        else Stage(pipeline=pipeline)
    if stage is None:
        raise NotFound(_("阶段不存在"))
    errors = Collector()
    stage.name_zh = clean_text(data.get("name_zh"), max_length=100)
    stage.name_en = clean_text(data.get("name_en"), max_length=100)
    if not stage.name_zh:
        errors.add("name_zh", ErrorCode.REQUIRED, _("请填写中文名"))
    try:
        probability = int(data.get("probability") or 0)
    except (TypeError, ValueError):
        probability = -1
    if not 0 <= probability <= 100:
        errors.add("probability", ErrorCode.INVALID, _("赢单概率必须在 0 到 100 之间"))
    kind = str(data.get("kind") or StageKind.OPEN)
    if kind not in StageKind.values:
        errors.add("kind", ErrorCode.UNKNOWN_CHOICE, _("未知的阶段类型：%(v)s") % {"v": kind})
    elif stage.pk and kind != stage.kind and stage.opportunities.exists():
        errors.add("kind", ErrorCode.INVALID, _("阶段里还有商机，不能改变它的类型"))
    required = [str(f) for f in (data.get("required_fields") or [])]
    unknown = [f for f in required if f not in REQUIRABLE_FIELDS]
    if unknown:
        errors.add("required_fields", ErrorCode.UNKNOWN_CHOICE, _("未知字段：%(v)s") % {"v": "、".join(unknown)})
    if errors.errors:
        raise ValidationFailed(errors.errors)
    stage.probability = probability
    stage.kind = kind
    stage.required_fields = required
    stage.color = clean_text(data.get("color"), max_length=20)
    stage.is_active = bool(data.get("is_active", True))
    if "position" in data:
        stage.position = _position(data, errors, stage.position)
    elif not stage.pk:
        stage.position = (pipeline.stages.aggregate(p=Max("position"))["p"] or 0) + 1
    if errors.errors:
        raise ValidationFailed(errors.errors)
    stage.save()
    return stage


@transaction.atomic
def lost_reason_save(*, acting_user: Any, data: Mapping[str, Any], reason_id: int | None = None) -> LostReason:
    _admin(acting_user)
    reason = LostReason.objects.filter(pk=reason_id).first() if reason_id else LostReason()
    if reason is None:
        raise NotFound(_("输单原因不存在"))
    reason.label_zh = clean_text(data.get("label_zh"), max_length=100)
    reason.label_en = clean_text(data.get("label_en"), max_length=100)
    errors = Collector()
    if not reason.label_zh:
        errors.add("label_zh", ErrorCode.REQUIRED, _("请填写中文名"))
    reason.position = _position(data, errors)
    if errors.errors:
        raise ValidationFailed(errors.errors)
    reason.is_active = bool(data.get("is_active", True))
    reason.save()
    return reason


@transaction.atomic
def product_save(*, acting_user: Any, data: Mapping[str, Any], product_id: int | None = None) -> Product:
    from kehu.accounts.permissions import require_operation

    require_operation(acting_user, "product.edit" if product_id else "product.create")
    product = Product.objects.select_for_update().filter(pk=product_id).first() if product_id else Product(
        created_by=acting_user)
    if product is None:
        raise NotFound(_("产品不存在"))
    errors = Collector()
    product.code = clean_text(data.get("code"), max_length=50)
    product.name = clean_text(data.get("name"), max_length=200)
    if not product.code:
        errors.add("code", ErrorCode.REQUIRED, _("请填写产品编号"))
    elif Product.objects.filter(code=product.code).exclude(pk=product.pk).exists():
        errors.add("code", ErrorCode.UNIQUE, _("产品编号已存在：%(code)s") % {"code": product.code})
    if not product.name:
        errors.add("name", ErrorCode.REQUIRED, _("请填写产品名称"))
    price = clean_amount(data.get("list_price"), "list_price", errors)
    product.list_price = price if price is not None else Decimal("0")
    product.unit = clean_text(data.get("unit"), max_length=20)
    product.description = clean_text(data.get("description"), max_length=5000)
    product.is_active = bool(data.get("is_active", True))
    if data.get("category") not in (None, ""):
        from kehu.sales.models import ProductCategory

        product.category = _by_id(ProductCategory, data.get("category"), "category", errors, _("产品分类不存在"))
    if errors.errors:
        raise ValidationFailed(errors.errors)
    product.updated_by = acting_user
    product.updated_at = timezone.now()
    if product.pk:
        product.version = F("version") + 1  # type: ignore[assignment]
    product.save()
    product.refresh_from_db()
    return product


def closes_this_month(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The first and last day of the current month (forecast and overdue filters)."""
    today = today or timezone.localdate()
    first = today.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following - dt.timedelta(days=1)
