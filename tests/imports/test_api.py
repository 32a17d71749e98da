"""/api/v1/imports: start an import from a multipart upload, read the batch, undo it."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kehu.customers.models import Customer
from kehu.imports.models import ImportBatch
from tests.api_client import BASE, Api, error_of
from tests.factories import ManagerFactory

pytestmark = pytest.mark.django_db


def _file(name: str = "c.csv") -> SimpleUploadedFile:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["名称", "电话"], ["北京分扬科技有限公司", "13812345678"], ["", "13812345679"]])
    return SimpleUploadedFile(name, buffer.getvalue().encode("gbk"), content_type="text/csv")


def _post(api: Api, **data):  # type: ignore[no-untyped-def]
    return api.client.post(f"{BASE}/imports", {"file": _file(), **data})


def test_sales_users_may_not_import(sales_user):
    response = _post(Api(sales_user))
    assert response.status_code == 403 and error_of(response)["code"] == "permission_denied"
    assert not ImportBatch.objects.exists()


def test_import_runs_reports_counts_problems_and_undoes(admin_user):
    api = Api(admin_user)
    response = _post(api, mapping=json.dumps({"名称": "name", "1": "phones"}), options=json.dumps({"mode": "insert"}))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "done" and body["total_rows"] == 2 and body["rows_done"] == 2
    assert body["counts"] == {"rows": 2, "created": 1, "updated": 0, "skipped": 0, "flagged": 0, "rejected": 1}
    assert [(p["row"], p["field"]) for p in body["problems"]] == [(3, "name")]
    assert body["error_file_csv"] == f"/imports/{body['id']}/errors.csv"
    assert api.get(f"/imports/{body['id']}").json()["counts"] == body["counts"]
    undo = api.client.post(f"{BASE}/imports/{body['id']}/undo")
    assert undo.status_code == 200 and undo.json() == {"removed": 1, "restored": 0}
    assert not Customer.objects.exists()
    again = api.client.post(f"{BASE}/imports/{body['id']}/undo")
    assert again.status_code == 400 and "已撤销" in error_of(again)["message"]


def test_dry_run_writes_nothing_and_bad_input_is_refused(admin_user):
    api = Api(admin_user)
    body = _post(api, dry_run="true").json()
    assert body["dry_run"] and body["counts"]["created"] == 1 and not Customer.objects.exists()
    assert _post(api, mapping="{").status_code == 422
    assert _post(api, mapping=json.dumps({"没有这列": "name"})).status_code == 422
    bad = api.client.post(f"{BASE}/imports", {"file": SimpleUploadedFile("x.exe", b"MZ")})
    assert bad.status_code == 422 and error_of(bad)["field"] == "file"


def test_a_manager_sees_only_their_batches(admin_user):
    batch_id = _post(Api(admin_user)).json()["id"]
    assert Api(ManagerFactory()).get(f"/imports/{batch_id}").status_code == 404
