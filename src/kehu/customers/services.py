"""Writes to the customer archive. Every path (web form, API, import, automation) calls these,
so validation, scoping, versioning, audit and the search index are handled once."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.db.models import F, ProtectedError, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import Department, User
from kehu.accounts.permissions import has_operation
from kehu.core import audit, masking
from kehu.core.errors import ErrorCode, FieldError, NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.events import DomainEvent, publish
from kehu.core.scoping import restrict
from kehu.customers import search
from kehu.customers.models import (
    Contact,
    Customer,
    CustomerKind,
    CustomFieldDefinition,
    CustomFieldTarget,
    CustomFieldType,
    Gender,
    Note,
    PicklistKind,
    PicklistOption,
    SavedView,
    Tag,
)
from kehu.customers.pinyin import pinyin_forms
from kehu.customers.validation import (
    Collector,
    clean_custom_values,
    clean_date,
    clean_picklist,
    clean_text,
)
from kehu.dataquality import duplicates, quality, rules
from kehu.dataquality.cleaning import FieldProblem, city_aliases, clean_contact_fields, clean_customer_fields
from kehu.dataquality.contact_duplicates import contact_duplicates_refresh
from kehu.dataquality.normalize.base import Problem
from kehu.recyclebin.services import move_to_bin

CUSTOMER_FIELDS = [
    "kind",
    "name",
    "external_id",
    "short_name",
    "industry",
    "level",
    "stage",
    "source",
    "owner",
    "department",
    "phones",
    "emails",
    "website",
    "province",
    "city",
    "district",
    "address",
    "birthday",
    "credit_code",
    "id_number",
    "gender",
    "salutation",
    "notes",
    "custom",
]
CONTACT_FIELDS = [
    "name",
    "external_id",
    "salutation",
    "title",
    "decision_role",
    "mobile",
    "phone",
    "email",
    "wechat",
    "birthday",
    "is_primary",
    "notes",
    "custom",
]
_PICKLIST_FIELDS = {
    "industry": PicklistKind.INDUSTRY,
    "level": PicklistKind.LEVEL,
    "stage": PicklistKind.STAGE,
    "source": PicklistKind.SOURCE,
}


def _require_admin(user: User) -> None:
    """Tags, picklists, custom fields, shared views: the settings pages."""
    if not has_operation(user, "settings.manage"):
        raise PermissionDenied(_("只有管理员可以执行此操作"))


def _can_manage_others(user: User) -> bool:
    """Give a customer to someone else (the "assign" operation)."""
    return has_operation(user, "customer.assign")


def _snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    values = {}
    for field in fields:
        value = getattr(obj, field)
        values[field] = dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else value
    return values


def _user_exists(user_id: int) -> bool:
    return User.objects.filter(pk=user_id, is_active=True).exists()


def customer_visible_or_404(*, user: User, customer_id: int) -> Customer:
    customer = restrict(Customer.objects.all(), user).filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("客户不存在或无权查看"))
    return customer


def _apply_customer_data(customer: Customer, data: Mapping[str, Any], *, acting_user: User, creating: bool) -> None:
    # Field-level security: a field the role may not edit is dropped when sent back unchanged (or
    # as the masked value it was shown), refused (422 naming it) otherwise.
    data = masking.writable_data(acting_user, "customer", data, stored=None if creating else customer)
    errors = Collector()
    unknown = set(data) - set(CUSTOMER_FIELDS) - {"tags"}
    for field in sorted(unknown):
        errors.add(field, ErrorCode.INVALID, _("未知字段：%(field)s") % {"field": field})

    if "kind" in data or creating:
        kind = str(data.get("kind") or CustomerKind.COMPANY)
        if kind not in CustomerKind.values:
            errors.add("kind", ErrorCode.UNKNOWN_CHOICE, _("未知的客户类型：%(value)s") % {"value": kind})
        else:
            customer.kind = kind
    if "name" in data or creating:
        customer.name = clean_text(data.get("name"), max_length=200)
        if not customer.name:
            errors.add("name", ErrorCode.REQUIRED, _("名称为必填项"))
    for field, max_length in (
        ("short_name", 100),
        ("website", 200),
        ("province", 50),
        ("city", 50),
        ("district", 50),
        ("address", 300),
        ("id_number", 30),
        ("salutation", 20),
        ("external_id", 100),
    ):
        if field in data:
            setattr(customer, field, clean_text(data[field], max_length=max_length))
    if "notes" in data:
        customer.notes = clean_text(data["notes"], max_length=20000)
    if "gender" in data:
        gender = clean_text(data["gender"], max_length=10)
        if gender and gender not in Gender.values:
            errors.add("gender", ErrorCode.UNKNOWN_CHOICE, _("未知的性别：%(value)s") % {"value": gender})
        else:
            customer.gender = gender
    for field, kind in _PICKLIST_FIELDS.items():
        if field in data:
            setattr(customer, field, clean_picklist(data[field], kind, field, errors))
    if "phones" in data:
        customer.phones = _as_list(data["phones"])
    if "emails" in data:
        customer.emails = _as_list(data["emails"])
    if "birthday" in data:
        customer.birthday = clean_date(data["birthday"], "birthday", errors)
    if "credit_code" in data:
        customer.credit_code = clean_text(data["credit_code"], max_length=30)

    problems = normalise_customer(customer, data, creating=creating)
    if customer.kind == CustomerKind.COMPANY and customer.birthday:
        errors.add("birthday", ErrorCode.INVALID, _("企业客户没有生日字段"))
    if customer.kind == CustomerKind.PERSON and customer.credit_code:
        errors.add("credit_code", ErrorCode.INVALID, _("个人客户没有统一社会信用代码"))
    if customer.kind == CustomerKind.COMPANY and customer.id_number:
        errors.add("id_number", ErrorCode.INVALID, _("企业客户没有身份证号"))

    if "owner" in data:
        owner = _resolve_user(data["owner"], "owner", errors)
        # A rep limited to their own records may keep or take a customer, never give it away or
        # drop it out of everyone's view by clearing the owner.
        if (owner is None or owner.pk != acting_user.pk) and not _can_manage_others(acting_user):
            errors.add("owner", ErrorCode.PERMISSION_DENIED, _("无权把客户分配给其他人"))
        customer.owner = owner
    elif creating:
        customer.owner = acting_user
    if "department" in data:
        department = _resolve_department(data["department"], errors)
        owner_department_id = customer.owner.department_id if customer.owner else None
        if department is not None and department.pk != owner_department_id and not _can_manage_others(acting_user):
            errors.add("department", ErrorCode.PERMISSION_DENIED, _("无权把客户划到其他部门"))
        customer.department = department
    elif creating or "owner" in data:
        customer.department = customer.owner.department if customer.owner else None

    definitions = list(CustomFieldDefinition.objects.filter(target=CustomFieldTarget.CUSTOMER, is_active=True))
    if "custom" in data or creating:
        customer.custom = clean_custom_values(
            definitions=definitions,
            values=data.get("custom") or {},
            existing=customer.custom,
            errors=errors,
            user_exists=_user_exists,
        )
    outcome = rules.check_rules(
        target="customer",
        record=customer,
        customer_kind=customer.kind,
        stage_id=customer.stage_id,
        problems=problems,
        customer_id=customer.pk,
        user=acting_user,
    )
    errors.errors.extend(outcome.errors)
    if errors.errors:
        raise ValidationFailed(errors.errors)
    customer.quality_warnings = outcome.warnings  # type: ignore[attr-defined]  # shown by the form after saving
    customer.name_pinyin, customer.name_initials = pinyin_forms(
        customer.name, is_person=customer.kind == CustomerKind.PERSON
    )


def _as_list(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v not in (None, "")]


_NORMALISED_CUSTOMER_FIELDS = {"name", "phones", "emails", "province", "city", "district", "address",
                               "credit_code", "id_number", "website"}


def normalise_customer(
    customer: Customer, data: Mapping[str, Any], *, creating: bool, aliases: Mapping[str, str] | None = None
) -> list[FieldProblem]:
    """Canonical forms of the given fields (dataquality normalisers) set on `customer`; returns their
    problems. The one cleaning step of every customer write path: the services and the import (which
    passes the city-alias table it read once, `aliases`, instead of a query per row)."""
    given = set(data) & _NORMALISED_CUSTOMER_FIELDS
    if creating or "kind" in data:
        given.add("name")
    if given & {"province", "city", "district", "address"}:
        given |= {"province", "city", "district", "address"}
    raw = {name: getattr(customer, name) for name in given}
    if "city" in given and aliases is None:
        aliases = city_aliases()
    cleaned = clean_customer_fields(raw, kind=customer.kind, aliases=aliases if "city" in given else None)
    values = cleaned.values
    birthday, gender = values.pop("_id_birthday", None), values.pop("_id_gender", "")
    if data.get("salutation"):  # an explicit salutation wins over one split off the name
        values.pop("salutation", None)
    elif customer.kind != CustomerKind.PERSON:
        values["salutation"] = ""
    for name, value in values.items():
        setattr(customer, name, value)
    problems = list(cleaned.problems)
    # The ID number fills birthday and gender left empty (a form posts them empty, an API call omits them).
    if birthday:
        if customer.birthday is None:
            customer.birthday = birthday
        elif customer.birthday != birthday:
            problems.append(FieldProblem("id_number", Problem("id_number.birthday_mismatch", customer.id_number)))
    if gender and not customer.gender:
        customer.gender = gender
    return problems


def _resolve_user(value: Any, field: str, errors: Collector) -> User | None:
    if value in (None, ""):
        return None
    if isinstance(value, User):
        return value
    text = str(value).strip()
    user = None
    if text.isdigit():
        user = User.objects.filter(pk=int(text), is_active=True).first()
    user = user or User.objects.filter(username=text, is_active=True).first()
    if user is None:
        errors.add(field, ErrorCode.INVALID, _("未知的用户：%(value)s") % {"value": value})
    return user


def _resolve_department(value: Any, errors: Collector) -> Department | None:
    if value in (None, ""):
        return None
    if isinstance(value, Department):
        return value
    department = Department.objects.filter(pk=int(value)).first() if str(value).isdigit() else None
    if department is None:
        errors.add("department", ErrorCode.INVALID, _("未知的部门：%(value)s") % {"value": value})
    return department


def _resolve_tags(names: Iterable[Any]) -> list[Tag]:
    tags = []
    for raw in names:
        if isinstance(raw, Tag):
            tags.append(raw)
            continue
        name = clean_text(raw, max_length=50)
        if name:
            tag, _ = Tag.objects.get_or_create(name=name)
            tags.append(tag)
    return tags


# A change to one of these can make a customer a duplicate of another.
IDENTIFYING_FIELDS = frozenset({"kind", "name", "phones", "emails", "credit_code", "id_number", "birthday"})


def customer_prepare(*, acting_user: User, data: Mapping[str, Any]) -> Customer:
    """The customer `customer_create` would save, cleaned and validated but not saved (nothing is
    written): raises ValidationFailed like the create would. Forms use it to show likely
    duplicates only for values that would save."""
    customer = Customer(created_by=acting_user, updated_by=acting_user)
    _apply_customer_data(customer, data, acting_user=acting_user, creating=True)
    return customer


@transaction.atomic
def customer_create(*, acting_user: User, data: Mapping[str, Any]) -> Customer:
    customer = customer_prepare(acting_user=acting_user, data=data)
    duplicates.refuse_certain_duplicates(duplicates.customer_values(customer), user=acting_user)
    customer.save()
    tags = _resolve_tags(data.get("tags") or [])
    if tags:
        customer.tags.set(tags)
    after = _snapshot(customer, CUSTOMER_FIELDS)
    changes = audit.diff_values({}, after, CUSTOMER_FIELDS)
    if tags:
        changes.append({"field": "tags", "old": [], "new": sorted(t.name for t in tags)})
    audit.record_event(actor=acting_user, action="create", obj=customer, customer_id=customer.pk, changes=changes)
    search.index_customer(customer)
    quality.customer_quality_refresh(customer)
    publish(DomainEvent(name="customer.created", object_type="customer", object_id=customer.pk,
                        customer_id=customer.pk, actor_id=getattr(acting_user, "pk", None)))
    return customer


@transaction.atomic
def customer_update(
    *, acting_user: User, customer: Customer, data: Mapping[str, Any], expected_version: int | None = None
) -> Customer:
    """Apply a partial update. `expected_version` is the version the caller loaded; if someone
    saved in between, VersionConflict is raised and nothing is written."""
    locked = restrict(Customer.objects.select_for_update(of=("self",)), acting_user,
                      write=True).filter(pk=customer.pk).first()
    if locked is None:
        raise NotFound(_("客户不存在或无权查看"))
    if expected_version is not None and locked.version != expected_version:
        raise VersionConflict(
            _("该客户已被他人修改（当前版本 %(current)s，你编辑的是版本 %(yours)s），请刷新后再改")
            % {"current": locked.version, "yours": expected_version}
        )
    before = _snapshot(locked, CUSTOMER_FIELDS)
    before_tags = sorted(locked.tags.values_list("name", flat=True))
    _apply_customer_data(locked, data, acting_user=acting_user, creating=False)
    if data.keys() & IDENTIFYING_FIELDS:
        duplicates.refuse_certain_duplicates(duplicates.customer_values(locked), user=acting_user,
                                             exclude_id=locked.pk)
    after = _snapshot(locked, CUSTOMER_FIELDS)
    changes = audit.diff_values(before, after, CUSTOMER_FIELDS)
    if "tags" in data:
        tags = _resolve_tags(data.get("tags") or [])
        after_tags = sorted(t.name for t in tags)
        if after_tags != before_tags:
            locked.tags.set(tags)
            changes.append({"field": "tags", "old": before_tags, "new": after_tags})
    if not changes:
        return locked
    locked.version = F("version") + 1
    locked.updated_by = acting_user
    locked.updated_at = timezone.now()
    locked.save()
    locked.refresh_from_db(fields=["version"])
    audit.record_event(actor=acting_user, action="update", obj=locked, customer_id=locked.pk, changes=changes)
    search.index_customer(locked)
    quality.customer_quality_refresh(locked)
    publish(DomainEvent(name="customer.updated", object_type="customer", object_id=locked.pk, customer_id=locked.pk,
                        actor_id=getattr(acting_user, "pk", None),
                        changes={c["field"]: (c["old"], c["new"]) for c in changes}))
    return locked


@transaction.atomic
def customer_delete(*, acting_user: User, customer: Customer) -> None:
    locked = restrict(Customer.objects.select_for_update(of=("self",)), acting_user,
                      write=True).filter(pk=customer.pk).first()
    if locked is None:
        raise NotFound(_("客户不存在或无权查看"))
    if not has_operation(acting_user, "customer.delete") or not (
            locked.owner_id == acting_user.pk or _can_manage_others(acting_user)):
        raise PermissionDenied(_("无权删除该客户"))
    audit.record_event(
        actor=acting_user,
        action="delete",
        obj=locked,
        customer_id=locked.pk,
        changes=audit.diff_values(_snapshot(locked, CUSTOMER_FIELDS), {}, CUSTOMER_FIELDS),
    )
    try:
        move_to_bin(locked, acting_user=acting_user)  # a snapshot in the recycle bin, then the real delete
    except ProtectedError as exc:  # business records of later apps (deals, contracts) keep it
        kinds = sorted({str(obj._meta.verbose_name) for obj in exc.protected_objects})
        raise ValidationFailed([_field_error("customer", ErrorCode.INVALID,
                                             _("该客户还有%(kinds)s，不能删除；请先处理或转移它们")
                                             % {"kinds": "、".join(kinds)})]) from exc
    publish(DomainEvent(name="customer.deleted", object_type="customer", object_id=customer.pk,
                        customer_id=customer.pk, actor_id=getattr(acting_user, "pk", None)))


@transaction.atomic
def customers_bulk_tag(
    *, acting_user: User, customer_ids: Iterable[int], add: Iterable[str] = (), remove: Iterable[str] = ()
) -> int:
    """Add/remove tags on many customers; customers outside the user's scope are skipped."""
    add_tags = _resolve_tags(add)
    remove_names = {clean_text(n, max_length=50) for n in remove}
    remove_tags = list(Tag.objects.filter(name__in=remove_names))
    changed = 0
    customers = restrict(Customer.objects.filter(pk__in=list(customer_ids)), acting_user).prefetch_related("tags")
    for customer in customers:
        before = sorted(t.name for t in customer.tags.all())
        if add_tags:
            customer.tags.add(*add_tags)
        if remove_tags:
            customer.tags.remove(*remove_tags)
        after = sorted(customer.tags.values_list("name", flat=True))
        if after != before:
            changed += 1
            Customer.objects.filter(pk=customer.pk).update(
                version=F("version") + 1, updated_at=timezone.now(), updated_by=acting_user
            )
            audit.record_event(
                actor=acting_user,
                action="update",
                obj=customer,
                customer_id=customer.pk,
                changes=[{"field": "tags", "old": before, "new": after}],
            )
    return changed


