"""Enter in a list's search box filters the list, it does not download an export: the export
buttons sit before the filter form (and belong to it), so without a default button of its own the
form's first submit button would be "Excel"."""

from __future__ import annotations

import os
import re

import pytest

from tests.e2e.test_customer_flow import CHROMIUM, browser_page  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Chromium not found at {CHROMIUM}"),
]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_enter_in_the_search_box_filters_leads_opportunities_and_contracts(live_server, browser_page):  # noqa: F811
    from playwright.sync_api import expect

    from kehu.accounts.services import roles_ensure_defaults
    from tests.factories import AdminFactory

    roles_ensure_defaults()
    admin = AdminFactory(username="boss")
    page = browser_page
    downloads: list[object] = []
    page.on("download", lambda download: downloads.append(download))
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", "pass-word-123")
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile("/accounts/login/"))

    for path, form in (("/leads/", "#filter-form"), ("/sales/list/", "#opportunity-filters"),
                       ("/contracts/", "#contract-filters")):
        page.goto(f"{live_server.url}{path}")
        box = page.locator(f"{form} input[name=q]")
        box.fill("分扬")
        with page.expect_response(lambda r: "export" not in r.url and "q=" in r.url):
            box.press("Enter")
        expect(page.locator(f"{form} input[name=q]")).to_have_value("分扬")
        assert "export" not in page.url, path
    assert downloads == []
