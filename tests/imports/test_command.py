from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from kehu.customers.models import Customer
from kehu.imports.models import ImportBatch, MappingTemplate
from tests.imports.helpers import write_csv, write_xlsx

pytestmark = pytest.mark.django_db


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_command_maps_headers_reports_and_writes_the_error_file(admin_user, tmp_path):
    path = write_csv(tmp_path / "客户.csv", [["客户名称", "手机", "来源"], ["甲有限公司", "13812345678", "百度"],
                                            ["", "13812345679", ""], ["乙有限公司", "", "不存在"]], encoding="gbk")
    out, err = _run(str(path), "--user", admin_user.username)
    assert "rows: 3  created: 1  updated: 0  skipped: 0  flagged: 0  rejected: 2" in out
    assert "row 3: name: 名称为必填项" in out and "row 4: source: 未知的选项：不存在" in out
    batch = ImportBatch.objects.get()
    assert f"error file: {batch.error_file}" in out and batch.error_file.endswith(".xlsx")
    assert batch.original_name == "客户.csv" and batch.encoding
    assert "客户名称→name" in err
    assert Customer.objects.get().owner == admin_user


def test_dry_run_and_undo_from_the_command(admin_user, tmp_path):
    path = write_csv(tmp_path / "c.csv", [["名称", "编号"], ["甲有限公司", "A1"]])
    out, _err = _run(str(path), "--dry-run", "--user", admin_user.username)
    assert "dry run: nothing written" in out and Customer.objects.count() == 0
    out, _err = _run(str(path), "--mapping", '{"名称": "name", "1": "external_id"}', "--user", admin_user.username)
    assert "created: 1" in out
    batch = ImportBatch.objects.filter(dry_run=False).get()
    out, _err = _run("--undo", str(batch.pk), "--user", admin_user.username)
    assert "1 removed, 0 restored" in out and Customer.objects.count() == 0


def test_update_mode_by_mobile_and_a_saved_template(admin_user, tmp_path):
    xlsx = write_xlsx(tmp_path / "c.xlsx", [["公司", "电话号码", "网址"], ["甲有限公司", "13812345678", ""]])
    _run(str(xlsx), "--mapping", '{"0": "name", "1": "phones", "2": "website"}', "--save-template", "我的模板",
         "--user", admin_user.username)
    assert MappingTemplate.objects.get().mapping == {"公司": "name", "电话号码": "phones", "网址": "website"}
    again = write_csv(tmp_path / "d.csv", [["网址", "电话号码"], ["www.jia.com", "138-1234-5678"]])
    out, _err = _run(str(again), "--template", "我的模板", "--mode", "update", "--match-by", "mobile",
                     "--user", admin_user.username)
    assert "updated: 1" in out
    assert Customer.objects.get().website == "https://www.jia.com"


def test_command_errors_are_clear(admin_user, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        _run(str(tmp_path / "missing.csv"), "--user", admin_user.username)
    path = write_csv(tmp_path / "c.csv", [["名称"], ["甲有限公司"]])
    with pytest.raises(CommandError, match="no column"):
        _run(str(path), "--mapping", '{"不存在": "name"}', "--user", admin_user.username)
    with pytest.raises(CommandError, match="未知的匹配字段"):
        _run(str(path), "--match-by", "fax", "--user", admin_user.username)
    with pytest.raises(CommandError, match="没有名为"):
        _run(str(path), "--template", "nope", "--user", admin_user.username)
    assert list((tmp_path / "data" / "uploads").iterdir()) == []


def test_the_huey_task_runs_a_queued_batch(admin_user, tmp_path):
    from kehu.imports import services
    from kehu.imports.tasks import run_import_batch

    path = write_csv(tmp_path / "c.csv", [["名称"], ["甲有限公司"]])
    stored = services.store_upload(path, original_name="../../etc/passwd.csv")
    assert stored.parent == tmp_path / "data" / "uploads" and stored.suffix == ".csv"
    batch = services.import_batch_create(acting_user=admin_user, kind="customers", path=stored,
                                         original_name="../../etc/passwd.csv", mapping={0: "name"})
    assert batch.original_name == "passwd.csv"
    run_import_batch(batch.pk)  # Huey runs inline in tests
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.DONE and batch.created == 1
    assert not stored.exists()