@transaction.atomic
def customers_bulk_change_owner(*, acting_user: User, customer_ids: Iterable[int], owner: User) -> int:
    if not _can_manage_others(acting_user):
        raise PermissionDenied(_("无权批量变更负责人"))
    changed = 0
    customers = restrict(Customer.objects.filter(pk__in=list(customer_ids)), acting_user)
    for customer in customers.select_for_update(of=("self",)):
        if customer.owner_id == owner.pk:
            continue
        customer_update(
            acting_user=acting_user,
            customer=customer,
            data={"owner": owner, "department": owner.department},
        )
        changed += 1
    return changed


# Contacts -------------------------------------------------------------------------------------


def _apply_contact_data(
    contact: Contact, data: Mapping[str, Any], *, creating: bool, acting_user: User | None = None
) -> None:
    data = masking.writable_data(acting_user, "contact", data, stored=None if creating else contact)
    errors = Collector()
    for field in sorted(set(data) - set(CONTACT_FIELDS) - {"customer"}):
        errors.add(field, ErrorCode.INVALID, _("未知字段：%(field)s") % {"field": field})
    if "name" in data or creating:
        contact.name = clean_text(data.get("name"), max_length=100)
        if not contact.name:
            errors.add("name", ErrorCode.REQUIRED, _("姓名为必填项"))
    for field, max_length in (("title", 100), ("wechat", 100), ("external_id", 100)):
        if field in data:
            setattr(contact, field, clean_text(data[field], max_length=max_length))
    if "notes" in data:
        contact.notes = clean_text(data["notes"], max_length=20000)
    if "salutation" in data:
        contact.salutation = clean_text(data["salutation"], max_length=20)
    given = {
        name: clean_text(data[name], max_length=254) for name in ("name", "mobile", "phone", "email") if name in data
    }
    cleaned = clean_contact_fields(given)
    if data.get("salutation"):
        cleaned.values.pop("salutation", None)
    for name, value in cleaned.values.items():
        setattr(contact, name, value[:100] if name == "name" else value)
    for name in ("mobile", "phone"):  # a number the normaliser kept as typed may not fit its column
        if len(getattr(contact, name) or "") > Contact._meta.get_field(name).max_length:
            errors.add(name, ErrorCode.INVALID, _("号码过长"))
    if "birthday" in data:
        contact.birthday = clean_date(data["birthday"], "birthday", errors)
    if "decision_role" in data:
        contact.decision_role = clean_picklist(
            data["decision_role"], PicklistKind.CONTACT_ROLE, "decision_role", errors
        )
    if "is_primary" in data:
        contact.is_primary = bool(data["is_primary"]) and str(data["is_primary"]).lower() not in {"0", "false", "否"}
    definitions = list(CustomFieldDefinition.objects.filter(target=CustomFieldTarget.CONTACT, is_active=True))
    if "custom" in data or creating:
        contact.custom = clean_custom_values(
            definitions=definitions,
            values=data.get("custom") or {},
            existing=contact.custom,
            errors=errors,
            user_exists=_user_exists,
        )
    customer = contact.customer
    outcome = rules.check_rules(
        target="contact",
        record=contact,
        customer_kind=customer.kind,
        stage_id=customer.stage_id,
        problems=cleaned.problems,
        customer_id=customer.pk,
        user=acting_user,
    )
    errors.errors.extend(outcome.errors)
    if errors.errors:
        raise ValidationFailed(errors.errors)
    contact.quality_warnings = outcome.warnings  # type: ignore[attr-defined]
    contact.name_pinyin, contact.name_initials = pinyin_forms(contact.name, is_person=True)


