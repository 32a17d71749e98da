"""/api/v1/roles (the role editor for scripts, admins only) and /api/v1/<kind>/{id}/shares
(sharing a customer, opportunity or lead)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status

from kehu.accounts import roles, sharing
from kehu.accounts.models import RecordShare
from kehu.customers.schemas import ErrorOut

router = Router(tags=["accounts"])

# Every route may answer these with the shared error shape (kehu.core.errors).
ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


class RoleOut(Schema):
    id: int
    code: str
    name_zh: str
    name_en: str
    is_admin: bool
    data_scope: str
    scopes: dict[str, str]
    permissions: list[str]
    field_access: dict[str, str]
    require_2fa: bool


class RoleIn(Schema):
    """Any part left out keeps its current value (a new role starts from a sales rep's defaults)."""

    code: str | None = None
    name_zh: str | None = None
    name_en: str | None = None
    data_scope: str | None = None
    scopes: dict[str, str] | None = None
    permissions: list[str] | None = None
    field_access: dict[str, str] | None = None
    require_2fa: bool | None = None


def _data(payload: RoleIn) -> dict[str, Any]:
    return {k: v for k, v in payload.dict().items() if v is not None}


@router.get("/roles", response={200: list[RoleOut], **ERRORS})
def role_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [roles.role_state(role) for role in roles.roles_list(user=_user(request))]


@router.get("/roles/{int:role_id}", response={200: RoleOut, **ERRORS})
def role_detail(request: HttpRequest, role_id: int) -> dict[str, Any]:
    return roles.role_state(roles.role_get(user=_user(request), role_id=role_id))


@router.post("/roles", response={201: RoleOut, **ERRORS})
def role_create(request: HttpRequest, payload: RoleIn) -> Status:
    role = roles.role_save(acting_user=_user(request), data=_data(payload))
    return Status(201, roles.role_state(role))


@router.put("/roles/{int:role_id}", response={200: RoleOut, **ERRORS})
def role_update(request: HttpRequest, role_id: int, payload: RoleIn) -> dict[str, Any]:
    return roles.role_state(roles.role_save(acting_user=_user(request), data=_data(payload), role_id=role_id))


@router.delete("/roles/{int:role_id}", response={204: None, **ERRORS})
def role_delete(request: HttpRequest, role_id: int) -> Status:
    roles.role_delete(acting_user=_user(request), role_id=role_id)
    return Status(204, None)


# Shares -----------------------------------------------------------------------------------------


class ShareOut(Schema):
    id: int
    user_id: int | None
    department_id: int | None
    can_edit: bool
    created_at: dt.datetime


class ShareIn(Schema):
    user_id: int | None = None
    department_id: int | None = None
    can_edit: bool = False


def _share_out(share: RecordShare) -> dict[str, Any]:
    return {"id": share.pk, "user_id": share.user_id, "department_id": share.department_id,
            "can_edit": share.can_edit, "created_at": share.created_at}


@router.get("/{kind}/{int:object_id}/shares", response={200: list[ShareOut], **ERRORS}, tags=["sharing"])
def share_list(request: HttpRequest, kind: str, object_id: int) -> list[dict[str, Any]]:
    """The record's shares (empty unless you may manage them). `kind`: customers, opportunities, leads."""
    return [_share_out(s) for s in sharing.shares_of(user=_user(request), kind=kind, object_id=object_id)]


@router.post("/{kind}/{int:object_id}/shares", response={201: ShareOut, **ERRORS}, tags=["sharing"])
def share_create(request: HttpRequest, kind: str, object_id: int, payload: ShareIn) -> Status:
    share = sharing.share_create(acting_user=_user(request), kind=kind, object_id=object_id,
                                 user_id=payload.user_id, department_id=payload.department_id,
                                 can_edit=payload.can_edit)
    return Status(201, _share_out(share))


@router.delete("/{kind}/{int:object_id}/shares/{int:share_id}", response={204: None, **ERRORS},
               tags=["sharing"])
def share_revoke(request: HttpRequest, kind: str, object_id: int, share_id: int) -> Status:
    sharing.share_revoke(acting_user=_user(request), kind=kind, object_id=object_id, share_id=share_id)
    return Status(204, None)
