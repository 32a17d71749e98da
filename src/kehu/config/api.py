"""The /api/v1/ root: authentication, the JSON error shape, and each app's router."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError
from ninja.security import APIKeyHeader, HttpBearer, django_auth

from kehu.accounts.selectors import user_for_api_token
from kehu.core.errors import KehuError


class TokenAuth(HttpBearer):
    """`Authorization: Bearer kehu_…` tokens created with `kehu token create USERNAME`."""

    def authenticate(self, request: HttpRequest, token: str):  # type: ignore[no-untyped-def]
        user = user_for_api_token(raw=token)
        if user is not None:
            request.user = user
        return user


class TokenHeaderAuth(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None):  # type: ignore[no-untyped-def]
        if not key:
            return None
        user = user_for_api_token(raw=key)
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="Kehu API",
    version="1",
    description="客户档案 API. Authenticate with `Authorization: Bearer <token>` or a browser session.",
    auth=[TokenAuth(), TokenHeaderAuth(), django_auth],
    urls_namespace="api",
)


@api.exception_handler(KehuError)
def kehu_error(request: HttpRequest, exc: KehuError) -> HttpResponse:
    return api.create_response(request, {"error": exc.as_dict()}, status=exc.http_status)


@api.exception_handler(ValidationError)
def request_invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = []
    for item in exc.errors:
        loc = [str(p) for p in item.get("loc", []) if p not in ("body", "query", "path", "payload")]
        errors.append({"field": ".".join(loc) or None, "code": "invalid", "message": item.get("msg", "")})
    first = errors[0] if errors else {"field": None, "code": "invalid", "message": "invalid request"}
    return api.create_response(request, {"error": {**first, "errors": errors}}, status=422)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(
        request,
        {"error": {"code": "unauthenticated", "field": None, "message": "authentication required"}},
        status=401,
    )


def _mount_routers() -> None:
    from kehu.customers.api import router as customers_router

    api.add_router("/", customers_router)


_mount_routers()
