"""notify(email=True): the notification also goes out as a mail to the user, after commit, through the
loopback SMTP server, logged as a SentMail, at most once per notification."""

from __future__ import annotations

import pytest
from django.db import transaction

from kehu.mailing.models import SentMail
from kehu.notifications import services
from kehu.notifications.models import Notification
from tests.factories import UserFactory
from tests.mailing.conftest import smtp, smtp_server  # noqa: F401 - the loopback SMTP server fixtures

pytestmark = pytest.mark.django_db


def test_email_goes_after_commit_with_an_absolute_link(smtp, settings,  # noqa: F811
                                                       django_capture_on_commit_callbacks) -> None:
    settings.KEHU_SITE_URL = "https://crm.example.com"
    user = UserFactory(email="rep@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        n = services.notify(user=user, title="任务今天到期：回访客户", body="请在 17:00 前回电", url="/customers/5/",
                            key="task-due:5", email=True)
        assert smtp.received == []  # nothing leaves before the commit
    [received] = smtp.received
    assert received.rcpt_tos == ["rep@example.com"] and received.subject == "任务今天到期：回访客户"
    assert received.part().strip() == "请在 17:00 前回电\n\nhttps://crm.example.com/customers/5/"
    mail = SentMail.objects.get()
    assert (mail.purpose, mail.idempotency_key, mail.status, mail.customer_id) == (
        "notification", f"notification:{n.pk}", "sent", None)
    n.refresh_from_db()
    assert n.emailed is True
    with django_capture_on_commit_callbacks(execute=True):
        assert services.notify(user=user, title="任务今天到期：回访客户", key="task-due:5", email=True) is None
    assert len(smtp.received) == 1


def test_no_email_when_rolled_back_or_no_address(smtp, django_capture_on_commit_callbacks) -> None:  # noqa: F811
    user = UserFactory(email="rep@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            services.notify(user=user, title="回滚", email=True)
            raise RuntimeError
        services.notify(user=UserFactory(email=""), title="没有邮箱", email=True)
        services.notify(user=user, title="不发邮件")
    assert smtp.received == [] and SentMail.objects.count() == 0
    assert list(Notification.objects.values_list("title", flat=True).order_by("id")) == ["没有邮箱", "不发邮件"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_worker_path_sends_at_once_and_a_failure_raises_for_a_retry(smtp, settings) -> None:  # noqa: F811
    """No surrounding transaction (the web request, the worker): the task runs the send right away."""
    from tests.mailing.conftest import free_port

    user = UserFactory(email="rep@example.com")
    n = services.notify(user=user, title="新线索已分配给你", email=True)
    n.refresh_from_db()
    assert [r.subject for r in smtp.received] == ["新线索已分配给你"], list(SentMail.objects.values())
    assert n.emailed is True
    good_port, settings.EMAIL_PORT = settings.EMAIL_PORT, free_port()  # the server goes away
    later = Notification.objects.create(user=user, title="稍后重试")
    with pytest.raises(services.MailNotDelivered):
        services.send_email(later.pk)
    assert SentMail.objects.get(idempotency_key=f"notification:{later.pk}").status == "failed"
    settings.EMAIL_PORT = good_port  # back: Huey's retry sends it, once
    services.send_email(later.pk)
    services.send_email(later.pk)
    later.refresh_from_db()
    assert later.emailed is True and [r.subject for r in smtp.received] == ["新线索已分配给你", "稍后重试"]
