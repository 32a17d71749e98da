"""Mail and notifications in real Chromium: an admin reaches the mail templates from the settings
tabs, edits the welcome template with a merge field and previews it for a customer (HTMX) seeing the
customer's name; sends it from the customer's page through the locmem backend (the live server runs
in this process, so the settings override reaches it) and sees it on the customer's timeline; the
bell's unread count drops to nothing after "全部标为已读". Uses the system Chromium."""

from __future__ import annotations

import os

import pytest

from tests.e2e.test_customer_flow import CHROMIUM, browser_page  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Chromium not found at {CHROMIUM}"),
]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_edit_preview_send_and_read_notifications(live_server, browser_page, settings):  # noqa: F811
    from django.core import mail as django_mail
    from playwright.sync_api import expect

    from kehu.accounts.services import roles_ensure_defaults
    from kehu.customers.services import contact_create, customer_create
    from kehu.mailing.models import MailTemplate, SentMail
    from kehu.notifications.models import Notification
    from kehu.notifications.services import notify
    from tests.factories import AdminFactory

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    roles_ensure_defaults()
    admin = AdminFactory(username="boss", display_name="管理员", email="boss@kehu.example.com")
    customer = customer_create(acting_user=admin, data={"name": "杭州云帆科技有限公司", "short_name": "云帆科技",
                                                        "emails": ["info@yunfan.example.com"], "city": "杭州市"})
    contact_create(acting_user=admin, customer=customer, data={"name": "陈静", "salutation": "陈经理",
                                                              "email": "chen@yunfan.example.com"})
    notify(user=admin, title="新客户已分配给你：杭州云帆科技有限公司", customer_id=customer.pk)
    notify(user=admin, title="今天到期：回访杭州云帆科技有限公司", customer_id=customer.pk)
    welcome = MailTemplate.objects.get(key="welcome", language="zh-hans")

    page = browser_page
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", "pass-word-123")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("notification-badge")).to_have_text("2")

    # Settings → 邮件模板 → the welcome template; a merge field in the subject; preview for the customer.
    page.get_by_role("link", name="设置", exact=True).click()
    page.get_by_test_id("settings-mail-templates").click()
    expect(page.get_by_test_id("template-table")).to_be_visible()
    page.get_by_test_id("template-table").locator("a", has_text=welcome.name).click()
    page.fill("#f-subject", "{{ customer.name }}，欢迎您")
    page.fill("#f-body", "{{ contact.salutation }}，您好！\n{{ customer.short_name }} 的专属顾问是 {{ sender.name }}。")
    page.select_option("#preview-customer", label=customer.name)
    page.get_by_test_id("preview-button").click()
    expect(page.get_by_test_id("preview-subject")).to_have_text("杭州云帆科技有限公司，欢迎您")
    expect(page.get_by_test_id("preview-body")).to_contain_text("云帆科技 的专属顾问是 管理员")
    assert django_mail.outbox == []  # a preview sends nothing
    page.click("#template-form button[type=submit]")
    expect(page.get_by_test_id("template-table")).to_contain_text("{{ customer.name }}，欢迎您")
    assert MailTemplate.objects.get(pk=welcome.pk).subject == "{{ customer.name }}，欢迎您"

    # 发邮件 from the customer's page with the template; it goes out and shows on the timeline.
    page.goto(f"{base}/customers/{customer.pk}/")
    page.get_by_test_id("compose-mail").click()
    page.select_option("#f-template", value=str(welcome.pk))
    page.get_by_test_id("preview-button").click()
    expect(page.get_by_test_id("preview-body")).to_contain_text("陈经理，您好！")
    page.get_by_test_id("send-button").click()
    expect(page.locator("#customer-name")).to_have_text("杭州云帆科技有限公司")
    expect(page.locator("#timeline")).to_contain_text(
        "发送邮件《杭州云帆科技有限公司，欢迎您》给 chen@yunfan.example.com")
    [sent] = django_mail.outbox
    assert sent.to == ["chen@yunfan.example.com"] and sent.subject == "杭州云帆科技有限公司，欢迎您"
    assert sent.body.startswith("陈经理，您好！") and sent.reply_to == ["boss@kehu.example.com"]
    assert SentMail.objects.get().status == "sent"

    # The bell: 2 unread; all read → the badge goes away.
    page.get_by_test_id("nav-bell").click()
    expect(page.get_by_test_id("notification-list")).to_contain_text("今天到期：回访杭州云帆科技有限公司")
    expect(page.get_by_test_id("notification-badge")).to_have_text("2")
    page.get_by_role("button", name="全部标为已读").click()
    expect(page.get_by_test_id("unread-total")).to_have_text("0 条未读")
    expect(page.get_by_test_id("notification-badge")).to_be_hidden()
    assert not Notification.objects.filter(user=admin, read_at__isnull=True).exists()