def _keep_one_primary(contact: Contact) -> None:
    if contact.is_primary:
        Contact.objects.filter(customer_id=contact.customer_id, is_primary=True).exclude(pk=contact.pk).update(
            is_primary=False
        )


@transaction.atomic
def contact_create(*, acting_user: User, customer: Customer, data: Mapping[str, Any]) -> Contact:
    customer = customer_visible_or_404(user=acting_user, customer_id=customer.pk)
    contact = Contact(customer=customer, created_by=acting_user, updated_by=acting_user)
    _apply_contact_data(contact, data, creating=True, acting_user=acting_user)
    if not Contact.objects.filter(customer=customer).exists():
        contact.is_primary = True
    contact.save()
    _keep_one_primary(contact)
    audit.record_event(
        actor=acting_user,
        action="create",
        obj=contact,
        customer_id=customer.pk,
        changes=audit.diff_values({}, _snapshot(contact, CONTACT_FIELDS), CONTACT_FIELDS),
    )
    search.index_contact(contact)
    quality.customer_quality_refresh(customer)
    contact_duplicates_refresh([customer.pk])
    return contact


@transaction.atomic
def contact_update(
    *, acting_user: User, contact: Contact, data: Mapping[str, Any], expected_version: int | None = None
) -> Contact:
    locked = restrict(Contact.objects.select_for_update(of=("self",)), acting_user,
                      write=True).filter(pk=contact.pk).first()
    if locked is None:
        raise NotFound(_("联系人不存在或无权查看"))
    if expected_version is not None and locked.version != expected_version:
        raise VersionConflict(_("该联系人已被他人修改，请刷新后再改"))
    before = _snapshot(locked, CONTACT_FIELDS)
    _apply_contact_data(locked, data, creating=False, acting_user=acting_user)
    changes = audit.diff_values(before, _snapshot(locked, CONTACT_FIELDS), CONTACT_FIELDS)
    if not changes:
        return locked
    locked.version = F("version") + 1
    locked.updated_by = acting_user
    locked.updated_at = timezone.now()
    locked.save()
    locked.refresh_from_db(fields=["version"])
    _keep_one_primary(locked)
    audit.record_event(actor=acting_user, action="update", obj=locked, customer_id=locked.customer_id, changes=changes)
    search.index_contact(locked)
    quality.customer_quality_refresh(locked.customer)
    contact_duplicates_refresh([locked.customer_id])
    return locked


