"""The permission matrix's machinery: the expected outcome of one request (computed from the
expectations table, `has_operation()` and `restrict()`), building its URL, sending it as an actor,
judging the response, and proving that a refused write changed nothing."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from kehu.accounts.permissions import has_operation
from kehu.core.scoping import restrict
from tests.security.expectations import Expect
from tests.security.routes import Route
from tests.security.world import RELATIONS, ROLES, World

ANONYMOUS = "anonymous"
ACTORS = (*ROLES, ANONYMOUS)
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
LOGIN_URL = "/accounts/login/"
# KEHU_MATRIX_RAISE=1: a view's exception fails the test with its traceback instead of a 500.
RAISE = os.environ.get("KEHU_MATRIX_RAISE") == "1"

# Tables a refused request may write: the session (last-seen stamp, messages), sign-in bookkeeping,
# the audit log (a refusal may be audited) and the API token's last-used stamp. Nothing else.
BOOKKEEPING_TABLES = {"django_session", "core_auditevent", "accounts_loginattempt"}
BOOKKEEPING_COLUMNS = {"accounts_apitoken": {"last_used_at"}}


@dataclass(frozen=True)
class Case:
    actor: str
    relation: str | None
    method: str

    def __str__(self) -> str:
        return f"{self.actor}/{self.relation or '-'}/{self.method}"


def cases(route: Route, expect: Expect) -> list[Case]:
    bound = expect.record is not None and expect.need in {"record", "mine", "admin"}
    # A public route is the same for every role: anonymous and one signed-in user say enough (the
    # schema and docs pages are slow to build).
    actors = (ANONYMOUS, "sales") if expect.need == "public" else ACTORS
    methods = ("GET",) if route.key.startswith("ANY ") else route.methods
    out = []
    for method in methods:
        for actor in actors:
            if not bound:
                out.append(Case(actor, None, method))
            elif actor == ANONYMOUS:
                out.append(Case(actor, "same_dept", method))
            else:
                out.extend(Case(actor, relation, method) for relation in RELATIONS)
    return out


READ_OPERATIONS = {"view", "export"}
# The object whose operations change a bundle row (a consent belongs to its customer's data).
RECORD_OBJECT = {"consent": "customer", "payment": "contract", "note": "customer", "bin_entry": "customer"}


def needs_write(record: str, code: str | None) -> bool:
    if not code:
        return False
    obj, operation = code.split(".")
    return obj == RECORD_OBJECT.get(record, record) and operation not in READ_OPERATIONS


def visible(row: Any, user: Any, write: bool = False) -> bool:
    """Under `restrict()`, with `write` for operations that change the row (read-only shares don't count)."""
    model = type(row)
    return restrict(model.objects.filter(pk=row.pk), user, write=write).exists()


def expected_allowed(world: World, expect: Expect, case: Case) -> bool:
    if expect.need == "public":
        return True
    if case.actor == ANONYMOUS:
        return False
    user = world.users[case.actor]
    if expect.need == "auth":
        return True
    if expect.need == "admin":
        return user.is_kehu_admin
    code = expect.code_for(case.method)
    if code and not has_operation(user, code):
        return False
    if expect.need == "op":
        return True
    ref = world.bundle(case.actor if case.actor != ANONYMOUS else "sales", case.relation or "own")[expect.record]
    if ref.visible is not None and not ref.visible(user):
        return False
    if expect.need == "mine":
        return ref.belongs_to == user.pk or (expect.admin_ok and user.is_kehu_admin)
    write = expect.write_scope if expect.write_scope is not None else needs_write(expect.record or "", code)
    if ref.scoped is not None and not visible(ref.scoped, user, write=write):
        return False
    if expect.reveal:
        from kehu.core.masking import FieldAccess, access_of

        access = access_of(user, *expect.reveal)
        if access == FieldAccess.HIDDEN:
            return False
        if access == FieldAccess.MASKED:
            return has_operation(user, f"{expect.reveal[0]}.reveal")
    if expect.owner_or:
        owner = getattr(ref.scoped, "owner_id", None)
        return user.is_kehu_admin or owner == user.pk or (
            has_operation(user, expect.owner_or) and visible(ref.scoped, user, write=True))
    return True


def _param(world: World, bundle: dict, spec: str) -> Any:
    if spec.startswith("lit:"):
        return spec[4:]
    if spec in bundle:
        return bundle[spec].pk
    return world.globals[spec]


def url_for(world: World, route: Route, expect: Expect, case: Case) -> str:
    actor = "sales" if case.actor == ANONYMOUS else case.actor
    bundle = world.bundle(actor, case.relation or "own")
    values = {name: _param(world, bundle, spec) for name, spec in expect.params.items()}
    if expect.record and expect.arg:
        values[expect.arg] = bundle[expect.record].pk
    unfilled = set(route.params) - set(values)
    if unfilled:
        raise AssertionError(f"{route.key}: no value for URL parameter(s) {sorted(unfilled)}: add params= "
                             "to its expectation")
    if route.kind == "web" and route.key.startswith("unnamed:"):
        return "/" + re.sub(r"<(?:[^>:]+:)?(\w+)>", lambda m: str(values[m.group(1)]), route.path)
    if route.kind == "web":
        return reverse(route.key, kwargs={k: values[k] for k in route.params})
    path = route.path
    if route.key.startswith("ANY "):
        return re.sub(r"<(?:[^>:]+:)?(\w+)>", lambda m: str(values[m.group(1)]), path)
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


class Actors:
    """One test client per actor: a signed-in browser session for pages, an API token for /api/v1."""

    def __init__(self, world: World) -> None:
        self.web: dict[str, Client] = {}
        self.api: dict[str, Client] = {}
        self.cookies: dict[str, str] = {}
        for role in ROLES:
            client = Client(raise_request_exception=RAISE)
            client.force_login(world.users[role])
            self.web[role] = client
            self.cookies[role] = client.cookies[settings.SESSION_COOKIE_NAME].value
            self.api[role] = Client(raise_request_exception=RAISE, HTTP_AUTHORIZATION=f"Bearer {world.tokens[role]}")
        self.web[ANONYMOUS] = self.api[ANONYMOUS] = Client(raise_request_exception=RAISE)

    def send(self, route: Route, case: Case, url: str, body: Any = None, own: dict | None = None) -> Any:
        client = (self.api if route.kind == "api" else self.web)[case.actor]
        if case.actor != ANONYMOUS and route.kind == "web":
            # Logout and the like end the session; every request starts from the signed-in one.
            client.cookies[settings.SESSION_COOKIE_NAME] = self.cookies[case.actor]
        else:
            client.cookies.clear()
        method = case.method.lower()
        if case.method == "GET":
            return client.get(url)
        if route.kind == "api":
            body = _fill(body if body is not None else route.body if route.body is not None else {}, own or {})
            return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")
        return client.post(url, {})


def _fill(value: Any, own: dict) -> Any:
    """Replace "@customer" placeholders by the acting user's own record ids."""
    if isinstance(value, str) and value.startswith("@") and value[1:] in own:
        return own[value[1:]].pk
    if isinstance(value, dict):
        return {k: _fill(v, own) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, own) for v in value]
    return value


