"""The data-quality page in real Chromium: the charts draw (ECharts from npm), a queue lists the
broken record, and the 360° view explains its score. Uses the system Chromium."""

from __future__ import annotations

import pytest

from tests.e2e.test_customer_flow import CHROMIUM, browser_page  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not __import__("os").path.exists(CHROMIUM), reason=f"Chromium not found at {CHROMIUM}"),
]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_quality_page_draws_charts_and_explains_a_score(live_server, browser_page):  # noqa: F811
    from playwright.sync_api import expect

    from kehu.accounts.services import roles_ensure_defaults
    from kehu.customers import services
    from kehu.dataquality.services import quality_snapshot_take
    from tests.factories import AdminFactory

    roles_ensure_defaults()
    admin = AdminFactory(username="boss")
    broken = services.customer_create(acting_user=admin, data={"name": "坏号码有限公司", "phones": ["12345"]})
    services.customer_create(acting_user=admin, data={"name": "好数据有限公司", "phones": ["13812345678"]})
    quality_snapshot_take()
    page = browser_page
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", "pass-word-123")
    page.click("button[type=submit]")

    page.goto(f"{base}/quality/")
    expect(page.locator("[data-testid=total]")).to_have_text("2")
    # ECharts renders into a canvas inside each chart box once its script has loaded.
    expect(page.locator("#chart-buckets canvas")).to_have_count(1)
    assert page.evaluate("typeof window.echarts") == "object"

    page.goto(f"{base}/quality/queues/invalid_phones/")
    expect(page.locator("body")).to_contain_text("坏号码有限公司")
    expect(page.locator("body")).not_to_contain_text("好数据有限公司")

    page.goto(f"{base}/customers/{broken.pk}/")
    expect(page.locator("body")).to_contain_text("无法识别的电话号码")
