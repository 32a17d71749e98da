"""Validation rules as data, enforced inside the customer and contact services, so the web form,
the API and the import reject (or flag) the same value with the same message."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from kehu.core import masking
from kehu.core.errors import ErrorCode, FieldError
from kehu.dataquality.cleaning import FieldProblem
from kehu.dataquality.messages import describe, field_label
from kehu.dataquality.models import MatchKey, RuleSeverity, RuleType, ValidationRule

# Problems that mean "probably mistyped" rather than "not a value of this kind": reported, never blocking.
SOFT_PROBLEMS = {"email.domain_typo", "phone.not_mobile"}
# Record field -> MatchKey kind used by uniqueness rules.
UNIQUE_KINDS = {"phones": "phone", "mobile": "phone", "phone": "phone", "emails": "email", "email": "email",
                "credit_code": "credit_code"}


@dataclass
class RuleOutcome:
    errors: list[FieldError]
    warnings: list[tuple[str, str, str, str]]  # (field, code, value, hint)


def active_rules(target: str) -> list[ValidationRule]:
    return list(ValidationRule.objects.filter(target=target, is_active=True).select_related("stage"))


def _value_of(record: Any, field: str) -> Any:
    if field.startswith("custom."):
        return (record.custom or {}).get(field.removeprefix("custom."))
    return getattr(record, field, None)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _applies(rule: ValidationRule, *, customer_kind: str, stage_id: int | None) -> bool:
    if rule.customer_kind and rule.customer_kind != customer_kind:
        return False
    return not (rule.stage_id and rule.stage_id != stage_id)


def mask_name(name: str) -> str:
    """北京分扬科技有限公司 → 北京******公司: enough to recognise a clash, not to learn a customer."""
    return masking.mask_name(name)


def unique_values(record: Any, field: str) -> list[tuple[str, str]]:
    """(MatchKey kind, normalised value) pairs of a field that uniqueness is checked on."""
    kind = UNIQUE_KINDS.get(field)
    if kind is None:
        value = _value_of(record, field)
        return [] if _empty(value) else [(f"field:{field}", str(value))]
    if field == "phones":
        return [("phone", v) for v in (getattr(record, "phones_e164", None) or []) if v]
    if field in ("mobile", "phone"):
        value = getattr(record, f"{field}_e164", "")
        return [("phone", value)] if value else []
    if field == "emails":
        return [("email", v.lower()) for v in (record.emails or []) if v]
    value = _value_of(record, field)
    return [] if _empty(value) else [(kind, str(value).lower() if kind == "email" else str(value))]


def _clash_message(*, field: str, value: str, other_customer_id: int, user: Any) -> str:
    from kehu.core.scoping import restrict
    from kehu.customers.models import Customer

    other = Customer.objects.select_related("owner", "department").filter(pk=other_customer_id).first()
    if other is None:
        return _("%(field)s %(value)s 已被其他记录使用") % {"field": field_label(field), "value": value}
    if user is not None and restrict(Customer.objects.filter(pk=other.pk), user).exists():
        return _("%(field)s %(value)s 已被客户「%(name)s」使用") % {
            "field": field_label(field), "value": value, "name": other.name,
        }
    # The user can't see the other record: say whose it is (prevents 撞单) without revealing it.
    owner = other.owner.display_name if other.owner else _("公海")
    department = other.department.name if other.department else "-"
    return _("%(field)s %(value)s 已被 %(owner)s（%(department)s）负责的客户「%(name)s」使用") % {
        "field": field_label(field), "value": value, "owner": owner, "department": department,
        "name": mask_name(other.name),
    }


def _check_unique(rule: ValidationRule, record: Any, *, customer_id: int | None, user: Any) -> Iterable[
    tuple[str, str, str]
]:
    for kind, value in unique_values(record, rule.field):
        if kind.startswith("field:"):
            continue  # plain text fields: uniqueness only for the identifying kinds above
        clash = MatchKey.objects.filter(kind=kind, value=value)
        if customer_id is not None:
            clash = clash.exclude(customer_id=customer_id)
        other = clash.values_list("customer_id", flat=True).first()
        if other is not None:
            display = value
            yield value, _clash_message(field=rule.field, value=display, other_customer_id=other, user=user), str(
                other
            )


def _in_range(rule: ValidationRule, value: Any) -> bool:
    low, high = rule.params.get("min"), rule.params.get("max")
    if isinstance(value, dt.date):
        low = dt.date.fromisoformat(low) if low else None
        high = dt.date.fromisoformat(high) if high else None
    else:
        try:
            value = Decimal(str(value))
            low = Decimal(str(low)) if low not in (None, "") else None
            high = Decimal(str(high)) if high not in (None, "") else None
        except (InvalidOperation, ValueError):
            return False
    return not ((low is not None and value < low) or (high is not None and value > high))


def check_rules(
    *,
    target: str,
    record: Any,
    customer_kind: str,
    stage_id: int | None,
    problems: Sequence[FieldProblem],
    customer_id: int | None,
    user: Any,
    rules: Sequence[ValidationRule] | None = None,
) -> RuleOutcome:
    """Errors block the save; warnings are saved with the record and surface as quality issues."""
    outcome = RuleOutcome(errors=[], warnings=[])
    for rule in rules if rules is not None else active_rules(target):
        if not _applies(rule, customer_kind=customer_kind, stage_id=stage_id):
            continue
        value = _value_of(record, rule.field)
        found: list[tuple[str, str, str, str]] = []  # (code, message, value, hint)
        if rule.rule_type == RuleType.REQUIRED and _empty(value):
            found.append(("rule.required", _("%(field)s 为必填项") % {"field": field_label(rule.field)}, "", ""))
        elif rule.rule_type == RuleType.VALID:
            for item in problems:
                if item.field != rule.field:
                    continue
                if item.problem.code in SOFT_PROBLEMS:
                    # "Probably mistyped" (qq.con): always said, never blocking.
                    outcome.warnings.append((rule.field, item.problem.code, item.problem.value, item.problem.hint))
                    continue
                found.append((item.problem.code, f"{describe(item.problem.code)}：{item.problem.value}",
                              item.problem.value, item.problem.hint))
        elif rule.rule_type == RuleType.UNIQUE:
            for clash_value, message, _other_id in _check_unique(rule, record, customer_id=customer_id, user=user):
                # The hint of a duplicate warning is the sentence naming the existing record (masked if hidden).
                found.append(("unique.duplicate", message, clash_value, message))
        elif rule.rule_type == RuleType.PATTERN and not _empty(value):
            pattern = rule.params.get("regex") or ""
            values = value if isinstance(value, list) else [value]
            for item in values:
                if pattern and not re.fullmatch(pattern, str(item)):
                    found.append(("rule.pattern", _("%(field)s 格式不正确：%(value)s") % {
                        "field": field_label(rule.field), "value": item}, str(item), ""))
        elif rule.rule_type == RuleType.RANGE and not _empty(value) and not _in_range(rule, value):
            found.append(("rule.range", _("%(field)s 超出允许范围：%(value)s") % {
                "field": field_label(rule.field), "value": value}, str(value), ""))
        for code, message, bad_value, hint in found:
            text = rule.message or message
            if rule.severity == RuleSeverity.ERROR:
                error_code = ErrorCode.REQUIRED if code == "rule.required" else (
                    ErrorCode.UNIQUE if code == "unique.duplicate" else ErrorCode.INVALID)
                outcome.errors.append(FieldError(field=rule.field, code=error_code, message=text))
            else:
                outcome.warnings.append((rule.field, code, bad_value, hint or text))
    return outcome
