"""Mails whose process died: a row left "queued" (killed between the commit and the send) is sent by
the periodic sweep, once; a row left "sending" (killed mid-send: the server may have it) becomes
failed with maybe_sent and is never resent by itself; the sender hears of every failure. Time
travels through `now=`; two sweeps at once send a row exactly once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core import mail as django_mail
from django.db import OperationalError, connection
from django.utils import timezone

from kehu.core.registries import timeline_registry
from kehu.mailing import services, tasks
from kehu.mailing.models import MailStatus, SentMail
from kehu.notifications.models import Notification
from tests.factories import UserFactory


def _queue(rep, customer, subject: str = "报价单", **kwargs) -> SentMail:  # type: ignore[no-untyped-def]
    """A mail written by a request whose process then died: the row committed, the send never ran
    (inside the test's transaction the on-commit send is simply never called)."""
    mail = services.send_mail_message(subject=subject, body="请查收附件。", acting_user=rep, customer=customer,
                                      **kwargs)
    assert mail is not None and SentMail.objects.get(pk=mail.pk).status == MailStatus.QUEUED
    return mail


@pytest.mark.django_db
def test_a_queued_mail_is_sent_by_the_sweep_after_a_few_minutes_and_only_once(rep, customer):
    mail = _queue(rep, customer)
    start = timezone.now()
    assert services.mail_send_stuck(now=start + dt.timedelta(minutes=4))["sent"] == 0  # its process may still send it
    assert django_mail.outbox == [] and SentMail.objects.get(pk=mail.pk).status == MailStatus.QUEUED

    later = start + dt.timedelta(minutes=6)
    assert services.mail_send_stuck(now=later) == {"sent": 1, "failed": 0, "bounced": 0, "interrupted": 0}
    [sent] = django_mail.outbox
    assert sent.to == ["info@fenyang.example.com"] and sent.subject == "报价单"
    stored = SentMail.objects.get(pk=mail.pk)
    assert (stored.status, stored.attempts, stored.claimed_at, stored.maybe_sent) == ("sent", 1, later, False)
    assert stored.sent_at is not None
    assert services.mail_send_stuck(now=later + dt.timedelta(hours=1))["sent"] == 0
    assert len(django_mail.outbox) == 1
    assert not Notification.objects.exists()  # nothing went wrong, nobody to tell


@pytest.mark.django_db
def test_the_late_original_send_does_not_send_what_the_sweep_sent(rep, customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        mail = _queue(rep, customer)
    services.mail_send_stuck(now=timezone.now() + dt.timedelta(minutes=6))
    for callback in callbacks:  # the request's own on-commit send, arriving after the sweep
        callback()
    assert len(django_mail.outbox) == 1
    assert mail.status == MailStatus.SENT and SentMail.objects.get(pk=mail.pk).attempts == 1


@pytest.mark.django_db
def test_a_mail_interrupted_mid_send_is_marked_failed_not_resent_and_the_sender_told(rep, customer):
    interrupted = _queue(rep, customer, subject="合同草稿", idempotency_key="contract:1")
    recent = _queue(rep, customer, subject="会议纪要")
    start = timezone.now()
    assert services._claim(interrupted, start)  # the worker claimed it, then died talking to the server
    assert services._claim(recent, start + dt.timedelta(minutes=10))  # another is mid-send right now

    assert services.mail_send_stuck(now=start + dt.timedelta(minutes=14))["interrupted"] == 0
    counts = services.mail_send_stuck(now=start + dt.timedelta(minutes=16))
    assert counts == {"sent": 0, "failed": 0, "bounced": 0, "interrupted": 1}
    assert django_mail.outbox == []  # never resent blindly
    stored = SentMail.objects.get(pk=interrupted.pk)
    assert stored.status == MailStatus.FAILED and stored.maybe_sent and stored.attempts == 1
    assert stored.error.startswith("发送中断") and "可能已送达" in stored.error
    assert SentMail.objects.get(pk=recent.pk).status == MailStatus.SENDING  # still within its time
    titles = [e.title for e in timeline_registry.entries(customer=customer, user=rep)]
    assert "邮件《会议纪要》正在发送给 info@fenyang.example.com" in titles
    assert "邮件《合同草稿》发送失败：info@fenyang.example.com" in titles

    [note] = Notification.objects.filter(user=rep)
    assert note.title == "邮件发送中断：《合同草稿》" and "不会自动重发" in note.body
    assert note.url == f"/mail/sent/{interrupted.pk}/" and note.customer_id == customer.pk and not note.read_at
    services.mail_send_stuck(now=start + dt.timedelta(hours=2))
    assert Notification.objects.filter(user=rep, title="邮件发送中断：《合同草稿》").count() == 1

    # The job that sent it runs again with its key: maybe delivered, so not again.
    assert services.send_mail_message(subject="合同草稿", body="x", acting_user=rep, customer=customer,
                                      idempotency_key="contract:1") is None
    assert django_mail.outbox == [] and SentMail.objects.get(pk=interrupted.pk).status == MailStatus.FAILED
    # A person who checked decides to resend it.
    retried = services.mail_retry(acting_user=rep, mail_id=interrupted.pk)
    assert retried.status == MailStatus.QUEUED  # in the test's transaction: goes on commit
    services._deliver(retried)
    assert len(django_mail.outbox) == 1
    stored = SentMail.objects.get(pk=interrupted.pk)
    assert (stored.status, stored.maybe_sent, stored.attempts) == (MailStatus.SENT, False, 2)


@pytest.mark.django_db
def test_failures_of_the_sweep_are_reported_to_the_sender(smtp, rep, customer, contact):
    from tests.mailing.conftest import BOUNCING

    smtp.busy = {"info@fenyang.example.com"}
    busy = _queue(rep, customer, subject="对账单")
    bounced = _queue(rep, customer, subject="新年问候", to=BOUNCING)
    system = services.send_mail_message(subject="系统邮件", body="x", customer=customer)  # no sender to tell
    counts = services.mail_send_stuck(now=timezone.now() + dt.timedelta(minutes=6))
    assert counts == {"sent": 0, "failed": 2, "bounced": 1, "interrupted": 0}
    assert SentMail.objects.get(pk=busy.pk).error.startswith("450")
    assert SentMail.objects.get(pk=bounced.pk).status == MailStatus.BOUNCED
    assert SentMail.objects.get(pk=system.pk).status == MailStatus.FAILED
    titles = sorted(Notification.objects.filter(user=rep).values_list("title", flat=True))
    assert titles == ["邮件未能发出：《对账单》", "邮件被退回：《新年问候》"]
    assert Notification.objects.count() == 2
    assert smtp.received == []
    # failed rows are not the sweep's business any more: no second attempt, no second notification
    services.mail_send_stuck(now=timezone.now() + dt.timedelta(hours=1))
    assert SentMail.objects.get(pk=busy.pk).attempts == 1 and Notification.objects.count() == 2


@pytest.mark.django_db
def test_the_periodic_task_runs_every_five_minutes_and_sweeps(rep, customer):
    assert tasks.send_stuck_mails.s().validate_datetime(dt.datetime(2026, 11, 28, 8, 35))
    assert not tasks.send_stuck_mails.s().validate_datetime(dt.datetime(2026, 11, 28, 8, 37))
    mail = _queue(rep, customer)
    SentMail.objects.filter(pk=mail.pk).update(created_at=timezone.now() - dt.timedelta(minutes=30))
    tasks.send_stuck_mails.call_local()
    assert SentMail.objects.get(pk=mail.pk).status == MailStatus.SENT and len(django_mail.outbox) == 1


# serialized_rollback: the flush after this test must leave the migrations' data (roles, built-in
# templates) for the tests after it.
# PostgreSQL only: the SQLite test database is shared-cache memory, where any write that meets another
# connection's read fails at once with "table is locked" (a file database in WAL mode with a busy
# timeout, as Kehu runs, waits instead). There the winner's "sent" write could fail after its claim
# depending on thread timing (CI saw both sweeps report nothing), so the race says nothing about the
# claim. On PostgreSQL the second claim waits on the row lock, which is the behaviour under test.
@pytest.mark.skipif(connection.vendor == "sqlite", reason="needs real row locks: PostgreSQL")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_sweeps_at_once_send_a_stuck_mail_exactly_once(monkeypatch):
    """Both sweeps read the same stuck row before either claims it (held at a barrier), then race to
    claim it. The test database is SQLite in shared-cache memory, where a second writer gets "table
    is locked" at once instead of waiting: the loser then waits for the winner and sweeps again, as
    it would have queued on the lock."""
    from kehu.customers.services import customer_create

    rep = UserFactory(display_name="李销售", email="li@kehu.example.com")
    customer = customer_create(acting_user=rep, data={"name": "并发测试公司", "emails": ["a@example.org"]})
    stuck = SentMail.objects.create(to="a@example.org", subject="报价单", body="x", customer=customer, sent_by=rep,
                                    status=MailStatus.QUEUED)
    now = timezone.now() + dt.timedelta(minutes=10)
    read_ids = services._stuck_queued_ids
    barrier = threading.Barrier(2)
    finished = threading.Event()
    seen: list[list[int]] = []
    results: list[object] = []

    def held(at: dt.datetime) -> list[int]:
        ids = read_ids(at)
        if len(seen) < 2:
            seen.append(ids)
            barrier.wait(timeout=10)  # both have read the row as queued; now both claim
        return ids

    monkeypatch.setattr(services, "_stuck_queued_ids", held)

    def sweep() -> None:
        try:
            for _attempt in range(3):
                try:
                    results.append(services.mail_send_stuck(now=now))
                    return
                except OperationalError as exc:
                    if "locked" not in str(exc):
                        raise
                    finished.wait(timeout=30)
            results.append("still locked")
        except Exception as exc:  # noqa: BLE001 - the assertion below names what went wrong
            results.append(f"{type(exc).__name__}: {exc}")
        finally:
            finished.set()
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert seen == [[stuck.pk], [stuck.pk]]  # both saw it queued
    assert len(results) == 2 and all(isinstance(r, dict) for r in results), results
    assert sum(r["sent"] for r in results) == 1, results  # type: ignore[index]
    assert len(django_mail.outbox) == 1
    stored = SentMail.objects.get(pk=stuck.pk)
    assert (stored.status, stored.attempts) == (MailStatus.SENT, 1)
