"""Request and response shapes of the customer archive API (/api/v1/).

Input schemas only check types and forbid unknown keys; the real validation (picklist codes,
phones, e-mails, credit codes, custom-field values, permissions) happens in
`kehu.customers.services`, so the API, the web forms and imports share one set of rules.
Output is built by the `*_out` functions from rows loaded by the selectors (with their
select_related/prefetch_related), so serialising a page never issues per-row queries."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.utils.translation import get_language
from ninja import Field, Schema
from pydantic import BaseModel, ConfigDict

from kehu.core.registries import TimelineEntry
from kehu.customers.models import Contact, Customer, CustomFieldDefinition, Note, PicklistOption, Tag
from kehu.customers.search import SearchHit

# Picklists are referenced by id, code or label; users by id or username.
PicklistRef = int | str | None
UserRef = int | str | None


class InputSchema(Schema):
    model_config = ConfigDict(extra="forbid")


class OutputSchema(BaseModel):
    """Responses are plain pydantic models validated from the dicts the `*_out` functions build:
    ninja's `Schema` wraps every nested object for ORM attribute access, which made validating a
    50-row page ~25 ms instead of ~3 ms."""


# Shared pieces ---------------------------------------------------------------------------------


class OptionRef(OutputSchema):
    id: int
    code: str
    label: str


class UserRefOut(OutputSchema):
    id: int
    username: str
    display_name: str


class DepartmentRef(OutputSchema):
    id: int
    name: str


class ErrorDetail(OutputSchema):
    field: str | None
    code: str
    message: str


class ErrorBody(OutputSchema):
    code: str
    field: str | None = None
    message: str
    errors: list[ErrorDetail] = []


class ErrorOut(OutputSchema):
    error: ErrorBody


class ChangedOut(OutputSchema):
    changed: int = Field(description="Number of records that actually changed")


def option_ref(option: PicklistOption | None) -> dict[str, Any] | None:
    if option is None:
        return None
    return {"id": option.pk, "code": option.code, "label": option.label}


# Description of the outputs field-level security protects (kehu.core.masking, accounts/permissions.py).
FIELD_SECURITY = ("null when your role may not see this field; masked (138****5678, z***@example.com) when it "
                  "may see only a masked value (POST .../reveal shows the full value, logged)")


def user_ref(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.username, "display_name": user.display_name or user.username}


# Customers -------------------------------------------------------------------------------------


class CustomerOut(OutputSchema):
    id: int
    external_id: str = Field(description="The record's id in the system it came from (imports match on it)")
    kind: str
    name: str
    short_name: str
    industry: OptionRef | None
    level: OptionRef | None
    stage: OptionRef | None
    source: OptionRef | None
    owner: UserRefOut | None
    department: DepartmentRef | None
    tags: list[str]
    phones: list[str] | None = Field(description=FIELD_SECURITY)
    emails: list[str] | None = Field(description=FIELD_SECURITY)
    website: str
    province: str
    city: str
    district: str
    address: str | None = Field(description=FIELD_SECURITY)
    birthday: dt.date | None = Field(description="null also when your role may not see it in full")
    credit_code: str
    salutation: str
    gender: str
    id_number: str | None = Field(description=FIELD_SECURITY)
    phones_e164: list[str] | None = Field(
        description="E.164 of each phone, same order; empty where the number is invalid. Follows `phones`' access")
    name_core: str = Field(description="Company core name (no region, legal form or branch), used for matching")
    quality_score: int | None = Field(description="Data-quality score 0-100 (null until first checked)")
    last_activity_at: dt.datetime | None
    reviewed_at: dt.datetime | None
    notes: str
    custom: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


def customer_out(customer: Customer) -> dict[str, Any]:
    """Expects owner, department, picklists selected and tags prefetched (selectors do this)."""
    department = customer.department
    return {
        "id": customer.pk,
        "external_id": customer.external_id,
        "kind": customer.kind,
        "name": customer.name,
        "short_name": customer.short_name,
        "industry": option_ref(customer.industry),
        "level": option_ref(customer.level),
        "stage": option_ref(customer.stage),
        "source": option_ref(customer.source),
        "owner": user_ref(customer.owner),
        "department": {"id": department.pk, "name": department.name} if department else None,
        "tags": [tag.name for tag in customer.tag_list()],
        "phones": list(customer.phones or []),
        "emails": list(customer.emails or []),
        "website": customer.website,
        "province": customer.province,
        "city": customer.city,
        "district": customer.district,
        "address": customer.address,
        "birthday": customer.birthday,
        "credit_code": customer.credit_code,
        "salutation": customer.salutation,
        "gender": customer.gender,
        "id_number": customer.id_number,
        "phones_e164": list(customer.phones_e164 or []),
        "name_core": customer.name_core,
        "quality_score": customer.quality_score,
        "last_activity_at": customer.last_activity_at,
        "reviewed_at": customer.reviewed_at,
        "notes": customer.notes,
        "custom": dict(customer.custom or {}),
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
        "version": customer.version,
    }


def customer_list_out(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`customer_out` for the rows of `selectors.customer_list_rows` (column values, no model
    instances), key for key; tests/customers/test_selectors.py keeps the two identical."""
    label = "label_en" if (get_language() or "").startswith("en") else "label_zh"  # PicklistOption.label
    options: dict[int, dict[str, Any]] = {}
    items = []
    for row in rows:
        refs: dict[str, dict[str, Any] | None] = {}
        for name in ("industry", "level", "stage", "source"):
            pk = row[f"{name}_id"]
            if pk is None:
                refs[name] = None
                continue
            ref = options.get(pk)
            if ref is None:
                ref = options[pk] = {"id": pk, "code": row[f"{name}__code"], "label": row[f"{name}__{label}"]}
            refs[name] = ref
        owner_id, department_id = row["owner_id"], row["department_id"]
        items.append({
            "id": row["id"],
            "external_id": row["external_id"],
            "kind": row["kind"],
            "name": row["name"],
            "short_name": row["short_name"],
            **refs,
            "owner": None if owner_id is None else {
                "id": owner_id, "username": row["owner__username"],
                "display_name": row["owner__display_name"] or row["owner__username"],
            },
            "department": None if department_id is None else {"id": department_id, "name": row["department__name"]},
            "tags": row["tags"],
            "phones": list(row["phones"] or []),
            "emails": list(row["emails"] or []),
            "website": row["website"],
            "province": row["province"],
            "city": row["city"],
            "district": row["district"],
            "address": row["address"],
            "birthday": row["birthday"],
            "credit_code": row["credit_code"],
            "salutation": row["salutation"],
            "gender": row["gender"],
            "id_number": row["id_number"],
            "phones_e164": list(row["phones_e164"] or []),
            "name_core": row["name_core"],
            "quality_score": row["quality_score"],
            "last_activity_at": row["last_activity_at"],
            "reviewed_at": row["reviewed_at"],
            "notes": row["notes"],
            "custom": dict(row["custom"] or {}),
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "version": row["version"],
        })
    return items


