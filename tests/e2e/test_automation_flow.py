"""The rule builder in real Chromium: an admin filters the customer list, builds a daily rule from
that filter ("用当前筛选建自动化规则") with the HTMX builder (trigger parameters and an action row
swapped in), sees the conditions as chips and the audience count, saves, changes the conditions in
the list and brings them back ("带回规则"), dry-runs it ("would act on 1"), then the daily pass runs
and the run log shows its effect. Uses the system Chromium."""

from __future__ import annotations

import os
import re

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
def test_build_dry_run_and_run_a_rule(live_server, browser_page):  # noqa: F811
    from playwright.sync_api import expect

    from kehu.accounts.services import roles_ensure_defaults
    from kehu.automation import engine
    from kehu.automation.models import Rule
    from kehu.customers.models import Customer
    from tests.factories import AdminFactory, CustomerFactory, UserFactory

    roles_ensure_defaults()
    admin = AdminFactory(username="boss", display_name="管理员")
    rep = UserFactory(username="rep", display_name="李销售")
    target = CustomerFactory(owner=rep, name="杭州甲公司", city="杭州市")
    CustomerFactory(owner=rep, name="宁波乙公司", city="宁波市")

    page = browser_page
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", "pass-word-123")
    page.click("button[type=submit]")

    # The conditions come from the customer list's own filters: 宁波 first, changed to 杭州 later.
    page.goto(f"{base}/customers/")
    page.locator("#filter-form .more-filters summary").click()
    page.fill("#filter-form input[name=city]", "宁波市")
    page.locator("#filter-form button[type=submit]").click()
    page.get_by_test_id("rule-from-list").click()
    expect(page).to_have_url(re.compile(r"/automation/new/\?"))
    expect(page.get_by_test_id("condition-chip")).to_have_text(["城市：宁波市"])
    expect(page.get_by_test_id("audience-count")).to_contain_text("1 条")
    page.fill("input[name=name]", "杭州客户每日标记")
    page.get_by_test_id("rule-trigger").select_option("schedule")
    expect(page.locator("input[name=tp-at]")).to_be_visible()  # swapped in by HTMX
    page.fill("input[name=tp-at]", "00:00")
    page.get_by_test_id("action-add").click()
    row = page.get_by_test_id("action-row").first
    expect(row).not_to_have_class(re.compile(r"htmx-added"))  # htmx has wired the new row (settled)
    row.get_by_test_id("action-type").select_option("add_tag")
    tag_input = page.locator("input[name$='-tag']")
    expect(tag_input).to_be_visible()
    tag_input.fill("杭州")
    _shot(page, "automation-builder.png")
    page.get_by_test_id("rule-save").click()
    expect(page).to_have_url(re.compile(r"/automation/\d+/$"))  # saved: redirected to the rule's page
    rule = Rule.objects.get()
    assert rule.trigger == "schedule" and rule.conditions == {"city": "宁波市"}
    assert rule.actions == [{"type": "add_tag", "params": {"tag": "杭州"}}]

    # "在客户列表中修改条件": the list opens with the rule's filters; filter again, "带回规则", save.
    page.get_by_test_id("conditions-edit-in-list").click()
    expect(page).to_have_url(re.compile(rf"/customers/\?.*rule={rule.pk}"))
    expect(page.get_by_test_id("rule-return-note")).to_contain_text("杭州客户每日标记")
    page.locator("#filter-form .more-filters summary").click()
    page.fill("#filter-form input[name=city]", "杭州市")
    page.press("#filter-form input[name=city]", "Enter")  # filters the list (the rule buttons are not its default)
    expect(page).to_have_url(re.compile(rf"/customers/\?(?=.*rule={rule.pk}&)(?=.*city=%E6%9D%AD%E5%B7%9E%E5%B8%82)"))
    page.get_by_test_id("rule-return").click()
    expect(page).to_have_url(re.compile(rf"/automation/{rule.pk}/\?"))
    expect(page.get_by_test_id("conditions-returned")).to_be_visible()
    expect(page.get_by_test_id("condition-chip")).to_have_text(["城市：杭州市"])
    expect(page.get_by_test_id("audience-count")).to_contain_text("1 条")
    assert Rule.objects.get().conditions == {"city": "宁波市"}  # not saved until the admin saves
    page.get_by_test_id("rule-save").click()
    expect(page).to_have_url(re.compile(r"/automation/\d+/$"))
    rule = Rule.objects.get()
    assert rule.conditions == {"city": "杭州市"}

    page.get_by_test_id("rule-dry-run").click()
    expect(page.get_by_test_id("dry-run-result")).to_contain_text("1 条记录")
    expect(page.get_by_test_id("dry-run-result")).to_contain_text("杭州甲公司")
    _shot(page, "automation-dry-run.png")
    assert not Customer.objects.get(pk=target.pk).tags.exists()  # a dry run does nothing

    assert engine.tick() == [rule.pk]  # the worker's minute tick: today's pass is due (00:00)
    assert list(Customer.objects.get(pk=target.pk).tags.values_list("name", flat=True)) == ["杭州"]
    page.goto(f"{base}/automation/{rule.pk}/runs/")
    expect(page.get_by_test_id("log-table")).to_contain_text("添加标签 杭州")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_conditions_from_the_opportunity_and_lead_lists(live_server, browser_page):  # noqa: F811
    """The opportunity list filters with HTMX (the address is pushed, the page not reloaded): the rule
    marker rides along and "带回规则" submits the filters as they are; the lead list builds a new
    rule; the advanced text box still edits the conditions, the chips following it."""
    from playwright.sync_api import expect

    from kehu.accounts.services import roles_ensure_defaults
    from kehu.automation import services
    from tests.factories import AdminFactory

    roles_ensure_defaults()
    admin = AdminFactory(username="boss", display_name="管理员")
    rule = services.rule_create(acting_user=admin, data={
        "name": "商机规则", "object_type": "opportunity", "trigger": "created", "conditions": "status=open",
        "actions": [{"type": "update_field", "params": {"field": "next_step", "value": "跟进"}}]})
    page = browser_page
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", "pass-word-123")
    page.click("button[type=submit]")

    page.goto(f"{base}/automation/{rule.pk}/")
    page.get_by_test_id("conditions-edit-in-list").click()
    expect(page).to_have_url(re.compile(rf"/sales/list/\?status=open&rule={rule.pk}$"))
    page.locator("#opportunity-filters input[name=overdue]").check()
    expect(page).to_have_url(re.compile(rf"rule={rule.pk}.*overdue=1|overdue=1.*rule={rule.pk}"))
    page.get_by_test_id("rule-return").click()
    expect(page).to_have_url(re.compile(rf"/automation/{rule.pk}/\?"))
    expect(page.get_by_test_id("condition-chip")).to_have_text(["状态：进行中", "仅逾期：是"])

    page.goto(f"{base}/leads/?status=open")
    page.get_by_test_id("rule-from-list").click()
    expect(page).to_have_url(re.compile(r"/automation/new/\?object_type=lead"))
    expect(page.get_by_test_id("condition-chip")).to_have_text(["状态：跟进中（未转化、未作废）"])
    page.locator("details.conditions-advanced summary").click()
    page.get_by_test_id("rule-conditions").fill("status=open&campaign=展会")
    expect(page.get_by_test_id("condition-chip")).to_have_text(["状态：跟进中（未转化、未作废）", "市场活动：展会"])
