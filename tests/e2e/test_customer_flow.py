"""The main path through the web UI in real Chromium: sign in, create a customer, find it by
pinyin initials and by a phone fragment, open the 360° view, edit a field and see old → new on
the timeline. Uses the system Chromium; never downloads a browser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Chromium not found at {CHROMIUM}"),
]


@pytest.fixture
def browser_page(monkeypatch):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls in the test are
    # still synchronous and run between browser steps.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15000)
        page = context.new_page()
        try:
            yield page
        finally:
            context.close()
            browser.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_create_find_open_and_edit_a_customer(live_server, browser_page):  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    from kehu.accounts.services import roles_ensure_defaults
    from kehu.customers.models import Customer
    from tests.factories import UserFactory

    roles_ensure_defaults()
    user = UserFactory(username="zhangsan", display_name="张三")
    page = browser_page
    base = live_server.url

    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "pass-word-123")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("客户")
    assert page.evaluate("typeof window.htmx") == "object", "htmx did not load from static files"

    # Create a person customer.
    page.click("text=新建客户")
    page.select_option("#id_kind", "person")
    page.fill("#id_name", "张伟")
    page.fill("#id_phones", "13812345678")
    page.fill("#id_city", "北京")
    page.click("button[type=submit]:has-text('保存')")
    expect(page.locator("#customer-name")).to_have_text("张伟")
    customer = Customer.objects.get(name="张伟")
    assert customer.phones == ["13812345678"] and customer.owner_id == user.pk

    # Instant search: pinyin initials, then a phone fragment.
    page.goto(f"{base}/customers/")
    search = page.locator("#global-search")
    search.press_sequentially("zw")
    expect(page.locator("#search-results .search-hit").first).to_contain_text("张伟")
    search.fill("")
    search.press_sequentially("5678")
    hit = page.locator("#search-results .search-hit", has_text="张伟")
    expect(hit).to_contain_text("13812345678")
    hit.click()
    expect(page.locator("#customer-name")).to_have_text("张伟")
    assert page.url.endswith(f"/customers/{customer.pk}/")

    # Edit a field; the timeline shows the change old → new.
    page.click("a:has-text('编辑')")
    page.fill("#id_city", "上海")
    page.click("button[type=submit]:has-text('保存')")
    change = page.locator(".tl-changes li", has_text="城市")
    expect(change.locator(".old")).to_have_text("北京市")  # stored in canonical form
    expect(change.locator(".new")).to_have_text("上海市")

    # A note goes onto the timeline without a page reload (HTMX).
    page.fill("#note-form textarea", "已电话联系，约下周拜访")
    page.click("#note-form button[type=submit]")
    expect(page.locator(".tl-note").first).to_have_text("已电话联系，约下周拜访")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "customer-flow.png"), full_page=True)
    customer.refresh_from_db()
    assert (customer.province, customer.city, customer.version) == ("上海市", "上海市", 2)