class CustomerPage(OutputSchema):
    items: list[CustomerOut]
    next_cursor: str | None
    prev_cursor: str | None
    total: int | None = Field(description="Exact count up to 10000; null with total_capped=true above that")
    total_capped: bool


class CustomerFields(InputSchema):
    kind: Literal["company", "person"] | None = None
    external_id: str | None = Field(None, description="Id in the system the record came from")
    short_name: str | None = None
    industry: PicklistRef = Field(None, description="Picklist option id, code or label")
    level: PicklistRef = None
    stage: PicklistRef = None
    source: PicklistRef = None
    owner: UserRef = Field(None, description="User id or username; defaults to the caller on create")
    department: int | None = None
    tags: list[str] | None = Field(None, description="Tag names; unknown names are created")
    phones: list[str] | None = None
    emails: list[str] | None = None
    website: str | None = None
    province: str | None = None
    city: str | None = None
    district: str | None = None
    address: str | None = None
    birthday: str | None = Field(None, description="YYYY-MM-DD (person customers only)")
    credit_code: str | None = Field(None, description="统一社会信用代码, 18 characters (companies only)")
    id_number: str | None = Field(
        None, description="Resident ID (person customers only); fills birthday and gender when they are empty"
    )
    gender: Literal["male", "female", ""] | None = None
    salutation: str | None = Field(None, description="先生, 女士, 总 …; split off the name when typed into it")
    notes: str | None = None
    custom: dict[str, Any] | None = Field(None, description="Custom field values by key")


class CustomerCreateIn(CustomerFields):
    name: str


class CustomerPatchIn(CustomerFields):
    version: int | None = Field(
        None, description="The version you loaded; 409 version_conflict if someone saved since. Required unless "
        "you send If-Match (the ETag of the GET; 412 precondition_failed if someone saved since)")
    name: str | None = None


class CustomerListQuery(Schema):
    """The list filters are the web list's (`CustomerFilter`); custom fields filter as `cf_<key>=value`."""

    q: str | None = Field(None, description="Search text (name, pinyin, initials, phone, e-mail, credit code)")
    kind: str | None = None
    owner: str | None = Field(None, description="User id, `me` or `none`")
    department: int | None = Field(None, description="Department id, includes sub-departments")
    stage: int | None = None
    source: int | None = None
    level: int | None = None
    industry: int | None = None
    city: str | None = None
    province: str | None = None
    tags: list[str] | None = Field(None, description="Tag names (repeat or comma-separate); all must match")
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    updated_from: dt.date | None = None
    updated_to: dt.date | None = None


class BulkTagIn(InputSchema):
    ids: list[int] = Field(max_length=5000)
    add: list[str] = []
    remove: list[str] = []


class BulkOwnerIn(InputSchema):
    ids: list[int] = Field(max_length=5000)
    owner: int = Field(description="User id of the new owner; the department follows the owner")


# Contacts --------------------------------------------------------------------------------------


class CustomerBrief(OutputSchema):
    id: int
    name: str


class ContactOut(OutputSchema):
    id: int
    customer: CustomerBrief
    external_id: str
    name: str
    salutation: str
    title: str
    decision_role: OptionRef | None
    mobile: str | None = Field(
        description="Canonical display form (13812345678); kept as typed when invalid. " + FIELD_SECURITY)
    mobile_e164: str | None = Field(description="+8613812345678; empty when the number is invalid")
    phone: str | None = Field(description=FIELD_SECURITY)
    phone_e164: str | None
    email: str | None = Field(description=FIELD_SECURITY)
    wechat: str | None = Field(description=FIELD_SECURITY)
    birthday: dt.date | None = Field(description="null also when your role may not see it in full")
    is_primary: bool
    notes: str
    custom: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


def contact_out(contact: Contact) -> dict[str, Any]:
    """Expects customer and decision_role selected."""
    return {
        "id": contact.pk,
        "customer": {"id": contact.customer.pk, "name": contact.customer.name},
        "external_id": contact.external_id,
        "name": contact.name,
        "salutation": contact.salutation,
        "title": contact.title,
        "decision_role": option_ref(contact.decision_role),
        "mobile": contact.mobile,
        "mobile_e164": contact.mobile_e164,
        "phone": contact.phone,
        "phone_e164": contact.phone_e164,
        "email": contact.email,
        "wechat": contact.wechat,
        "birthday": contact.birthday,
        "is_primary": contact.is_primary,
        "notes": contact.notes,
        "custom": dict(contact.custom or {}),
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
        "version": contact.version,
    }


class ContactPage(OutputSchema):
    items: list[ContactOut]
    next_cursor: str | None
    prev_cursor: str | None
    total: int | None
    total_capped: bool


class ContactFields(InputSchema):
    external_id: str | None = None
    salutation: str | None = Field(None, description="先生, 女士, 总 …; split off the name when typed into it")
    title: str | None = None
    decision_role: PicklistRef = None
    mobile: str | None = None
    phone: str | None = None
    email: str | None = None
    wechat: str | None = None
    birthday: str | None = Field(None, description="YYYY-MM-DD")
    is_primary: bool | None = None
    notes: str | None = None
    custom: dict[str, Any] | None = None


class ContactCreateIn(ContactFields):
    customer: int
    name: str


class ContactPatchIn(ContactFields):
    version: int | None = Field(None, description="Required unless you send If-Match (see CustomerPatchIn.version)")
    name: str | None = None


# Notes and timeline ----------------------------------------------------------------------------


class NoteOut(OutputSchema):
    id: int
    body: str
    author: UserRefOut | None
    created_at: dt.datetime


def note_out(note: Note) -> dict[str, Any]:
    return {"id": note.pk, "body": note.body, "author": user_ref(note.author), "created_at": note.created_at}


class NoteIn(InputSchema):
    body: str


class TimelineEntryOut(OutputSchema):
    at: dt.datetime
    kind: str
    title: str
    actor: str
    body: str
    changes: list[dict[str, Any]]
    icon: str


def timeline_out(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "at": entry.at,
        "kind": entry.kind,
        "title": str(entry.title),
        "actor": entry.actor,
        "body": entry.body,
        "changes": list(entry.changes),
        "icon": entry.icon,
    }


