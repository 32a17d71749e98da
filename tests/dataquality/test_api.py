"""/api/v1/quality/: overview and queues scoped to the caller, a customer's score, queue actions,
admin tables, settings and normalisation jobs, with the shared error shape."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from kehu.core.models import Job
from kehu.customers.models import Customer
from kehu.dataquality import quality, services
from kehu.dataquality.models import CityAlias, PicklistSynonym, QualityIssue, QualitySettings, ValidationRule
from tests.api_client import BASE, Api, error_of
from tests.factories import CustomerFactory, ManagerFactory, UserFactory, option

pytestmark = pytest.mark.django_db

@pytest.fixture
def sales_api(sales_user):  # type: ignore[no-untyped-def]
    return Api(sales_user)


@pytest.fixture
def admin_api(admin_user):  # type: ignore[no-untyped-def]
    return Api(admin_user)


def checked(**kwargs: Any) -> Customer:
    customer = CustomerFactory(**kwargs)
    quality.customer_quality_refresh(customer)
    return customer


def make_stale(*customers: Customer) -> None:
    Customer.objects.filter(pk__in=[c.pk for c in customers]).update(
        updated_at=timezone.now() - dt.timedelta(days=200))


def test_anonymous_is_401():
    response = Client().get(BASE + "/quality/overview")
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthenticated"


# Overview and queues ---------------------------------------------------------------------------


def test_overview_is_scoped(sales_api, sales_user, admin_api):
    checked(owner=sales_user, phones=["12345"])
    checked(owner=UserFactory(), phones=["999"], emails=["x@@y"])
    mine = sales_api.get("/quality/overview").json()
    assert mine["total"] == 1
    assert {r["code"]: r["count"] for r in mine["by_code"]}.get("email.invalid") is None
    assert {q["key"]: q["count"] for q in mine["queues"]}["invalid_phones"] == 1
    phone_row = next(r for r in mine["by_code"] if r["code"] == "phone.invalid")
    assert phone_row == {"code": "phone.invalid", "label": "无法识别的电话号码", "count": 1, "queue": "invalid_phones"}
    everything = admin_api.get("/quality/overview").json()
    assert everything["total"] == 2
    assert {q["key"]: q["count"] for q in everything["queues"]}["invalid_phones"] == 2
    assert [b["label"] for b in everything["buckets"]] == ["0-39", "40-59", "60-79", "80-89", "90-100"]
    assert everything["stale_days"] == 90


def test_queues_list_every_queue_with_counts(sales_api, sales_user):
    stale = checked(owner=sales_user)
    make_stale(stale)
    response = sales_api.get("/quality/queues")
    assert response.status_code == 200
    counts = {q["key"]: q["count"] for q in response.json()}
    assert list(counts) == ["stale", "invalid_phones", "invalid_emails", "bounced_emails", "missing_fields",
                            "unknown_picklist", "duplicates", "invalid_identifiers", "addresses", "assigned_to_me"]
    assert counts["stale"] == 1


def test_queue_page_with_cursor(admin_api):
    customers = [checked(phones=["12345"]) for _n in range(5)]
    first = admin_api.get("/quality/queues/invalid_phones", {"limit": 3}).json()
    assert first["key"] == "invalid_phones"
    assert len(first["items"]) == 3
    assert first["items"][0]["issues"] == [{"code": "phone.invalid", "field": "phones", "value": "12345",
                                            "hint": "", "label": "电话：无法识别的电话号码", "contact_id": None}]
    second = admin_api.get("/quality/queues/invalid_phones", {"limit": 3, "cursor": first["next_cursor"]}).json()
    assert len(second["items"]) == 2
    assert second["next_cursor"] is None
    ids = [i["id"] for i in first["items"] + second["items"]]
    assert sorted(ids) == sorted(c.pk for c in customers)


def test_queue_errors(sales_api):
    response = sales_api.get("/quality/queues/nope")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    response = sales_api.get("/quality/queues/stale", {"cursor": "garbage!"})
    assert response.status_code == 422
    assert error_of(response)["field"] == "cursor"
    response = sales_api.get("/quality/queues/stale", {"limit": 1000})
    assert response.status_code == 422
    assert error_of(response)["field"] == "limit"


def test_queue_items_are_scoped(sales_api, sales_user):
    mine = checked(owner=sales_user, phones=["12345"])
    checked(owner=UserFactory(), phones=["999"])
    items = sales_api.get("/quality/queues/invalid_phones").json()["items"]
    assert [i["id"] for i in items] == [mine.pk]
    assert items[0]["owner"]["id"] == sales_user.pk


def test_customer_quality_has_score_reasons_and_issues(sales_api, sales_user):
    customer = checked(owner=sales_user, phones=["12345"])
    response = sales_api.get(f"/quality/customers/{customer.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["score"] == body["completeness"] + body["validity"] + body["freshness"]
    assert body["validity"] == 20
    assert {"points": 10, "message": "无法识别的电话号码"} in body["reasons"]
    assert "phone.invalid" in [i["code"] for i in body["issues"]]


def test_customer_quality_outside_scope_is_404(sales_api):
    theirs = checked(owner=UserFactory())
    response = sales_api.get(f"/quality/customers/{theirs.pk}")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


# Actions ---------------------------------------------------------------------------------------


def test_mark_reviewed_touches_only_visible_customers(sales_api, sales_user):
    mine = checked(owner=sales_user)
    theirs = checked(owner=UserFactory())
    make_stale(mine, theirs)
    response = sales_api.post("/quality/actions/mark-reviewed", {"ids": [mine.pk, theirs.pk]})
    assert response.json() == {"changed": 1}
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.reviewed_at is not None
    assert theirs.reviewed_at is None


def test_assign_to_owner(sales_user):
    manager = ManagerFactory(department=sales_user.department)
    a = checked(owner=sales_user, phones=["12345"], emails=["x@@y"])
    response = Api(manager).post("/quality/actions/assign-to-owner", {"ids": [a.pk], "code": "phone.invalid"})
    assert response.json() == {"changed": 1}
    assert list(QualityIssue.objects.filter(assigned_to__isnull=False).values_list("code", "assigned_to_id")) == [
        ("phone.invalid", sales_user.pk)]


def test_assign_to_owner_is_403_for_a_rep_and_changes_nothing(sales_api, sales_user):
    mine = checked(owner=sales_user, phones=["12345"])
    response = sales_api.post("/quality/actions/assign-to-owner", {"ids": [mine.pk]})
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"
    assert not QualityIssue.objects.filter(assigned_to__isnull=False).exists()


def test_apply_email_fixes(sales_api, sales_user):
    mine = checked(owner=sales_user, emails=["zhang@163.con"])
    theirs = checked(owner=UserFactory(), emails=["li@qq.con"])
    response = sales_api.post("/quality/actions/apply-email-fixes", {"ids": [mine.pk, theirs.pk]})
    assert response.json() == {"changed": 1}
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.emails, theirs.emails) == (["zhang@163.com"], ["li@qq.con"])


def test_action_body_is_validated(sales_api):
    response = sales_api.post("/quality/actions/mark-reviewed", {"ids": ["x"], "extra": 1})
    assert response.status_code == 422
    assert {e["field"] for e in error_of(response)["errors"]} == {"ids.0", "extra"}


# Admin tables ----------------------------------------------------------------------------------


ADMIN_ONLY = [
    ("get", "/quality/city-aliases", None),
    ("post", "/quality/city-aliases", {"alias": "鹏城", "canonical": "深圳市"}),
    ("get", "/quality/synonyms", None),
    ("post", "/quality/synonyms", {"kind": "source", "code": "website", "text": "主页"}),
    ("get", "/quality/rules", None),
    ("post", "/quality/rules", {"field": "city", "rule_type": "required"}),
    ("get", "/quality/settings", None),
    ("put", "/quality/settings", {"stale_days": 5, "key_fields_company": [], "key_fields_person": []}),
    ("post", "/quality/normalize", {"dry_run": True}),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY)
def test_admin_endpoints_are_403_for_reps_and_change_nothing(sales_api, method, path, body):
    rules = ValidationRule.objects.count()
    args = (path,) if body is None else (path, body)
    response = getattr(sales_api, method)(*args)
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"
    assert not CityAlias.objects.exists()
    assert not PicklistSynonym.objects.filter(text="主页").exists()
    assert ValidationRule.objects.count() == rules
    assert quality.quality_settings().stale_days == 90
    assert not Job.objects.exists()


def test_city_alias_crud(admin_api):
    response = admin_api.post("/quality/city-aliases", {"alias": "鹏城", "canonical": "深圳"})
    assert response.status_code == 201
    created = response.json()
    assert created["canonical"] == "深圳市"
    updated = admin_api.put(f"/quality/city-aliases/{created['id']}", {"alias": "鹏城", "canonical": "广州市"})
    assert updated.json() == {"id": created["id"], "alias": "鹏城", "canonical": "广州市"}
    assert admin_api.get("/quality/city-aliases").json() == [updated.json()]
    duplicate = admin_api.post("/quality/city-aliases", {"alias": "鹏城", "canonical": "深圳市"})
    assert duplicate.status_code == 422
    assert (error_of(duplicate)["field"], error_of(duplicate)["code"]) == ("alias", "unique")
    bad = admin_api.post("/quality/city-aliases", {"alias": "XX", "canonical": "火星"})
    assert (bad.status_code, error_of(bad)["field"]) == (422, "canonical")
    assert admin_api.delete(f"/quality/city-aliases/{created['id']}").status_code == 204
    assert admin_api.delete(f"/quality/city-aliases/{created['id']}").status_code == 404
    assert not CityAlias.objects.exists()


def test_synonym_crud(admin_api):
    response = admin_api.post("/quality/synonyms", {"kind": "source", "code": "website", "text": "公司主页"})
    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["option_code"], body["text"]) == ("source", "website", "公司主页")
    by_id = admin_api.post("/quality/synonyms", {"option": option("source", "referral").pk, "text": "公司主页"})
    assert by_id.status_code == 422
    assert error_of(by_id)["code"] == "unique"
    unknown = admin_api.post("/quality/synonyms", {"kind": "source", "code": "nope", "text": "x"})
    assert (unknown.status_code, error_of(unknown)["field"]) == (422, "option")
    listed = admin_api.get("/quality/synonyms", {"kind": "source"}).json()
    assert body in listed
    assert {s["kind"] for s in listed} == {"source"}
    assert admin_api.delete(f"/quality/synonyms/{body['id']}").status_code == 204
    assert not PicklistSynonym.objects.filter(text="公司主页").exists()


def test_rule_crud_and_validation(admin_api):
    stage = option("stage", "customer")
    response = admin_api.post("/quality/rules", {
        "field": "city", "rule_type": "required", "severity": "error", "customer_kind": "company",
        "stage": stage.pk, "message_zh": "成交客户必须填写城市", "message_en": "Won customers need a city"})
    assert response.status_code == 201
    rule = response.json()
    assert (rule["target"], rule["stage"], rule["is_active"]) == ("customer", stage.pk, True)
    updated = admin_api.put(f"/quality/rules/{rule['id']}", {
        "field": "birthday", "rule_type": "range", "severity": "warning", "params": {"min": "1900-01-01"}})
    assert updated.status_code == 200
    assert (updated.json()["field"], updated.json()["params"], updated.json()["stage"]) == (
        "birthday", {"min": "1900-01-01"}, None)
    assert rule["id"] in [r["id"] for r in admin_api.get("/quality/rules").json()]
    assert admin_api.delete(f"/quality/rules/{rule['id']}").status_code == 204
    assert admin_api.put(f"/quality/rules/{rule['id']}", {"field": "city", "rule_type": "required"}).status_code == 404


@pytest.mark.parametrize(("body", "field", "code"), [
    ({"field": "city", "rule_type": "pattern", "params": {"regex": "([a-"}}, "params", "invalid"),
    ({"field": "city", "rule_type": "range"}, "params", "required"),
    ({"field": "city", "rule_type": "unique"}, "rule_type", "invalid"),
    ({"field": "nope", "rule_type": "required"}, "field", "invalid"),
    ({"field": "city", "rule_type": "sometimes"}, "rule_type", "unknown_choice"),
    ({"field": "city", "rule_type": "required", "severity": "panic"}, "severity", "unknown_choice"),
    ({"field": "city", "rule_type": "required", "stage": 999999}, "stage", "unknown_choice"),
    ({"rule_type": "required"}, "field", "required"),
])
def test_rule_validation_errors(admin_api, body, field, code):
    before = ValidationRule.objects.count()
    response = admin_api.post("/quality/rules", body)
    assert response.status_code == 422
    error = error_of(response)
    assert (error["field"], error["code"]) == (field, code), error
    assert ValidationRule.objects.count() == before


def test_settings_get_and_put(admin_api):
    assert admin_api.get("/quality/settings").json()["stale_days"] == 90
    response = admin_api.put("/quality/settings", {"stale_days": 30, "key_fields_company": ["phones", "city"],
                                                   "key_fields_person": ["phones"]})
    assert response.json() == {"stale_days": 30, "key_fields_company": ["phones", "city"],
                               "key_fields_person": ["phones"], "duplicate_block_certain": False}
    blocking = admin_api.put("/quality/settings", {"stale_days": 30, "key_fields_company": ["phones", "city"],
                                                   "key_fields_person": ["phones"], "duplicate_block_certain": True})
    assert blocking.json()["duplicate_block_certain"] is True
    assert QualitySettings.objects.get(pk=1).duplicate_block_certain
    bad = admin_api.put("/quality/settings", {"stale_days": 0, "key_fields_company": [], "key_fields_person": []})
    assert (bad.status_code, error_of(bad)["field"]) == (422, "stale_days")
    assert QualitySettings.objects.get(pk=1).stale_days == 30


# Normalisation jobs ----------------------------------------------------------------------------


def test_normalize_job_runs_and_reports(admin_api, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    customer = checked(phones=["138 1234 5678"])
    response = admin_api.post("/quality/normalize", {"dry_run": True})
    assert response.status_code == 202
    job = response.json()
    assert (job["status"], job["dry_run"], job["total"], job["done"]) == ("done", True, 1, 1)
    assert job["fields"]["phones"] == 1
    assert job["changed_records"] == 1
    assert job["report_url"] == f"http://testserver/api/v1/quality/jobs/{job['id']}/report"
    assert admin_api.get(f"/quality/jobs/{job['id']}").json()["status"] == "done"
    report = admin_api.get(f"/quality/jobs/{job['id']}/report")
    assert report.status_code == 200
    lines = b"".join(report.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0] == "object,id,customer_id,field,old,new"
    assert any(line.startswith(f"customer,{customer.pk},{customer.pk},phones,138 1234 5678,") for line in lines)
    customer.refresh_from_db()
    assert customer.phones == ["138 1234 5678"]


def test_job_of_another_kind_or_missing_is_404(admin_api, admin_user):
    other = Job.objects.create(kind="import", created_by=admin_user)
    assert admin_api.get(f"/quality/jobs/{other.pk}").status_code == 404
    assert admin_api.get("/quality/jobs/999999").status_code == 404
    running = Job.objects.create(kind=services.NORMALIZE_JOB, status=Job.Status.RUNNING, total=10, done=5,
                                 created_by=admin_user)
    body = admin_api.get(f"/quality/jobs/{running.pk}").json()
    assert (body["status"], body["report_url"]) == ("running", None)
    assert admin_api.get(f"/quality/jobs/{running.pk}/report").status_code == 404


def test_session_writes_need_csrf(client, admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post(BASE + "/quality/normalize", json.dumps({"dry_run": True}),
                           content_type="application/json")
    assert response.status_code == 403
    assert error_of(response)["code"] == "csrf_failed"
    assert not Job.objects.exists()


def test_wild_ids_and_cursors_are_422(sales_api):
    response = sales_api.post("/quality/actions/mark-reviewed", {"ids": [2**70]})
    assert (response.status_code, error_of(response)["field"]) == (422, "ids.0")
    response = sales_api.post("/quality/actions/mark-reviewed", {"ids": [0]})
    assert response.status_code == 422
    huge = base64.urlsafe_b64encode(b"o:99999999999999999999").decode().rstrip("=")
    response = sales_api.get("/quality/queues/stale", {"cursor": huge})
    assert (response.status_code, error_of(response)["field"]) == (422, "cursor")
