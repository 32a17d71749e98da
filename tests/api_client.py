"""A test client for /api/v1 authenticated with a real API token, shared by the API tests."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from kehu.accounts.services import api_token_create

BASE = "/api/v1"


class Api:
    """A test client authenticated with a real API token of `user` (CSRF enforced, as for scripts)."""

    def __init__(self, user: Any) -> None:
        self.user = user
        _, secret = api_token_create(user=user, name="tests")
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}", enforce_csrf_checks=True)

    def get(self, path: str, params: dict | None = None) -> Any:
        return self.client.get(BASE + path, params or {})

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(BASE + path, json.dumps(body), content_type="application/json")

    def put(self, path: str, body: Any) -> Any:
        return self.client.put(BASE + path, json.dumps(body), content_type="application/json")

    def patch(self, path: str, body: Any) -> Any:
        return self.client.patch(BASE + path, json.dumps(body), content_type="application/json")

    def delete(self, path: str) -> Any:
        return self.client.delete(BASE + path)


def error_of(response: Any) -> dict:
    return response.json()["error"]