# Tags, picklists, custom fields ----------------------------------------------------------------


class TagOut(OutputSchema):
    id: int
    name: str
    color: str


def tag_out(tag: Tag) -> dict[str, Any]:
    return {"id": tag.pk, "name": tag.name, "color": tag.color}


class TagIn(InputSchema):
    name: str
    color: str | None = None


class TagPatchIn(InputSchema):
    name: str | None = None
    color: str | None = None


class PicklistOptionOut(OutputSchema):
    id: int
    kind: str
    code: str
    label: str
    label_zh: str
    label_en: str
    position: int
    color: str
    is_active: bool


def picklist_option_out(option: PicklistOption) -> dict[str, Any]:
    return {
        "id": option.pk,
        "kind": option.kind,
        "code": option.code,
        "label": option.label,
        "label_zh": option.label_zh,
        "label_en": option.label_en,
        "position": option.position,
        "color": option.color,
        "is_active": option.is_active,
    }


class PicklistOptionIn(InputSchema):
    kind: str = Field(description="industry, source, level, stage or contact_role")
    code: str
    label_zh: str
    label_en: str = ""
    position: int = Field(0, ge=0)
    color: str = ""
    is_active: bool = True


class PicklistOptionPatchIn(InputSchema):
    code: str | None = None
    label_zh: str | None = None
    label_en: str | None = None
    position: int | None = Field(None, ge=0)
    color: str | None = None
    is_active: bool | None = None


class CustomFieldChoice(OutputSchema):
    value: str
    label_zh: str = ""
    label_en: str = ""


class CustomFieldOut(OutputSchema):
    id: int
    target: str
    key: str
    label: str
    label_zh: str
    label_en: str
    field_type: str
    choices: list[CustomFieldChoice]
    required: bool
    show_in_list: bool
    position: int
    is_active: bool


def custom_field_out(definition: CustomFieldDefinition) -> dict[str, Any]:
    return {
        "id": definition.pk,
        "target": definition.target,
        "key": definition.key,
        "label": definition.label,
        "label_zh": definition.label_zh,
        "label_en": definition.label_en,
        "field_type": definition.field_type,
        "choices": list(definition.choices or []),
        "required": definition.required,
        "show_in_list": definition.show_in_list,
        "position": definition.position,
        "is_active": definition.is_active,
    }


class CustomFieldIn(InputSchema):
    target: str = Field(description="customer or contact")
    key: str = Field(description="Lower-case letters, digits and _; starts with a letter")
    label_zh: str
    label_en: str = ""
    field_type: str = Field(description="text, long_text, number, money, date, choice, multi_choice, boolean, user")
    choices: list[CustomFieldChoice] = []
    required: bool = False
    show_in_list: bool = False
    position: int = Field(0, ge=0)
    is_active: bool = True


class CustomFieldPatchIn(InputSchema):
    label_zh: str | None = None
    label_en: str | None = None
    choices: list[CustomFieldChoice] | None = None
    required: bool | None = None
    show_in_list: bool | None = None
    position: int | None = Field(None, ge=0)
    is_active: bool | None = None


# Search ----------------------------------------------------------------------------------------


class SearchCustomerOut(OutputSchema):
    id: int
    kind: str
    name: str
    short_name: str
    city: str
    stage: OptionRef | None
    owner: UserRefOut | None


class SearchContactOut(OutputSchema):
    id: int
    name: str
    title: str
    mobile: str | None = Field(description=FIELD_SECURITY)
    email: str | None = Field(description=FIELD_SECURITY)
    customer: CustomerBrief


class SearchOut(OutputSchema):
    customers: list[SearchCustomerOut]
    contacts: list[SearchContactOut]


def search_out(hits: list[SearchHit]) -> dict[str, Any]:
    customers, contacts = [], []
    for hit in hits:
        customer = hit.customer
        if hit.contact is None:
            customers.append(
                {
                    "id": customer.pk,
                    "kind": customer.kind,
                    "name": customer.name,
                    "short_name": customer.short_name,
                    "city": customer.city,
                    "stage": option_ref(customer.stage),
                    "owner": user_ref(customer.owner),
                }
            )
        else:
            contact = hit.contact
            contacts.append(
                {
                    "id": contact.pk,
                    "name": contact.name,
                    "title": contact.title,
                    "mobile": contact.mobile,
                    "email": contact.email,
                    "customer": {"id": customer.pk, "name": customer.name},
                }
            )
    return {"customers": customers, "contacts": contacts}
