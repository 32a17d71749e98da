"""Follow-up and task services: validation, scope, "last contacted", the next-step task, audit,
domain events, the timeline, idempotent task creation and the merge registries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from kehu.activities import services
from kehu.activities.models import FollowUp, FollowUpContact, FollowUpKind, Task, TaskStatus
from kehu.contracts.models import Contract
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.events import EVENT_NAMES
from kehu.core.models import AuditEvent
from kehu.customers.models import Customer
from kehu.customers.selectors import customer_timeline
from kehu.dataquality.merging.registry import contact_registry, related_registry
from kehu.sales.services import opportunity_create

from .conftest import soon

pytestmark = pytest.mark.django_db


def log(user, customer, **kwargs):  # type: ignore[no-untyped-def]
    data = {"kind": "call", "content": "电话沟通了采购计划", **kwargs}
    return services.followup_create(acting_user=user, customer_id=customer.pk, **data)


# Kinds --------------------------------------------------------------------------------------------


def test_default_kinds_are_seeded_in_order() -> None:
    assert list(FollowUpKind.objects.values_list("code", "name_zh", "name_en")) == [
        ("call", "电话", "Call"), ("visit", "拜访", "Visit"), ("meeting", "会议", "Meeting"),
        ("wechat", "微信", "WeChat"), ("email", "邮件", "Email"), ("note", "备注", "Note")]
    assert FollowUpKind.objects.get(code="visit").allows_check_in


def test_admin_adds_a_kind_and_a_rep_cannot(admin_user, rep) -> None:
    kind = services.followup_kind_save(acting_user=admin_user, code="Demo", name_zh="产品演示", name_en="Demo")
    assert (kind.code, kind.position) == ("demo", 60)
    with pytest.raises(ValidationFailed) as exc:
        services.followup_kind_save(acting_user=admin_user, code="demo", name_zh="重复")
    assert exc.value.errors[0].field == "code"
    with pytest.raises(PermissionDenied):
        services.followup_kind_save(acting_user=rep, code="x", name_zh="某")
    assert FollowUpKind.objects.filter(code="x").count() == 0


# Follow-ups -------------------------------------------------------------------------------------


def test_logging_a_followup_links_contacts_updates_last_contacted_and_publishes(rep, customer, contact,
                                                                                 published) -> None:
    occurred = timezone.now() - dt.timedelta(hours=2)
    followup = log(rep, customer, kind="电话", outcome="有意向", occurred_at=occurred, contact_ids=[contact.pk])
    assert followup.kind.code == "call" and followup.owner == rep and followup.created_by == rep
    assert list(followup.contacts.values_list("name", flat=True)) == ["张伟"]
    customer.refresh_from_db()
    assert customer.last_activity_at == occurred
    assert [(e.name, e.object_id, e.customer_id, e.actor_id, e.data["kind"]) for e in published] == [
        ("followup.logged", followup.pk, customer.pk, rep.pk, "call")]
    assert AuditEvent.objects.filter(object_type="followup", action="create", customer_id=customer.pk).count() == 1


def test_an_older_followup_does_not_move_last_contacted_back(rep, customer) -> None:
    log(rep, customer)
    customer.refresh_from_db()
    recent = customer.last_activity_at
    log(rep, customer, occurred_at=timezone.now() - dt.timedelta(days=3))
    customer.refresh_from_db()
    assert customer.last_activity_at == recent


def test_invalid_followup_writes_nothing(rep, customer, contact, other_customer) -> None:
    from kehu.customers.services import contact_create

    stranger = contact_create(acting_user=other_customer.owner, customer=other_customer, data={"name": "外人"})
    with pytest.raises(ValidationFailed) as exc:
        log(rep, customer, kind="fax", content=" ", occurred_at=timezone.now() + dt.timedelta(days=1),
            contact_ids=[stranger.pk])
    assert {e.field for e in exc.value.errors} == {"kind", "content", "occurred_at", "contact_ids"}
    assert FollowUp.objects.count() == 0
    customer.refresh_from_db()
    assert customer.last_activity_at is None


def test_a_rep_cannot_log_on_a_colleagues_customer(rep, other_customer, published) -> None:
    with pytest.raises(NotFound):
        log(rep, other_customer)
    assert FollowUp.objects.count() == 0 and published == []
    assert Customer.objects.get(pk=other_customer.pk).last_activity_at is None


def test_opportunity_must_belong_to_the_customer(rep, customer) -> None:
    from kehu.customers.services import customer_create

    elsewhere = customer_create(acting_user=rep, data={"name": "另一家公司"})
    deal = opportunity_create(acting_user=rep, data={"name": "年度采购", "customer": elsewhere.pk, "amount": "5万"})
    with pytest.raises(ValidationFailed) as exc:
        log(rep, customer, opportunity_id=deal.pk)
    assert exc.value.errors[0].field == "opportunity_id"
    ok = log(rep, elsewhere, opportunity_id=deal.pk)
    assert ok.opportunity == deal


def test_next_step_creates_a_task_for_the_author_and_follows_edits(rep, customer, published) -> None:
    due = soon(2, 9, 30)
    followup = log(rep, customer, next_step="发报价", next_followup_at=due)
    task = Task.objects.get(followup=followup)
    assert (task.assignee, task.due_at, task.customer_id, task.status) == (rep, due, customer.pk, TaskStatus.OPEN)
    assert task.title == "发报价（北京分扬科技有限公司）"
    assert [e.name for e in published] == ["task.created", "followup.logged"]
    assert published[1].data["next_task_id"] == task.pk

    later = soon(4, 14, 0)
    services.followup_update(acting_user=rep, followup_id=followup.pk, data={"next_followup_at": later})
    task.refresh_from_db()
    assert task.due_at == later and Task.objects.filter(followup=followup).count() == 1

    services.followup_update(acting_user=rep, followup_id=followup.pk, data={"next_followup_at": None})
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED


def test_next_followup_before_the_followup_is_refused(rep, customer) -> None:
    with pytest.raises(ValidationFailed) as exc:
        log(rep, customer, occurred_at=timezone.now() - dt.timedelta(days=1),
            next_followup_at=timezone.now() - dt.timedelta(days=2))
    assert exc.value.errors[0].field == "next_followup_at"
    assert Task.objects.count() == 0


def test_visit_check_in_is_stored_with_a_map_link(rep, customer) -> None:
    followup = log(rep, customer, kind="visit", check_in={"latitude": "31.2304161", "longitude": 121.4737,
                                                          "accuracy": 12.4, "address": "上海市黄浦区人民大道"})
    followup.refresh_from_db()
    assert (followup.latitude, followup.longitude, followup.accuracy_m) == (
        Decimal("31.230416"), Decimal("121.473700"), 12.4)
    assert followup.checked_in_at is not None and followup.address == "上海市黄浦区人民大道"
    assert followup.map_url == "https://uri.amap.com/marker?position=121.473700,31.230416"
    with pytest.raises(ValidationFailed):
        log(rep, customer, kind="visit", check_in={"latitude": 95, "longitude": 10})


def test_update_checks_version_and_audits_changes(rep, customer) -> None:
    followup = log(rep, customer, outcome="待报价")
    updated = services.followup_update(acting_user=rep, followup_id=followup.pk, data={"outcome": "已报价"},
                                       version=followup.version)
    assert updated.outcome == "已报价" and updated.version == 2
    event = AuditEvent.objects.get(object_type="followup", action="update")
    assert event.changes == [{"field": "outcome", "old": "待报价", "new": "已报价"}]
    with pytest.raises(VersionConflict):
        services.followup_update(acting_user=rep, followup_id=followup.pk, data={"outcome": "x"}, version=1)


def test_only_the_author_or_a_manager_edits_a_followup(rep, manager, customer, other_rep) -> None:
    followup = log(rep, customer)
    with pytest.raises(NotFound):  # another department's rep doesn't even see it
        services.followup_update(acting_user=other_rep, followup_id=followup.pk, data={"outcome": "x"})
    services.followup_update(acting_user=manager, followup_id=followup.pk, data={"outcome": "经理补充"})
    # A colleague who sees the customer through a department role but logged nothing: allowed as a
    # manager; a second rep of the same department with own scope cannot see the customer at all.
    assert FollowUp.objects.get(pk=followup.pk).outcome == "经理补充"


def test_delete_cancels_the_planned_task_and_keeps_done_ones(rep, customer, published) -> None:
    followup = log(rep, customer, next_step="回访", next_followup_at=soon(2))
    task = Task.objects.get(followup=followup)
    services.followup_delete(acting_user=rep, followup_id=followup.pk)
    assert not FollowUp.objects.filter(pk=followup.pk).exists()
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED and task.followup_id is None
    assert "followup.deleted" in [e.name for e in published]
    assert AuditEvent.objects.filter(object_type="followup", action="delete").count() == 1


def test_followups_are_on_the_timeline_once(rep, customer, contact) -> None:
    log(rep, customer, outcome="已约演示", contact_ids=[contact.pk], next_step="演示", next_followup_at=soon(2))
    entries = customer_timeline(user=rep, customer=customer)
    followup_entries = [e for e in entries if e.kind == "activities.followup"]
    assert len(followup_entries) == 1
    entry = followup_entries[0]
    assert entry.title == "电话跟进：已约演示" and entry.actor == "李销售"
    assert "电话沟通了采购计划" in entry.body and "联系人：张伟" in entry.body
    assert f"下一步：演示 {soon(2):%Y-%m-%d %H:%M}" in entry.body  # local time
    assert not [e for e in entries if e.kind == "audit.create" and "跟进记录" in e.title]


# Tasks ------------------------------------------------------------------------------------------


def test_task_create_with_source_key_is_idempotent(rep, customer, published) -> None:
    first = services.task_create(acting_user=None, assignee=rep, title="跟进商机", due_at=soon(1, 9),
                                 priority="high", customer_id=customer.pk, source_key="rule:7:opp:12:2026-11-25")
    again = services.task_create(acting_user=None, assignee=rep.pk, title="另一个标题",
                                 source_key="rule:7:opp:12:2026-11-25")
    assert again.pk == first.pk and Task.objects.count() == 1 and again.title == "跟进商机"
    assert [e.name for e in published] == ["task.created"]
    assert published[0].data["source_key"] == "rule:7:opp:12:2026-11-25"
    assert (first.priority, first.due_at, first.created_by) == ("high", soon(1, 9), None)


def test_task_validation(rep, customer, other_customer) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.task_create(acting_user=rep, assignee=None, title=" ", priority="asap", due_at="tomorrow",
                             customer_id=other_customer.pk)
    assert {e.field for e in exc.value.errors} == {"assignee", "title", "priority", "due_at", "customer_id"}
    assert Task.objects.count() == 0


def test_task_related_records_agree_and_bring_their_customer(rep, customer) -> None:
    from kehu.customers.services import customer_create

    deal = opportunity_create(acting_user=rep, data={"name": "年度采购", "customer": customer.pk, "amount": "5万"})
    task = services.task_create(acting_user=rep, assignee=rep, title="发报价", opportunity_id=deal.pk)
    assert task.customer_id == customer.pk
    contract = Contract.objects.create(number="HT1", title="合同", customer=customer, owner=rep, amount=100)
    other = customer_create(acting_user=rep, data={"name": "别的公司"})
    with pytest.raises(ValidationFailed) as exc:
        services.task_create(acting_user=rep, assignee=rep, title="催款", customer_id=other.pk,
                             contract_id=contract.pk)
    assert exc.value.errors[0].field == "contract_id"


def test_complete_and_reopen_publish_and_stamp(rep, published) -> None:
    task = services.task_create(acting_user=rep, assignee=rep, title="写周报")
    done = services.task_complete(acting_user=rep, task_id=task.pk)
    assert done.status == TaskStatus.DONE and done.completed_at is not None
    assert services.task_complete(acting_user=rep, task_id=task.pk).version == done.version  # no-op
    reopened = services.task_reopen(acting_user=rep, task_id=task.pk)
    assert reopened.status == TaskStatus.OPEN and reopened.completed_at is None
    assert [e.name for e in published] == ["task.created", "task.completed", "task.reopened"]


def test_task_scope_assignee_creator_and_manager(rep, other_rep, manager) -> None:
    mine = services.task_create(acting_user=rep, assignee=rep, title="我的任务")
    with pytest.raises(NotFound):
        services.task_complete(acting_user=other_rep, task_id=mine.pk)
    assert Task.objects.get(pk=mine.pk).status == TaskStatus.OPEN
    services.task_update(acting_user=manager, task_id=mine.pk, data={"priority": "urgent"})
    delegated = services.task_create(acting_user=rep, assignee=other_rep, title="请帮忙报价")
    services.task_update(acting_user=rep, task_id=delegated.pk, data={"title": "请帮忙报价（加急）"})
    services.task_complete(acting_user=other_rep, task_id=delegated.pk)
    assert Task.objects.get(pk=delegated.pk).status == TaskStatus.DONE


def test_task_update_rejects_unknown_fields_and_stale_versions(rep) -> None:
    task = services.task_create(acting_user=rep, assignee=rep, title="整理名单")
    with pytest.raises(ValidationFailed):
        services.task_update(acting_user=rep, task_id=task.pk, data={"status": "done"})
    with pytest.raises(VersionConflict):
        services.task_update(acting_user=rep, task_id=task.pk, data={"title": "x"}, version=9)
    assert Task.objects.get(pk=task.pk).title == "整理名单"


# Registration -----------------------------------------------------------------------------------


def test_every_foreign_key_is_registered_for_merges() -> None:
    assert related_registry.unregistered() == []
    assert contact_registry.unregistered() == []
    keys = {k.key for k in related_registry.kinds()}
    assert {"activities.followup.customer", "activities.task.customer"} <= keys
    assert "activities.followupcontact.contact" in {k.key for k in contact_registry.kinds()}


def test_event_names_are_registered() -> None:
    assert EVENT_NAMES["followup.logged"] == ("记录跟进", "Follow-up logged")
    assert {"task.created", "task.completed"} <= set(EVENT_NAMES)


def test_merge_moves_followups_and_tasks(rep, customer) -> None:
    from kehu.customers.services import customer_create
    from kehu.dataquality.merging.services import customers_merge

    dup = customer_create(acting_user=rep, data={"name": "分扬科技"})
    followup = log(rep, dup, next_step="回访", next_followup_at=soon(2))
    customers_merge(acting_user=rep, survivor_id=customer.pk, merged_ids=[dup.pk])
    assert FollowUp.objects.get(pk=followup.pk).customer_id == customer.pk
    assert Task.objects.get(followup=followup).customer_id == customer.pk
    assert FollowUpContact.objects.count() == 0


def test_contact_merge_moves_followup_contacts_and_undo_puts_them_back(rep, customer, contact) -> None:
    from kehu.customers.services import contact_create
    from kehu.dataquality.merging.contacts import contact_merge_undo, contacts_merge

    twin = contact_create(acting_user=rep, customer=customer, data={"name": "张伟", "mobile": "13700001112"})
    followup = log(rep, customer, contact_ids=[twin.pk])
    merge = contacts_merge(acting_user=rep, survivor_id=contact.pk, merged_ids=[twin.pk])
    assert list(followup.contact_links.values_list("contact_id", flat=True)) == [contact.pk]
    contact_merge_undo(acting_user=rep, merge_id=merge.pk)
    assert list(followup.contact_links.values_list("contact_id", flat=True)) == [twin.pk]
