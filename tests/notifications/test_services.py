"""notify (idempotent by key, inactive users get nothing), mark read, unread counts, merges."""

from __future__ import annotations

import pytest
from django.db import transaction

from kehu.core.errors import NotFound, ValidationFailed
from kehu.notifications import selectors, services
from kehu.notifications.models import Notification
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_notify_creates_a_notification_with_every_field() -> None:
    user = UserFactory()
    customer = CustomerFactory(owner=user)
    n = services.notify(user=user, title="任务今天到期", body="给客户回电话", url="/customers/1/", kind="task.due",
                        customer_id=customer.pk, key="task-due:1")
    assert n is not None
    stored = Notification.objects.get()
    assert (stored.user_id, stored.title, stored.body, stored.url, stored.kind, stored.customer_id, stored.key,
            stored.read_at) == (user.pk, "任务今天到期", "给客户回电话", "/customers/1/", "task.due", customer.pk,
                                "task-due:1", None)


def test_same_user_and_key_again_returns_none_and_creates_nothing() -> None:
    user, other = UserFactory(), UserFactory()
    assert services.notify(user=user, title="生日提醒", key="birthday:7:2026") is not None
    assert services.notify(user=user, title="生日提醒（重复）", key="birthday:7:2026") is None
    assert services.notify(user=other, title="生日提醒", key="birthday:7:2026") is not None  # per user
    assert services.notify(user=user, title="无 key 1") is not None
    assert services.notify(user=user, title="无 key 2") is not None  # no key: never deduplicated
    assert Notification.objects.filter(user=user).count() == 3
    assert Notification.objects.get(user=user, key="birthday:7:2026").title == "生日提醒"


def test_dedupe_inside_an_outer_transaction_keeps_the_transaction_usable() -> None:
    user = UserFactory()
    with transaction.atomic():
        services.notify(user=user, title="一", key="k")
        assert services.notify(user=user, title="二", key="k") is None
        assert Notification.objects.filter(user=user).count() == 1


def test_inactive_or_missing_user_gets_nothing() -> None:
    user = UserFactory(is_active=False)
    assert services.notify(user=user, title="你好") is None
    assert services.notify(user=None, title="你好") is None
    assert Notification.objects.count() == 0


def test_title_is_required() -> None:
    with pytest.raises(ValidationFailed):
        services.notify(user=UserFactory(), title="  ")
    assert Notification.objects.count() == 0


def test_unread_count_mark_read_and_mark_all_read() -> None:
    user, other = UserFactory(), UserFactory()
    first = services.notify(user=user, title="一")
    services.notify(user=user, title="二")
    services.notify(user=user, title="三")
    theirs = services.notify(user=other, title="别人的")
    assert selectors.unread_count(user=user) == 3
    services.mark_read(acting_user=user, notification_id=first.pk)
    first.refresh_from_db()
    assert first.read_at is not None and selectors.unread_count(user=user) == 2
    read_at = first.read_at
    services.mark_read(acting_user=user, notification_id=first.pk)  # again: unchanged
    first.refresh_from_db()
    assert first.read_at == read_at
    with pytest.raises(NotFound):
        services.mark_read(acting_user=user, notification_id=theirs.pk)
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert services.mark_all_read(acting_user=user) == 2
    assert selectors.unread_count(user=user) == 0 and selectors.unread_count(user=other) == 1


def test_customer_deleted_keeps_the_notification() -> None:
    user = UserFactory()
    customer = CustomerFactory(owner=user)
    n = services.notify(user=user, title="客户提醒", customer_id=customer.pk)
    customer.delete()
    n.refresh_from_db()
    assert n.customer_id is None


def test_merge_moves_notifications_to_the_survivor_and_unmerge_back() -> None:
    from kehu.customers.services import customer_create
    from kehu.dataquality.merging.services import customers_merge, merge_undo

    user = UserFactory()
    survivor = customer_create(acting_user=user, data={"name": "北京分扬科技有限公司"})
    other = customer_create(acting_user=user, data={"name": "北京分扬科技"})
    n = services.notify(user=user, title="客户提醒", customer_id=other.pk)
    merge = customers_merge(acting_user=user, survivor_id=survivor.pk, merged_ids=[other.pk])
    n.refresh_from_db()
    assert n.customer_id == survivor.pk
    merge_undo(acting_user=user, merge_id=merge.pk)
    n.refresh_from_db()
    assert n.customer_id == other.pk
