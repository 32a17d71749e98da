"""The mailing pages through Django's test client: templates (admins only), HTMX preview, "发邮件"
from a customer (template or free text) reaching the loopback SMTP server, the sent-mail log."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from kehu.mailing import services
from kehu.mailing.models import MailTemplate, SentMail
from tests.factories import UserFactory
from tests.mailing.conftest import BOUNCING

pytestmark = pytest.mark.django_db


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_templates_are_for_admins_only(rep, admin) -> None:
    assert _client(rep).get(reverse("mailing:templates")).status_code == 403
    assert _client(rep).post(reverse("mailing:template_create"), {"key": "x"}).status_code == 403
    assert not MailTemplate.objects.filter(key="x").exists()
    assert _client(admin).get(reverse("mailing:templates")).status_code == 200


def test_admin_creates_edits_and_deletes_a_template(admin) -> None:
    web = _client(admin)
    page = web.get(reverse("mailing:template_create")).content.decode()
    assert "{{ customer.name }}" in page and "{{ contact.salutation }}" in page  # the merge field list
    response = web.post(reverse("mailing:template_create"), {"key": "offer", "name": "报价", "language": "zh-hans",
                                                               "subject": "{{ custmer.name }}", "body": ""})
    html = response.content.decode()
    assert response.status_code == 422 and "未知的合并字段：custmer.name" in html and "正文不能为空" in html
    response = web.post(reverse("mailing:template_create"), {
        "key": "offer", "name": "报价", "language": "zh-hans", "subject": "欢迎 {{ customer.name }}",
        "body": "{{ contact.salutation }}，您好", "is_active": "on"})
    assert response.status_code == 302
    template = MailTemplate.objects.get(key="offer")
    assert (template.key, template.subject, template.is_active) == ("offer", "欢迎 {{ customer.name }}", True)
    assert "欢迎 {{ customer.name }}" in web.get(reverse("mailing:templates")).content.decode()
    edit_page = web.get(reverse("mailing:template_edit", args=[template.pk])).content.decode()
    assert 'value="欢迎 {{ customer.name }}"' in edit_page and "删除模板" in edit_page
    response = web.post(reverse("mailing:template_edit", args=[template.pk]), {
        "key": "offer", "name": "报价2", "language": "zh-hans", "subject": "s", "body": "b"})
    template.refresh_from_db()
    assert response.status_code == 302 and (template.name, template.is_active) == ("报价2", False)
    web.post(reverse("mailing:template_delete", args=[template.pk]))
    assert not MailTemplate.objects.filter(key="offer").exists()


def test_htmx_preview_with_a_customer_and_sample_data(rep, customer, contact, welcome) -> None:
    web = _client(rep)
    html = web.post(reverse("mailing:preview"), {"subject": "致 {{ customer.name }}",
                                                 "body": "{{ contact.salutation }}好",
                                                 "customer": customer.pk, "contact": contact.pk},
                    HTTP_HX_REQUEST="true").content.decode()
    assert "致 北京分扬科技有限公司" in html and "王总好" in html
    html = web.post(reverse("mailing:preview"), {"template": welcome.pk}).content.decode()
    assert "欢迎 示例科技有限公司 成为我们的客户" in html
    html = web.post(reverse("mailing:preview"), {"subject": "{% load static %}", "body": "x"}).content.decode()
    assert "模板语法错误" in html
    html = _client(UserFactory()).post(reverse("mailing:preview"), {"subject": "x", "body": "y",
                                                                    "customer": customer.pk}).content.decode()
    assert "北京分扬" not in html and "alert-error" in html


def test_customer_page_links_to_compose_and_a_template_mail_is_sent(smtp, rep, customer, contact, welcome,
                                                                     django_capture_on_commit_callbacks) -> None:
    web = _client(rep)
    assert reverse("mailing:compose", args=[customer.pk]) in web.get(
        reverse("customers:detail", args=[customer.pk])).content.decode()
    page = web.get(reverse("mailing:compose", args=[customer.pk])).content.decode()
    assert 'value="wang@fenyang.example.com"' in page and "欢迎邮件" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = web.post(reverse("mailing:compose", args=[customer.pk]),
                            {"template": welcome.pk, "contact": contact.pk, "to": ""})
    assert response.status_code == 302 and response["Location"] == reverse("customers:detail", args=[customer.pk])
    [received] = smtp.received
    assert received.rcpt_tos == ["wang@fenyang.example.com"]
    assert received.subject == "欢迎 北京分扬科技有限公司 成为我们的客户"
    assert SentMail.objects.get().status == "sent"
    detail = web.get(reverse("customers:detail", args=[customer.pk]), follow=True).content.decode()
    assert "发送邮件《欢迎 北京分扬科技有限公司 成为我们的客户》给 wang@fenyang.example.com" in detail


def test_free_text_compose_errors_and_send(smtp, rep, customer, django_capture_on_commit_callbacks) -> None:
    web = _client(rep)
    response = web.post(reverse("mailing:compose", args=[customer.pk]), {"subject": "", "body": ""})
    assert response.status_code == 422 and "主题不能为空" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        web.post(reverse("mailing:compose", args=[customer.pk]), {"subject": "报价", "body": "见附件说明",
                                                                   "to": "buyer@example.org"})
    [received] = smtp.received
    assert received.rcpt_tos == ["buyer@example.org"] and received.part().strip() == "见附件说明"


def test_compose_for_a_customer_the_user_cannot_see_is_404(smtp, customer) -> None:
    web = _client(UserFactory())
    assert web.get(reverse("mailing:compose", args=[customer.pk])).status_code == 404
    assert web.post(reverse("mailing:compose", args=[customer.pk]), {"subject": "x", "body": "y"}).status_code == 404
    assert SentMail.objects.count() == 0 and smtp.received == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_bounce_from_compose_is_shown_and_logged(smtp, rep) -> None:
    """A real request (no surrounding transaction): the mail goes out at once and the 550 is reported."""
    from kehu.customers.services import customer_create

    customer = customer_create(acting_user=rep, data={"name": "退信公司", "emails": [BOUNCING]})
    web = _client(rep)
    response = web.post(reverse("mailing:compose", args=[customer.pk]), {"subject": "你好", "body": "正文"},
                        follow=True)
    assert "邮件被退回：nobody@bounce.example.com（550 5.1.1" in response.content.decode()
    assert SentMail.objects.get().status == "bounced"
    page = web.get(reverse("mailing:compose", args=[customer.pk])).content.decode()
    assert "以下邮箱曾被退信" in page and BOUNCING in page


def test_sent_log_is_scoped_and_filterable(smtp, rep, customer, contact, welcome,
                                           django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        mine = services.send_template_mail(template=welcome, acting_user=rep, contact=contact)
        services.send_mail_message(subject="退信测试", body="b", acting_user=rep, customer=customer, to=BOUNCING)
    html = _client(rep).get(reverse("mailing:sent")).content.decode()
    assert "欢迎 北京分扬科技有限公司 成为我们的客户" in html and "退信测试" in html
    html = _client(rep).get(reverse("mailing:sent"), {"status": "bounced"}, HTTP_HX_REQUEST="true").content.decode()
    assert "退信测试" in html and "欢迎" not in html
    stranger = _client(UserFactory())
    assert "退信测试" not in stranger.get(reverse("mailing:sent")).content.decode()
    assert stranger.get(reverse("mailing:sent_detail", args=[mine.pk])).status_code == 404
    detail = _client(rep).get(reverse("mailing:sent_detail", args=[mine.pk])).content.decode()
    assert escape(mine.message_id) in detail and "王总，您好！" in detail


def test_sent_log_query_count_does_not_grow_with_rows(rep, customer, contact) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    web = _client(rep)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert web.get(reverse("mailing:sent")).status_code == 200
        return len(ctx)

    def log(n: int) -> None:
        for i in range(n):
            SentMail.objects.create(to=f"x{i}@example.org", subject=f"主题{i}", customer=customer, contact=contact,
                                    sent_by=rep, status="sent")

    log(3)
    web.get(reverse("mailing:sent"))
    few = count()
    log(20)
    assert count() == few


def test_settings_menu_links_to_the_mail_templates_for_admins(admin) -> None:
    web = _client(admin)
    settings_page = web.get(reverse("customers:settings_tags")).content.decode()
    assert 'data-testid="settings-mail-templates"' in settings_page
    assert f'href="{reverse("mailing:templates")}"' in settings_page
    templates_page = web.get(reverse("mailing:templates")).content.decode()
    assert 'class="active" data-testid="settings-mail-templates"' in templates_page  # the same tabs, this one on


def test_a_mail_interrupted_mid_send_warns_before_a_resend(rep, customer) -> None:
    mail = SentMail.objects.create(to="a@example.org", subject="合同草稿", customer=customer, sent_by=rep,
                                   status="failed", maybe_sent=True, error="发送中断")
    detail = _client(rep).get(reverse("mailing:sent_detail", args=[mail.pk])).content.decode()
    assert 'data-testid="mail-maybe-sent"' in detail and "对方可能已经收到" in detail and "confirm(" in detail
    normal = SentMail.objects.create(to="b@example.org", subject="报价", customer=customer, sent_by=rep,
                                     status="failed", error="450")
    detail = _client(rep).get(reverse("mailing:sent_detail", args=[normal.pk])).content.decode()
    assert "mail-maybe-sent" not in detail and "confirm(" not in detail and "重新发送" in detail