@transaction.atomic
def contact_delete(*, acting_user: User, contact: Contact) -> None:
    locked = restrict(Contact.objects.select_for_update(of=("self",)), acting_user,
                      write=True).filter(pk=contact.pk).first()
    if locked is None:
        raise NotFound(_("联系人不存在或无权查看"))
    audit.record_event(
        actor=acting_user,
        action="delete",
        obj=locked,
        customer_id=locked.customer_id,
        changes=audit.diff_values(_snapshot(locked, CONTACT_FIELDS), {}, CONTACT_FIELDS),
    )
    customer = locked.customer
    move_to_bin(locked, acting_user=acting_user)
    quality.customer_quality_refresh(customer)
    contact_duplicates_refresh([customer.pk])


# Notes ----------------------------------------------------------------------------------------


@transaction.atomic
def note_create(*, acting_user: User, customer: Customer, body: str) -> Note:
    customer = customer_visible_or_404(user=acting_user, customer_id=customer.pk)
    text = clean_text(body, max_length=20000)
    if not text:
        raise ValidationFailed([_field_error("body", ErrorCode.REQUIRED, _("备注内容不能为空"))])
    note = Note.objects.create(customer=customer, body=text, author=acting_user)
    now = timezone.now()
    Customer.objects.filter(pk=customer.pk).update(updated_at=now, last_activity_at=now)
    return note


