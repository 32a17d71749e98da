"""/api/v1/ endpoints of the customer archive.

Handlers stay thin: reads go through `selectors` (row scoping via `core.scoping.restrict`),
writes through `services` (validation, permissions, optimistic locking, audit, search index),
the list uses the same `CustomerFilter` as the web list, and `/search` the same search as the
search box. Errors raised by selectors/services become JSON in `kehu.config.api`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from kehu.accounts.permissions import require_operation
from kehu.accounts.selectors import users_assignable
from kehu.core import masking
from kehu.core.errors import ErrorCode, FieldError, NotFound, ValidationFailed
from kehu.core.etag import if_match, set_etag
from kehu.customers import history, selectors, services
from kehu.customers.filters import CustomerFilter
from kehu.customers.models import CustomFieldTarget
from kehu.customers.reveal import field_reveal
from kehu.customers.schemas import (
    BulkOwnerIn,
    BulkTagIn,
    ChangedOut,
    ContactCreateIn,
    ContactOut,
    ContactPage,
    ContactPatchIn,
    CustomerCreateIn,
    CustomerListQuery,
    CustomerOut,
    CustomerPage,
    CustomerPatchIn,
    CustomFieldIn,
    CustomFieldOut,
    CustomFieldPatchIn,
    ErrorOut,
    NoteIn,
    NoteOut,
    PicklistOptionIn,
    PicklistOptionOut,
    PicklistOptionPatchIn,
    SearchOut,
    TagIn,
    TagOut,
    TagPatchIn,
    TimelineEntryOut,
    contact_out,
    custom_field_out,
    customer_list_out,
    customer_out,
    note_out,
    picklist_option_out,
    search_out,
    tag_out,
    timeline_out,
)
from kehu.customers.search import search as search_records
from kehu.dataquality.duplicates import duplicates_blocked, likely_duplicates
from kehu.dataquality.merging.schemas import merged_id_response
from kehu.dataquality.merging.selectors import visible_survivor_for

router = Router()

MAX_LIMIT = 200
SORT_PATTERN = r"^-?(updated_at|created_at|name)$"
ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, Any] = {**ERRORS, 409: ErrorOut}
# Writes that honour If-Match (kehu.core.etag): 412 precondition_failed when it names a stale version.
GUARDED_ERRORS: dict[int, Any] = {**WRITE_ERRORS, 412: ErrorOut}


def _user(request: HttpRequest) -> Any:
    """The authenticated user (token or session), set by the API's auth classes."""
    return request.auth  # type: ignore[attr-defined]


def _customer_out(request: HttpRequest, customer: Any) -> dict[str, Any]:
    """customer_out as the caller may see it: field-level security masks or nulls protected fields."""
    return masking.mask_record(_user(request), "customer", customer_out(customer))


def _contact_out(request: HttpRequest, contact: Any) -> dict[str, Any]:
    return masking.mask_record(_user(request), "contact", contact_out(contact))


def _check_cursor(cursor: str | None, sort: str) -> None:
    if cursor and not selectors.cursor_is_valid(cursor=cursor, sort=sort):
        raise ValidationFailed(
            [FieldError(field="cursor", code=ErrorCode.INVALID, message=_("无效的分页游标，请从第一页重新开始"))]
        )


def _require_version(request: HttpRequest, version: int | None) -> None:
    """PATCH needs the version the client loaded: in the body (`version`) or as If-Match."""
    if version is None and "If-Match" not in request.headers:
        raise ValidationFailed([FieldError(field="version", code=ErrorCode.REQUIRED,
                                           message=_("请提供 version（你读取时的版本）或 If-Match 请求头"))])


