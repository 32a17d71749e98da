"""Writes to leads: create (form, API, import, the public web form), update, status, delete and the
one-step conversion to customer + contact + opportunity. Every path calls these, so validation,
scoping, versioning and audit are handled once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.accounts.permissions import has_operation
from kehu.core import audit, masking
from kehu.core.errors import ErrorCode, FieldError, NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.events import DomainEvent, publish
from kehu.core.scoping import restrict
from kehu.customers.models import Contact, Customer, PicklistKind
from kehu.customers.validation import Collector, clean_picklist, clean_text
from kehu.dataquality.cleaning import clean_contact_fields
from kehu.leads.duplicates import LeadDuplicates, customer_role_values_of_lead, lead_duplicates
from kehu.leads.models import Lead, LeadForm, LeadStatus
from kehu.recyclebin.services import move_to_bin

LEAD_FIELDS = ["name", "salutation", "company", "title", "mobile", "phone", "email", "wechat", "province", "city",
               "source", "campaign", "status", "disqualify_reason", "owner", "notes", "custom", "external_id"]
_TEXT_LIMITS = {"company": 200, "title": 100, "wechat": 100, "province": 50, "city": 50, "campaign": 100,
                "external_id": 100, "salutation": 20}
# Written by the conversion only, never by a caller's data.
_CONVERSION_FIELDS = ["converted_customer", "converted_contact", "converted_opportunity", "converted_at"]


def _snapshot(lead: Lead, fields: Iterable[str]) -> dict[str, Any]:
    return {name: (dict(v) if isinstance(v := getattr(lead, name), dict) else v) for name in fields}


def _can_manage_others(user: Any) -> bool:
    """Give a lead to someone else (the "assign" operation)."""
    return has_operation(user, "lead.assign")


def _resolve_user(value: Any, errors: Collector) -> User | None:
    if value in (None, ""):
        return None
    if isinstance(value, User):
        return value
    text = str(value).strip()
    user = User.objects.filter(pk=int(text), is_active=True).first() if text.isdigit() else None
    user = user or User.objects.filter(username=text, is_active=True).first()
    if user is None:
        errors.add("owner", ErrorCode.INVALID, _("未知的用户：%(value)s") % {"value": value})
    return user


def _apply(lead: Lead, data: Mapping[str, Any], *, acting_user: Any, creating: bool,
           allowed: Iterable[str] = LEAD_FIELDS) -> None:
    """Clean `data` onto the lead (only the keys present when editing); raises ValidationFailed
    with every field error at once."""
    # Field-level security: a masked or read-only field sent back unchanged is dropped, a change refused.
    data = masking.writable_data(acting_user, "lead", data, stored=None if creating else lead)
    errors = Collector()
    for name in sorted(set(data) - set(allowed)):
        errors.add(name, ErrorCode.INVALID, _("未知字段：%(field)s") % {"field": name})
    for name, limit in _TEXT_LIMITS.items():
        if name in data:
            setattr(lead, name, clean_text(data[name], max_length=limit))
    if "notes" in data:
        lead.notes = clean_text(data["notes"], max_length=20000)
    # The contact normalisers: person name (张先生 → 张 + 先生), phones with E.164, e-mail.
    given = {name: clean_text(data[name], max_length=254) for name in ("name", "mobile", "phone", "email")
             if name in data}
    cleaned = clean_contact_fields(given)
    if data.get("salutation"):
        cleaned.values.pop("salutation", None)
    if "name" in data and not given.get("name"):
        lead.name = ""
    for name, value in cleaned.values.items():
        setattr(lead, name, value[:100] if name == "name" else value)
    for problem in cleaned.problems:
        if problem.field in ("mobile", "phone", "email") and problem.problem.code.endswith("invalid"):
            errors.add(problem.field, ErrorCode.INVALID, _("格式不正确：%(value)s") % {
                "value": getattr(lead, problem.field)})
    if not (lead.name or lead.company):
        errors.add("name", ErrorCode.REQUIRED, _("姓名和公司至少填写一项"))
    if "source" in data:
        lead.source = clean_picklist(data["source"], PicklistKind.SOURCE, "source", errors)
    if "status" in data:
        status = clean_text(data["status"], max_length=20) or LeadStatus.NEW
        if status not in LeadStatus.values or status == LeadStatus.CONVERTED:
            errors.add("status", ErrorCode.UNKNOWN_CHOICE, _("未知的状态：%(value)s") % {"value": status})
        else:
            lead.status = status
    if "disqualify_reason" in data:
        lead.disqualify_reason = clean_text(data["disqualify_reason"], max_length=300)
    if lead.status == LeadStatus.DISQUALIFIED and not lead.disqualify_reason:
        errors.add("disqualify_reason", ErrorCode.REQUIRED, _("标记为无效线索时必须填写原因"))
    if lead.status != LeadStatus.DISQUALIFIED:
        lead.disqualify_reason = ""
    if "custom" in data:
        custom = data.get("custom") or {}
        if not isinstance(custom, Mapping):
            errors.add("custom", ErrorCode.INVALID, _("自定义字段应为对象"))
        else:
            lead.custom = {str(k)[:50]: v for k, v in custom.items()}
    if "owner" in data:
        owner = _resolve_user(data["owner"], errors)
        # A rep limited to their own records may keep or take a lead, never hand it to someone else.
        if acting_user is not None and (owner is None or owner.pk != acting_user.pk) \
                and not _can_manage_others(acting_user):
            errors.add("owner", ErrorCode.PERMISSION_DENIED, _("无权把线索分配给其他人"))
        lead.owner = owner
        lead.department = owner.department if owner else None
    elif creating and acting_user is not None:
        lead.owner = acting_user
        lead.department = acting_user.department
    if errors.errors:
        raise ValidationFailed(errors.errors)


def _locked(acting_user: Any, lead_id: int, expected_version: int | None = None) -> Lead:
    lead = restrict(Lead.objects.select_for_update(of=("self",)), acting_user, write=True).filter(pk=lead_id).first()
    if lead is None:
        raise NotFound(_("线索不存在或无权查看"))
    if expected_version is not None and lead.version != expected_version:
        raise VersionConflict(_("该线索已被他人修改（当前版本 %(current)s，你编辑的是版本 %(yours)s），请刷新后再改")
                              % {"current": lead.version, "yours": expected_version})
    return lead


def _save_changed(lead: Lead, acting_user: Any, changes: list[dict]) -> Lead:
    lead.version = F("version") + 1
    lead.updated_by = acting_user
    lead.updated_at = timezone.now()
    lead.save()
    lead.refresh_from_db(fields=["version"])
    audit.record_event(actor=acting_user, action="update", obj=lead, customer_id=None, changes=changes)
    publish(DomainEvent(name="lead.updated", object_type="lead", object_id=lead.pk,
                        customer_id=lead.converted_customer_id, actor_id=getattr(acting_user, "pk", None),
                        changes={c["field"]: (c["old"], c["new"]) for c in changes}))
    return lead


def lead_prepare(*, acting_user: Any, data: Mapping[str, Any]) -> Lead:
    """The lead `lead_create` would save, cleaned and validated, not saved (forms check duplicates on it)."""
    lead = Lead(created_by=acting_user, updated_by=acting_user)
    _apply(lead, data, acting_user=acting_user, creating=True)
    return lead


def lead_values(lead: Lead) -> dict[str, Any]:
    """A lead's (cleaned) fields in the shape `lead_duplicates` takes."""
    return {name: getattr(lead, name) for name in ("name", "company", "mobile", "phone", "email", "province", "city")}


