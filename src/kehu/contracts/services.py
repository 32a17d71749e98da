"""Writes of the contracts app: the number rule, contracts (create, edit, status, delete, from a won
opportunity), payment plans, payments with their allocations, and attachments.

Every write is one transaction, loads the contract through `restrict()` (a contract outside the
user's scope is `NotFound`), validates all fields at once, and is audited on the customer's
timeline. Payments keep `Contract.received_amount` and `PaymentPlanItem.paid_amount` in step with
the allocations in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.core import audit
from kehu.core.errors import ErrorCode, FieldError, NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.events import DomainEvent, publish
from kehu.core.scoping import restrict
from kehu.customers.models import Customer
from kehu.customers.validation import Collector, clean_date, clean_text
from kehu.recyclebin.services import move_to_bin
from kehu.sales.models import Opportunity, StageKind
from kehu.sales.services import clean_amount

from .models import (
    Contract,
    ContractAttachment,
    ContractNumberCounter,
    ContractNumberRule,
    ContractStatus,
    NumberDatePart,
    NumberReset,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentPlanItem,
)

CONTRACT_FIELDS = ["number", "title", "customer", "opportunity", "owner", "amount", "currency", "signed_on",
                   "starts_on", "ends_on", "status", "notes"]
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
ATTACHMENT_EXTENSIONS = ("pdf", "jpg", "jpeg", "png", "docx", "xlsx")
ZERO = Decimal("0")


# Number rule -------------------------------------------------------------------------------------


def number_rule() -> ContractNumberRule:
    rule, _created = ContractNumberRule.objects.get_or_create(pk=1)
    return rule


@transaction.atomic
def number_rule_save(*, acting_user: Any, data: Mapping[str, Any]) -> ContractNumberRule:
    from kehu.accounts.permissions import has_operation

    if not has_operation(acting_user, "settings.manage"):
        raise PermissionDenied(_("只有管理员可以修改合同编号规则"))
    rule = number_rule()
    errors = Collector()
    prefix = clean_text(data.get("prefix"), max_length=20)
    if prefix and not re.fullmatch(r"[A-Za-z0-9\-_/]+", prefix):
        errors.add("prefix", ErrorCode.INVALID, _("前缀只能包含字母、数字和 - _ /"))
    date_part = str(data.get("date_part") or NumberDatePart.DAY)
    if date_part not in NumberDatePart.values:
        errors.add("date_part", ErrorCode.UNKNOWN_CHOICE, _("未知的日期格式：%(v)s") % {"v": date_part})
    reset = str(data.get("reset") or NumberReset.YEARLY)
    if reset not in NumberReset.values:
        errors.add("reset", ErrorCode.UNKNOWN_CHOICE, _("未知的重置方式：%(v)s") % {"v": reset})
    try:
        raw_width = data.get("sequence_width")
        width = 3 if raw_width in (None, "") else int(raw_width)
    except (TypeError, ValueError):
        width = 0
    if not 1 <= width <= 10:
        errors.add("sequence_width", ErrorCode.INVALID, _("流水号位数必须在 1 到 10 之间"))
    if errors.errors:
        raise ValidationFailed(errors.errors)
    before = {"prefix": rule.prefix, "date_part": rule.date_part, "sequence_width": rule.sequence_width,
              "reset": rule.reset}
    rule.prefix, rule.date_part, rule.sequence_width, rule.reset = prefix, date_part, width, reset
    rule.updated_at = timezone.now()
    rule.save()
    changes = audit.diff_values(before, {"prefix": prefix, "date_part": date_part, "sequence_width": width,
                                         "reset": reset}, list(before))
    if changes:
        audit.record_event(actor=acting_user, action="update", obj=rule, customer_id=None, changes=changes)
    return rule


def _period(rule: ContractNumberRule, today: dt.date) -> str:
    if rule.reset == NumberReset.YEARLY:
        return f"{today:%Y}"
    if rule.reset == NumberReset.MONTHLY:
        return f"{today:%Y-%m}"
    return ""


def next_contract_number(today: dt.date | None = None) -> str:
    """The next number by the rule. Must run inside the caller's transaction: the counter row is
    locked (`select_for_update`) until it commits, so two contracts never get one number, and a
    number once handed out is never handed out again (the counter only goes up; a number someone
    typed by hand is skipped)."""
    today = today or timezone.localdate()
    rule = number_rule()
    period = _period(rule, today)
    ContractNumberCounter.objects.get_or_create(period=period)
    counter = ContractNumberCounter.objects.select_for_update().get(period=period)
    date_text = {NumberDatePart.DAY: f"{today:%Y%m%d}", NumberDatePart.MONTH: f"{today:%Y%m}"}.get(
        rule.date_part, "")  # type: ignore[call-overload]
    while True:
        counter.last += 1
        number = f"{rule.prefix}{date_text}{counter.last:0{rule.sequence_width}d}"
        if not Contract.objects.filter(number=number).exists():
            break
    counter.save(update_fields=["last"])
    return number


# Contracts ---------------------------------------------------------------------------------------


def _owner_allowed(acting_user: Any, owner: User | None) -> bool:
    """As for deals: reps keep contracts to themselves; managers assign within their department."""
    from kehu.accounts.permissions import may_assign_to

    return may_assign_to(acting_user, owner, "contract")


def _by_id(model: Any, value: Any) -> Any:
    if isinstance(value, model):
        return value
    try:
        return model.objects.filter(pk=int(value)).first()
    except (TypeError, ValueError):
        return None


def _shown(contract: Contract) -> dict[str, Any]:
    return {name: audit.audit_value(getattr(contract, name)) for name in CONTRACT_FIELDS}


def _apply(contract: Contract, data: Mapping[str, Any], errors: Collector, *, acting_user: Any,
           creating: bool) -> None:
    """Clean `data` onto the contract (only the keys present when editing)."""
    if creating or "title" in data:
        contract.title = clean_text(data.get("title"), max_length=200)
        if not contract.title:
            errors.add("title", ErrorCode.REQUIRED, _("合同名称不能为空"))
    if "number" in data and data.get("number") not in (None, ""):
        number = clean_text(data.get("number"), max_length=50)
        if Contract.objects.filter(number=number).exclude(pk=contract.pk).exists():
            errors.add("number", ErrorCode.UNIQUE, _("合同编号已存在：%(n)s") % {"n": number})
        contract.number = number
    if creating or "customer" in data:
        customer = _by_id(Customer, data.get("customer")) if data.get("customer") not in (None, "") else None
        if customer is not None and not restrict(Customer.objects.filter(pk=customer.pk), acting_user).exists():
            customer = None
            errors.add("customer", ErrorCode.NOT_FOUND, _("客户不存在或无权查看"))
        elif customer is None and data.get("customer") not in (None, ""):
            errors.add("customer", ErrorCode.NOT_FOUND, _("客户不存在或无权查看"))
        elif customer is None:
            errors.add("customer", ErrorCode.REQUIRED, _("请选择客户"))
        if customer is not None:
            contract.customer = customer
    if "opportunity" in data:
        raw = data.get("opportunity")
        if raw in (None, ""):
            contract.opportunity = None
        else:
            opportunity = _by_id(Opportunity, raw)
            if opportunity is None or not restrict(Opportunity.objects.filter(pk=opportunity.pk),
                                                   acting_user).exists():
                errors.add("opportunity", ErrorCode.NOT_FOUND, _("商机不存在或无权查看"))
            elif contract.customer_id and opportunity.customer_id != contract.customer_id:
                errors.add("opportunity", ErrorCode.INVALID, _("商机必须属于这个客户"))
            else:
                contract.opportunity = opportunity
    if creating or "owner" in data:
        raw = data.get("owner")
        owner = _by_id(User, raw) if raw not in (None, "") else (acting_user if creating else None)
        if owner is None and raw not in (None, ""):
            errors.add("owner", ErrorCode.NOT_FOUND, _("负责人不存在"))
        elif owner is None:
            errors.add("owner", ErrorCode.REQUIRED, _("请选择负责人"))
        elif not owner.is_active:
            errors.add("owner", ErrorCode.INVALID, _("负责人已停用"))
        elif not _owner_allowed(acting_user, owner):
            errors.add("owner", ErrorCode.PERMISSION_DENIED, _("无权把合同分配给 %(name)s") % {"name": owner})
        else:
            contract.owner = owner
            contract.department_id = owner.department_id
    if creating or "amount" in data:
        amount = clean_amount(data.get("amount"), "amount", errors)
        if amount is None and not any(e.field == "amount" for e in errors.errors):
            errors.add("amount", ErrorCode.REQUIRED, _("请填写合同金额"))
        elif amount is not None and amount <= 0:
            errors.add("amount", ErrorCode.INVALID, _("合同金额必须大于 0"))
        elif amount is not None:
            contract.amount = amount
    if creating or "currency" in data:
        currency = clean_text(data.get("currency") or "CNY", max_length=10).upper()  # not 3: "JAVASCRIPT" is no "JAV"
        if not re.fullmatch(r"[A-Z]{3}", currency):
            errors.add("currency", ErrorCode.INVALID, _("币种应为三位字母代码，如 CNY"))
        contract.currency = currency
    for name in ("signed_on", "starts_on", "ends_on"):
        if creating or name in data:
            setattr(contract, name, clean_date(data.get(name), name, errors))
    if ("customer" in data and "opportunity" not in data and contract.opportunity_id
            and contract.opportunity.customer_id != contract.customer_id):
        errors.add("opportunity", ErrorCode.INVALID, _("商机必须属于这个客户"))
    if contract.starts_on and contract.ends_on and contract.ends_on < contract.starts_on:
        errors.add("ends_on", ErrorCode.INVALID, _("结束日期不能早于开始日期"))
    if creating or "status" in data:
        status = str(data.get("status") or ContractStatus.DRAFT)
        if status not in ContractStatus.values:
            errors.add("status", ErrorCode.UNKNOWN_CHOICE, _("未知的合同状态：%(v)s") % {"v": status})
        else:
            contract.status = status
    if creating or "notes" in data:
        contract.notes = clean_text(data.get("notes"), max_length=20000)


def _locked(acting_user: Any, contract_id: int, expected_version: int | None = None) -> Contract:
    contract = restrict(Contract.objects.select_for_update(of=("self",)), acting_user).filter(
        pk=contract_id).select_related("customer").first()
    if contract is None:
        raise NotFound(_("合同不存在或无权查看"))
    if expected_version is not None and contract.version != int(expected_version):
        raise VersionConflict(_("合同“%(n)s”已被他人修改（当前版本 %(c)s，你看到的是版本 %(y)s），请刷新")
                              % {"n": contract.number, "c": contract.version, "y": expected_version})
    return contract


def _save(contract: Contract, acting_user: Any) -> Contract:
    contract.version = F("version") + 1  # type: ignore[assignment]
    contract.updated_at = timezone.now()
    contract.updated_by = acting_user
    contract.save()
    contract.refresh_from_db()
    return contract


@transaction.atomic
def contract_create(*, acting_user: Any, data: Mapping[str, Any]) -> Contract:
    """A new contract, numbered by the rule unless `data` gives a number; owned by its author unless
    `data` names an owner."""
    errors = Collector()
    contract = Contract(created_by=acting_user, updated_by=acting_user)
    _apply(contract, data, errors, acting_user=acting_user, creating=True)
    if errors.errors:
        raise ValidationFailed(errors.errors)
    if not contract.number:
        contract.number = next_contract_number()
    contract.created_at = contract.updated_at = timezone.now()
    try:
        with transaction.atomic():
            contract.save()
    except IntegrityError as exc:  # a number typed in the meantime by someone else
        raise ValidationFailed([FieldError("number", ErrorCode.UNIQUE,
                                           _("合同编号已存在：%(n)s") % {"n": contract.number})]) from exc
    audit.record_event(actor=acting_user, action="create", obj=contract, customer_id=contract.customer_id,
                       changes=audit.diff_values({}, _shown(contract), CONTRACT_FIELDS))
    _lifecycle(contract, acting_user)
    publish(DomainEvent(name="contract.created", object_type="contract", object_id=contract.pk,
                        customer_id=contract.customer_id, actor_id=getattr(acting_user, "pk", None),
                        data={"status": contract.status}))
    return contract


_SIGNED = (ContractStatus.ACTIVE, ContractStatus.COMPLETED)


def _lifecycle(contract: Contract, acting_user: Any) -> None:
    """A contract in force: the customer's first makes it a customer, a later one a repeat customer
    (`sales.lifecycle`; forward only, so a won deal that already moved it changes nothing)."""
    if contract.status not in _SIGNED:
        return
    from kehu.sales import lifecycle

    signed = Contract.objects.filter(customer_id=contract.customer_id, status__in=_SIGNED).count()
    lifecycle.on_deal_won(contract.customer_id, won_count=signed, actor=acting_user,
                          what=_("签订合同 %(number)s") % {"number": contract.number})


@transaction.atomic
def contract_update(*, acting_user: Any, contract_id: int, data: Mapping[str, Any],
                    expected_version: int | None = None) -> Contract:
    contract = _locked(acting_user, contract_id, expected_version)
    before = _shown(contract)
    errors = Collector()
    _apply(contract, data, errors, acting_user=acting_user, creating=False)
    if "amount" in data and contract.amount is not None and not errors.errors:
        planned = contract.plan_items.aggregate(s=Sum("amount"))["s"] or ZERO
        if contract.amount < contract.received_amount:
            errors.add("amount", ErrorCode.INVALID, _("合同金额不能小于已回款 %(v)s") % {"v": contract.received_amount})
        elif contract.amount < planned:
            errors.add("amount", ErrorCode.INVALID, _("合同金额不能小于回款计划合计 %(v)s") % {"v": planned})
    if errors.errors:
        raise ValidationFailed(errors.errors)
    changes = audit.diff_values(before, _shown(contract), CONTRACT_FIELDS)
    if not changes:
        return contract
    _save(contract, acting_user)
    audit.record_event(actor=acting_user, action="update", obj=contract, customer_id=contract.customer_id,
                       changes=changes)
    if "status" in data:
        _lifecycle(contract, acting_user)
    return contract


@transaction.atomic
def contract_set_status(*, acting_user: Any, contract_id: int, status: str,
                        expected_version: int | None = None) -> Contract:
    contract = _locked(acting_user, contract_id, expected_version)
    if status not in ContractStatus.values:
        raise ValidationFailed([FieldError("status", ErrorCode.UNKNOWN_CHOICE,
                                           _("未知的合同状态：%(v)s") % {"v": status})])
    if status == contract.status:
        return contract
    old = contract.get_status_display()
    contract.status = status
    _save(contract, acting_user)
    audit.record_event(actor=acting_user, action="update", obj=contract, customer_id=contract.customer_id,
                       changes=[{"field": "status", "old": str(old), "new": str(contract.get_status_display())}])
    _lifecycle(contract, acting_user)
    if status == ContractStatus.ACTIVE:
        publish(DomainEvent(name="contract.signed", object_type="contract", object_id=contract.pk,
                            customer_id=contract.customer_id, actor_id=getattr(acting_user, "pk", None)))
    return contract


@transaction.atomic
def contract_delete(*, acting_user: Any, contract_id: int) -> None:
    """Only a draft without payments may go (a signed contract's history stays)."""
    from kehu.accounts.permissions import require_operation

    require_operation(acting_user, "contract.delete")
    contract = _locked(acting_user, contract_id)
    if contract.status != ContractStatus.DRAFT:
        raise ValidationFailed([FieldError("status", ErrorCode.INVALID, _("只能删除草稿状态的合同"))])
    if contract.payments.exists():
        raise ValidationFailed([FieldError("payments", ErrorCode.INVALID, _("合同已有回款记录，不能删除"))])
    audit.record_event(actor=acting_user, action="delete", obj=contract, customer_id=contract.customer_id,
                       changes=audit.diff_values(_shown(contract), {}, CONTRACT_FIELDS))
    # Into the recycle bin; the attachment files stay until the bin entry is purged.
    move_to_bin(contract, acting_user=acting_user)


@transaction.atomic
def contract_from_opportunity(*, acting_user: Any, opportunity_id: int) -> Contract:
    """One step from a won deal: its customer, amount, owner and name become a draft contract signed
    today. A deal gets one contract (a second click finds the first)."""
    opportunity = restrict(Opportunity.objects.select_for_update(of=("self",)), acting_user).filter(
        pk=opportunity_id).select_related("stage").first()
    if opportunity is None:
        raise NotFound(_("商机不存在或无权查看"))
    if opportunity.stage.kind != StageKind.WON:
        raise ValidationFailed([FieldError("opportunity", ErrorCode.INVALID,
                                           _("只有赢单的商机才能生成合同（“%(n)s”当前阶段为“%(s)s”）")
                                           % {"n": opportunity.name, "s": opportunity.stage.label})])
    existing = Contract.objects.filter(opportunity=opportunity).first()
    if existing is not None:
        raise ValidationFailed([FieldError("opportunity", ErrorCode.DUPLICATE,
                                           _("商机“%(n)s”已生成合同 %(c)s") % {"n": opportunity.name,
                                                                            "c": existing.number})])
    return contract_create(acting_user=acting_user, data={
        "title": opportunity.name, "customer": opportunity.customer_id, "opportunity": opportunity.pk,
        "owner": opportunity.owner_id or acting_user.pk, "amount": opportunity.amount,
        "currency": opportunity.currency, "signed_on": timezone.localdate(), "status": ContractStatus.DRAFT,
    })


# Payment plan ------------------------------------------------------------------------------------


@transaction.atomic
def plan_set(*, acting_user: Any, contract_id: int, items: Sequence[Mapping[str, Any]]) -> list[PaymentPlanItem]:
    """Replace the plan by `items` (each: due_date, amount, note), numbered 1, 2, … in the order given.
    The plan's total may not exceed the contract amount. Items keep their rows by sequence, and the
    payments already received are matched again to the new plan."""
    contract = _locked(acting_user, contract_id)
    errors = Collector()
    cleaned: list[tuple[dt.date | None, Decimal | None, str]] = []
    for i, raw in enumerate(items):
        field = f"items.{i}"
        label = _("第 %(n)s 期") % {"n": i + 1}
        due = clean_date(raw.get("due_date"), f"{field}.due_date", errors)
        if due is None and raw.get("due_date") in (None, ""):
            errors.add(f"{field}.due_date", ErrorCode.REQUIRED, _("%(item)s：请填写计划回款日期") % {"item": label})
        amount = clean_amount(raw.get("amount"), f"{field}.amount", errors)
        if amount is None and raw.get("amount") in (None, ""):
            errors.add(f"{field}.amount", ErrorCode.REQUIRED, _("%(item)s：请填写计划金额") % {"item": label})
        elif amount is not None and amount <= 0:
            errors.add(f"{field}.amount", ErrorCode.INVALID, _("%(item)s：计划金额必须大于 0") % {"item": label})
        cleaned.append((due, amount, clean_text(raw.get("note"), max_length=200)))
    total = sum((a for _d, a, _n in cleaned if a is not None), ZERO)
    if total > contract.amount:
        running = ZERO
        for i, (_d, amount, _n) in enumerate(cleaned):
            running += amount or ZERO
            if running > contract.amount:  # name the first item that goes over
                errors.add(f"items.{i}.amount", ErrorCode.INVALID,
                           _("第 %(n)s 期：回款计划合计 %(t)s 超过合同金额 %(a)s")
                           % {"n": i + 1, "t": total, "a": contract.amount})
                break
    if errors.errors:
        raise ValidationFailed(errors.errors)
    existing = {item.sequence: item for item in contract.plan_items.all()}
    kept: list[PaymentPlanItem] = []
    for i, (due, amount, note) in enumerate(cleaned, start=1):
        item = existing.pop(i, None) or PaymentPlanItem(contract=contract, sequence=i)
        item.due_date, item.amount, item.note = due, amount, note  # type: ignore[assignment]
        item.save()
        kept.append(item)
    for item in existing.values():
        item.delete()
    _reallocate(contract)
    audit.record_event(actor=acting_user, action="update", obj=contract, customer_id=contract.customer_id,
                       changes=[{"field": "plan", "old": None,
                                 "new": [f"{item.sequence}. {item.due_date.isoformat()} {item.amount}"
                                         for item in kept]}])
    return list(contract.plan_items.order_by("sequence"))


# Payments ----------------------------------------------------------------------------------------


def _allocate(payment: Payment, items: Sequence[PaymentPlanItem]) -> None:
    """Spread the payment over the instalments: the one it names first, then the earliest unpaid."""
    left = payment.amount
    ordered = sorted(items, key=lambda it: (it.pk != payment.plan_item_id, it.due_date, it.sequence))
    rows = []
    for item in ordered:
        if left <= 0:
            break
        share = min(left, item.amount - item.paid_amount)
        if share <= 0:
            continue
        item.paid_amount += share
        left -= share
        rows.append(PaymentAllocation(payment=payment, plan_item=item, amount=share))
    PaymentAllocation.objects.bulk_create(rows)


def _reallocate(contract: Contract) -> None:
    """Match every payment again, oldest first (after the plan changed or a payment went away)."""
    PaymentAllocation.objects.filter(payment__contract=contract).delete()
    items = list(contract.plan_items.order_by("due_date", "sequence"))
    for item in items:
        item.paid_amount = ZERO
    for payment in contract.payments.order_by("received_on", "id"):
        _allocate(payment, items)
    PaymentPlanItem.objects.bulk_update(items, ["paid_amount"])
    received = contract.payments.aggregate(s=Sum("amount"))["s"] or ZERO
    Contract.objects.filter(pk=contract.pk).update(received_amount=received)
    contract.received_amount = received


def _payment_repr(payment: Payment, contract: Contract) -> str:
    return f"¥{payment.amount:,.2f}（{contract.number}）"


@transaction.atomic
def payment_record(*, acting_user: Any, contract_id: int, received_on: Any, amount: Any, method: Any = "bank",
                   reference: Any = "", plan_item: Any = None) -> Payment:
    """Record money received. Without `plan_item` it pays the earliest unpaid instalments; with one
    it pays that instalment first and any rest the earliest others. More than the contract's
    remaining amount is refused."""
    contract = _locked(acting_user, contract_id)
    errors = Collector()
    day = clean_date(received_on, "received_on", errors)
    if day is None and received_on in (None, ""):
        errors.add("received_on", ErrorCode.REQUIRED, _("请填写回款日期"))
    value = clean_amount(amount, "amount", errors)
    if value is None and amount in (None, ""):
        errors.add("amount", ErrorCode.REQUIRED, _("请填写回款金额"))
    elif value is not None and value <= 0:
        errors.add("amount", ErrorCode.INVALID, _("回款金额必须大于 0"))
    elif value is not None and value > contract.amount - contract.received_amount:
        errors.add("amount", ErrorCode.INVALID, _("回款金额 %(v)s 超过合同未回款金额 %(r)s")
                   % {"v": value, "r": contract.amount - contract.received_amount})
    method = str(method or PaymentMethod.BANK)
    if method not in PaymentMethod.values:
        errors.add("method", ErrorCode.UNKNOWN_CHOICE, _("未知的回款方式：%(v)s") % {"v": method})
    item = None
    if plan_item not in (None, ""):
        item = contract.plan_items.filter(pk=_int(plan_item)).first()
        if item is None:
            errors.add("plan_item", ErrorCode.NOT_FOUND, _("回款计划不属于这个合同"))
    if errors.errors:
        raise ValidationFailed(errors.errors)
    payment = Payment.objects.create(contract=contract, received_on=day, amount=value, method=method,
                                     reference=clean_text(reference, max_length=200), plan_item=item,
                                     created_by=acting_user)
    items = list(contract.plan_items.order_by("due_date", "sequence"))
    _allocate(payment, items)
    PaymentPlanItem.objects.bulk_update(items, ["paid_amount"])
    Contract.objects.filter(pk=contract.pk).update(received_amount=F("received_amount") + value)
    audit.record_event(actor=acting_user, action="create", obj=payment, customer_id=contract.customer_id,
                       changes=[{"field": "contract", "old": None, "new": contract.number},
                                {"field": "amount", "old": None, "new": str(value)},
                                {"field": "received_on", "old": None, "new": day.isoformat()},  # type: ignore[union-attr]
                                {"field": "method", "old": None, "new": str(payment.get_method_display())}])
    return payment


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@transaction.atomic
def payment_delete(*, acting_user: Any, contract_id: int, payment_id: int) -> None:
    """Remove a payment recorded by mistake; its allocations go with it and the other payments are
    matched again."""
    from kehu.accounts.permissions import require_operation

    require_operation(acting_user, "payment.delete")
    contract = _locked(acting_user, contract_id)
    payment = contract.payments.filter(pk=payment_id).first()
    if payment is None:
        raise NotFound(_("回款记录不存在"))
    audit.record_event(actor=acting_user, action="delete", obj=payment, customer_id=contract.customer_id,
                       changes=[{"field": "contract", "old": contract.number, "new": None},
                                {"field": "amount", "old": str(payment.amount), "new": None},
                                {"field": "received_on", "old": payment.received_on.isoformat(), "new": None}])
    payment.delete()
    _reallocate(contract)


# Attachments -------------------------------------------------------------------------------------


def check_attachment(name: str, size: int) -> list[FieldError]:
    errors = []
    extension = PurePath(name).suffix.lower().lstrip(".")
    if extension not in ATTACHMENT_EXTENSIONS:
        message = _("不支持的文件类型：%(ext)s（只允许 pdf、jpg、png、docx、xlsx）") % {"ext": extension or name}
        errors.append(FieldError("file", ErrorCode.INVALID, message))
    if size > MAX_ATTACHMENT_BYTES:
        errors.append(FieldError("file", ErrorCode.INVALID, _("文件超过 20 MB")))
    if size <= 0:
        errors.append(FieldError("file", ErrorCode.REQUIRED, _("文件为空")))
    return errors


@transaction.atomic
def attachment_add(*, acting_user: Any, contract_id: int, upload: Any) -> ContractAttachment:
    contract = _locked(acting_user, contract_id)
    if upload is None:
        raise ValidationFailed([FieldError("file", ErrorCode.REQUIRED, _("请选择文件"))])
    name = PurePath(str(upload.name)).name[:200]
    errors = check_attachment(name, int(upload.size or 0))
    if errors:
        raise ValidationFailed(errors)
    attachment = ContractAttachment(contract=contract, name=name, size=upload.size, uploaded_by=acting_user)
    attachment.file.save(name, upload, save=False)
    attachment.save()
    audit.record_event(actor=acting_user, action="update", obj=contract, customer_id=contract.customer_id,
                       changes=[{"field": "attachments", "old": None, "new": name}])
    return attachment


@transaction.atomic
def attachment_delete(*, acting_user: Any, contract_id: int, attachment_id: int) -> None:
    contract = _locked(acting_user, contract_id)
    attachment = contract.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        raise NotFound(_("附件不存在"))
    audit.record_event(actor=acting_user, action="update", obj=contract, customer_id=contract.customer_id,
                       changes=[{"field": "attachments", "old": attachment.name, "new": None}])
    name = attachment.file.name
    attachment.delete()
    transaction.on_commit(lambda: attachment.file.storage.delete(name))
