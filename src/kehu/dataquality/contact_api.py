"""/api/v1/ endpoints for duplicate contacts within one customer: the review queue and its
dismiss action, merge preview / merge / detail / undo, and the warning a contact form shows before
saving (/customers/{id}/contacts/duplicate-check).

The quality endpoints live on `kehu.dataquality.api.router`, the duplicate check on the customers
router (it is a path under /customers); this module is imported at the end of
`kehu.dataquality.api`, so both routers carry these operations before `kehu.config.api` mounts them.
Handlers stay thin: reads through `scan_selectors`, writes through `contact_duplicates` and
`merging.contacts`; errors become the shared JSON error shape in `kehu.config.api`."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Status

from kehu.core.errors import ErrorCode, FieldError, NotFound, ValidationFailed
from kehu.customers import selectors as customer_selectors
from kehu.customers.api import WRITE_ERRORS as CUSTOMER_WRITE_ERRORS
from kehu.customers.api import router as customers_router
from kehu.dataquality import contact_duplicates, scan_selectors
from kehu.dataquality.api import ERRORS, MERGE_ERRORS, _decode_cursor, _encode_cursor, _user, router
from kehu.dataquality.contact_schemas import (
    ContactDuplicateCheckIn,
    ContactMergeIn,
    ContactMergeOut,
    ContactMergePreviewIn,
    ContactMergePreviewOut,
    ContactPairOut,
    ContactPairPageOut,
    ContactPairPageQuery,
    ContactUnmergeOut,
    ContactWarningOut,
    contact_merge_out,
    contact_pair_out,
    contact_preview_out,
)
from kehu.dataquality.merging import contacts as contact_merging
from kehu.dataquality.models import DuplicateStatus

# Review queue ------------------------------------------------------------------------------------


@router.get("/quality/contact-duplicates", response={200: ContactPairPageOut, **ERRORS})
def contact_duplicate_list(request: HttpRequest, page: Query[ContactPairPageQuery]):  # type: ignore[no-untyped-def]
    """Likely duplicate contacts within one customer (张伟 entered twice), strongest first, with
    reasons; only pairs of customers the caller may see."""
    if page.verdict and page.verdict not in scan_selectors.VERDICTS:
        raise ValidationFailed([FieldError("verdict", ErrorCode.UNKNOWN_CHOICE, _("未知的判断：%(v)s")
                                           % {"v": page.verdict})])
    if page.status not in DuplicateStatus.values:
        raise ValidationFailed([FieldError("status", ErrorCode.UNKNOWN_CHOICE, _("未知的状态：%(v)s")
                                           % {"v": page.status})])
    user = _user(request)
    offset = _decode_cursor(page.cursor)
    views, has_more = scan_selectors.contact_pairs_page(user=user, verdict=page.verdict, status=page.status,
                                                        customer_id=page.customer_id, offset=offset,
                                                        limit=page.limit)
    return {"items": [contact_pair_out(v) for v in views], "counts": scan_selectors.contact_pair_counts(user=user),
            "next_cursor": _encode_cursor(offset + page.limit) if has_more else None}


@router.post("/quality/contact-duplicates/{int:pair_id}/dismiss", response={200: ContactPairOut, **ERRORS})
def contact_duplicate_dismiss(request: HttpRequest, pair_id: int):  # type: ignore[no-untyped-def]
    """"Different people": the two contacts are remembered as distinct and never suggested again."""
    user = _user(request)
    # The pair's customer must be in scope; the service then checks both contacts.
    if scan_selectors.contact_pair_get(user=user, pair_id=pair_id) is None:
        raise NotFound(_("疑似重复记录不存在"))
    contact_duplicates.contact_pair_dismiss(acting_user=user, pair_id=pair_id)
    view = scan_selectors.contact_pair_get(user=user, pair_id=pair_id)
    return contact_pair_out(view)  # type: ignore[arg-type]


# Merge and undo ----------------------------------------------------------------------------------


@router.post("/quality/contact-merge/preview", response={200: ContactMergePreviewOut, **MERGE_ERRORS})
def contact_merge_preview(request: HttpRequest, payload: ContactMergePreviewIn):  # type: ignore[no-untyped-def]
    """The contacts side by side with the default choice per field and the notes the merge would
    write; writes nothing. Contacts outside the caller's scope answer 404 like missing ones; contacts
    of two customers 422; a contact another merge absorbed 409."""
    preview = contact_merging.contact_merge_preview(acting_user=_user(request), ids=payload.ids,
                                                    survivor_id=payload.survivor_id)
    return contact_preview_out(preview)


@router.post("/quality/contact-merge", response={201: ContactMergeOut, **MERGE_ERRORS})
def contact_merge_create(request: HttpRequest, payload: ContactMergeIn):  # type: ignore[no-untyped-def]
    """Merge `merged_ids` into the contact `survivor_id` (all of one customer). Fields not in
    `field_choices` take the preview's default; a number or address that loses is kept in the
    survivor's notes. 409 when a contact changed since `expected_versions` or another merge absorbed it."""
    user = _user(request)
    merge = contact_merging.contacts_merge(
        acting_user=user, survivor_id=payload.survivor_id, merged_ids=payload.merged_ids,
        field_choices=payload.field_choices, expected_versions=payload.expected_versions or None,
    )
    return Status(201, contact_merge_out(merge, user))


@router.get("/quality/contact-merges/{int:merge_id}", response={200: ContactMergeOut, **ERRORS})
def contact_merge_detail(request: HttpRequest, merge_id: int):  # type: ignore[no-untyped-def]
    """A contact merge of a customer the caller may see, with whether they may still undo it."""
    user = _user(request)
    return contact_merge_out(contact_merging.contact_merge_get(user=user, merge_id=merge_id), user)


@router.post("/quality/contact-merges/{int:merge_id}/undo", response={200: ContactUnmergeOut, **MERGE_ERRORS})
def contact_merge_undo(request: HttpRequest, merge_id: int):  # type: ignore[no-untyped-def]
    """Undo a contact merge of the last 30 days (its author, managers and admins): the merged
    contacts come back with their ids and related rows. 409 with one entry in `errors` per
    conflicting field or related record when later edits touch what the undo would restore;
    nothing is written then."""
    user = _user(request)
    result = contact_merging.contact_merge_undo(acting_user=user, merge_id=merge_id)
    return {"merge": contact_merge_out(result.merge, user), "survivor_id": result.survivor.pk,
            "restored_ids": [c.pk for c in result.restored]}


# Warning on entry (a path under /customers, so on the customers router) ---------------------------


@customers_router.post("/customers/{int:customer_id}/contacts/duplicate-check",
                       response={200: list[ContactWarningOut], **CUSTOMER_WRITE_ERRORS}, tags=["contacts"])
def contact_duplicate_check(request: HttpRequest, customer_id: int,  # type: ignore[no-untyped-def]
                            payload: ContactDuplicateCheckIn):
    """The warning a contact form shows before saving: this customer's contacts the values likely
    duplicate, strongest first. 404 when the customer is missing or outside the caller's scope."""
    user: Any = _user(request)
    if not customer_selectors.customers_visible(user=user).filter(pk=customer_id).exists():
        raise NotFound(_("客户不存在或无权查看"))
    values = payload.dict(exclude={"exclude_id"})
    warnings = contact_duplicates.likely_contact_duplicates(customer_id, values, exclude_id=payload.exclude_id)
    return [w.as_dict() for w in warnings]
