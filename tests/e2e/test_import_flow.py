"""The import wizard in real Chromium: upload a GBK CSV with a bad row, check the suggested
mapping, dry run (1 rejected), import with a visible progress bar to its end, download the error
file and read its row number and reason. Uses the system Chromium; never downloads a browser."""

from __future__ import annotations

import csv
import io

import pytest

from tests.e2e.test_customer_flow import ARTIFACTS, CHROMIUM, browser_page  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not __import__("os").path.exists(CHROMIUM), reason=f"Chromium not found at {CHROMIUM}"),
]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_upload_map_dry_run_import_and_download_errors(live_server, browser_page, settings, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    from kehu.accounts.services import roles_ensure_defaults
    from kehu.customers.models import Customer
    from kehu.imports.models import ImportBatch
    from tests.factories import AdminFactory

    settings.DATA_DIR = tmp_path
    roles_ensure_defaults()
    admin = AdminFactory(username="boss")
    buffer = io.StringIO()
    csv.writer(buffer).writerows([
        ["客户名称", "手机号码", "城市"],
        ["北京分扬科技有限公司", "13812345678", "北京"],
        ["", "13812345679", "上海"],  # no name: rejected
        ["上海启明贸易有限公司", "13912345678", "上海"],
    ])
    gbk = buffer.getvalue().encode("gbk")

    page = browser_page
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", "pass-word-123")
    page.click("button[type=submit]")

    page.click("a.btn:has-text('导入')")
    page.set_input_files("#id_file", files=[{"name": "客户.csv", "mimeType": "text/csv", "buffer": gbk}])
    page.click("button:has-text('上传并继续')")
    expect(page.locator("h1")).to_contain_text("对应列")
    expect(page.locator("#col_0")).to_have_value("name")
    expect(page.locator("#col_1")).to_have_value("phones")
    expect(page.locator("#col_2")).to_have_value("city")
    expect(page.locator("[data-testid=mapping]")).to_contain_text("北京分扬科技有限公司")  # GBK decoded

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "import-map.png"), full_page=True)
    page.click("button:has-text('试运行')")
    expect(page.locator("[data-testid=count-rejected]")).to_have_text("1")
    expect(page.locator("[data-testid=count-created]")).to_have_text("2")
    expect(page.locator("[data-testid=problems]")).to_contain_text("名称为必填项")
    assert not Customer.objects.exists()

    page.click("[data-testid=confirm]")
    expect(page.locator("h1")).to_contain_text("导入")
    bar = page.locator("progress[data-testid=progress]")
    expect(bar).to_be_visible()
    expect(page.locator("[data-testid=status]")).to_have_text("已完成")
    assert bar.get_attribute("value") == bar.get_attribute("max") == "3"
    expect(page.locator("[data-testid=rows]")).to_contain_text("3 / 3")
    assert Customer.objects.count() == 2
    assert ImportBatch.objects.filter(dry_run=False).get().rejected == 1

    with page.expect_download() as download_info:
        page.click("[data-testid=errors-csv]")
    path = download_info.value.path()
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert rows[0][-3:] == ["行号", "字段", "原因"]
    assert rows[1] == ["", "13812345679", "上海", "3", "名称", "名称为必填项"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "import-flow.png"), full_page=True)