@dataclass
class LeadCreated:
    lead: Lead
    duplicates: LeadDuplicates


@transaction.atomic
def lead_create(*, acting_user: Any, data: Mapping[str, Any], web_form: LeadForm | None = None) -> LeadCreated:
    """Save a lead; likely duplicates (leads, customers, contacts) come back as warnings, never errors."""
    lead = lead_prepare(acting_user=acting_user, data=data)
    lead.web_form = web_form
    found = lead_duplicates(lead_values(lead), user=acting_user)
    lead.save()
    audit.record_event(actor=acting_user, action="create", obj=lead, customer_id=None,
                       changes=audit.diff_values({}, _snapshot(lead, LEAD_FIELDS), LEAD_FIELDS))
    publish(DomainEvent(name="lead.created", object_type="lead", object_id=lead.pk,
                        actor_id=getattr(acting_user, "pk", None)))
    return LeadCreated(lead=lead, duplicates=found)


@transaction.atomic
def lead_submit_public(*, web_form: LeadForm, data: Mapping[str, Any]) -> Lead:
    """A submission of a public web form (no user): only the form's fields are taken; owner,
    source and campaign come from the form's settings."""
    if not web_form.is_active:
        raise NotFound(_("表单不存在或已停用"))
    allowed = {"name", *web_form.shown_fields}
    lead = Lead()
    _apply(lead, {k: v for k, v in data.items() if k in allowed}, acting_user=None, creating=True, allowed=allowed)
    owner = web_form.default_owner if web_form.default_owner and web_form.default_owner.is_active else None
    lead.owner, lead.department = owner, owner.department if owner else None
    lead.source, lead.campaign, lead.web_form = web_form.default_source, web_form.campaign, web_form
    lead.save()
    audit.record_event(actor=None, action="create", obj=lead, customer_id=None,
                       changes=audit.diff_values({}, _snapshot(lead, LEAD_FIELDS), LEAD_FIELDS))
    publish(DomainEvent(name="lead.created", object_type="lead", object_id=lead.pk, data={"web_form": web_form.pk}))
    return lead


