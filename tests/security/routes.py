"""Every route the permission matrix covers: the web views in the URL configuration and the API
operations in the OpenAPI document, each with a stable key the expectations table uses.

- web view: its URL name, "customers:detail";
- API operation: "METHOD /api/v1/path/{param}", exactly as the OpenAPI document spells it;
- an API URL pattern the OpenAPI document leaves out (docs, schema, catch-all): "ANY /api/v1/<route>".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

API_PREFIX = "api/v1/"
SKIPPED_PREFIXES = ("admin/", "i18n/", "static/", "media/")
WEB_METHODS = ("GET", "POST")


@dataclass(frozen=True)
class Route:
    key: str
    kind: str  # "web" | "api"
    path: str  # Django route ("customers/<int:pk>/") or OpenAPI path ("/api/v1/customers/{customer_id}")
    methods: tuple[str, ...]
    params: tuple[str, ...]  # URL parameter names
    body: object = None  # API: the smallest JSON body its schema accepts (so the handler itself runs)


def _walk(patterns: list, prefix: str = "", namespace: str = ""):  # type: ignore[no-untyped-def]
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}{pattern.name}" if pattern.name else None
            yield prefix + str(pattern.pattern), name, pattern


_PARAM = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>\w+)>|\(\?P<(?P<rname>\w+)>")


def route_params(route: str) -> tuple[str, ...]:
    return tuple(m.group("name") or m.group("rname") for m in _PARAM.finditer(route))


def web_routes() -> list[Route]:
    found: dict[str, Route] = {}
    for route, name, _pattern in _walk(get_resolver().url_patterns):
        if route.startswith(SKIPPED_PREFIXES) or route.startswith(API_PREFIX):
            continue
        key = name or f"unnamed:{route}"
        found.setdefault(key, Route(key, "web", route, WEB_METHODS, route_params(route)))
    return sorted(found.values(), key=lambda r: r.key)


def _openapi_to_django(path: str) -> str:
    return re.sub(r"\{(\w+)\}", r"<\1>", path.removeprefix("/"))


def api_routes(schema: dict) -> list[Route]:
    routes = []
    documented = set()
    for path, operations in schema["paths"].items():
        documented.add(re.sub(r"\{\w+\}", "{}", path))
        for method in operations:
            if method.upper() not in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                continue
            params = tuple(re.findall(r"\{(\w+)\}", path))
            body = minimal_body(schema, operations[method].get("requestBody"))
            routes.append(Route(f"{method.upper()} {path}", "api", path, (method.upper(),), params, body))
    # API URL patterns the schema doesn't document (ninja's docs/schema views, the catch-all 404).
    for route, _name, _pattern in _walk(get_resolver().url_patterns):
        if not route.startswith(API_PREFIX):
            continue
        as_openapi = "/" + re.sub(r"<(?:[^>:]+:)?(\w+)>", "{}", route)
        if as_openapi.rstrip("/") not in {p.rstrip("/") for p in documented}:
            key = f"ANY /{route}"
            if key not in {r.key for r in routes}:
                routes.append(Route(key, "api", "/" + route, ("GET", "POST"), route_params(route)))
    return sorted(routes, key=lambda r: r.key)


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolve(schema, node["allOf"][0])
    return node


# Body fields that name a record: filled at send time with the acting user's own record, so an
# allowed user gets past the lookup ("@customer" → the actor's customer id).
RECORD_FIELDS = {"customer": "customer", "customer_id": "customer", "opportunity": "opportunity",
                 "opportunity_id": "opportunity", "contact": "contact", "contact_id": "contact",
                 "contract": "contract", "contract_id": "contract", "lead": "lead", "lead_id": "lead"}


def _sample(schema: dict, node: dict, depth: int = 0, name: str = "") -> object:
    node = _resolve(schema, node)
    if name in RECORD_FIELDS and node.get("type") in ("integer", None):
        return "@" + RECORD_FIELDS[name]
    if "enum" in node:
        return node["enum"][0]
    if "default" in node:
        return node["default"]
    for key in ("anyOf", "oneOf"):
        if key in node:
            options = [o for o in node[key] if o.get("type") != "null"] or node[key]
            return _sample(schema, options[0], depth)
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        if depth > 3:
            return {}
        props = node.get("properties", {})
        return {key: _sample(schema, props[key], depth + 1, key) for key in node.get("required", []) if key in props}
    if kind == "array":
        return []
    if kind == "integer":
        return 1
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    if node.get("format") == "date":
        return "2026-01-01"
    if node.get("format") == "date-time":
        return "2026-01-01T10:00:00+08:00"
    return "x"


def minimal_body(schema: dict, request_body: dict | None) -> object:
    """The required fields of the operation's JSON body, each with a plain value of its type."""
    if not request_body:
        return None
    content = request_body.get("content", {})
    if "application/json" not in content:
        return None
    return _sample(schema, content["application/json"]["schema"])


def openapi_schema() -> dict:
    """The document /api/v1/openapi.json serves (built in-process: collection happens before the test
    database exists; `test_openapi_document_is_the_served_one` checks the two agree)."""
    from kehu.config.api import api

    return api.get_openapi_schema(path_prefix="/" + API_PREFIX.rstrip("/"))


def all_routes() -> list[Route]:
    return web_routes() + api_routes(openapi_schema())