def own_bundle(world: World, case: Case) -> dict:
    return world.bundle("sales" if case.actor == ANONYMOUS else case.actor, "own")


def is_denied(response: Any, case: Case) -> bool:
    status = response.status_code
    if status in (401, 403, 404, 405):
        return True
    return status in (301, 302) and response.get("Location", "").startswith(LOGIN_URL)


def judge(response: Any, case: Case, allowed: bool, expect: Expect) -> str | None:
    """None when the response matches the expectation, else what went wrong."""
    missing, public, unreached_ok = expect.missing, expect.need == "public", expect.unreached_ok
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    if public:  # nothing to refuse (logout, the two-factor step and the docs may redirect)
        return None
    denied = is_denied(response, case)
    if allowed:
        if status == 405 or (missing and status == 404):
            return None
        if denied:
            where = response.get("Location", "") if status in (301, 302) else ""
            return f"expected allowed, got {status} {where}".rstrip()
        return None
    if unreached_ok and status == 422:
        return None
    if not denied:
        where = response.get("Location", "") if status in (301, 302) else ""
        return f"expected denied, got {status} {where}".rstrip()
    return None


# "A denied request changes nothing" -------------------------------------------------------------

_WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)
_SET_COLUMNS = re.compile(r'"?(\w+)"?\s*=', re.IGNORECASE)


@contextmanager
def capture_writes() -> Iterator[list[str]]:
    """Every INSERT/UPDATE/DELETE that changed a row outside the bookkeeping tables."""
    seen: list[str] = []

    def wrapper(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        result = execute(sql, params, many, context)
        match = _WRITE.match(sql)
        if match:
            table = match.group(1)
            rows = getattr(context["cursor"], "rowcount", 1)
            if table not in BOOKKEEPING_TABLES and (rows is None or rows != 0) and not _bookkeeping_update(table, sql):
                seen.append(sql[:200])
        return result

    with connection.execute_wrapper(wrapper):
        yield seen


def _bookkeeping_update(table: str, sql: str) -> bool:
    allowed = BOOKKEEPING_COLUMNS.get(table)
    if not allowed or not sql.lstrip().upper().startswith("UPDATE"):
        return False
    set_part = sql.split(" SET ", 1)[1].split(" WHERE ", 1)[0]
    return set(_SET_COLUMNS.findall(set_part)) <= allowed


def fingerprint() -> dict[str, tuple[int, str]]:
    """Row count and a hash of every row's values, per table (bookkeeping tables and columns left out)."""
    out = {}
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed or meta.db_table in BOOKKEEPING_TABLES:
            continue
        skip = BOOKKEEPING_COLUMNS.get(meta.db_table, set())
        fields = [f.attname for f in meta.concrete_fields if f.column not in skip]
        rows = list(model._base_manager.order_by("pk").values_list(*fields))
        out[meta.db_table] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return out


def diff(before: dict, after: dict) -> list[str]:
    return sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))