def _field_error(field: str, code: ErrorCode, message: str) -> FieldError:
    return FieldError(field=field, code=code, message=message)


# Tags, picklists, custom fields, saved views (admin data) --------------------------------------


@transaction.atomic
def tag_create(*, acting_user: User, name: str, color: str = "#1677ff") -> Tag:
    clean = clean_text(name, max_length=50)
    if not clean:
        raise ValidationFailed([_field_error("name", ErrorCode.REQUIRED, _("标签名不能为空"))])
    if Tag.objects.filter(name=clean).exists():
        raise ValidationFailed([_field_error("name", ErrorCode.UNIQUE, _("标签已存在：%(name)s") % {"name": clean})])
    return Tag.objects.create(name=clean, color=clean_text(color, max_length=20) or "#1677ff")


@transaction.atomic
def tag_update(*, acting_user: User, tag: Tag, name: str | None = None, color: str | None = None) -> Tag:
    _require_admin(acting_user)
    if name is not None:
        clean = clean_text(name, max_length=50)
        if not clean:
            raise ValidationFailed([_field_error("name", ErrorCode.REQUIRED, _("标签名不能为空"))])
        if Tag.objects.filter(name=clean).exclude(pk=tag.pk).exists():
            raise ValidationFailed(
                [_field_error("name", ErrorCode.UNIQUE, _("标签已存在：%(name)s") % {"name": clean})]
            )
        tag.name = clean
    if color is not None:
        tag.color = clean_text(color, max_length=20)
    tag.save()
    return tag


