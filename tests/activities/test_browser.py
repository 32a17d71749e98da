"""On a phone-sized Chromium: log a visit from the customer page with the browser's location
check-in and a "明天" next follow-up, then tick a task done on 今天 without a reload.
Uses the system Chromium (skipped without it)."""

from __future__ import annotations

import os

import pytest

from tests.e2e.test_customer_flow import CHROMIUM, LAUNCH_ARGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Chromium not found at {CHROMIUM}"),
]


@pytest.fixture
def phone(monkeypatch):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", has_touch=True,
                                      viewport={"width": 390, "height": 844},
                                      geolocation={"latitude": 31.230416, "longitude": 121.473701, "accuracy": 12},
                                      permissions=["geolocation"])
        context.set_default_timeout(15000)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    folder = os.environ.get("KEHU_E2E_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, name), full_page=True)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_visit_with_check_in_and_my_day_on_a_phone(live_server, phone) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    from kehu.accounts.services import roles_ensure_defaults
    from kehu.activities import services
    from kehu.activities.models import FollowUp, Task, TaskStatus
    from kehu.customers.services import customer_create
    from tests.factories import UserFactory

    from .conftest import soon

    roles_ensure_defaults()
    rep = UserFactory(username="rep", display_name="李销售")
    customer = customer_create(acting_user=rep, data={"name": "北京分扬科技有限公司"})
    chore = services.task_create(acting_user=rep, assignee=rep, title="整理报价单", due_at=soon(0, 23, 59))
    page, base = phone, live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "rep")
    page.fill("#id_password", "pass-word-123")
    page.click("button[type=submit]")

    page.goto(f"{base}/customers/{customer.pk}/")
    page.get_by_text("更多选项").click()
    page.locator(".kind-option", has_text="拜访").click()
    page.get_by_role("button", name="获取当前位置签到").click()
    expect(page.locator("[data-check-in-status]")).to_contain_text("已定位 31.230416, 121.473701")
    page.fill("textarea[name=content]", "上门拜访，见了采购负责人")
    page.fill("input[name=next_step]", "发报价")
    page.get_by_role("button", name="明天").click()
    _shot(page, "activities-followup-phone.png")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".alert-success")).to_contain_text("已记录跟进")
    expect(page.locator("#timeline")).to_contain_text("拜访跟进")

    followup = FollowUp.objects.get()
    assert (str(followup.latitude), str(followup.longitude), followup.accuracy_m) == ("31.230416", "121.473701", 12.0)
    planned = Task.objects.get(followup=followup)
    assert (planned.due_at.hour, planned.due_at.minute) == (1, 30)  # 09:30 Asia/Shanghai, stored in UTC

    page.goto(f"{base}/activities/")
    expect(page.get_by_test_id("day-upcoming")).to_contain_text("发报价（北京分扬科技有限公司）")
    _shot(page, "activities-my-day-phone.png")
    page.get_by_role("button", name="标记完成：整理报价单").click()
    expect(page.get_by_test_id(f"task-{chore.pk}")).to_have_class("task-item prio-normal is-done")
    assert Task.objects.get(pk=chore.pk).status == TaskStatus.DONE
