"""Field validation shared by every write path (form, API, import, automation).

Returns clean values or collects FieldErrors; services raise ValidationFailed with all of them
so a form can show every problem at once."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from kehu.core.errors import ErrorCode, FieldError
from kehu.customers.models import CustomFieldDefinition, CustomFieldType, PicklistOption

_PHONE_ALLOWED = re.compile(
    r"^[+0-9()\-\s\u3000\uff10-\uff19\uff0b\uff08\uff09\uff0d]{5,30}(?:(?:ext|转|#|x)\s*\d{1,6})?$", re.IGNORECASE
)
_CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


class Collector:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str, code: ErrorCode, message: str) -> None:
        self.errors.append(FieldError(field=field, code=code, message=message))


def clean_text(value: Any, *, max_length: int) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\x00", "").strip()
    return text[:max_length]


def clean_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    parts = re.split(r"[,，;；\n]+", value) if isinstance(value, str) else [str(v) for v in value]
    seen: dict[str, None] = {}
    for part in parts:
        part = part.strip()
        if part:
            seen.setdefault(part, None)
    return list(seen)


def clean_date(value: Any, field: str, errors: Collector) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip().replace("/", "-"))
    except ValueError:
        errors.add(field, ErrorCode.INVALID, _("日期格式不正确（应为 YYYY-MM-DD）：%(value)s") % {"value": value})
        return None


def clean_picklist(value: Any, kind: str, field: str, errors: Collector) -> PicklistOption | None:
    """An option by id, code, label (either language) or an admin-kept synonym (百度 → 百度推广),
    insensitive to case, width and spacing; unknown values are errors, never invented options."""
    if value in (None, ""):
        return None
    if isinstance(value, PicklistOption):
        option = value if value.kind == kind else None
    else:
        from kehu.dataquality.cleaning import match_picklist_value

        text = str(value).strip()
        option = None
        if text.isdigit():
            option = PicklistOption.objects.filter(kind=kind, pk=int(text)).first()
        if option is None:
            match = match_picklist_value(text, kind)
            option = PicklistOption.objects.filter(pk=match.option_id).first() if match.option_id else None
    if option is None:
        errors.add(field, ErrorCode.UNKNOWN_CHOICE, _("未知的选项：%(value)s") % {"value": value})
    return option


def clean_custom_values(
    *,
    definitions: list[CustomFieldDefinition],
    values: Mapping[str, Any],
    existing: Mapping[str, Any] | None,
    errors: Collector,
    user_exists: Any,
) -> dict[str, Any]:
    """Validate custom values against their definitions; unknown keys are errors, not silently kept."""
    known = {d.key: d for d in definitions}
    result: dict[str, Any] = dict(existing or {})
    for key in values:
        if key not in known:
            errors.add(f"custom.{key}", ErrorCode.INVALID, _("未定义的自定义字段：%(key)s") % {"key": key})
    for key, definition in known.items():
        field = f"custom.{key}"
        if key in values:
            raw = values[key]
            result[key] = _clean_custom_value(definition, raw, field, errors, user_exists)
        if result.get(key) in (None, "", []) and definition.required:
            errors.add(field, ErrorCode.REQUIRED, _("%(label)s 为必填项") % {"label": definition.label})
        if result.get(key) in (None, "", []):
            result.pop(key, None)
    return result


def _clean_custom_value(
    definition: CustomFieldDefinition, raw: Any, field: str, errors: Collector, user_exists: Any
) -> Any:
    kind = definition.field_type
    if raw in (None, "") or raw == []:
        return None
    if kind in (CustomFieldType.TEXT, CustomFieldType.LONG_TEXT):
        return clean_text(raw, max_length=500 if kind == CustomFieldType.TEXT else 10000)
    if kind in (CustomFieldType.NUMBER, CustomFieldType.MONEY):
        try:
            number = Decimal(str(raw).replace(",", "").strip())
        except InvalidOperation:
            errors.add(field, ErrorCode.INVALID, _("%(label)s 应为数字") % {"label": definition.label})
            return None
        if not number.is_finite():
            errors.add(field, ErrorCode.INVALID, _("%(label)s 应为数字") % {"label": definition.label})
            return None
        if kind == CustomFieldType.MONEY:
            return str(number.quantize(Decimal("0.01")))
        # "f": 1200 stays "1200" (normalize() alone would give "1.2E+3")
        return format(number.normalize(), "f") if number == number.to_integral() else str(number)
    if kind == CustomFieldType.DATE:
        date = clean_date(raw, field, errors)
        return date.isoformat() if date else None
    if kind == CustomFieldType.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "y", "是", "on"}:
            return True
        if text in {"0", "false", "no", "n", "否", "off"}:
            return False
        errors.add(field, ErrorCode.INVALID, _("%(label)s 应为是或否") % {"label": definition.label})
        return None
    allowed = {c.get("value") for c in definition.choices}
    if kind == CustomFieldType.CHOICE:
        value = str(raw)
        if value not in allowed:
            errors.add(field, ErrorCode.UNKNOWN_CHOICE, _("未知的选项：%(value)s") % {"value": value})
            return None
        return value
    if kind == CustomFieldType.MULTI_CHOICE:
        chosen = clean_list(raw)
        unknown = [v for v in chosen if v not in allowed]
        if unknown:
            errors.add(field, ErrorCode.UNKNOWN_CHOICE, _("未知的选项：%(value)s") % {"value": ", ".join(unknown)})
            return None
        return chosen
    if kind == CustomFieldType.USER:
        try:
            user_id = int(raw)
        except (TypeError, ValueError):
            user_id = None
        if user_id is None or not user_exists(user_id):
            errors.add(field, ErrorCode.INVALID, _("未知的用户：%(value)s") % {"value": raw})
            return None
        return user_id
    return raw
