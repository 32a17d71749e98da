"""The personal-data export: every section, JSON and XLSX, admins only, audited."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.test import Client
from django.urls import reverse

from kehu.core.errors import PermissionDenied
from kehu.core.models import AuditEvent
from kehu.privacy import services
from tests.api_client import Api
from tests.privacy.helpers import fill

pytestmark = pytest.mark.django_db


def test_json_holds_everything(admin, rep, customer, contact, note, media):
    rows = fill(rep, customer, contact)
    body = json.loads(services.personal_data_export(acting_user=admin, customer_id=customer.pk, fmt="json"))
    assert body["customer_id"] == customer.pk
    assert body["customer"]["name"] == "张三丰"
    assert [c["name"] for c in body["contacts"]] == ["赵敏"]
    assert [n["body"] for n in body["notes"]] == [note.body]
    assert [f["id"] for f in body["followups"]] == [rows["followup"].pk]
    assert body["followups"][0]["content"] == rows["followup"].content
    assert [t["id"] for t in body["tasks"]] == [rows["task"].pk]
    assert [o["id"] for o in body["opportunities"]] == [rows["deal"].pk]
    assert [lead["mobile"] for lead in body["leads"]] == ["13812345678"]
    assert [c["id"] for c in body["contracts"]] == [rows["contract"].pk]
    assert [p["amount"] for p in body["payments"]] == ["800.00"]
    assert [a["name"] for a in body["attachments"]] == ["身份证复印件.pdf"]
    assert [m["to"] for m in body["sent_mails"]] == ["zhangsan@example.com"]
    assert [n["body"] for n in body["notifications"]] == ["电话 13812345678"]
    assert [c["purpose"] for c in body["consents"]] == ["data_processing"]
    assert body["audit"] and all(isinstance(e["action"], str) for e in body["audit"])
    assert body["erasures"] == []


def test_xlsx_has_a_sheet_per_section_and_export_is_audited(admin, rep, customer, contact, media):
    fill(rep, customer, contact)
    data = services.personal_data_export(acting_user=admin, customer_id=customer.pk, fmt="xlsx")
    book = zipfile.ZipFile(io.BytesIO(data))
    workbook = book.read("xl/workbook.xml").decode()
    for title in ("客户", "联系人", "跟进记录", "合同", "回款", "已发邮件", "通知", "同意记录", "审计"):
        assert f'name="{title}"' in workbook
    sheets = "".join(book.read(n).decode() for n in book.namelist() if n.startswith("xl/worksheets/"))
    assert "张三丰" in sheets and "13812345678" in sheets
    event = AuditEvent.objects.filter(action="export", customer_id=customer.pk).latest("id")
    assert event.changes == [{"field": "personal_data", "old": None, "new": "xlsx"}]


def test_only_admins_export(rep, customer):
    before = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        services.personal_data_export(acting_user=rep, customer_id=customer.pk, fmt="json")
    assert AuditEvent.objects.count() == before
    assert Api(rep).get(f"/customers/{customer.pk}/personal-data").status_code == 403
    client = Client()
    client.force_login(rep)
    assert client.get(reverse("privacy:export", args=[customer.pk, "json"])).status_code == 403


def test_admin_downloads_through_api_and_page(admin, customer):
    response = Api(admin).get(f"/customers/{customer.pk}/personal-data", {"format": "json"})
    assert response.status_code == 200 and json.loads(response.content)["customer"]["name"] == "张三丰"
    client = Client()
    client.force_login(admin)
    page = client.get(reverse("privacy:customer", args=[customer.pk])).content.decode()
    assert reverse("privacy:export", args=[customer.pk, "xlsx"]) in page
    response = client.get(reverse("privacy:export", args=[customer.pk, "xlsx"]))
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.openxmlformats")
