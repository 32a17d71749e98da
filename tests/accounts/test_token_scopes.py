"""API token scopes (read-only tokens get 403 on writes; per-resource scopes), last use, the token
page and `kehu token create --scope`."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kehu.accounts.models import ApiToken
from kehu.accounts.selectors import token_allows
from kehu.accounts.services import api_token_create, token_scopes_clean
from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.customers.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_scope_rules():
    assert token_allows(["read"], method="GET", path="/api/v1/customers/5")
    assert not token_allows(["read"], method="POST", path="/api/v1/customers")
    assert token_allows(["read", "write"], method="DELETE", path="/api/v1/customers/5")
    assert token_allows(["customers:read"], method="GET", path="/api/v1/customers")
    assert not token_allows(["customers:read"], method="GET", path="/api/v1/leads")
    assert token_allows(["customers:write"], method="GET", path="/api/v1/customers")  # write includes read
    assert token_allows(["customers:write"], method="PATCH", path="/api/v1/customers/1")
    assert not token_allows(["customers:write"], method="PATCH", path="/api/v1/opportunities/1")
    assert token_allows(["leads:read"], method="GET", path="/api/v1/me")  # identity is always readable


def test_scope_parsing():
    assert token_scopes_clean("read") == ["read"]
    assert token_scopes_clean("write") == ["read", "write"]
    assert token_scopes_clean(None) == ["read", "write"]
    assert token_scopes_clean("customers:read, Leads:write") == ["customers:read", "leads:write"]
    for bad in ("admin", "customers:delete", "customers", ",", "read;drop"):
        with pytest.raises(ValidationFailed):
            token_scopes_clean(bad)


def test_a_read_only_token_reads_but_gets_403_on_writes(sales_user):
    customer = CustomerFactory(owner=sales_user)
    _, secret = api_token_create(user=sales_user, scopes="read")
    client = Client(enforce_csrf_checks=True)
    assert client.get("/api/v1/customers", headers=bearer(secret)).status_code == 200
    created = client.post("/api/v1/customers", json.dumps({"name": "新客户有限公司"}),
                          content_type="application/json", headers=bearer(secret))
    assert created.status_code == 403
    assert created.json()["error"]["code"] == "permission_denied"
    patched = client.patch(f"/api/v1/customers/{customer.pk}", json.dumps({"version": 1, "city": "北京"}),
                           content_type="application/json", headers={"X-API-Key": secret})
    assert patched.status_code == 403
    assert client.delete(f"/api/v1/customers/{customer.pk}", headers=bearer(secret)).status_code == 403
    customer.refresh_from_db()
    assert Customer.objects.count() == 1 and customer.city != "北京" and customer.version == 1


def test_per_resource_scopes(sales_user):
    _, secret = api_token_create(user=sales_user, scopes=["customers:write"])
    client = Client()
    assert client.post("/api/v1/customers", json.dumps({"name": "某某科技有限公司"}),
                       content_type="application/json", headers=bearer(secret)).status_code == 201
    assert client.get("/api/v1/leads", headers=bearer(secret)).status_code == 403
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200


def test_token_page_creates_shows_once_and_revokes(client, sales_user, admin_user):
    client.force_login(sales_user)
    page = client.post(reverse("accounts:tokens"), {"name": "ERP 同步", "scope": "read", "expires_days": "90"})
    assert page.status_code == 200
    token = ApiToken.objects.get(user=sales_user)
    body = page.content.decode()
    secret = body.split('data-testid="new-token-secret"', 1)[1].split(">", 1)[1].split("<", 1)[0]
    assert secret.startswith(token.prefix) and token.scopes == ["read"]
    assert token.expires_at is not None
    assert Client().get("/api/v1/me", headers=bearer(secret)).status_code == 200

    listing = client.get(reverse("accounts:tokens")).content.decode()
    assert token.prefix in listing and secret not in listing and "ERP 同步" in listing
    token.refresh_from_db()
    assert token.last_used_at is not None
    listing = client.get(reverse("accounts:tokens")).content.decode()
    assert timezone.localtime(token.last_used_at).strftime("%Y-%m-%d %H:%M") in listing

    # Someone else's token can't be revoked from here.
    theirs, _ = api_token_create(user=admin_user)
    client.post(reverse("accounts:token_revoke", args=[theirs.pk]))
    theirs.refresh_from_db()
    assert theirs.revoked_at is None

    client.post(reverse("accounts:token_revoke", args=[token.pk]))
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert Client().get("/api/v1/me", headers=bearer(secret)).status_code == 401


def test_token_page_rejects_bad_custom_scopes(client, sales_user):
    client.force_login(sales_user)
    page = client.post(reverse("accounts:tokens"), {"scope": "custom", "custom_scopes": "everything"})
    assert page.status_code == 200 and "无效的权限范围" in page.content.decode()
    assert not ApiToken.objects.exists()


def test_nobody_creates_tokens_for_someone_else_but_admins(sales_user, admin_user):
    with pytest.raises(PermissionDenied):
        api_token_create(user=admin_user, acting_user=sales_user)
    token, _ = api_token_create(user=sales_user, acting_user=admin_user, scopes="read")
    assert token.user == sales_user


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_token_command_with_scope(sales_user):
    out, err = run("create", sales_user.username, "--scope", "read", "--expires-days", "90")
    token = ApiToken.objects.get(user=sales_user)
    assert token.scopes == ["read"] and "read" in err
    secret = out.strip()
    assert Client().post("/api/v1/customers", json.dumps({"name": "某公司"}), content_type="application/json",
                         headers=bearer(secret)).status_code == 403
    assert "scopes=read" in run("list", sales_user.username)[0]
    run("create", sales_user.username, "--scope", "customers:read,leads:write")
    assert ApiToken.objects.filter(scopes=["customers:read", "leads:write"]).count() == 1
    with pytest.raises(CommandError):
        run("create", sales_user.username, "--scope", "root")
    assert ApiToken.objects.count() == 2
