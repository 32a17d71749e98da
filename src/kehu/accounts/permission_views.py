"""The role editor (/accounts/roles/) and the 共享 panel's form posts. Thin: the rules are in
accounts/roles.py and accounts/sharing.py."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from kehu.accounts import roles, sharing
from kehu.accounts.models import DataScope, FieldAccess
from kehu.accounts.permissions import has_operation
from kehu.core.errors import KehuError, NotFound, PermissionDenied, ValidationFailed


def roles_admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not has_operation(request.user, "settings.manage"):
            raise DjangoPermissionDenied(_("只有管理员可以管理角色"))
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def _errors(exc: KehuError) -> str:
    if isinstance(exc, ValidationFailed):
        return "；".join(str(e.message) for e in exc.errors)
    return str(exc.message)


# Role editor ------------------------------------------------------------------------------------


@roles_admin_required
def role_list(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/roles.html", {"roles": roles.roles_list(user=request.user)})


def _posted(request: HttpRequest) -> dict[str, Any]:
    """The editor's form as role_save's data: every part present, so an unticked box revokes."""
    post = request.POST
    return {
        "code": post.get("code", ""),
        "name_zh": post.get("name_zh", ""),
        "name_en": post.get("name_en", ""),
        "data_scope": post.get("data_scope", ""),
        "scopes": {obj: post.get(f"scope_{obj}", "") for obj in roles.SCOPED_OBJECTS},
        "permissions": post.getlist("permissions"),
        "field_access": {key: post.get(f"field_{key}", FieldAccess.EDITABLE) for key in roles.EDITOR_FIELDS},
        "require_2fa": post.get("require_2fa") == "on",
    }


@roles_admin_required
@require_http_methods(["GET", "POST"])
def role_edit(request: HttpRequest, role_id: int | None = None) -> HttpResponse:
    try:
        role = roles.role_get(user=request.user, role_id=role_id) if role_id is not None else None
    except NotFound as exc:
        raise _not_found(exc) from exc
    state = roles.role_state(role) if role is not None else None
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        data = _posted(request)
        try:
            saved = roles.role_save(acting_user=request.user, data=data, role_id=role_id)
        except ValidationFailed as exc:
            errors = exc.by_field()
            state = {**(state or {}), **data, "permissions": data["permissions"]}
        else:
            messages.success(request, _("角色“%(name)s”已保存") % {"name": saved.name_zh})
            return redirect("accounts:roles")
    if state is None:
        state = {"code": "", "name_zh": "", "name_en": "", "data_scope": DataScope.OWN, "scopes": {},
                 "permissions": [], "field_access": {}, "require_2fa": False}
    columns, grid = roles.operation_grid()
    return render(request, "accounts/role_form.html", {
        "role": role, "state": state, "errors": errors, "granted": set(state.get("permissions") or []),
        "columns": columns, "grid": grid, "scope_choices": DataScope.choices,
        "scoped_objects": [(obj, roles.OBJECTS[obj], (state.get("scopes") or {}).get(obj, ""))
                           for obj in roles.SCOPED_OBJECTS],
        "fields": [(key, label, (state.get("field_access") or {}).get(key, FieldAccess.EDITABLE))
                   for key, label in roles.EDITOR_FIELDS.items()],
        "access_choices": FieldAccess.choices,
    })


def _not_found(exc: NotFound) -> Exception:
    from django.http import Http404

    return Http404(str(exc))


@roles_admin_required
@require_POST
def role_delete(request: HttpRequest, role_id: int) -> HttpResponse:
    try:
        roles.role_delete(acting_user=request.user, role_id=role_id)
    except KehuError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("角色已删除"))
    return redirect("accounts:roles")


# Sharing ----------------------------------------------------------------------------------------


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect("customers:list")


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _share_change(request: HttpRequest, change: Callable[[], Any], done: str) -> HttpResponse:
    """Run a share or revoke: out of scope → 404, not allowed → 403, invalid → a message; back to the page."""
    try:
        change()
    except NotFound as exc:
        raise _not_found(exc) from exc
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(str(exc)) from exc
    except KehuError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, done)
    return _back(request)


@login_required
@require_POST
def share_create(request: HttpRequest, kind: str, object_id: int) -> HttpResponse:
    return _share_change(request, lambda: sharing.share_create(
        acting_user=request.user, kind=kind, object_id=object_id, user_id=_int(request.POST.get("user_id")),
        department_id=_int(request.POST.get("department_id")), can_edit=request.POST.get("can_edit") == "1",
    ), _("已共享"))


@login_required
@require_POST
def share_revoke(request: HttpRequest, kind: str, object_id: int, share_id: int) -> HttpResponse:
    return _share_change(request, lambda: sharing.share_revoke(
        acting_user=request.user, kind=kind, object_id=object_id, share_id=share_id), _("已取消共享"))