def _payload(schema: Schema, *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """Only the keys the client sent: PATCH is partial, and an absent key must not become null."""
    data = schema.dict(exclude_unset=True)
    for key in drop:
        data.pop(key, None)
    return data


class PageQuery(Schema):
    limit: int = Field(50, ge=1, le=MAX_LIMIT, description=f"Rows per page, at most {MAX_LIMIT}")
    cursor: str | None = Field(None, description="next_cursor or prev_cursor of the previous response")


class CustomerPageQuery(PageQuery):
    sort: str = Field("-updated_at", pattern=SORT_PATTERN, description="updated_at, created_at or name; - = desc")


# Customers -------------------------------------------------------------------------------------


@router.get("/customers", response={200: CustomerPage, **ERRORS}, tags=["customers"])
def customer_list(request: HttpRequest, page: Query[CustomerPageQuery], filters: Query[CustomerListQuery]):  # type: ignore[no-untyped-def]
    """Customers visible to the caller, with the web list's filters and keyset pagination."""
    # The declared `filters` document and type-check the parameters; the filter itself is built
    # from the raw query string exactly as the web list does (including cf_<key> custom fields).
    _check_cursor(page.cursor, page.sort)
    result = selectors.customer_list_rows(
        user=_user(request),
        filters=CustomerFilter.from_params(request.GET),
        sort=page.sort,
        cursor=page.cursor,
        limit=page.limit,
    )
    body = {
        "items": masking.mask_records(_user(request), "customer", customer_list_out(result.rows)),
        "next_cursor": result.next_cursor,
        "prev_cursor": result.prev_cursor,
        "total": result.total,
        "total_capped": result.total_capped,
    }
    # Rendered as is: ninja would validate the 50 items against CustomerPage and dump them again
    # (a quarter of the request's CPU) to produce the same JSON. The body is built by
    # customer_list_out, which tests check against customer_out and CustomerPage.
    from kehu.config.api import api

    return api.create_response(request, body, status=200)


@router.post("/customers", response={201: CustomerOut, **WRITE_ERRORS}, tags=["customers"])
def customer_create(request: HttpRequest, payload: CustomerCreateIn):  # type: ignore[no-untyped-def]
    customer = services.customer_create(acting_user=_user(request), data=_payload(payload))
    return Status(201, _customer_out(request, selectors.customer_get(user=_user(request), customer_id=customer.pk)))


class DuplicateCheckIn(CustomerCreateIn):
    exclude_id: int | None = Field(None, description="The customer being edited (never its own duplicate)")


class DuplicateOut(Schema):
    customer_id: int | None = Field(description="null when you may not see the customer")
    score: float
    verdict: str = Field(description="certain | review")
    visible: bool
    name: str = Field(description="empty when you may not see the customer")
    owner: str
    department: str
    reasons: str = Field(description="the evidence in words; only its kinds when you may not see the customer")


class DuplicateCheckOut(Schema):
    duplicates: list[DuplicateOut]
    blocked: bool = Field(description="true when saving these values would be refused (certain match, blocking on)")


@router.post("/customers/duplicate-check", response={200: DuplicateCheckOut, **WRITE_ERRORS}, tags=["customers"])
def customer_duplicate_check(request: HttpRequest, payload: DuplicateCheckIn):  # type: ignore[no-untyped-def]
    """The warning a form shows before saving: existing customers these values likely duplicate,
    strongest first. Matches outside your data scope show only owner and department."""
    data = _payload(payload, drop=("exclude_id",))
    warnings = likely_duplicates(data, user=_user(request), exclude_id=payload.exclude_id)
    return {"duplicates": [w.as_dict() for w in warnings], "blocked": duplicates_blocked(warnings)}


@router.get("/customers/{int:customer_id}", response={200: CustomerOut, **ERRORS}, tags=["customers"])
def customer_detail(request: HttpRequest, customer_id: int, response: HttpResponse):  # type: ignore[no-untyped-def]
    """A merged customer's old id answers 308 to the survivor (docs/duplicates.md). The ETag
    header names the version; send it back as If-Match when writing."""
    try:
        customer = selectors.customer_get(user=_user(request), customer_id=customer_id)
        set_etag(response, customer)
        return _customer_out(request, customer)
    except NotFound:
        survivor_id = visible_survivor_for(user=_user(request), customer_id=customer_id)
        if survivor_id is None:
            raise
        return merged_id_response(old_id=customer_id, survivor_id=survivor_id)


@router.patch("/customers/{int:customer_id}", response={200: CustomerOut, **GUARDED_ERRORS}, tags=["customers"])
def customer_patch(request: HttpRequest, customer_id: int, payload: CustomerPatchIn, response: HttpResponse):  # type: ignore[no-untyped-def]
    """`version` (409 when stale) or `If-Match` (412 when stale) is required."""
    user = _user(request)
    # Out of scope, or only shared read-only → 404 before the version check.
    customer = selectors.customer_get(user=user, customer_id=customer_id, for_edit=True)
    _require_version(request, payload.version)
    with if_match(request, selectors.customers_visible(user=user), customer_id, body_version=payload.version) as v:
        services.customer_update(
            acting_user=user, customer=customer, data=_payload(payload, drop=("version",)), expected_version=v
        )
    saved = selectors.customer_get(user=user, customer_id=customer_id)
    set_etag(response, saved)
    return _customer_out(request, saved)


@router.delete("/customers/{int:customer_id}", response={204: None, **GUARDED_ERRORS}, tags=["customers"])
def customer_delete(request: HttpRequest, customer_id: int):  # type: ignore[no-untyped-def]
    """With If-Match, only the named version is deleted (412 otherwise)."""
    user = _user(request)
    with if_match(request, selectors.customers_visible(user=user), customer_id):
        services.customer_delete(acting_user=user, customer=selectors.customer_get(user=user, customer_id=customer_id))
    return Status(204, None)


@router.get("/customers/{int:customer_id}/notes", response={200: list[NoteOut], **ERRORS}, tags=["customers"])
def customer_note_list(request: HttpRequest, customer_id: int, limit: int = Query(100, ge=1, le=MAX_LIMIT)):  # type: ignore[no-untyped-def]
    return [note_out(n) for n in selectors.customer_notes(user=_user(request), customer_id=customer_id, limit=limit)]


@router.post("/customers/{int:customer_id}/notes", response={201: NoteOut, **WRITE_ERRORS}, tags=["customers"])
def customer_note_create(request: HttpRequest, customer_id: int, payload: NoteIn):  # type: ignore[no-untyped-def]
    user = _user(request)
    customer = selectors.customer_get(user=user, customer_id=customer_id)
    return Status(201, note_out(services.note_create(acting_user=user, customer=customer, body=payload.body)))


@router.get(
    "/customers/{int:customer_id}/timeline", response={200: list[TimelineEntryOut], **ERRORS}, tags=["customers"]
)
def customer_timeline(request: HttpRequest, customer_id: int, limit: int = Query(100, ge=1, le=MAX_LIMIT)):  # type: ignore[no-untyped-def]
    """Audit events, notes and whatever later apps register, newest first."""
    user = _user(request)
    customer = selectors.customer_get(user=user, customer_id=customer_id)
    return [timeline_out(e) for e in selectors.customer_timeline(user=user, customer=customer, limit=limit)]


class FieldChangeOut(Schema):
    at: dt.datetime
    actor: str
    action: str
    object_type: str = Field(description="customer, or contact (a contact of this customer)")
    object_id: int
    object_repr: str
    field: str = Field(description='"name", "custom.<key>", "contact.mobile", "contact.custom.<key>"')
    label: str
    old: Any = None
    new: Any = None
    masked: bool = Field(description="old/new are masked: the user's role may not read the field in full")


class FieldHistoryOut(Schema):
    items: list[FieldChangeOut]
    field: str
    page: int
    pages: int
    total: int


@router.get("/customers/{int:customer_id}/history", response={200: FieldHistoryOut, **ERRORS}, tags=["customers"])
def customer_field_history(request: HttpRequest, customer_id: int, field: str = Query("", max_length=120),  # type: ignore[no-untyped-def]
                           page: int = Query(1, ge=1), per_page: int = Query(50, ge=1, le=MAX_LIMIT)):
    """Every change of every field of the customer and its contacts (old → new, who, when), newest
    first; `field` narrows it to one field. Masked/hidden fields as the user's role says."""
    result = history.customer_field_history(user=_user(request), customer_id=customer_id, field=field, page=page,
                                            per_page=per_page)
    return {"items": [vars(c) for c in result.changes], "field": result.field, "page": result.page,
            "pages": result.pages, "total": result.total}


class ExportQuery(Schema):
    format: str = Field("csv", pattern=r"^(csv|xlsx)$", description="csv (streamed, UTF-8 with BOM) or xlsx")
    target: str = Field("customers", pattern=r"^(customers|contacts)$",
                        description="customers, or the contacts of the matching customers (`kind` filters customers)")
    columns: str | None = Field(None, description="Comma-separated column keys (see docs/import.md); default all")
    e164: bool = Field(False, description="Add the E.164 phone columns")


@router.get("/customers/export", response={200: None, **ERRORS}, tags=["customers"])
def customer_export(request: HttpRequest, options: Query[ExportQuery], filters: Query[CustomerListQuery]):  # type: ignore[no-untyped-def]
    """Every customer (or contact) the list would show with these filters, as a CSV or XLSX download."""
    from kehu.customers.export import export_response

    columns = [c.strip() for c in options.columns.split(",") if c.strip()] if options.columns else None
    return export_response(
        user=_user(request), params=request.GET, fmt=options.format, kind=options.target, columns=columns,
        e164=options.e164,
    )


@router.get("/customers/{int:customer_id}/archive", response={200: None, **ERRORS}, tags=["customers"])
def customer_archive(  # type: ignore[no-untyped-def]
    request: HttpRequest, customer_id: int, format: str = Query("json", pattern=r"^(json|xlsx)$")
):
    """The customer's whole archive (record, contacts, notes, timeline, audit) as JSON or XLSX."""
    from kehu.customers.export import archive_response

    return archive_response(user=_user(request), customer_id=customer_id, fmt=format)


@router.post("/customers/bulk/tags", response={200: ChangedOut, **WRITE_ERRORS}, tags=["customers"])
def customers_bulk_tag(request: HttpRequest, payload: BulkTagIn):  # type: ignore[no-untyped-def]
    """Add/remove tags on many customers; ids outside the caller's scope are skipped."""
    changed = services.customers_bulk_tag(
        acting_user=_user(request), customer_ids=payload.ids, add=payload.add, remove=payload.remove
    )
    return {"changed": changed}


@router.post("/customers/bulk/owner", response={200: ChangedOut, **WRITE_ERRORS}, tags=["customers"])
def customers_bulk_change_owner(request: HttpRequest, payload: BulkOwnerIn):  # type: ignore[no-untyped-def]
    """Give many customers a new owner (managers and admins); ids outside the caller's scope are skipped."""
    user = _user(request)
    require_operation(user, "customer.assign")  # refused before the body is looked at (403, not 422)
    owner = users_assignable(acting_user=user).filter(pk=payload.owner).first()
    if owner is None:
        raise ValidationFailed(
            [
                FieldError(
                    field="owner", code=ErrorCode.INVALID, message=_("未知的用户：%(value)s") % {"value": payload.owner}
                )
            ]
        )
    changed = services.customers_bulk_change_owner(acting_user=user, customer_ids=payload.ids, owner=owner)
    return {"changed": changed}


class RevealIn(Schema):
    field: str = Field(max_length=50, description="A masked field: phones, emails, id_number, address, birthday "
                                                   "(customers); mobile, phone, email, wechat, birthday (contacts)")


class RevealOut(Schema):
    field: str
    value: Any = Field(description="The full value (a list for phones and emails)")


REVEAL_ERRORS: dict[int, Any] = {**ERRORS, 429: ErrorOut}


@router.post("/customers/{int:customer_id}/reveal", response={200: RevealOut, **REVEAL_ERRORS}, tags=["customers"])
def customer_reveal(request: HttpRequest, customer_id: int, payload: RevealIn):  # type: ignore[no-untyped-def]
    """The full value of a field your role sees masked. Needs the customer.reveal operation; every
    reveal is logged (audit action "reveal": who, when, which field) and rate-limited."""
    value = field_reveal(acting_user=_user(request), object_type="customer", object_id=customer_id,
                         field=payload.field)
    return {"field": payload.field, "value": value}


@router.post("/contacts/{int:contact_id}/reveal", response={200: RevealOut, **REVEAL_ERRORS}, tags=["contacts"])
def contact_reveal(request: HttpRequest, contact_id: int, payload: RevealIn):  # type: ignore[no-untyped-def]
    """As /customers/{id}/reveal, for a contact's field (contact.reveal operation)."""
    value = field_reveal(acting_user=_user(request), object_type="contact", object_id=contact_id, field=payload.field)
    return {"field": payload.field, "value": value}


# Contacts --------------------------------------------------------------------------------------


@router.get("/contacts", response={200: ContactPage, **ERRORS}, tags=["contacts"])
def contact_list(  # type: ignore[no-untyped-def]
    request: HttpRequest,
    page: Query[PageQuery],
    customer: int | None = Query(None, description="Only this customer's contacts"),
    q: str = Query("", max_length=100, description="Search text"),
):
    _check_cursor(page.cursor, "-updated_at")
    result = selectors.contact_list_page(
        user=_user(request), customer_id=customer, q=q, cursor=page.cursor, limit=page.limit
    )
    return {
        "items": masking.mask_records(_user(request), "contact", [contact_out(c) for c in result.rows]),
        "next_cursor": result.next_cursor,
        "prev_cursor": result.prev_cursor,
        "total": result.total,
        "total_capped": result.total_capped,
    }


@router.post("/contacts", response={201: ContactOut, **WRITE_ERRORS}, tags=["contacts"])
def contact_create(request: HttpRequest, payload: ContactCreateIn):  # type: ignore[no-untyped-def]
    user = _user(request)
    customer = selectors.customer_get(user=user, customer_id=payload.customer)
    contact = services.contact_create(acting_user=user, customer=customer, data=_payload(payload, drop=("customer",)))
    return Status(201, _contact_out(request, selectors.contact_get(user=user, contact_id=contact.pk)))


@router.get("/contacts/{int:contact_id}", response={200: ContactOut, **ERRORS}, tags=["contacts"])
def contact_detail(request: HttpRequest, contact_id: int, response: HttpResponse):  # type: ignore[no-untyped-def]
    contact = selectors.contact_get(user=_user(request), contact_id=contact_id)
    set_etag(response, contact)
    return _contact_out(request, contact)


@router.patch("/contacts/{int:contact_id}", response={200: ContactOut, **GUARDED_ERRORS}, tags=["contacts"])
def contact_patch(request: HttpRequest, contact_id: int, payload: ContactPatchIn, response: HttpResponse):  # type: ignore[no-untyped-def]
    """`version` (409 when stale) or `If-Match` (412 when stale) is required."""
    user = _user(request)
    contact = selectors.contact_get(user=user, contact_id=contact_id, for_edit=True)  # not writable → 404 first
    _require_version(request, payload.version)
    with if_match(request, selectors.contacts_visible(user=user), contact_id, body_version=payload.version) as v:
        services.contact_update(
            acting_user=user, contact=contact, data=_payload(payload, drop=("version",)), expected_version=v
        )
    saved = selectors.contact_get(user=user, contact_id=contact_id)
    set_etag(response, saved)
    return _contact_out(request, saved)


@router.delete("/contacts/{int:contact_id}", response={204: None, **GUARDED_ERRORS}, tags=["contacts"])
def contact_delete(request: HttpRequest, contact_id: int):  # type: ignore[no-untyped-def]
    user = _user(request)
    with if_match(request, selectors.contacts_visible(user=user), contact_id):
        services.contact_delete(acting_user=user, contact=selectors.contact_get(user=user, contact_id=contact_id))
    return Status(204, None)


# Search ----------------------------------------------------------------------------------------


@router.get("/search", response={200: SearchOut, **ERRORS}, tags=["search"])
def search(  # type: ignore[no-untyped-def]
    request: HttpRequest,
    q: str = Query(..., max_length=100, description="Name, pinyin, initials, phone (tail), e-mail or credit code"),
    limit: int = Query(20, ge=1, le=100),
):
    """The search box: customers and contacts the caller may see, customers first."""
    user = _user(request)
    body = search_out(search_records(user=user, query=q, limit=limit))
    body["contacts"] = masking.mask_records(user, "contact", body["contacts"])
    return body


# Tags ------------------------------------------------------------------------------------------


@router.get("/tags", response={200: list[TagOut], **ERRORS}, tags=["tags"])
def tag_list(request: HttpRequest):  # type: ignore[no-untyped-def]
    return [tag_out(t) for t in selectors.tags_all()]


@router.post("/tags", response={201: TagOut, **WRITE_ERRORS}, tags=["tags"])
def tag_create(request: HttpRequest, payload: TagIn):  # type: ignore[no-untyped-def]
    """Any user may create a tag (tagging a customer with a new name does too)."""
    return Status(201, tag_out(services.tag_create(acting_user=_user(request), **_payload(payload))))


@router.get("/tags/{int:tag_id}", response={200: TagOut, **ERRORS}, tags=["tags"])
def tag_detail(request: HttpRequest, tag_id: int):  # type: ignore[no-untyped-def]
    return tag_out(selectors.tag_get(tag_id=tag_id))


@router.patch("/tags/{int:tag_id}", response={200: TagOut, **WRITE_ERRORS}, tags=["tags"])
def tag_patch(request: HttpRequest, tag_id: int, payload: TagPatchIn):  # type: ignore[no-untyped-def]
    """Rename or recolour a tag (admins)."""
    tag = selectors.tag_get(tag_id=tag_id)
    return tag_out(services.tag_update(acting_user=_user(request), tag=tag, **_payload(payload)))


@router.delete("/tags/{int:tag_id}", response={204: None, **WRITE_ERRORS}, tags=["tags"])
def tag_delete(request: HttpRequest, tag_id: int):  # type: ignore[no-untyped-def]
    """Delete a tag everywhere (admins)."""
    services.tag_delete(acting_user=_user(request), tag=selectors.tag_get(tag_id=tag_id))
    return Status(204, None)


# Picklists -------------------------------------------------------------------------------------


@router.get("/picklists", response={200: list[PicklistOptionOut], **ERRORS}, tags=["picklists"])
def picklist_list(  # type: ignore[no-untyped-def]
    request: HttpRequest,
    kind: str | None = Query(None, description="industry, source, level, stage or contact_role"),
    include_inactive: bool = False,
):
    options = selectors.picklist_options(kind=kind, active_only=not include_inactive)
    return [picklist_option_out(o) for o in options]


@router.post("/picklists", response={201: PicklistOptionOut, **WRITE_ERRORS}, tags=["picklists"])
def picklist_create(request: HttpRequest, payload: PicklistOptionIn):  # type: ignore[no-untyped-def]
    """Add an option (admins)."""
    return Status(
        201, picklist_option_out(services.picklist_option_save(acting_user=_user(request), **_payload(payload)))
    )


@router.get("/picklists/{int:option_id}", response={200: PicklistOptionOut, **ERRORS}, tags=["picklists"])
def picklist_detail(request: HttpRequest, option_id: int):  # type: ignore[no-untyped-def]
    return picklist_option_out(selectors.picklist_option_get(option_id=option_id))


@router.patch("/picklists/{int:option_id}", response={200: PicklistOptionOut, **WRITE_ERRORS}, tags=["picklists"])
def picklist_patch(request: HttpRequest, option_id: int, payload: PicklistOptionPatchIn):  # type: ignore[no-untyped-def]
    """Rename, reorder, recolour or deactivate an option (admins). The kind can't change."""
    option = selectors.picklist_option_get(option_id=option_id)
    current = {
        "code": option.code,
        "label_zh": option.label_zh,
        "label_en": option.label_en,
        "position": option.position,
        "color": option.color,
        "is_active": option.is_active,
    }
    saved = services.picklist_option_save(
        acting_user=_user(request), kind=option.kind, option=option, **{**current, **_payload(payload)}
    )
    return picklist_option_out(saved)


@router.delete("/picklists/{int:option_id}", response={204: None, **WRITE_ERRORS}, tags=["picklists"])
def picklist_delete(request: HttpRequest, option_id: int):  # type: ignore[no-untyped-def]
    """Delete an unused option (admins); options in use must be deactivated instead."""
    services.picklist_option_delete(
        acting_user=_user(request), option=selectors.picklist_option_get(option_id=option_id)
    )
    return Status(204, None)


# Custom fields ---------------------------------------------------------------------------------


@router.get("/custom-fields", response={200: list[CustomFieldOut], **ERRORS}, tags=["custom fields"])
def custom_field_list(  # type: ignore[no-untyped-def]
    request: HttpRequest,
    target: str | None = Query(None, description="customer or contact; both when omitted"),
    include_inactive: bool = False,
):
    targets = [target] if target else list(CustomFieldTarget.values)
    return [
        custom_field_out(d)
        for t in targets
        for d in selectors.custom_field_definitions(target=t, active_only=not include_inactive)
    ]


@router.post("/custom-fields", response={201: CustomFieldOut, **WRITE_ERRORS}, tags=["custom fields"])
def custom_field_create(request: HttpRequest, payload: CustomFieldIn):  # type: ignore[no-untyped-def]
    """Define a field (admins); values are then validated on every write of the target records."""
    return Status(201, custom_field_out(services.custom_field_save(acting_user=_user(request), **_payload(payload))))


@router.get("/custom-fields/{int:field_id}", response={200: CustomFieldOut, **ERRORS}, tags=["custom fields"])
def custom_field_detail(request: HttpRequest, field_id: int):  # type: ignore[no-untyped-def]
    return custom_field_out(selectors.custom_field_get(definition_id=field_id))


@router.patch("/custom-fields/{int:field_id}", response={200: CustomFieldOut, **WRITE_ERRORS}, tags=["custom fields"])
def custom_field_patch(request: HttpRequest, field_id: int, payload: CustomFieldPatchIn):  # type: ignore[no-untyped-def]
    """Relabel, reorder or deactivate a field (admins). Target, key and type can't change."""
    definition = selectors.custom_field_get(definition_id=field_id)
    current = {
        "label_zh": definition.label_zh,
        "label_en": definition.label_en,
        "choices": list(definition.choices or []),
        "required": definition.required,
        "show_in_list": definition.show_in_list,
        "position": definition.position,
        "is_active": definition.is_active,
    }
    saved = services.custom_field_save(
        acting_user=_user(request),
        target=definition.target,
        key=definition.key,
        field_type=definition.field_type,
        definition=definition,
        **{**current, **_payload(payload)},
    )
    return custom_field_out(saved)


@router.delete("/custom-fields/{int:field_id}", response={204: None, **WRITE_ERRORS}, tags=["custom fields"])
def custom_field_delete(request: HttpRequest, field_id: int):  # type: ignore[no-untyped-def]
    """Delete a definition (admins). Stored values stay in the records; deactivating is usually better."""
    services.custom_field_delete(
        acting_user=_user(request), definition=selectors.custom_field_get(definition_id=field_id)
    )
    return Status(204, None)
