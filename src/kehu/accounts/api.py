"""/api/v1/me: who the caller is and what they may see (handy to check a token)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema


class MeDepartment(Schema):
    id: int
    name: str


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    email: str
    role: str | None
    data_scope: str
    is_admin: bool
    department: MeDepartment | None


router = Router(tags=["accounts"])


def _mount() -> None:
    from kehu.accounts.permissions_api import router as permissions_router

    router.add_router("", permissions_router)


_mount()


@router.get("/me", response=MeOut)
def me(request: HttpRequest) -> dict[str, Any]:
    user = request.auth  # type: ignore[attr-defined]
    department = user.department
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.display_name or user.username,
        "email": user.email,
        "role": user.role.code if user.role_id else None,
        "data_scope": str(user.data_scope),
        "is_admin": user.is_kehu_admin,
        "department": {"id": department.pk, "name": department.name} if department else None,
    }
