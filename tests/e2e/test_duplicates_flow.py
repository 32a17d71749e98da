"""The duplicate review queue in real Chromium: an admin starts a scan and watches it finish, the
pair shows with its reasons, and "不是重复" swaps the row through HTMX. Uses the system Chromium."""

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


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_new_customer_form_warns_live_and_saves_on_confirmation(live_server, browser_page):  # noqa: F811
    """Typing another team's customer's mobile shows the masked warning as soon as the field
    changes; saving shows it again; "不是重复，仍然保存" saves."""
    from playwright.sync_api import expect

    from kehu.accounts.services import roles_ensure_defaults
    from kehu.customers.models import Customer
    from kehu.customers.services import customer_create
    from tests.factories import DepartmentFactory, UserFactory

    roles_ensure_defaults()
    other = UserFactory(display_name="王销售", department=DepartmentFactory(name="北京一部"))
    customer_create(acting_user=other, data={"kind": "company", "name": "北京分扬科技有限公司",
                                             "phones": ["13812345678"]})
    rep = UserFactory(username="rep")
    page = browser_page
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", rep.username)
    page.fill("#id_password", "pass-word-123")
    page.click("button[type=submit]")

    page.goto(f"{base}/customers/new/")
    page.fill("input[name=name]", "分扬科技")
    page.fill("input[name=phones]", "138 1234 5678")
    page.locator("input[name=phones]").dispatch_event("change")
    live = page.locator("#duplicate-live [data-testid=duplicate-warnings]")
    expect(live).to_contain_text("负责人 王销售（北京一部）")
    expect(live).not_to_contain_text("北京分扬科技有限公司")  # another team's customer: masked
    page.click("button.btn-primary[type=submit]")
    warning = page.locator("[data-testid=duplicate-warnings]").first
    expect(warning).to_contain_text("可能与已有客户重复")
    warning.locator("button[name=confirm_duplicates]").click()
    expect(page).to_have_url(re.compile(r"/customers/\d+/$"))
    assert page.url.endswith(f"/customers/{Customer.objects.get(name='分扬科技').pk}/")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_merge_duplicate_contacts_from_the_customer_page_and_undo(live_server, browser_page):  # noqa: F811
    """张伟 entered twice under one company: the customer page shows the pair, the compare page
    merges it (keeping the e-mail of the second entry), and the undo button brings both back."""
    from playwright.sync_api import expect

    from kehu.accounts.services import roles_ensure_defaults
    from kehu.customers.models import Contact
    from kehu.customers.services import contact_create, customer_create
    from tests.factories import UserFactory

    roles_ensure_defaults()
    rep = UserFactory(username="rep")
    customer = customer_create(acting_user=rep, data={"name": "北京分扬科技有限公司"})
    first = contact_create(acting_user=rep, customer=customer, data={"name": "张伟", "mobile": "13812345678"})
    second = contact_create(acting_user=rep, customer=customer,
                            data={"name": "张先生", "mobile": "138 1234 5678", "email": "zw@fenyang.cn"})
    page = browser_page
    page.on("dialog", lambda dialog: dialog.accept())  # the merge and undo buttons ask for confirmation
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", rep.username)
    page.fill("#id_password", "pass-word-123")
    page.click("button[type=submit]")

    page.goto(f"{base}/customers/{customer.pk}/")
    notice = page.locator("[data-testid=contact-duplicates]")
    expect(notice).to_contain_text("发现 1 对疑似重复的联系人")
    expect(notice).to_contain_text("同一手机号 138****5678")
    notice.locator("a:has-text('合并')").click()
    expect(page.locator("#contact-merge-form")).to_contain_text("zw@fenyang.cn")
    page.click("#contact-merge-form button:has-text('确认合并')")
    expect(page).to_have_url(re.compile(rf"/customers/{customer.pk}/"))
    expect(page.locator("body")).to_contain_text("已合并 1 个重复联系人")
    survivor = Contact.objects.get(customer=customer)
    assert survivor.pk == first.pk and survivor.email == "zw@fenyang.cn"

    page.locator("[data-testid=contact-merges] button:has-text('撤销')").click()
    expect(page.locator("body")).to_contain_text("已撤销联系人合并")
    assert sorted(Contact.objects.filter(customer=customer).values_list("pk", flat=True)) == [first.pk, second.pk]