@transaction.atomic
def lead_update(*, acting_user: Any, lead_id: int, data: Mapping[str, Any],
                expected_version: int | None = None) -> Lead:
    lead = _locked(acting_user, lead_id, expected_version)
    if lead.status == LeadStatus.CONVERTED:
        raise ValidationFailed([FieldError("status", ErrorCode.INVALID, _("已转化的线索不能再修改"))])
    before = _snapshot(lead, LEAD_FIELDS)
    _apply(lead, data, acting_user=acting_user, creating=False)
    changes = audit.diff_values(before, _snapshot(lead, LEAD_FIELDS), LEAD_FIELDS)
    return _save_changed(lead, acting_user, changes) if changes else lead


def lead_set_status(*, acting_user: Any, lead_id: int, status: str, reason: str = "",
                    expected_version: int | None = None) -> Lead:
    """new / contacted / qualified / disqualified (with a reason); converted only by `lead_convert`."""
    return lead_update(acting_user=acting_user, lead_id=lead_id, data={"status": status, "disqualify_reason": reason},
                       expected_version=expected_version)


@transaction.atomic
def lead_delete(*, acting_user: Any, lead_id: int) -> None:
    lead = _locked(acting_user, lead_id)
    if not has_operation(acting_user, "lead.delete") or not (
            _can_manage_others(acting_user) or lead.owner_id == acting_user.pk):
        raise PermissionDenied(_("无权删除这条线索"))
    audit.record_event(actor=acting_user, action="delete", obj=lead, customer_id=None,
                       changes=audit.diff_values(_snapshot(lead, LEAD_FIELDS), {}, LEAD_FIELDS))
    publish(DomainEvent(name="lead.deleted", object_type="lead", object_id=lead.pk,
                        actor_id=getattr(acting_user, "pk", None)))
    move_to_bin(lead, acting_user=acting_user)


# Conversion -----------------------------------------------------------------------------------


@dataclass
class Conversion:
    lead: Lead
    customer: Customer
    customer_created: bool
    contact: Contact | None
    contact_created: bool
    opportunity: Any


def _customer_data(lead: Lead, owner: Any) -> dict[str, Any]:
    values = customer_role_values_of_lead({name: getattr(lead, name) for name in (
        "name", "company", "mobile", "phone", "email", "province", "city")})
    data: dict[str, Any] = {**values, "source": lead.source, "owner": owner}
    if values["kind"] == "person":
        data["salutation"] = lead.salutation
    return {k: v for k, v in data.items() if v not in (None, "", [])} | {"kind": values["kind"],
                                                                       "name": values["name"]}


def _contact_of(customer: Customer, lead: Lead, acting_user: Any) -> tuple[Contact | None, bool]:
    """The lead's person as a contact of the customer: an existing one when certainly the same person."""
    from kehu.customers.services import contact_create
    from kehu.dataquality.contact_duplicates import likely_contact_duplicates

    if not lead.name:
        return None, False
    values = {"name": lead.name, "mobile": lead.mobile, "phone": lead.phone, "email": lead.email}
    for warning in likely_contact_duplicates(customer.pk, values):
        if warning.verdict == "certain":
            return Contact.objects.get(pk=warning.contact_id), False
    data = {k: v for k, v in {**values, "salutation": lead.salutation, "title": lead.title,
                              "wechat": lead.wechat}.items() if v}
    return contact_create(acting_user=acting_user, customer=customer, data=data), True


