"""The role editor: /accounts/roles/ (admins) and /api/v1/roles."""

from __future__ import annotations

import pytest

from kehu.accounts.models import Role
from kehu.accounts.permissions import has_operation
from kehu.core.models import AuditEvent
from tests.api_client import Api, error_of
from tests.factories import AdminFactory, UserFactory, role

pytestmark = pytest.mark.django_db


def _form(**overrides):  # type: ignore[no-untyped-def]
    data = {"code": "auditor", "name_zh": "审计员", "name_en": "Auditor", "data_scope": "department_only",
            "scope_customer": "all", "scope_lead": "", "permissions": ["customer.view", "customer.export",
                                                                       "audit.view"],
            "field_customer.id_number": "hidden", "field_contact.mobile": "masked", "require_2fa": "on"}
    data.update(overrides)
    return data


def test_admin_creates_a_role_in_the_editor(client):
    admin = AdminFactory()
    client.force_login(admin)
    page = client.get("/accounts/roles/new/")
    assert page.status_code == 200 and b"operation-grid" in page.content
    response = client.post("/accounts/roles/new/", _form())
    assert response.status_code == 302
    created = Role.objects.get(code="auditor")
    assert created.data_scope == "department_only"
    assert created.scopes == {"customer": "all"}
    assert created.permissions == ["audit.view", "customer.export", "customer.view"]
    assert created.field_access == {"customer.id_number": "hidden", "contact.mobile": "masked"}
    assert created.require_2fa is True
    event = AuditEvent.objects.get(action="permission", object_type="role", object_id=created.pk)
    assert {c["field"] for c in event.changes} >= {"code", "permissions", "scopes", "field_access"}


def test_editing_a_built_in_role_audits_old_and_new(client):
    admin = AdminFactory()
    client.force_login(admin)
    sales = role("sales")
    page = client.get(f"/accounts/roles/{sales.pk}/")
    assert page.status_code == 200
    assert b'value="customer.export" aria-label' in page.content  # the defaults are ticked
    response = client.post(f"/accounts/roles/{sales.pk}/", _form(code="ignored", name_zh="销售",
                                                                 data_scope="own", permissions=["customer.view"]))
    assert response.status_code == 302
    sales.refresh_from_db()
    assert sales.code == "sales"  # the stable key never changes
    assert sales.permissions == ["customer.view"]
    event = AuditEvent.objects.filter(action="permission", object_id=sales.pk).latest("id")
    change = next(c for c in event.changes if c["field"] == "permissions")
    assert "customer.export" in change["old"] and change["new"] == ["customer.view"]
    rep = UserFactory()
    assert not has_operation(rep, "customer.export")


def test_invalid_role_is_shown_again_and_nothing_saved(client):
    client.force_login(AdminFactory())
    response = client.post("/accounts/roles/new/", _form(code="Bad Code", name_zh=""))
    assert response.status_code == 200
    assert not Role.objects.filter(name_en="Auditor").exists()
    assert not AuditEvent.objects.filter(action="permission").exists()


def test_non_admin_is_refused_and_nothing_changes(client):
    rep = UserFactory(role=role("manager"))
    client.force_login(rep)
    sales = role("sales")
    assert client.get("/accounts/roles/").status_code == 403
    assert client.post(f"/accounts/roles/{sales.pk}/", _form(permissions=[])).status_code == 403
    assert client.post(f"/accounts/roles/{role('service').pk}/delete/").status_code == 403
    sales.refresh_from_db()
    assert sales.permissions is None
    assert Role.objects.filter(code="service").exists()
    assert not AuditEvent.objects.filter(action="permission").exists()


def test_a_role_in_use_cannot_be_deleted(client):
    client.force_login(AdminFactory())
    used = Role.objects.create(code="temp", name_zh="临时", name_en="Temp")
    UserFactory(role=used)
    client.post(f"/accounts/roles/{used.pk}/delete/")
    assert Role.objects.filter(pk=used.pk).exists()
    unused = Role.objects.create(code="spare", name_zh="备用", name_en="Spare")
    client.post(f"/accounts/roles/{unused.pk}/delete/")
    assert not Role.objects.filter(pk=unused.pk).exists()
    assert AuditEvent.objects.filter(action="permission", object_id=unused.pk).exists()


def test_roles_page_lists_roles_for_admins(client):
    client.force_login(AdminFactory())
    page = client.get("/accounts/roles/")
    assert page.status_code == 200
    assert b'data-testid="role-sales"' in page.content


# API --------------------------------------------------------------------------------------------


def test_api_lists_creates_and_updates_roles():
    api = Api(AdminFactory())
    listed = api.get("/roles")
    assert listed.status_code == 200
    sales = next(r for r in listed.json() if r["code"] == "sales")
    assert "customer.export" in sales["permissions"] and sales["field_access"]["customer.id_number"] == "masked"

    created = api.post("/roles", {"code": "viewer", "name_zh": "只读", "data_scope": "all",
                                  "permissions": ["customer.view"]})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["permissions"] == ["customer.view"] and body["name_en"] == "只读"

    updated = api.put(f"/roles/{body['id']}", {"scopes": {"customer": "own"}, "require_2fa": True})
    assert updated.status_code == 200
    assert updated.json()["scopes"] == {"customer": "own"}
    assert updated.json()["permissions"] == ["customer.view"]  # untouched parts keep their value
    assert Role.objects.get(code="viewer").require_2fa is True


def test_api_validates_role_payloads():
    api = Api(AdminFactory())
    response = api.post("/roles", {"code": "x1", "name_zh": "X", "permissions": ["customer.fly"],
                                   "scopes": {"customer": "galaxy"}})
    assert response.status_code == 422
    assert {e["field"] for e in error_of(response)["errors"]} == {"permissions", "scopes"}
    assert not Role.objects.filter(code="x1").exists()


def test_api_refuses_non_admins_and_changes_nothing():
    api = Api(UserFactory(role=role("marketing")))
    sales = role("sales")
    assert api.get("/roles").status_code == 403
    assert api.post("/roles", {"code": "sneaky", "name_zh": "S"}).status_code == 403
    assert api.put(f"/roles/{sales.pk}", {"permissions": list(["settings.manage"])}).status_code == 403
    sales.refresh_from_db()
    assert sales.permissions is None and not Role.objects.filter(code="sneaky").exists()


def test_api_delete_refuses_a_role_in_use():
    api = Api(AdminFactory())
    UserFactory()  # a sales rep
    response = api.delete(f"/roles/{role('sales').pk}")
    assert response.status_code in (422, 400)
    assert Role.objects.filter(code="sales").exists()
