"""The /api/v1/ root: authentication, the JSON error shape, and each app's router.

Authentication, tried in order:
1. `Authorization: Bearer kehu_…` (tokens from `kehu token create USERNAME`); no CSRF. A token's
   scopes (read / write / `<resource>:read|write`) are checked here: outside them → 403.
2. `X-API-Key: kehu_…`, the same tokens for clients that can't set Authorization; no CSRF.
3. The browser session (the web UI's login); unsafe methods need the CSRF token
   (`X-CSRFToken` header + `csrftoken` cookie), exactly like the HTML forms.
Nothing matched → 401 with the JSON error shape.

Every error is `{"error": {"code", "field", "message", "errors": [...]}}` with a stable `code`.

The docs page (/api/v1/docs) is django-ninja's Swagger UI rendered with the JS/CSS that the
django-ninja wheel ships as static files (`ninja` is in INSTALLED_APPS), so it works without
internet and nothing third-party is copied into the repository.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Router
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.renderers import JSONRenderer
from ninja.security import APIKeyCookie, APIKeyHeader, HttpBearer
from ninja.utils import check_csrf

from kehu.accounts.selectors import user_for_api_request
from kehu.core.errors import KehuError


class TokenAuth(HttpBearer):
    """`Authorization: Bearer kehu_…` tokens created with `kehu token create USERNAME`."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_api_request(raw=token, method=request.method or "GET", path=request.path)
        if user is not None:
            request.user = user
        return user


class TokenHeaderAuth(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if not key:
            return None
        user = user_for_api_request(raw=key, method=request.method or "GET", path=request.path)
        if user is not None:
            request.user = user
        return user


class CsrfFailed(Exception):
    pass


class SessionAuth(APIKeyCookie):
    """The web UI's login session. Unlike ninja's `django_auth`, an anonymous request falls
    through to 401 (not a CSRF 403), and CSRF is checked only once a session user is found."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if check_csrf(request) is not None:
            raise CsrfFailed
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if key is None:
            return None
        user = request.user
        return user if user.is_authenticated and user.is_active else None


class Utf8JSONRenderer(JSONRenderer):
    """Chinese stays readable in responses (`"名称为必填项"`, not `"\\u540d..."`); still valid UTF-8 JSON."""

    json_dumps_params = {"ensure_ascii": False}


api = NinjaAPI(
    title="Kehu API",
    version="1",
    description=(
        "客户档案 API. Authenticate with `Authorization: Bearer <token>` (create one with "
        "`kehu token create USERNAME`) or a browser session plus the CSRF token. See docs/api.md."
    ),
    auth=[TokenAuth(), TokenHeaderAuth(), SessionAuth()],
    urls_namespace="api",
    renderer=Utf8JSONRenderer(),
)


def error_response(
    request: HttpRequest,
    *,
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    errors: list[dict] | None = None,
) -> HttpResponse:
    body = {"code": code, "field": field, "message": message, "errors": errors or []}
    return api.create_response(request, {"error": body}, status=status)


@api.exception_handler(KehuError)
def kehu_error(request: HttpRequest, exc: KehuError) -> HttpResponse:
    body = exc.as_dict()
    body.setdefault("errors", [])
    response = api.create_response(request, {"error": body}, status=exc.http_status)
    for header, value in getattr(exc, "headers", {}).items():  # e.g. the current ETag of a 412 (kehu.core.etag)
        response[header] = value
    return response


# pydantic error types → our codes; everything else is "invalid".
_PYDANTIC_CODES = {"missing": "required", "extra_forbidden": "unknown_field"}


@api.exception_handler(ValidationError)
def request_invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = []
    for item in exc.errors:
        loc = [str(p) for p in item.get("loc", [])]
        # ("body", "payload", "name") → "name"; ("query", "limit") → "limit"
        if loc and loc[0] in ("body", "query", "path", "header", "cookie", "form"):
            loc = loc[1:]
        if loc and loc[0] in ("payload", "page", "filters"):
            loc = loc[1:]
        code = _PYDANTIC_CODES.get(str(item.get("type", "")), "invalid")
        errors.append({"field": ".".join(loc) or None, "code": code, "message": str(item.get("msg", ""))})
    first = errors[0] if errors else {"field": None, "code": "invalid", "message": _("请求无效")}
    return error_response(request, status=422, errors=errors, **first)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, status=401, code="unauthenticated", message=_("需要登录或有效的 API 令牌"))


@api.exception_handler(CsrfFailed)
def csrf_failed(request: HttpRequest, exc: CsrfFailed) -> HttpResponse:
    return error_response(
        request,
        status=403,
        code="csrf_failed",
        message=_("CSRF 校验失败：会话请求需要 X-CSRFToken 请求头，脚本请使用 API 令牌"),
    )


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, status=404, code="not_found", message=_("记录不存在或无权查看"))


_HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "permission_denied", 404: "not_found"}


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = _HTTP_CODES.get(exc.status_code, "error")
    return error_response(request, status=exc.status_code, code=code, message=str(exc))


def _mount_routers() -> None:
    from kehu.accounts.api import router as accounts_router
    from kehu.activities.api import router as activities_router
    from kehu.automation.api import router as automation_router
    from kehu.contracts.api import router as contracts_router
    from kehu.core.audit_api import router as audit_router
    from kehu.customers.api import router as customers_router
    from kehu.dataquality.api import router as quality_router
    from kehu.imports.api import router as imports_router
    from kehu.leads.api import router as leads_router
    from kehu.mailing.api import router as mailing_router
    from kehu.notifications.api import router as notifications_router
    from kehu.pool.api import router as pool_router
    from kehu.privacy.api import router as privacy_router
    from kehu.recyclebin.api import router as recyclebin_router
    from kehu.sales.api import router as sales_router

    api.add_router("/", accounts_router)
    api.add_router("/", customers_router)
    api.add_router("/", quality_router)
    api.add_router("/", imports_router)
    api.add_router("/", sales_router)
    api.add_router("/", leads_router)
    api.add_router("/", contracts_router)
    api.add_router("/", pool_router)
    api.add_router("/", activities_router)
    api.add_router("/", mailing_router)
    api.add_router("/", notifications_router)
    api.add_router("/", automation_router)
    api.add_router("/", audit_router)
    api.add_router("/", privacy_router)
    api.add_router("/", recyclebin_router)


_mount_routers()


@api.exception_handler(OverflowError)
@api.exception_handler(DataError)
def data_out_of_range(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Input the database can't take is the client's error (422), not a 500: an id beyond 64 bits
    (`{"ids": [10**25]}`, OverflowError on SQLite) or a NUL character in a text (DataError on PostgreSQL)."""
    return error_response(request, status=422, code="invalid", message=_("数值超出范围或含有无效字符"))


# Mounted last, so it answers only what no route matched (e.g. `/customers/-1`: `{int:…}` takes no
# minus sign): a JSON 404 in the shared error shape instead of Django's HTML page.
_unmatched = Router(auth=None)


@_unmatched.api_operation(["GET", "POST", "PUT", "PATCH", "DELETE"], "/{path:rest}", include_in_schema=False)
def unmatched_path(request: HttpRequest, rest: str) -> HttpResponse:
    raise Http404


api.add_router("/", _unmatched)