@transaction.atomic
def tag_delete(*, acting_user: User, tag: Tag) -> None:
    _require_admin(acting_user)
    tag.delete()


@transaction.atomic
def picklist_option_save(
    *,
    acting_user: User,
    kind: str,
    code: str,
    label_zh: str,
    label_en: str = "",
    position: int = 0,
    color: str = "",
    is_active: bool = True,
    option: PicklistOption | None = None,
) -> PicklistOption:
    _require_admin(acting_user)
    errors = Collector()
    if kind not in PicklistKind.values:
        errors.add("kind", ErrorCode.UNKNOWN_CHOICE, _("未知的选项类型：%(value)s") % {"value": kind})
    code = clean_text(code, max_length=50)
    if not code:
        errors.add("code", ErrorCode.REQUIRED, _("代码为必填项"))
    if not clean_text(label_zh, max_length=100):
        errors.add("label_zh", ErrorCode.REQUIRED, _("中文名为必填项"))
    duplicate = PicklistOption.objects.filter(kind=kind, code=code)
    if option is not None:
        duplicate = duplicate.exclude(pk=option.pk)
    if code and duplicate.exists():
        errors.add("code", ErrorCode.UNIQUE, _("代码已存在：%(value)s") % {"value": code})
    if errors.errors:
        raise ValidationFailed(errors.errors)
    option = option or PicklistOption(kind=kind)
    option.kind = kind
    option.code = code
    option.label_zh = clean_text(label_zh, max_length=100)
    option.label_en = clean_text(label_en, max_length=100) or option.label_zh
    option.position = position
    option.color = clean_text(color, max_length=20)
    option.is_active = is_active
    option.save()
    return option


