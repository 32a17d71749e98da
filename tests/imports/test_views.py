"""The web import wizard: who may use it, each step (upload, map, dry run, import, progress,
undo), and who may download a batch's error file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kehu.customers.models import Customer
from kehu.customers.services import customer_update
from kehu.imports.models import ImportBatch, MappingTemplate
from tests.factories import AdminFactory, ManagerFactory

pytestmark = pytest.mark.django_db

HEADERS = ["客户名称", "手机", "城市"]
ROWS = [HEADERS, ["北京分扬科技有限公司", "13812345678", "北京"], ["", "13812345679", "上海"],
        ["上海启明贸易有限公司", "13912345678", "上海"]]


def _csv_bytes(rows: list[list[str]], encoding: str = "gbk") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def _upload(client, name: str = "客户.csv", content: bytes | None = None, kind: str = "customers"):  # type: ignore[no-untyped-def]
    file = SimpleUploadedFile(name, content if content is not None else _csv_bytes(ROWS), content_type="text/csv")
    return client.post(reverse("imports:upload"), {"file": file, "kind": kind})


def _map_post(client, token: str, action: str, **extra):  # type: ignore[no-untyped-def]
    data = {"col_0": "name", "col_1": "phones", "col_2": "city", "mode": "insert",
            "match_by": ["external_id", "credit_code"], "duplicates": "skip", "owner_policy": "importer",
            "action": action, **extra}
    return client.post(reverse("imports:map", args=[token]), data)


def _token(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"].rstrip("/").split("/")[-2]


@pytest.mark.parametrize("url", ["imports:index"])
def test_sales_users_are_refused_and_anonymous_users_sent_to_login(client, sales_user, url):
    assert client.get(reverse(url)).status_code == 302
    client.force_login(sales_user)
    assert client.get(reverse(url)).status_code == 403
    response = _upload(client)
    assert response.status_code == 403
    assert not ImportBatch.objects.exists()


def test_customer_list_shows_the_import_button_to_importers_only(client, sales_user, manager_user):
    client.force_login(sales_user)
    assert reverse("imports:index") not in client.get(reverse("customers:list")).content.decode()
    client.force_login(manager_user)
    assert reverse("imports:index") in client.get(reverse("customers:list")).content.decode()


def test_upload_rejects_other_file_types(client, admin_user):
    client.force_login(admin_user)
    response = _upload(client, name="x.exe", content=b"MZ")
    assert response.status_code == 422
    assert "只支持 Excel" in response.content.decode()


def test_upload_then_map_suggests_targets_and_shows_samples(client, admin_user, data_dir):
    client.force_login(admin_user)
    token = _token(_upload(client, name="../../etc/passwd.csv"))
    stored = Path(client.session["kehu_imports"][token]["path"])
    assert stored.parent == data_dir / "uploads" and "passwd" not in stored.name
    page = client.get(reverse("imports:map", args=[token])).content.decode()
    assert '<option value="name" selected>' in page and '<option value="phones" selected>' in page
    assert "北京分扬科技有限公司" in page and "13812345678" in page  # GBK decoded, samples shown


def test_map_reports_mapping_problems_inline(client, admin_user):
    client.force_login(admin_user)
    token = _token(_upload(client))
    response = _map_post(client, token, "dry_run", col_0="", col_1="phones")
    assert response.status_code == 422
    assert "必须有一列对应字段" in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_dry_run_writes_nothing_then_confirm_imports_the_same_file(client, admin_user):
    client.force_login(admin_user)
    token = _token(_upload(client))
    response = _map_post(client, token, "dry_run", template_name="我的模板")
    dry = ImportBatch.objects.get()
    assert response["Location"] == reverse("imports:detail", args=[dry.pk])
    assert dry.dry_run and dry.counts() == {"rows": 3, "created": 2, "updated": 0, "skipped": 0, "flagged": 0,
                                            "rejected": 1}
    assert not Customer.objects.exists()
    template = MappingTemplate.objects.get(name="我的模板")
    assert template.mapping == {"客户名称": "name", "手机": "phones", "城市": "city"}
    page = client.get(reverse("imports:detail", args=[dry.pk])).content.decode()
    assert 'data-testid="count-rejected">1<' in page and "名称为必填项" in page and 'data-testid="confirm"' in page

    response = client.post(reverse("imports:confirm", args=[dry.pk]))
    real = ImportBatch.objects.exclude(pk=dry.pk).get()
    assert response["Location"] == reverse("imports:detail", args=[real.pk])
    assert not real.dry_run and real.status == ImportBatch.Status.DONE and real.created == 2 and real.rejected == 1
    assert sorted(Customer.objects.values_list("name", flat=True)) == ["上海启明贸易有限公司", "北京分扬科技有限公司"]
    assert token not in client.session["kehu_imports"]  # the upload went to the real run
    assert client.post(reverse("imports:confirm", args=[dry.pk]))["Location"] == reverse("imports:index")


def test_import_progress_summary_and_undo(client, admin_user):
    client.force_login(admin_user)
    token = _token(_upload(client))
    _map_post(client, token, "import")
    batch = ImportBatch.objects.get()
    partial = client.get(reverse("imports:progress", args=[batch.pk])).content.decode()
    assert '<progress value="3" max="3"' in partial and "hx-trigger" not in partial  # finished: no more polling
    assert 'data-testid="undo"' in partial
    response = client.post(reverse("imports:undo", args=[batch.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "已撤销：删除 2 条" in response.content.decode()
    assert not Customer.objects.exists()
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.UNDONE
    index = client.get(reverse("imports:index")).content.decode()
    assert "客户.csv" in index and "撤销" in index


def test_undo_refusal_names_the_changed_record(client, admin_user):
    client.force_login(admin_user)
    _map_post(client, _token(_upload(client)), "import")
    batch = ImportBatch.objects.get()
    customer = Customer.objects.get(name="北京分扬科技有限公司")
    customer_update(acting_user=admin_user, customer=customer, data={"city": "天津"})
    response = client.post(reverse("imports:undo", args=[batch.pk]))
    assert response.status_code == 409
    assert "北京分扬科技有限公司" in response.content.decode()
    assert Customer.objects.count() == 2


def test_error_file_downloads_for_the_owner_and_admins_only(client, admin_user):
    owner = ManagerFactory()
    client.force_login(owner)
    _map_post(client, _token(_upload(client)), "import")
    batch = ImportBatch.objects.get()
    response = client.get(reverse("imports:error_file", args=[batch.pk, "csv"]))
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows == [[*HEADERS, "行号", "字段", "原因"], ["", "13812345679", "上海", "3", "名称", "名称为必填项"]]
    xlsx = client.get(reverse("imports:error_file", args=[batch.pk, "xlsx"]))
    assert xlsx.status_code == 200 and xlsx["Content-Disposition"].startswith("attachment")
    assert client.get(reverse("imports:error_file", args=[batch.pk, "txt"])).status_code == 404

    client.force_login(ManagerFactory())  # another manager: neither the batch nor its file
    assert client.get(reverse("imports:error_file", args=[batch.pk, "csv"])).status_code == 404
    assert client.get(reverse("imports:detail", args=[batch.pk])).status_code == 404
    client.force_login(AdminFactory())
    assert client.get(reverse("imports:error_file", args=[batch.pk, "csv"])).status_code == 200


def test_workbook_with_several_sheets_offers_a_sheet_picker(client, admin_user, tmp_path):
    from openpyxl import Workbook

    path = tmp_path / "book.xlsx"
    workbook = Workbook()
    workbook.active.title = "客户"
    workbook.active.append(HEADERS)
    workbook.active.append(["北京分扬科技有限公司", "13812345678", "北京"])
    other = workbook.create_sheet("联系人")
    other.append(["姓名", "邮箱"])
    other.append(["张三", "a@b.cn"])
    workbook.save(path)
    client.force_login(admin_user)
    token = _token(_upload(client, name="book.xlsx", content=path.read_bytes()))
    page = client.get(reverse("imports:map", args=[token])).content.decode()
    assert 'name="sheet"' in page and "北京分扬科技有限公司" in page
    page = client.get(reverse("imports:map", args=[token]), {"sheet": "联系人"}).content.decode()
    assert "张三" in page and "北京分扬科技有限公司" not in page
    assert client.session["kehu_imports"][token]["sheet"] == "联系人"


def test_a_queued_import_polls_and_can_be_cancelled(client, admin_user, tmp_path):
    from kehu.imports import services

    path = tmp_path / "c.csv"
    path.write_bytes(_csv_bytes(ROWS))
    stored = services.store_upload(path, original_name="c.csv")
    batch = services.import_batch_create(acting_user=admin_user, kind="customers", path=stored, original_name="c.csv")
    client.force_login(admin_user)
    partial = client.get(reverse("imports:progress", args=[batch.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in partial and "<progress" in partial and "取消导入" in partial
    response = client.post(reverse("imports:cancel", args=[batch.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    batch.job.refresh_from_db()
    assert batch.job.cancel_requested
    assert client.post(reverse("imports:cancel", args=[batch.pk]), follow=False).status_code == 302
