"""/api/v1/automation/rules: CRUD, pause/resume, dry run, runs and logs; admins only."""

from __future__ import annotations

import pytest

from kehu.automation import engine
from kehu.automation.models import Rule
from tests.api_client import Api, error_of
from tests.automation.conftest import customer_of, event

pytestmark = pytest.mark.django_db

RULE = {"name": "新客户打标签", "object_type": "customer", "trigger": "created",
        "conditions": {"kind": "company"}, "actions": [{"type": "add_tag", "params": {"tag": "新"}}]}


def test_crud_pause_resume_dry_run_and_runs(admin, rep):
    api = Api(admin)
    created = api.post("/automation/rules", RULE)
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["conditions"] == {"kind": "company"} and rule["is_active"] and len(rule["webhook_secret"]) > 20
    rule_id = rule["id"]
    assert [r["id"] for r in api.get("/automation/rules").json()] == [rule_id]
    patched = api.patch(f"/automation/rules/{rule_id}", {"name": "改名", "version": rule["version"]})
    assert patched.json()["name"] == "改名" and patched.json()["version"] == 2
    stale = api.patch(f"/automation/rules/{rule_id}", {"name": "再改", "version": 1})
    assert stale.status_code == 409
    assert api.post(f"/automation/rules/{rule_id}/pause", {}).json()["is_active"] is False
    assert api.post(f"/automation/rules/{rule_id}/resume", {}).json()["is_active"] is True
    customer_of(rep)
    preview = api.post(f"/automation/rules/{rule_id}/dry-run", {}).json()
    assert (preview["count"], preview["time_based"], preview["list_url"]) == (1, False, "/customers/?kind=company")
    customer = customer_of(rep)
    engine.handle_event(event("customer.created", customer.pk))
    runs = api.get(f"/automation/rules/{rule_id}/runs").json()
    assert [r["trigger"] for r in runs] == ["customer.created", "dry_run"]
    logs = api.get(f"/automation/rules/{rule_id}/logs").json()
    assert [(g["record_id"], g["status"]) for g in logs] == [(customer.pk, "done")]
    assert api.delete(f"/automation/rules/{rule_id}").status_code == 204
    assert not Rule.objects.exists()


def test_validation_errors_name_the_field(admin):
    api = Api(admin)
    response = api.post("/automation/rules", {**RULE, "actions": [{"type": "explode", "params": {}}]})
    assert response.status_code == 422
    assert error_of(response)["errors"][0]["field"] == "actions.0"
    response = api.post("/automation/rules", {**RULE, "trigger": "date_offset", "trigger_params": {"field": "x"}})
    assert response.status_code == 422 and error_of(response)["field"] == "trigger_params.field"


def test_non_admins_are_refused_and_nothing_changes(rep):
    api = Api(rep)
    assert api.get("/automation/rules").status_code == 403
    assert api.post("/automation/rules", RULE).status_code == 403
    assert not Rule.objects.exists()
