"""API authentication: tokens (valid, revoked, expired), the browser session with CSRF, and the
`kehu token` command."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.utils import timezone

from kehu.accounts.models import ApiToken
from kehu.accounts.services import api_token_create, api_token_revoke
from kehu.customers.models import Customer

pytestmark = pytest.mark.django_db

CUSTOMERS = "/api/v1/customers"


def post_customer(client: Client, name: str = "北京某某科技有限公司", **headers: str):  # type: ignore[no-untyped-def]
    return client.post(CUSTOMERS, json.dumps({"name": name}), content_type="application/json", headers=headers)


# Tokens ----------------------------------------------------------------------------------------


def test_a_valid_token_authenticates_and_records_last_use(sales_user):
    token, secret = api_token_create(user=sales_user)
    client = Client(enforce_csrf_checks=True)

    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})

    assert response.status_code == 200
    assert response.json()["username"] == sales_user.username
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_last_used_is_written_at_most_once_a_minute(sales_user):
    token, secret = api_token_create(user=sales_user)
    headers = {"Authorization": f"Bearer {secret}"}
    recent = timezone.now() - dt.timedelta(seconds=10)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=recent)
    assert Client().get("/api/v1/me", headers=headers).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == recent

    stale = timezone.now() - dt.timedelta(minutes=2)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=stale)
    assert Client().get("/api/v1/me", headers=headers).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at > stale


def test_token_writes_need_no_csrf(sales_user):
    _, secret = api_token_create(user=sales_user)
    response = post_customer(Client(enforce_csrf_checks=True), Authorization=f"Bearer {secret}")
    assert response.status_code == 201
    assert Customer.objects.get().owner == sales_user


def test_the_x_api_key_header_works_too(sales_user):
    _, secret = api_token_create(user=sales_user)
    response = Client().get("/api/v1/me", headers={"X-API-Key": secret})
    assert response.status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer kehu_not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer "])
def test_missing_or_unknown_credentials_are_401_json(db, header):
    headers = {"Authorization": header} if header else {}
    client = Client(enforce_csrf_checks=True)
    for response in (client.get(CUSTOMERS, headers=headers), post_customer(client, **headers)):
        assert response.status_code == 401
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"]["code"] == "unauthenticated"
    assert Customer.objects.count() == 0


def test_a_revoked_token_is_rejected(sales_user):
    token, secret = api_token_create(user=sales_user)
    api_token_revoke(token=token)
    response = Client().get(CUSTOMERS, headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401
    assert post_customer(Client(), Authorization=f"Bearer {secret}").status_code == 401
    assert Customer.objects.count() == 0


def test_an_expired_token_is_rejected(sales_user):
    token, secret = api_token_create(user=sales_user, expires_in=dt.timedelta(days=1))
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = Client().get(CUSTOMERS, headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401


def test_a_deactivated_users_token_is_rejected(sales_user):
    _, secret = api_token_create(user=sales_user)
    sales_user.is_active = False
    sales_user.save()
    assert Client().get(CUSTOMERS, headers={"Authorization": f"Bearer {secret}"}).status_code == 401


# Session + CSRF --------------------------------------------------------------------------------


def test_session_reads_work_without_csrf(sales_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(sales_user)
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["id"] == sales_user.pk


def test_session_writes_require_the_csrf_token(sales_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(sales_user)

    refused = post_customer(client)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    assert Customer.objects.count() == 0

    secret = _get_new_csrf_string()
    client.cookies["csrftoken"] = secret
    wrong = post_customer(client, **{"X-CSRFToken": _get_new_csrf_string()})
    assert wrong.status_code == 403
    assert Customer.objects.count() == 0

    accepted = post_customer(client, **{"X-CSRFToken": secret})
    assert accepted.status_code == 201
    assert Customer.objects.get().owner == sales_user


def test_csrf_applies_to_patch_and_delete_on_session_auth(sales_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(sales_user)
    customer = Customer.objects.create(name="某公司", owner=sales_user)
    url = f"{CUSTOMERS}/{customer.pk}"
    patch = client.patch(url, json.dumps({"version": 1, "city": "北京"}), content_type="application/json")
    assert patch.status_code == 403
    assert client.delete(url).status_code == 403
    customer.refresh_from_db()
    assert (customer.city, customer.version) == ("", 1)


def test_logging_out_ends_api_access(sales_user):
    client = Client()
    client.force_login(sales_user)
    assert client.get(CUSTOMERS).status_code == 200
    client.logout()
    assert client.get(CUSTOMERS).status_code == 401


# The `kehu token` command ----------------------------------------------------------------------


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_token_create_prints_the_secret_once_and_it_works(sales_user):
    out, err = run("create", sales_user.username, "--name", "ERP 同步", "--expires-days", "30")
    secret = out.strip()
    assert secret.startswith("kehu_")
    token = ApiToken.objects.get(user=sales_user)
    assert token.name == "ERP 同步"
    assert secret not in (token.key_hash, token.prefix)
    assert token.prefix in err and secret not in err
    expected_expiry = timezone.now() + dt.timedelta(days=30)
    assert abs((token.expires_at - expected_expiry).total_seconds()) < 60
    assert Client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_token_list_and_revoke_by_prefix(sales_user, admin_user):
    secret = run("create", sales_user.username)[0].strip()
    run("create", admin_user.username)
    token = ApiToken.objects.get(user=sales_user)

    listed = run("list", sales_user.username)[0]
    assert listed.count("\n") == 1
    assert token.prefix in listed and "active" in listed and secret not in listed
    assert len(run("list")[0].strip().splitlines()) == 2

    run("revoke", token.prefix)
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "revoked" in run("list", sales_user.username)[0]
    assert ApiToken.objects.get(user=admin_user).revoked_at is None
    assert Client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_token_command_errors(sales_user):
    with pytest.raises(CommandError):
        run("create", "nobody")
    with pytest.raises(CommandError):
        run("revoke", "kehu_zzzzzzz")
    with pytest.raises(CommandError):
        run("revoke", "kehu")  # too short to be specific
    with pytest.raises(CommandError):
        run("create", sales_user.username, "--expires-days", "0")
    assert ApiToken.objects.count() == 0
