"""The duplicate review queue in real Chromium: an admin starts a scan and watches it finish, the
pair shows with its reasons, and "不是重复" swaps the row through HTMX. Uses the system Chromium."""

from __future__ import annotations

import os

import pytest

from tests.e2e.test_customer_flow import CHROMIUM, browser_page  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Chromium not found at {CHROMIUM}"),
]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_scan_then_dismiss_a_pair(live_server, browser_page):  # noqa: F811
    from playwright.sync_api import expect

    from kehu.accounts.services import roles_ensure_defaults
    from kehu.dataquality.models import DistinctPair
    from tests.factories import AdminFactory, CustomerFactory

    roles_ensure_defaults()
    admin = AdminFactory(username="boss")
    CustomerFactory(name="北京分扬科技有限公司", phones=["13812345678"], owner=admin)
    CustomerFactory(name="分扬科技（北京）有限公司", phones=["+86 138-1234-5678"], owner=admin)
    page = browser_page
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", "pass-word-123")
    page.click("button[type=submit]")

    page.goto(f"{base}/quality/duplicates/")
    expect(page.locator(".empty")).to_contain_text("没有待处理的疑似重复客户")
    page.click("#dedupe-scan button[value='0']")
    expect(page.locator("#scan-slot .dq-job-result")).to_contain_text("发现 1 对疑似重复", timeout=20_000)
    page.click("#scan-slot a:has-text('刷新列表')")
    pair = page.locator(".dq-pair").first
    expect(pair).to_contain_text("同一手机号 138****5678")
    expect(pair).to_contain_text("确定重复")
    if os.environ.get("KEHU_E2E_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["KEHU_E2E_SCREENSHOTS"], "duplicates.png"), full_page=True)
    pair.locator("button:has-text('不是重复')").click()
    expect(page.locator(".dq-pair").first).to_contain_text("已记录，不会再提示")
    assert DistinctPair.objects.count() == 1
