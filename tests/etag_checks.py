"""The ETag / If-Match contract (kehu.core.etag), checked the same way for every versioned record
the API reads and writes: the app's tests/<app>/test_api_concurrency.py call these with a path,
a record and a field to change."""

from __future__ import annotations

import json
import threading
from typing import Any

from django.db import connection
from django.db.models import Model

from tests.api_client import BASE, Api, error_of


def state(record: Model) -> dict[str, Any]:
    """Every stored column of the record, read again from the database."""
    fresh = type(record)._base_manager.get(pk=record.pk)
    return {f.attname: getattr(fresh, f.attname) for f in fresh._meta.concrete_fields}


def tag(record: Model, version: int | None = None) -> str:
    fresh = type(record)._base_manager.get(pk=record.pk)
    return f'W/"{fresh._meta.model_name}-{fresh.pk}-v{version if version is not None else fresh.version}"'


def patch(api: Api, path: str, body: dict[str, Any], if_match: str | None) -> Any:
    headers = {"HTTP_IF_MATCH": if_match} if if_match is not None else {}
    return api.client.patch(BASE + path, json.dumps(body), content_type="application/json", **headers)


def delete(api: Api, path: str, if_match: str | None) -> Any:
    headers = {"HTTP_IF_MATCH": if_match} if if_match is not None else {}
    return api.client.delete(BASE + path, **headers)


def check_get_etag(api: Api, path: str, record: Model) -> str:
    response = api.get(path)
    assert response.status_code == 200, response.content
    assert response["ETag"] == tag(record)
    assert response.json()["version"] == type(record)._base_manager.get(pk=record.pk).version
    return response["ETag"]


def check_patch_contract(api: Api, path: str, record: Model, *, field: str, values: tuple[Any, Any, Any]) -> None:
    """GET's ETag as If-Match: 200 and a new ETag; the old ETag again: 412, nothing written;
    `*`: 200; a malformed header: 400, nothing written; another record's tag: 412; a list with the
    current tag: 200. `values` are three successive values of text `field`, stored as sent."""
    model = type(record)

    def read(row: Model) -> Any:
        return getattr(row, field)

    first_etag = check_get_etag(api, path, record)
    version = model._base_manager.get(pk=record.pk).version

    ok = patch(api, path, {field: values[0]}, first_etag)
    assert ok.status_code == 200, ok.content
    assert ok["ETag"] == tag(record, version + 1) and ok.json()["version"] == version + 1
    assert read(model._base_manager.get(pk=record.pk)) == values[0]

    before = state(record)
    stale = patch(api, path, {field: values[1]}, first_etag)
    assert stale.status_code == 412, stale.content
    error = error_of(stale)
    assert error["code"] == "precondition_failed" and error["field"] == "If-Match"
    assert error["current_version"] == version + 1 and error["etag"] == tag(record) == stale["ETag"]
    assert error["updated_by"] == str(api.user) and str(api.user) in error["message"]
    assert state(record) == before

    for malformed in ("customer-1-v1", 'W/"unterminated', '"a" "b"', ""):
        refused = patch(api, path, {field: values[1]}, malformed)
        assert refused.status_code == 400, (malformed, refused.content)
        assert error_of(refused)["field"] == "If-Match"
    other = f'W/"{model._meta.model_name}-{record.pk + 1000}-v{version + 1}"'
    assert patch(api, path, {field: values[1]}, other).status_code == 412
    assert state(record) == before

    listed = patch(api, path, {field: values[1]}, f'{first_etag}, {tag(record)}')
    assert listed.status_code == 200, listed.content
    anything = patch(api, path, {field: values[2]}, "*")
    assert anything.status_code == 200, anything.content
    assert anything["ETag"] == tag(record, version + 3)
    assert read(model._base_manager.get(pk=record.pk)) == values[2]


def check_two_editors(first: Api, second: Api, path: str, record: Model, *, field: str, mine: Any,
                      theirs: Any) -> None:
    """Both load the record (same ETag); the first saves; the second's save with the ETag it
    loaded is 412 and the first one's value stays."""
    loaded_first = check_get_etag(first, path, record)
    loaded_second = check_get_etag(second, path, record)
    assert loaded_first == loaded_second
    assert patch(first, path, {field: theirs}, loaded_first).status_code == 200
    after_first = state(record)
    refused = patch(second, path, {field: mine}, loaded_second)
    assert refused.status_code == 412
    assert error_of(refused)["updated_by"] == str(first.user)
    assert state(record) == after_first


def check_delete_contract(api: Api, path: str, record: Model) -> None:
    """A stale If-Match on DELETE is 412 and the row stays as it was; the current one deletes."""
    current = check_get_etag(api, path, record)
    stale = tag(record, type(record)._base_manager.get(pk=record.pk).version - 1)
    before = state(record)
    refused = delete(api, path, stale)
    assert refused.status_code == 412, refused.content
    assert state(record) == before
    done = delete(api, path, current)
    assert done.status_code == 204, done.content
    assert api.get(path).status_code == 404


def race(clients: list[Api], path: str, bodies: list[dict[str, Any]], if_match: str) -> list[int]:
    """Send the PATCHes at once from threads (each with its own connection); the status codes."""
    barrier = threading.Barrier(len(clients))
    codes: list[int] = [0] * len(clients)

    def run(index: int) -> None:
        try:
            barrier.wait()
            codes[index] = patch(clients[index], path, bodies[index], if_match).status_code
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes
