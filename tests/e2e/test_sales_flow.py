"""The sales kanban in real Chromium: drag a card to another column (native drag and drop) and see
the column totals change, move another one to 输单 with the keyboard form and its lost-reason
dialog, then find the forecast's weighted total moved by the dragged deal's new probability.
Uses the system Chromium."""

from __future__ import annotations

import os

import pytest

from tests.e2e.test_customer_flow import CHROMIUM, browser_page  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Chromium not found at {CHROMIUM}"),
]


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    folder = os.environ.get("KEHU_E2E_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, name), full_page=True)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_drag_a_deal_and_the_totals_and_forecast_follow(live_server, browser_page):  # noqa: F811
    from django.utils import timezone
    from playwright.sync_api import expect

    from kehu.accounts.services import roles_ensure_defaults
    from kehu.customers.services import customer_create
    from kehu.sales import services
    from kehu.sales.models import LostReason, Opportunity, Stage
    from tests.factories import UserFactory

    roles_ensure_defaults()
    rep = UserFactory(username="rep", display_name="李销售")
    customer = customer_create(acting_user=rep, data={"name": "北京分扬科技有限公司"})
    today = timezone.localdate().isoformat()
    first, second, lost = (Stage.objects.get(pipeline__is_default=True, name_zh=n)
                           for n in ("初步接洽", "需求确认", "输单"))
    dragged = services.opportunity_create(acting_user=rep, data={
        "name": "服务器采购", "customer": customer.pk, "amount": "10000", "expected_close_date": today})
    other = services.opportunity_create(acting_user=rep, data={
        "name": "软件续费", "customer": customer.pk, "amount": "20000", "expected_close_date": today,
        "stage": second.pk})

    page = browser_page
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", rep.username)
    page.fill("#id_password", "pass-word-123")
    page.click("button[type=submit]")

    # The forecast before: 10,000 × 10 % + 20,000 × 30 %.
    page.goto(f"{base}/sales/forecast/")
    expect(page.get_by_test_id("forecast-total-weighted")).to_have_text("¥7,000")

    page.goto(f"{base}/sales/")
    first_col = page.locator(f".kanban-col[data-stage='{first.pk}']")
    second_col = page.locator(f".kanban-col[data-stage='{second.pk}']")
    expect(first_col.get_by_test_id("col-amount")).to_have_text("¥10,000")
    expect(second_col.get_by_test_id("col-amount")).to_have_text("¥20,000")

    # A real drag: the card onto the other column's list.
    card = first_col.locator(".deal-card", has_text="服务器采购")
    card.drag_to(second_col.locator(".kanban-cards"))
    expect(second_col.get_by_test_id("col-count")).to_have_text("2")
    expect(second_col.get_by_test_id("col-amount")).to_have_text("¥30,000")
    expect(second_col.get_by_test_id("col-weighted")).to_contain_text("¥9,000")
    expect(first_col.get_by_test_id("col-count")).to_have_text("0")
    expect(first_col.get_by_test_id("col-amount")).to_have_text("¥0")
    dragged.refresh_from_db()
    assert dragged.stage_id == second.pk
    _shot(page, "sales-board.png")

    # The keyboard path to a lost stage: the card's select, then the reason dialog.
    reason = LostReason.objects.filter(is_active=True).first()
    other_card = page.locator(".deal-card", has_text="软件续费")
    other_card.locator("select[name=stage]").select_option(str(lost.pk))
    other_card.locator("button[type=submit]").click()
    dialog = page.locator("#lost-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("select[name=lost_reason]").select_option(str(reason.pk))
    dialog.locator("button[value=ok]").click()
    lost_col = page.locator(f".kanban-col[data-stage='{lost.pk}']")
    expect(lost_col.get_by_test_id("col-count")).to_have_text("1")
    expect(second_col.get_by_test_id("col-amount")).to_have_text("¥10,000")
    other.refresh_from_db()
    assert other.stage_id == lost.pk and other.lost_reason_id == reason.pk

    # The forecast after: only the dragged deal is open, now at 30 %.
    page.goto(f"{base}/sales/forecast/")
    expect(page.get_by_test_id("forecast-total-weighted")).to_have_text("¥3,000")
    expect(page.locator("#chart-forecast canvas")).to_have_count(1)
    _shot(page, "sales-forecast.png")
    assert Opportunity.objects.count() == 2
