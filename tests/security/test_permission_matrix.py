"""The permission matrix (issue 8): every page and API operation × every role and anonymous × own /
same department / sub-department / other department / private record × every method.

Routes come from the URL configuration and /api/v1/openapi.json; what each needs comes from
`expectations.py`, and who passes is computed with `has_operation()` and `restrict()`, so the matrix
follows role and scope changes. A route without an expectation fails. Refused requests must answer
403/404 (401 or a redirect to the login page when anonymous) and a refused write must change
nothing: no row written outside the bookkeeping tables (session, audit log, sign-in attempts), and
the database fingerprint before and after every route's refused writes is equal.

The world is built once per module inside a transaction; every request runs in a savepoint that
is rolled back, so allowed writes don't leak into later cases.
"""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import override_settings

from tests.security.expectations import EXPECTATIONS
from tests.security.matrix import (
    WRITE_METHODS,
    Actors,
    capture_writes,
    cases,
    diff,
    expected_allowed,
    fingerprint,
    judge,
    own_bundle,
    url_for,
)
from tests.security.routes import all_routes
from tests.security.world import build_world

# The mark makes pytest-django create the test database (it only does so for tests that ask for one);
# the world itself lives in the module fixture's transaction.
pytestmark = pytest.mark.django_db

ROUTES = all_routes()
ROUTE_KEYS = {route.key for route in ROUTES}


class _Rollback(Exception):
    pass


@pytest.fixture(scope="module")
def matrix(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    fast = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=fast):
        from django.db import connection

        assert "memory" in connection.settings_dict["NAME"] or "test" in connection.settings_dict["NAME"]
        outer = transaction.atomic()
        outer.__enter__()
        try:
            world = build_world()
            yield world, Actors(world)
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def test_every_route_has_an_expectation() -> None:
    missing = sorted(ROUTE_KEYS - set(EXPECTATIONS))
    assert not missing, "add an expectation for:\n" + "\n".join(missing)


def test_every_expectation_names_a_route() -> None:
    stale = sorted(set(EXPECTATIONS) - ROUTE_KEYS)
    assert not stale, "these expectations name routes that no longer exist:\n" + "\n".join(stale)


@pytest.mark.parametrize("route", ROUTES, ids=[route.key for route in ROUTES])
def test_route(route, matrix) -> None:  # type: ignore[no-untyped-def]
    world, actors = matrix
    expect = EXPECTATIONS.get(route.key)
    assert expect is not None, f"add an expectation for {route.key} in tests/security/expectations.py"
    failures: list[str] = []
    planned = [(case, expected_allowed(world, expect, case)) for case in cases(route, expect)]
    refused_writes = [(c, a) for c, a in planned if not a and c.method in WRITE_METHODS]
    others = [(c, a) for c, a in planned if a or c.method not in WRITE_METHODS]

    # Refused writes, all in one savepoint: each must write nothing, and together leave the
    # database's fingerprint as it was.
    if refused_writes:
        try:
            with transaction.atomic():
                before = fingerprint()
                for case, allowed in refused_writes:
                    url = url_for(world, route, expect, case)
                    with capture_writes() as writes, transaction.atomic():
                        response = actors.send(route, case, url, expect.body, own_bundle(world, case))
                        if response.status_code >= 500:  # reported below; keep PostgreSQL's transaction usable
                            transaction.set_rollback(True)
                    problem = judge(response, case, allowed, expect)
                    if problem:
                        failures.append(f"{case} {url}: {problem}")
                    if writes:
                        failures.append(f"{case} {url}: refused, yet wrote: {writes[:3]}")
                changed = diff(before, fingerprint())
                if changed:
                    failures.append(f"refused writes changed tables: {changed}")
                raise _Rollback
        except _Rollback:
            pass

    for case, allowed in others:
        url = url_for(world, route, expect, case)
        try:
            with transaction.atomic():
                response = actors.send(route, case, url, expect.body, own_bundle(world, case))
                raise _Rollback(response)
        except _Rollback as done:
            response = done.args[0]
        problem = judge(response, case, allowed, expect)
        if problem:
            failures.append(f"{case} {url}: {problem}")

    assert not failures, f"{route.key}:\n" + "\n".join(failures)


def test_openapi_document_is_the_served_one(matrix) -> None:  # type: ignore[no-untyped-def]
    """The matrix enumerates the schema built in-process; it must be the one clients download."""
    import json

    from django.test import Client

    from tests.security.routes import API_PREFIX, openapi_schema

    world, actors = matrix
    response = actors.api["admin"].get("/" + API_PREFIX + "openapi.json")
    if response.status_code != 200:
        response = Client().get("/" + API_PREFIX + "openapi.json")
    assert response.status_code == 200
    assert set(json.loads(response.content)["paths"]) == set(openapi_schema()["paths"])