@transaction.atomic
def picklist_option_delete(*, acting_user: User, option: PicklistOption) -> None:
    """Delete an unused option; an option still used by a record can only be deactivated."""
    _require_admin(acting_user)
    used = (
        Contact.objects.filter(decision_role=option).exists()
        or Customer.objects.filter(Q(industry=option) | Q(level=option) | Q(stage=option) | Q(source=option)).exists()
    )
    if used:
        raise ValidationFailed([_field_error("id", ErrorCode.INVALID, _("该选项已被使用，不能删除，请改为停用"))])
    option.delete()


@transaction.atomic
def custom_field_save(
    *,
    acting_user: User,
    target: str,
    key: str,
    label_zh: str,
    field_type: str,
    label_en: str = "",
    choices: list[dict] | None = None,
    required: bool = False,
    show_in_list: bool = False,
    position: int = 0,
    is_active: bool = True,
    definition: CustomFieldDefinition | None = None,
) -> CustomFieldDefinition:
    _require_admin(acting_user)
    errors = Collector()
    if target not in CustomFieldTarget.values:
        errors.add("target", ErrorCode.UNKNOWN_CHOICE, _("未知的对象：%(value)s") % {"value": target})
    if field_type not in CustomFieldType.values:
        errors.add("field_type", ErrorCode.UNKNOWN_CHOICE, _("未知的字段类型：%(value)s") % {"value": field_type})
    key = clean_text(key, max_length=50).lower()
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,49}", key or ""):
        errors.add("key", ErrorCode.INVALID, _("键只能包含小写字母、数字和下划线，并以字母开头"))
    if not clean_text(label_zh, max_length=100):
        errors.add("label_zh", ErrorCode.REQUIRED, _("中文名为必填项"))
    clean_choices = []
    for choice in choices or []:
        value = clean_text(choice.get("value"), max_length=50)
        if value:
            clean_choices.append(
                {
                    "value": value,
                    "label_zh": clean_text(choice.get("label_zh") or value, max_length=100),
                    "label_en": clean_text(choice.get("label_en") or choice.get("label_zh") or value, max_length=100),
                }
            )
    if field_type in (CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE) and not clean_choices:
        errors.add("choices", ErrorCode.REQUIRED, _("选择类字段至少需要一个选项"))
    duplicate = CustomFieldDefinition.objects.filter(target=target, key=key)
    if definition is not None:
        duplicate = duplicate.exclude(pk=definition.pk)
        if definition.field_type != field_type and definition.key == key:
            errors.add("field_type", ErrorCode.INVALID, _("已有数据的字段不能更改类型"))
    if key and duplicate.exists():
        errors.add("key", ErrorCode.UNIQUE, _("键已存在：%(value)s") % {"value": key})
    if errors.errors:
        raise ValidationFailed(errors.errors)
    definition = definition or CustomFieldDefinition()
    definition.target = target
    definition.key = key
    definition.label_zh = clean_text(label_zh, max_length=100)
    definition.label_en = clean_text(label_en, max_length=100)
    definition.field_type = field_type
    definition.choices = clean_choices
    definition.required = required
    definition.show_in_list = show_in_list
    definition.position = position
    definition.is_active = is_active
    definition.save()
    return definition


@transaction.atomic
def custom_field_delete(*, acting_user: User, definition: CustomFieldDefinition) -> None:
    """Delete a definition; values already stored under its key stay in the records' JSON."""
    _require_admin(acting_user)
    definition.delete()


@transaction.atomic
def saved_view_create(
    *,
    acting_user: User,
    name: str,
    params: Mapping[str, Any],
    columns: list[str] | None = None,
    shared: bool = False,
) -> SavedView:
    if shared:
        _require_admin(acting_user)
    clean = clean_text(name, max_length=100)
    if not clean:
        raise ValidationFailed([_field_error("name", ErrorCode.REQUIRED, _("视图名称不能为空"))])
    return SavedView.objects.create(
        owner=None if shared else acting_user, name=clean, params=dict(params), columns=list(columns or [])
    )


@transaction.atomic
def saved_view_delete(*, acting_user: User, view: SavedView) -> None:
    if view.owner_id is None:
        _require_admin(acting_user)
    elif view.owner_id != acting_user.pk:
        raise PermissionDenied(_("无权删除他人的视图"))
    view.delete()
