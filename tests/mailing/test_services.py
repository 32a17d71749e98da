"""Sending through a real SMTP server on loopback: merge fields, recipients, HTML, bounces (550) and
temporary refusals (450), idempotency, permissions, transactions, the timeline and domain events."""

from __future__ import annotations

import pytest
from django.db import transaction

from kehu.core import events
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.registries import timeline_registry
from kehu.customers.services import contact_create, customer_create
from kehu.dataquality.models import BouncedEmail, QualityIssue
from kehu.mailing import rendering, services
from kehu.mailing.models import MailStatus, MailTemplate, SentMail
from tests.factories import UserFactory
from tests.mailing.conftest import BOUNCING

pytestmark = pytest.mark.django_db


@pytest.fixture
def published():  # type: ignore[no-untyped-def]
    seen: list[events.DomainEvent] = []
    events.subscribe("tests.mailing", seen.append)
    yield seen
    events.unsubscribe("tests.mailing")


def test_template_mail_reaches_the_smtp_server_with_merge_fields(smtp, rep, customer, contact, welcome,
                                                                  published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        mail = services.send_template_mail(template="welcome", acting_user=rep, customer=customer, contact=contact)
    assert mail is not None and mail.status == MailStatus.SENT and mail.sent_at is not None
    [received] = smtp.received
    assert received.rcpt_tos == ["wang@fenyang.example.com"]
    assert received.mail_from == "crm@kehu.example.com"
    assert received.subject == "欢迎 北京分扬科技有限公司 成为我们的客户"
    text = received.part("plain")
    assert text.startswith("王总，您好！\n\n分扬科技 的专属顾问是 李销售。\n20")
    assert received.part("html").strip() == "<p>王总，您好！</p><p>北京分扬科技有限公司</p>"
    assert received.message["Reply-To"] == "li@kehu.example.com"
    assert received.message["Message-ID"] == mail.message_id
    stored = SentMail.objects.get()
    assert (stored.to, stored.subject, stored.template_id, stored.template_key, stored.customer_id,
            stored.contact_id, stored.sent_by_id, stored.status, stored.attempts) == (
        "wang@fenyang.example.com", "欢迎 北京分扬科技有限公司 成为我们的客户", welcome.pk, "welcome", customer.pk,
        contact.pk, rep.pk, "sent", 1)
    assert [(e.name, e.object_id, e.customer_id, e.actor_id) for e in published] == [
        ("mail.sent", mail.pk, customer.pk, rep.pk)]
    titles = [e.title for e in timeline_registry.entries(customer=customer, user=rep)]
    assert "发送邮件《欢迎 北京分扬科技有限公司 成为我们的客户》给 wang@fenyang.example.com" in titles
    assert not [e for e in timeline_registry.entries(customer=customer, user=UserFactory())
                if e.kind == "mailing.sent"]


def test_recipient_defaults_to_contact_then_customer_and_can_be_given(smtp, rep, customer, welcome,
                                                                       django_capture_on_commit_callbacks):
    no_mail = contact_create(acting_user=rep, customer=customer, data={"name": "赵六"})
    with django_capture_on_commit_callbacks(execute=True):
        services.send_template_mail(template=welcome, acting_user=rep, contact=no_mail)
        services.send_template_mail(template=welcome, acting_user=rep, customer=customer, to="boss@example.org")
    assert [r.rcpt_tos for r in smtp.received] == [["info@fenyang.example.com"], ["boss@example.org"]]
    assert SentMail.objects.filter(customer=customer).count() == 2  # the contact brought its customer
    bare = customer_create(acting_user=rep, data={"name": "没有邮箱的公司"})
    with pytest.raises(ValidationFailed) as exc:
        services.send_template_mail(template=welcome, acting_user=rep, customer=bare)
    assert exc.value.field == "to"
    with pytest.raises(ValidationFailed):
        services.send_template_mail(template=welcome, acting_user=rep, customer=customer, to="not-an-address\nBcc: x@y")
    assert SentMail.objects.count() == 2 and len(smtp.received) == 2


def test_html_part_escapes_merge_values_and_text_part_does_not(smtp, rep, admin,
                                                               django_capture_on_commit_callbacks):
    services.template_save(acting_user=admin, data={"key": "x", "name": "X", "subject": "{{ customer.name }}",
                                                     "body": "{{ customer.name }}",
                                                     "body_html": "<b>{{ customer.name }}</b>"})
    customer = customer_create(acting_user=rep, data={"name": "A&B <Tech> 公司", "emails": ["ab@example.org"]})
    with django_capture_on_commit_callbacks(execute=True):
        services.send_template_mail(template="x", acting_user=rep, customer=customer)
    [received] = smtp.received
    assert customer.name == "A&B <Tech>公司"  # as the customer service normalised it
    assert received.part("plain").strip() == "A&B <Tech>公司"
    assert received.part("html").strip() == "<b>A&amp;B &lt;Tech&gt;公司</b>"


def test_a_550_on_rcpt_is_a_bounce_and_flags_the_address(smtp, rep, published, welcome,
                                                          django_capture_on_commit_callbacks):
    customer = customer_create(acting_user=rep, data={"name": "退信公司", "emails": [BOUNCING]})
    with django_capture_on_commit_callbacks(execute=True):
        mail = services.send_template_mail(template=welcome, acting_user=rep, customer=customer)
    assert mail.status == MailStatus.BOUNCED and mail.sent_at is None
    assert mail.error.startswith("550 5.1.1")
    assert smtp.received == []
    assert BouncedEmail.objects.filter(email=BOUNCING).exists()
    assert QualityIssue.objects.filter(customer=customer, code="email.bounced", value=BOUNCING).exists()
    assert [e.name for e in published] == ["mail.bounced"]
    titles = [e.title for e in timeline_registry.entries(customer=customer, user=rep)]
    assert f"邮件《欢迎 退信公司 成为我们的客户》被退回：{BOUNCING}" in titles


def test_a_450_is_a_failure_not_a_bounce_and_the_same_key_retries_it(smtp, rep, customer, welcome,
                                                                       django_capture_on_commit_callbacks):
    smtp.busy = {"info@fenyang.example.com"}
    with django_capture_on_commit_callbacks(execute=True):
        mail = services.send_template_mail(template=welcome, acting_user=rep, customer=customer,
                                           idempotency_key="welcome:1")
    assert mail.status == MailStatus.FAILED and mail.error.startswith("450")
    assert not BouncedEmail.objects.exists() and smtp.received == []
    smtp.busy = set()
    with django_capture_on_commit_callbacks(execute=True):
        again = services.send_template_mail(template=welcome, acting_user=rep, customer=customer,
                                            idempotency_key="welcome:1")
    assert again.pk == mail.pk and again.status == MailStatus.SENT and again.attempts == 2
    assert len(smtp.received) == 1
    assert services.send_template_mail(template=welcome, acting_user=rep, customer=customer,
                                       idempotency_key="welcome:1") is None
    assert len(smtp.received) == 1 and SentMail.objects.count() == 1


def test_unreachable_server_is_recorded_as_failed(smtp, settings, rep, customer, welcome,
                                                   django_capture_on_commit_callbacks):
    from tests.mailing.conftest import free_port

    settings.EMAIL_PORT = free_port()  # nobody listens there
    with django_capture_on_commit_callbacks(execute=True):
        mail = services.send_template_mail(template=welcome, acting_user=rep, customer=customer)
    assert mail.status == MailStatus.FAILED and "ConnectionRefusedError" in mail.error
    assert SentMail.objects.get().status == "failed"
    with django_capture_on_commit_callbacks(execute=True):
        retried = services.mail_retry(acting_user=rep, mail_id=mail.pk)
    assert retried.status == MailStatus.FAILED and retried.attempts == 2


def test_same_idempotency_key_sends_once(smtp, rep, customer, contact, welcome, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = services.send_template_mail(template=welcome, acting_user=None, contact=contact,
                                            idempotency_key=f"birthday:{contact.pk}:2026")
        second = services.send_template_mail(template=welcome, acting_user=None, contact=contact,
                                             idempotency_key=f"birthday:{contact.pk}:2026")
        third = services.send_mail_message(subject="你好", body="正文", to="a@example.org",
                                           idempotency_key=f"birthday:{contact.pk}:2026")
    assert first is not None and second is None and third is None
    assert len(smtp.received) == 1 and SentMail.objects.count() == 1
    assert SentMail.objects.get().purpose == "automation"


def test_a_user_may_only_mail_customers_they_can_see(smtp, rep, customer, contact, welcome):
    stranger = UserFactory()
    with pytest.raises(NotFound):
        services.send_template_mail(template=welcome, acting_user=stranger, customer=customer)
    with pytest.raises(NotFound):
        services.send_template_mail(template=welcome, acting_user=stranger, contact=contact)
    with pytest.raises(NotFound):
        services.send_mail_message(subject="s", body="b", acting_user=stranger, customer=customer.pk)
    assert SentMail.objects.count() == 0 and smtp.received == []


def test_contact_must_belong_to_the_customer(smtp, rep, customer, contact, welcome):
    other = customer_create(acting_user=rep, data={"name": "另一家公司", "emails": ["x@other.example.org"]})
    with pytest.raises(ValidationFailed) as exc:
        services.send_template_mail(template=welcome, acting_user=rep, customer=other, contact=contact)
    assert exc.value.field == "contact" and SentMail.objects.count() == 0


def test_a_rolled_back_transaction_sends_nothing(smtp, rep, customer, welcome, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        mail = services.send_template_mail(template=welcome, acting_user=rep, customer=customer)
        assert mail.status == MailStatus.QUEUED
        raise RuntimeError("boom")
    assert smtp.received == [] and SentMail.objects.count() == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_outside_a_transaction_the_mail_goes_at_once(smtp, rep, customer, welcome):
    mail = services.send_template_mail(template=welcome, acting_user=rep, customer=customer)
    assert mail.status == MailStatus.SENT and len(smtp.received) == 1


def test_language_picks_the_template_in_that_language(smtp, admin, rep, customer, welcome,
                                                       django_capture_on_commit_callbacks):
    english = MailTemplate.objects.get(key="welcome", language="en")  # built in, rewritten here
    services.template_save(acting_user=admin, template_id=english.pk, data={"key": "welcome", "name": "Welcome",
                                                                             "language": "en",
                                                     "subject": "Welcome, {{ customer.name }}",
                                                     "body": "Dear {{ contact.salutation|default:'customer' }}"})
    with django_capture_on_commit_callbacks(execute=True):
        services.send_template_mail(template="welcome", acting_user=rep, customer=customer, language="en")
        services.send_template_mail(template="welcome", acting_user=rep, customer=customer)
        services.send_template_mail(template=welcome, acting_user=rep, customer=customer, language="en")
    assert [r.subject for r in smtp.received] == [
        "Welcome, 北京分扬科技有限公司", "欢迎 北京分扬科技有限公司 成为我们的客户", "Welcome, 北京分扬科技有限公司"]
    assert smtp.received[0].part().strip() == "Dear customer"
    welcome.is_active = False
    welcome.save()
    with pytest.raises(NotFound):
        services.send_template_mail(template="missing", acting_user=rep, customer=customer)


def test_free_text_mail(smtp, rep, customer, contact, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        mail = services.send_mail_message(subject="报价单\n已更新", body="{{ customer.name }} 不会被替换",
                                          acting_user=rep, contact=contact)
    [received] = smtp.received
    assert received.subject == "报价单 已更新" and received.part().strip() == "{{ customer.name }} 不会被替换"
    assert mail.template_id is None and mail.customer_id == customer.pk
    with pytest.raises(ValidationFailed) as exc:
        services.send_mail_message(subject="", body="", acting_user=rep, contact=contact)
    assert {e.field for e in exc.value.errors} == {"subject", "body"}


# Templates -----------------------------------------------------------------------------------------


def test_template_save_checks_every_field_and_only_admins_may(admin, rep):
    built_in = MailTemplate.objects.count()
    with pytest.raises(PermissionDenied):
        services.template_save(acting_user=rep, data={"key": "a", "name": "A", "subject": "s", "body": "b"})
    with pytest.raises(ValidationFailed) as exc:
        services.template_save(acting_user=admin, data={
            "key": "Bad Key", "name": "", "language": "fr", "subject": "{{ custmer.name }}",
            "body": "{% load static %}", "body_html": "{{ customer.name|safe }}"})
    assert exc.value.by_field().keys() == {"key", "name", "language", "subject", "body", "body_html"}
    assert "custmer.name" in exc.value.by_field()["subject"][0]
    assert MailTemplate.objects.count() == built_in
    t = services.template_save(acting_user=admin, data={"key": "a", "name": "A", "subject": "s", "body": "b"})
    with pytest.raises(ValidationFailed) as exc:
        services.template_save(acting_user=admin, data={"key": "a", "name": "A2", "subject": "s", "body": "b"})
    assert exc.value.field == "key"
    services.template_save(acting_user=admin, template_id=t.pk, data={"name": "新名字", "is_active": "false"})
    t.refresh_from_db()
    assert (t.name, t.is_active, t.subject) == ("新名字", False, "s")
    services.template_delete(acting_user=admin, template_id=t.pk)
    assert MailTemplate.objects.count() == built_in


def test_preview_renders_with_the_chosen_customer_or_sample_data(rep, customer, contact, welcome):
    shown = services.mail_preview(acting_user=rep, subject=welcome.subject, body=welcome.body, customer=customer,
                                  contact=contact)
    assert shown.subject == "欢迎 北京分扬科技有限公司 成为我们的客户" and shown.body.startswith("王总，您好！")
    sample = services.mail_preview(acting_user=rep, subject=welcome.subject, body=welcome.body)
    assert sample.subject == "欢迎 示例科技有限公司 成为我们的客户"
    with pytest.raises(NotFound):
        services.mail_preview(acting_user=UserFactory(), subject="x", body="y", customer=customer)


def test_merges_move_sent_mails_and_unmerges_put_them_back(rep, customer, contact) -> None:
    from kehu.dataquality.merging.contacts import contact_merge_undo, contacts_merge
    from kehu.dataquality.merging.services import customers_merge, merge_undo

    other = customer_create(acting_user=rep, data={"name": "北京分扬科技"})
    twin = contact_create(acting_user=rep, customer=customer, data={"name": "王小明", "email": "w2@example.org"})
    on_other = SentMail.objects.create(to="a@example.org", subject="s", customer=other, status="sent")
    on_twin = SentMail.objects.create(to="w2@example.org", subject="s", customer=customer, contact=twin,
                                      status="sent")
    merge = customers_merge(acting_user=rep, survivor_id=customer.pk, merged_ids=[other.pk])
    on_other.refresh_from_db()
    assert on_other.customer_id == customer.pk
    merge_undo(acting_user=rep, merge_id=merge.pk)
    on_other.refresh_from_db()
    assert on_other.customer_id == other.pk
    contact_merge = contacts_merge(acting_user=rep, survivor_id=contact.pk, merged_ids=[twin.pk])
    on_twin.refresh_from_db()
    assert on_twin.contact_id == contact.pk
    contact_merge_undo(acting_user=rep, merge_id=contact_merge.pk)
    on_twin.refresh_from_db()
    assert on_twin.contact_id == twin.pk


def test_a_contacts_bounced_address_flags_its_customer(smtp, rep, customer, welcome,
                                                       django_capture_on_commit_callbacks):
    contact = contact_create(acting_user=rep, customer=customer, data={"name": "失效联系人", "email": BOUNCING})
    with django_capture_on_commit_callbacks(execute=True):
        mail = services.send_template_mail(template=welcome, acting_user=rep, contact=contact)
    assert mail.status == MailStatus.BOUNCED and mail.to == BOUNCING
    assert QualityIssue.objects.filter(customer=customer, code="email.bounced", value=BOUNCING).exists()


def test_built_in_templates_render_for_a_person_without_contact(smtp, rep, django_capture_on_commit_callbacks):
    assert set(MailTemplate.objects.values_list("key", "language")) == {
        ("welcome", "zh-hans"), ("welcome", "en"), ("birthday", "zh-hans"), ("birthday", "en")}
    for template in MailTemplate.objects.all():
        for field, html in (("subject", False), ("body", False), ("body_html", True)):
            assert rendering.check_template(getattr(template, field), html=html) is None, (template.key, field)
    person = customer_create(acting_user=rep, data={"kind": "person", "name": "张三", "salutation": "张先生",
                                                    "emails": ["zhang@example.org"]})
    with django_capture_on_commit_callbacks(execute=True):
        services.send_template_mail(template="birthday", acting_user=None, customer=person,
                                    idempotency_key=f"birthday:customer:{person.pk}:2026")
    [received] = smtp.received
    assert received.subject == "生日快乐，张三！"
    assert received.part().startswith("张先生，您好！\n\n今天是您的生日，李销售 和全体同事")
