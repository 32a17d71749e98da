"""Masking of sensitive values, and field-level security applied to outputs.

Which access a user has to a field (hidden / masked / read_only / editable) is decided by
`kehu.accounts.permissions.field_access`; this module turns that decision into what an output
shows. It runs on the server at every output (HTML, API, CSV/XLSX export, search results,
duplicate warnings, mail merge, iCalendar), never only in a template, so a masked value never
leaves the server unless the user asks for it with a (logged) reveal.

Masking rules (docs/security.md, "Field-level security and masking"):

- mobile: 138****5678 (first 3, last 4 of the national number; +86, spaces and dashes accepted);
- landline: area code and last 4 kept, 010-****9988; extensions fully masked;
- other international numbers: +1650***0000;
- e-mail: z***@example.com (the domain stays: it often names the company);
- ID numbers: first 6 and last 4, 110101********1234;
- address: to district level (北京市海淀区****), street detail dropped;
- anything else: first and last character.

Every mask function takes any text and never raises; the digits it keeps are always fewer than
the original's, so a masked value never contains the original number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

STAR = "*"


class FieldAccess:
    """The values of kehu.accounts.models.FieldAccess, without importing models (the matcher imports
    this module before Django's apps are ready)."""

    HIDDEN = "hidden"
    MASKED = "masked"
    READ_ONLY = "read_only"
    EDITABLE = "editable"

# ---- mask functions -------------------------------------------------------------------------------

# Separators between a number and its extension: 010-65529988 转 123, ext. 123, x123, #123.
_EXTENSION = re.compile(r"(?:\s*(?:转|分机|ext\.?|x|#)\s*)(?=\S*$)", re.IGNORECASE)
# Two-digit area codes (after the trunk 0): Beijing 10, 20-29. Others have three digits.
_SHORT_AREA = re.compile(r"^0(?:10|2\d)")


def _digits(text: str) -> str:
    """The digits of `text`; a star counts as one (a hidden digit), so masking a masked number
    gives it back unchanged."""
    return "".join(ch for ch in text if ch.isdecimal() or ch == STAR)


def _keep(digits: str, first: int, last: int) -> str:
    """`digits` with all but the first `first` and last `last` starred; at least one is always hidden."""
    n = len(digits)
    if n == 0:
        return ""
    if first + last >= n:
        # Too short to keep both ends: keep at most half, never all.
        last = min(last, (n - 1) // 2)
        first = min(first, n - 1 - last) if n > 2 else 0
    hidden = n - first - last
    return digits[:first] + STAR * hidden + (digits[n - last:] if last else "")


def _national_cn(digits: str, plus: bool) -> str | None:
    """The national form of a Chinese number (13812345678, 01065529988), or None when foreign."""
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and (plus or len(digits) in (12, 13)):
        digits = digits[2:]
    elif plus:
        return None
    if len(digits) == 11 and digits.startswith("1"):
        return digits
    if plus and not digits.startswith("0"):
        return "0" + digits  # +86 10 6552 9988 is written with its trunk 0 at home
    return digits


def mask_mobile(value: str) -> str:
    """13812345678 / +86 138 1234 5678 -> 138****5678."""
    return mask_phone(value)


def mask_landline(value: str) -> str:
    """010-65529988 / +86 10 6552 9988 -> 010-****9988."""
    return mask_phone(value)


def mask_phone(value: str) -> str:
    """Any phone number: mobiles 138****5678, landlines 010-****9988 (extension masked),
    international +1650***0000; text without digits is masked character by character."""
    text = str(value or "").strip()
    if not text:
        return ""
    extension = ""
    parts = _EXTENSION.split(text, maxsplit=1)
    if len(parts) == 2 and _digits(parts[1]) and _digits(parts[0]):
        text, extension = parts[0], " 转 " + STAR * max(len(_digits(parts[1])), 1)
    digits = _digits(text)
    if not digits:
        return mask_text(text) + extension
    plus = text.lstrip().startswith(("+", "＋"))
    national = _national_cn(digits, plus)
    if national is None:  # foreign E.164
        if len(digits) > 8:
            return "+" + digits[: len(digits) - 7] + STAR * 3 + digits[-4:] + extension
        return "+" + _keep(digits, 0, 2) + extension
    if len(national) == 11 and national.startswith("1"):
        return _keep(national, 3, 4) + extension
    if national.startswith("0") and len(national) >= 9:
        area = 3 if _SHORT_AREA.match(national) else 4
        return national[:area] + "-" + _keep(national[area:], 0, 4) + extension
    return _keep(national, 3 if len(national) >= 11 else 0, 4 if len(national) >= 8 else 2) + extension


def mask_email(value: str) -> str:
    """zhang.san@example.com -> z***@example.com; without an @, the generic mask."""
    text = str(value or "").strip()
    if not text:
        return ""
    local, at, domain = text.rpartition("@")
    if not at:
        return mask_text(text)
    keep = local[0] if len(local) >= 2 and local[0] != STAR else ""
    return keep + STAR * 3 + "@" + domain


def mask_id_number(value: str) -> str:
    """110101199003071234 -> 110101********1234 (same length); short numbers keep their first and
    last two, very short ones nothing."""
    text = "".join(str(value or "").split())
    n = len(text)
    if n >= 12:
        return text[:6] + STAR * (n - 10) + text[-4:]
    if n >= 5:
        return text[:2] + STAR * (n - 4) + text[-2:]
    return STAR * n


# Province, prefecture and county levels of a Chinese address, each optional but in this order.
_PROVINCE = (r"(?:北京市|天津市|上海市|重庆市|香港特别行政区|澳门特别行政区"
             r"|[^\s省市区县]{2,7}?省|[^\s省市区县]{2,8}?自治区)")
_CITY = r"(?:[^\s省市区县]{1,10}?(?:自治州|地区|盟|市|州))"
_COUNTY = r"(?:[^\s省市区县]{1,10}?(?:区|县|旗|市))"
_ADMIN = re.compile(rf"^\s*({_PROVINCE}?)\s*({_CITY}?)\s*({_COUNTY}?)")


def mask_address(value: str) -> str:
    """北京市海淀区中关村大街1号 -> 北京市海淀区****: province, city and district kept, the rest
    dropped. A street alone (no province or city in front) becomes ****."""
    text = str(value or "").strip()
    if not text:
        return ""
    match = _ADMIN.match(text)
    province, city, county = match.groups() if match else ("", "", "")
    if not (province or city):
        county = ""  # "工业园区": a 区 without a province or city in front is no district
    kept = province + city + county
    return (kept + STAR * 4) if len(kept) < len(text.strip()) else kept


def mask_text(value: str) -> str:
    """The generic mask: first and last character kept (张*, 微****号)."""
    text = str(value or "")
    n = len(text)
    if n <= 1:
        return STAR * n
    if n == 2:
        return text[0] + STAR
    return text[0] + STAR * (n - 2) + text[-1]


def mask_name(name: str) -> str:
    """北京分扬科技有限公司 -> 北京******公司: enough to recognise a clash, not to learn a customer."""
    name = str(name or "")
    if len(name) <= 2:
        return name[:1] + STAR
    keep = 2 if len(name) > 5 else 1
    return name[:keep] + STAR * (len(name) - 2 * keep) + name[-keep:]


MASKS: dict[str, Callable[[str], str]] = {
    "phone": mask_phone,
    "email": mask_email,
    "id_number": mask_id_number,
    "address": mask_address,
    "text": mask_text,
}


_UNSET: Any = object()


def mask_value(kind: str, value: Any, field_value: Any = _UNSET) -> Any:
    """`value` masked as a `kind` ("phone", "email", "id_number", "address", "text", "date"); a list
    is masked item by item; a date (or anything not text) masked becomes None.
    `mask_value(object_type, field, value)` masks a value of that protected field."""
    if field_value is not _UNSET:
        kind, value = field_kind(kind, value), field_value
    if value is None or value == "":
        return value
    if isinstance(value, list | tuple):
        return [mask_value(kind, v) for v in value]
    if kind == "date" or not isinstance(value, str):
        return None
    return MASKS.get(kind, mask_text)(value)


# ---- field-level security ------------------------------------------------------------------------

# The fields field-level security protects on outputs, per object, with the mask they take.
PROTECTED_FIELDS: dict[str, dict[str, str]] = {
    "customer": {"phones": "phone", "emails": "email", "id_number": "id_number", "address": "address",
                 "birthday": "date"},
    "contact": {"mobile": "phone", "phone": "phone", "email": "email", "wechat": "text", "birthday": "date"},
    "lead": {"mobile": "phone", "phone": "phone", "email": "email", "wechat": "text"},
}
# Output keys that carry another field's value in another form: they follow that field's access.
COMPANIONS: dict[str, dict[str, str]] = {
    "customer": {"phones_e164": "phones"},
    "contact": {"mobile_e164": "mobile", "phone_e164": "phone"},
    "lead": {"mobile_e164": "mobile", "phone_e164": "phone"},
}
# Field labels for messages and the reveal button (gettext_noop: translated where shown).
FIELD_LABELS: dict[str, str] = {
    "phones": "电话", "emails": "邮箱", "id_number": "身份证号", "address": "详细地址", "birthday": "生日",
    "mobile": "手机", "phone": "座机", "email": "邮箱", "wechat": "微信",
}


def protected_field(object_type: str, key: str) -> str | None:
    """The protected field whose access governs output key `key` ("phones_e164" -> "phones")."""
    field = COMPANIONS.get(object_type, {}).get(key, key)
    return field if field in PROTECTED_FIELDS.get(object_type, {}) else None


def access_of(user: Any, object_type: str, field: str) -> str:
    """hidden / masked / read_only / editable; `user=None` is the operator (full access)."""
    if user is None or getattr(user, "is_kehu_admin", False):
        return FieldAccess.EDITABLE
    from kehu.accounts.permissions import field_access

    return field_access(user, object_type, field)


def policy(user: Any, object_type: str) -> dict[str, str]:
    """Access per protected output key of `object_type` that is not plainly readable (hidden or
    masked); an empty dict when the user sees everything (the common fast path)."""
    result: dict[str, str] = {}
    fields = PROTECTED_FIELDS.get(object_type, {})
    for field in fields:
        access = access_of(user, object_type, field)
        if access in (FieldAccess.HIDDEN, FieldAccess.MASKED):
            result[field] = access
    for key, field in COMPANIONS.get(object_type, {}).items():
        if field in result:
            result[key] = result[field]
    return result


def field_kind(object_type: str, key: str) -> str:
    field = protected_field(object_type, key)
    return PROTECTED_FIELDS.get(object_type, {}).get(field or "", "text")


def mask_field(user: Any, object_type: str, field: str, value: Any) -> Any:
    """One output value as `user` may see it: the value, its masked form, or None when hidden."""
    governing = protected_field(object_type, field)
    if governing is None:
        return value
    access = access_of(user, object_type, governing)
    if access == FieldAccess.HIDDEN:
        return None
    if access == FieldAccess.MASKED:
        return mask_value(field_kind(object_type, field), value)
    return value


def apply_policy(rules: Mapping[str, str], object_type: str, data: dict[str, Any], *,
                 drop_hidden: bool = False) -> dict[str, Any]:
    """`data` (an output dict) with the keys in `rules` masked or hidden, in place."""
    for key, access in rules.items():
        if key not in data:
            continue
        if access == FieldAccess.HIDDEN:
            if drop_hidden:
                del data[key]
            else:
                data[key] = None
        else:
            data[key] = mask_value(field_kind(object_type, key), data[key])
    return data


def mask_record(user: Any, object_type: str, data: dict[str, Any], *, drop_hidden: bool = False) -> dict[str, Any]:
    """A copy of `data` (an output dict of one record) as `user` may see it: masked fields masked,
    hidden ones None (or removed with `drop_hidden`)."""
    rules = policy(user, object_type)
    return apply_policy(rules, object_type, dict(data), drop_hidden=drop_hidden) if rules else dict(data)


def mask_records(user: Any, object_type: str, rows: Iterable[dict[str, Any]], *,
                 drop_hidden: bool = False) -> list[dict[str, Any]]:
    rules = policy(user, object_type)
    if not rules:
        return list(rows)
    return [apply_policy(rules, object_type, dict(row), drop_hidden=drop_hidden) for row in rows]


def _refuse_save(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("a masked display copy must not be saved; load the record again to write it")


def mask_instance(user: Any, object_type: str, obj: Any) -> Any:
    """Mask a model instance *for display only*, in place (list rows, search hits): it is marked,
    and saving it raises, so a masked value can never be written back. Returns `obj`."""
    rules = policy(user, object_type)
    if not rules or obj is None or is_masked_instance(obj):
        return obj
    for key, access in rules.items():
        if not hasattr(obj, key):
            continue
        value = getattr(obj, key)
        if field_kind(object_type, key) == "date":
            setattr(obj, key, None)
        elif access == FieldAccess.HIDDEN:
            setattr(obj, key, [] if isinstance(value, list) else "")
        else:
            setattr(obj, key, mask_value(field_kind(object_type, key), value))
    obj._kehu_masked = True
    obj.save = _refuse_save  # type: ignore[method-assign]
    return obj


def mask_instances(user: Any, object_type: str, objs: Iterable[Any]) -> None:
    """`mask_instance` for each of `objs` (the rows of a list page, search hits)."""
    if not policy(user, object_type):
        return
    for obj in objs:
        mask_instance(user, object_type, obj)


def is_masked_instance(obj: Any) -> bool:
    return bool(getattr(obj, "_kehu_masked", False))


# ---- writes --------------------------------------------------------------------------------------


def _same(kind: str, given: Any, stored: Any) -> bool:
    """True when `given` is the stored value or the masked form the user was shown."""
    def norm(v: Any) -> Any:
        if v is None or v == "":
            return ""
        if isinstance(v, list | tuple):
            return [str(x).strip() for x in v if str(x).strip()]
        if isinstance(v, str) and kind in ("phone", "email"):
            # A form posts "a, b" for a list field.
            return [x.strip() for x in v.replace("，", ",").split(",") if x.strip()]
        return str(v).strip()

    g = norm(given)
    if g == norm(stored):
        return True
    masked = mask_value(kind, stored) if stored not in (None, "") else stored
    return g == norm(masked) or (kind == "date" and g == "")


def locked_fields(user: Any, object_type: str, *, creating: bool = False) -> dict[str, str]:
    """Fields `user` may not write, with their access. On create only hidden fields are locked:
    whoever enters a new record may type its ID number, and then no longer read or change it."""
    from kehu.accounts.permissions import role_field_access

    if user is None or getattr(user, "is_kehu_admin", False):
        return {}
    if not getattr(user, "is_authenticated", False):
        return dict.fromkeys(PROTECTED_FIELDS.get(object_type, {}), FieldAccess.HIDDEN)
    # Read from the role each time (not the per-request cache on the user): a write checks today's policy.
    role = user.role if getattr(user, "role_id", None) else None
    configured = role_field_access(role)
    prefix = f"{object_type}."
    locked = {}
    for key, access in configured.items():
        if not key.startswith(prefix):
            continue
        if access == FieldAccess.HIDDEN or (not creating and access != FieldAccess.EDITABLE):
            locked[key[len(prefix):]] = access
    return locked


def writable_data(user: Any, object_type: str, data: Mapping[str, Any], *, stored: Any = None) -> dict[str, Any]:
    """`data` without the writes `user` may not make: a locked field sent back unchanged (the stored
    value, or the masked form the user was shown) is dropped, so a masked value never overwrites
    the real one; any other value for a locked field raises ValidationFailed (422) naming it."""
    from django.utils.translation import gettext as _

    from kehu.core.errors import ErrorCode, FieldError, ValidationFailed

    locked = locked_fields(user, object_type, creating=stored is None)
    if not locked or not (data.keys() & locked.keys()):
        return dict(data)
    result = dict(data)
    errors = []
    for field in sorted(data.keys() & locked.keys()):
        kind = PROTECTED_FIELDS.get(object_type, {}).get(field, "text")
        current = getattr(stored, field, None) if stored is not None else None
        if (stored is None or locked[field] == FieldAccess.HIDDEN) and data[field] in (None, "", []):
            result.pop(field)  # empty on create, or what a hidden field reads as (null) sent back: no change
            continue
        if stored is not None and _same(kind, data[field], current):
            result.pop(field)
            continue
        label = _(FIELD_LABELS.get(field, field))
        errors.append(FieldError(field=field, code=ErrorCode.PERMISSION_DENIED,
                                 message=_("你无权修改“%(label)s”（%(field)s）") % {"label": label, "field": field}))
    if errors:
        raise ValidationFailed(errors)
    return result


# ---- duplicate warnings ---------------------------------------------------------------------------

# Reason code prefix -> the customer field whose access governs its arguments.
_REASON_FIELDS = {"phone": "phones", "email": "emails", "id_number": "id_number", "address": "address",
                  "birth_date": "birthday"}


def redact_reasons(user: Any, reasons: Iterable[Any]) -> list[Any]:
    """Match reasons (kehu.dataquality.matching.reasons.Reason) with the arguments of fields the user
    may not read replaced: masked fields masked (phones, e-mails and IDs are masked already), hidden
    ones starred out."""
    from dataclasses import replace

    rules = policy(user, "customer")
    reasons = list(reasons)
    if not rules:
        return reasons
    result = []
    for reason in reasons:
        field = _REASON_FIELDS.get(reason.code.split(".")[0])
        access = rules.get(field or "")
        if access == FieldAccess.HIDDEN:
            reason = replace(reason, args=tuple(STAR * 4 if not a.isdigit() or len(a) > 3 else a
                                                for a in reason.args))
        elif access == FieldAccess.MASKED and field == "address":
            reason = replace(reason, args=tuple(mask_address(a) for a in reason.args))
        elif access == FieldAccess.MASKED and field == "birthday":
            reason = replace(reason, args=tuple(STAR * 4 for _a in reason.args))
        result.append(reason)
    return result
