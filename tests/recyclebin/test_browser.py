"""In Chromium: delete a customer, find it in the 回收站 from the user menu, restore it with one
click (HTMX, no reload). Uses the system Chromium (skipped without it)."""

from __future__ import annotations

import os

import pytest

from tests.e2e.test_customer_flow import CHROMIUM, browser_page  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Chromium not found at {CHROMIUM}"),
]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_restore_from_the_bin_page(live_server, browser_page) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from playwright.sync_api import expect

    from kehu.accounts.services import roles_ensure_defaults
    from kehu.customers.models import Customer
    from kehu.customers.services import customer_create, customer_delete
    from tests.factories import UserFactory

    roles_ensure_defaults()
    rep = UserFactory(username="rep", display_name="李销售")
    customer = customer_create(acting_user=rep, data={"name": "北京回收站浏览器测试有限公司"})
    customer_delete(acting_user=rep, customer=customer)
    page, base = browser_page, live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "rep")
    page.fill("#id_password", "pass-word-123")
    page.click("button[type=submit]")

    page.locator(".user-menu summary").click()
    page.get_by_test_id("nav-recyclebin").click()
    row = page.get_by_test_id("bin-row")
    expect(row).to_contain_text("北京回收站浏览器测试有限公司")
    expect(row).to_contain_text("李销售")
    if os.environ.get("KEHU_E2E_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["KEHU_E2E_SCREENSHOTS"], "recyclebin.png"), full_page=True)
    row.get_by_role("button", name="恢复").click()
    expect(page.get_by_test_id("bin-row-result")).to_contain_text("已恢复：北京回收站浏览器测试有限公司")
    assert Customer.objects.filter(pk=customer.pk).exists()