@transaction.atomic
def lead_convert(*, acting_user: Any, lead_id: int, customer_id: int | None = None, create_opportunity: bool = True,
                 opportunity_name: str = "", amount: Any = None, expected_version: int | None = None) -> Conversion:
    """Lead → customer + contact + opportunity in one transaction. The customer is `customer_id`
    when given (it must be visible), else a certain duplicate the user may see, else a new one.
    The lead's history stays with it and shows on the customer's timeline (`timeline.py`)."""
    from kehu.customers.services import customer_create, customer_visible_or_404
    from kehu.sales.services import opportunity_create

    lead = _locked(acting_user, lead_id, expected_version)
    if lead.status == LeadStatus.CONVERTED:
        raise ValidationFailed([FieldError("status", ErrorCode.INVALID, _("该线索已经转化过了"))])
    if lead.status == LeadStatus.DISQUALIFIED:
        raise ValidationFailed([FieldError("status", ErrorCode.INVALID, _("无效线索不能转化，请先恢复状态"))])
    owner = lead.owner if lead.owner is not None and lead.owner.is_active else acting_user
    if customer_id is not None:
        customer, created = customer_visible_or_404(user=acting_user, customer_id=customer_id), False
    else:
        match = lead_duplicates(lead_values(lead), user=acting_user).certain_visible_customer()
        if match is not None:
            customer, created = customer_visible_or_404(user=acting_user, customer_id=match), False
        else:
            customer, created = customer_create(acting_user=acting_user, data=_customer_data(lead, owner)), True
    contact, contact_created = _contact_of(customer, lead, acting_user)
    opportunity = None
    if create_opportunity:
        data: dict[str, Any] = {"name": clean_text(opportunity_name, max_length=200) or _("%(name)s 的商机") % {
            "name": customer.name}, "customer": customer.pk, "amount": amount, "owner": owner.pk}
        if contact is not None:
            data["contacts"] = [contact.pk]
        opportunity = opportunity_create(acting_user=acting_user, data=data)

    before = _snapshot(lead, ["status", *_CONVERSION_FIELDS])
    lead.status = LeadStatus.CONVERTED
    lead.converted_at = timezone.now()
    lead.converted_customer, lead.converted_contact, lead.converted_opportunity = customer, contact, opportunity
    changes = audit.diff_values(before, _snapshot(lead, ["status", *_CONVERSION_FIELDS]),
                                ["status", *_CONVERSION_FIELDS])
    _save_changed(lead, acting_user, changes)
    # On the customer's own timeline: where it (or, for a re-used customer, this contact/deal) came from.
    audit.record_event(actor=acting_user, action="convert", obj=customer, customer_id=customer.pk, changes=[
        {"field": _("由线索转化"), "old": "", "new": f"{lead}（#{lead.pk}）"}])
    return Conversion(lead=lead, customer=customer, customer_created=created, contact=contact,
                      contact_created=contact_created, opportunity=opportunity)


# Public web forms (settings) ------------------------------------------------------------------


@transaction.atomic
def lead_form_save(*, acting_user: Any, data: Mapping[str, Any], form_id: int | None = None) -> LeadForm:
    """Create or edit a public web form; admins only (it decides who gets the leads)."""
    import re

    from kehu.leads.models import LeadFormField

    if not has_operation(acting_user, "settings.manage"):
        raise PermissionDenied(_("只有管理员可以设置线索表单"))
    web_form = LeadForm.objects.select_for_update().filter(pk=form_id).first() if form_id else LeadForm()
    if web_form is None:
        raise NotFound(_("表单不存在"))
    errors = Collector()
    slug = clean_text(data.get("slug"), max_length=50).lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,49}", slug):
        errors.add("slug", ErrorCode.INVALID, _("标识只能包含小写字母、数字和连字符"))
    elif LeadForm.objects.filter(slug=slug).exclude(pk=web_form.pk).exists():
        errors.add("slug", ErrorCode.UNIQUE, _("标识已存在：%(value)s") % {"value": slug})
    title = clean_text(data.get("title"), max_length=100)
    if not title:
        errors.add("title", ErrorCode.REQUIRED, _("标题为必填项"))
    fields = [f for f in (data.get("fields") or []) if f in LeadFormField.values]
    owner = _resolve_user(data.get("default_owner"), errors)
    source = clean_picklist(data.get("default_source"), PicklistKind.SOURCE, "default_source", errors)
    if errors.errors:
        raise ValidationFailed(errors.errors)
    web_form.slug, web_form.title, web_form.fields = slug, title, fields
    web_form.intro = clean_text(data.get("intro"), max_length=2000)
    web_form.thank_you = clean_text(data.get("thank_you"), max_length=2000)
    web_form.campaign = clean_text(data.get("campaign"), max_length=100)
    web_form.default_owner, web_form.default_source = owner, source
    web_form.is_active = bool(data.get("is_active"))
    web_form.save()
    return web_form
