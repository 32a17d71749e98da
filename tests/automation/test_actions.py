"""Each action through its service, idempotence (a replayed event, a worker killed mid-way) and
failures (retried with back-off, then reported to the rule's creator)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from kehu.automation import actions as registry
from kehu.automation import engine
from kehu.automation.models import ActionLog, ActionStatus
from kehu.core.errors import ValidationFailed
from kehu.customers.models import Customer, PicklistKind, PicklistOption
from kehu.leads.models import Lead
from tests.automation.conftest import NOW, customer_of, event, make_rule, tag_names
from tests.factories import ContactFactory, DepartmentFactory, UserFactory

pytestmark = pytest.mark.django_db


def fire(rule, record_id, name="customer.created", **kwargs):  # type: ignore[no-untyped-def]
    return engine.handle_event(event(name, record_id, **kwargs), now=NOW)


# Assign owner -----------------------------------------------------------------------------------


def test_assign_fixed_and_already_owner(admin, rep, rep2):
    rule = make_rule(admin, trigger="created", actions=[{"type": "assign_owner", "params": {
        "mode": "fixed", "user": rep2.pk}}])
    customer = customer_of(rep)
    assert fire(rule, customer.pk).done == 1
    customer.refresh_from_db()
    assert customer.owner_id == rep2.pk and customer.department_id == rep2.department_id
    other = customer_of(rep2)
    assert fire(rule, other.pk).skipped == 1


def test_assign_least_loaded(admin, rep, rep2):
    rule = make_rule(admin, object_type="lead", trigger="created", actions=[{"type": "assign_owner", "params": {
        "mode": "least_loaded", "users": [rep.pk, rep2.pk]}}])
    for _i in range(2):
        Lead.objects.create(name="已有", owner=rep)
    lead = Lead.objects.create(name="新线索")
    fire(rule, lead.pk, name="lead.created")
    assert Lead.objects.get(pk=lead.pk).owner_id == rep2.pk


def test_assign_by_territory(admin, rep, rep2):
    fallback = UserFactory()
    rule = make_rule(admin, trigger="created", actions=[{"type": "assign_owner", "params": {
        "mode": "territory", "user": fallback.pk,
        "territory": [{"province": "浙江省", "city": "", "user": rep.pk},
                      {"province": "", "city": "宁波市", "user": rep2.pk}]}}])
    hangzhou = customer_of(admin, province="浙江省", city="杭州市")
    ningbo = customer_of(admin, province="浙江省", city="宁波市")
    beijing = customer_of(admin, province="北京市", city="北京市")
    for customer in (hangzhou, ningbo, beijing):
        fire(rule, customer.pk)
    owners = dict(Customer.objects.filter(pk__in=[hangzhou.pk, ningbo.pk, beijing.pk]).values_list("pk", "owner_id"))
    assert owners == {hangzhou.pk: rep.pk, ningbo.pk: rep2.pk, beijing.pk: fallback.pk}


def test_round_robin_cursor_survives_and_skips_inactive(admin, rep, rep2):
    third = UserFactory()
    rule = make_rule(admin, object_type="lead", trigger="created", actions=[{"type": "assign_owner", "params": {
        "mode": "round_robin", "users": [rep.pk, rep2.pk, third.pk]}}])
    leads = [Lead.objects.create(name=f"线索{i}") for i in range(4)]
    fire(rule, leads[0].pk, name="lead.created")
    third.is_active = False
    third.save()
    for lead in leads[1:]:
        fire(rule, lead.pk, name="lead.created")
    assert [Lead.objects.get(pk=lead.pk).owner_id for lead in leads] == [rep.pk, rep2.pk, rep.pk, rep2.pk]


# Mail, task, field, tags, notify ------------------------------------------------------------------


def test_send_templated_mail_once(admin, rep, settings, django_capture_on_commit_callbacks):
    from kehu.mailing.services import template_save

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    template_save(acting_user=admin, data={"key": "hello", "name": "你好", "subject": "你好 {{ customer.name }}",
                                           "body": "尊敬的 {{ contact.name }}"})
    rule = make_rule(admin, trigger="created", actions=[{"type": "send_mail", "params": {"template": "hello"}}])
    customer = customer_of(rep, name="甲公司")
    ContactFactory(customer=customer, name="王经理", email="wang@example.com", is_primary=True)
    with django_capture_on_commit_callbacks(execute=True):
        fire(rule, customer.pk)
    with django_capture_on_commit_callbacks(execute=True):
        fire(rule, customer.pk)  # the same event again
    assert [(m.to, m.subject) for m in mail.outbox] == [(["wang@example.com"], "你好 甲公司")]
    no_address = customer_of(rep)
    assert fire(rule, no_address.pk).skipped == 1


def test_mail_template_must_exist(admin):
    with pytest.raises(ValidationFailed) as caught:
        make_rule(admin, trigger="created", actions=[{"type": "send_mail", "params": {"template": "nope"}}])
    assert caught.value.errors[0].field == "actions.0.template"


def test_create_task_for_the_owner(admin, rep):
    from kehu.activities.models import Task

    rule = make_rule(admin, trigger="created", actions=[{"type": "create_task", "params": {
        "title": "回访 {{ customer.name }}", "due_in_days": 2, "priority": "high"}}])
    customer = customer_of(rep, name="乙公司")
    fire(rule, customer.pk)
    fire(rule, customer.pk)
    task = Task.objects.get()
    assert (task.title, task.assignee_id, task.customer_id, task.priority) == (
        "回访 乙公司", rep.pk, customer.pk, "high")
    assert task.due_at == NOW + dt.timedelta(days=2)


def test_update_field_goes_through_the_service(admin, rep):
    level = PicklistOption.objects.filter(kind=PicklistKind.LEVEL).first()
    rule = make_rule(admin, trigger="created", actions=[{"type": "update_field", "params": {
        "field": "level", "value": str(level.pk)}}])
    customer = customer_of(rep)
    fire(rule, customer.pk)
    customer.refresh_from_db()
    assert customer.level_id == level.pk and customer.version == 2
    from kehu.core.models import AuditEvent

    assert AuditEvent.objects.filter(object_type="customer", object_id=customer.pk, action="update").count() == 1


def test_update_field_refuses_unknown_fields(admin):
    with pytest.raises(ValidationFailed):
        make_rule(admin, trigger="created", actions=[{"type": "update_field", "params": {"field": "id", "value": 1}}])


def test_update_field_invalid_value_fails_and_is_reported(admin, rep):
    from kehu.notifications.models import Notification

    rule = make_rule(admin, trigger="created", actions=[{"type": "update_field", "params": {
        "field": "level", "value": "999999"}}])
    customer = customer_of(rep)
    assert fire(rule, customer.pk).failed == 1
    log = ActionLog.objects.get()
    assert log.status == ActionStatus.FAILED and "level" in log.error  # a validation error: no retry
    assert log.customer_id == customer.pk
    assert Notification.objects.filter(user=admin, kind="automation_failed", customer_id=customer.pk).count() == 1
    from kehu.core.registries import timeline_registry

    assert any("失败" in e.title for e in timeline_registry.entries(customer=customer, user=admin))


def test_add_and_remove_tag(admin, rep):
    add = make_rule(admin, name="加", trigger="created", actions=[{"type": "add_tag", "params": {"tag": "重点"}}])
    remove = make_rule(admin, name="减", trigger="updated", actions=[{"type": "remove_tag", "params": {"tag": "重点"}}])
    customer = customer_of(rep)
    fire(add, customer.pk)
    assert tag_names(customer) == ["重点"]
    engine.handle_event(event("customer.updated", customer.pk, changes={"city": ("", "x")}))
    assert tag_names(customer) == []
    assert remove.pk


def test_notify_the_owners_manager(admin, rep, manager):
    from kehu.notifications.models import Notification

    rule = make_rule(admin, trigger="created", actions=[{"type": "notify", "params": {
        "to": "manager", "title": "{{ owner }} 的客户 {{ customer.name }}"}}])
    customer = customer_of(rep, name="丙公司")
    fire(rule, customer.pk)
    fire(rule, customer.pk)
    note = Notification.objects.get()
    assert (note.user_id, note.title, note.url) == (manager.pk, "李销售 的客户 丙公司", f"/customers/{customer.pk}/")


def test_a_department_head_goes_to_the_head_above(admin, manager, team):
    from kehu.automation.actions import manager_of

    boss = UserFactory()
    top = DepartmentFactory(name="销售中心", manager=boss)
    team.parent = top
    team.save()
    assert manager_of(manager) == boss


def test_rules_of_a_limited_run_as_user_see_only_their_records(admin, rep, rep2):
    rule = make_rule(admin, trigger="created", run_as=rep.pk, actions=[{"type": "add_tag", "params": {"tag": "我的"}}])
    mine, theirs = customer_of(rep), customer_of(rep2)
    fire(rule, mine.pk)
    fire(rule, theirs.pk)
    assert tag_names(mine) == ["我的"] and tag_names(theirs) == []


# Idempotence and failures --------------------------------------------------------------------------


def test_replaying_an_event_acts_once(admin, rep):
    rule = make_rule(admin, trigger="created", actions=[{"type": "update_field", "params": {
        "field": "notes", "value": "已处理"}}])
    customer = customer_of(rep)
    payload = event("customer.created", customer.pk)
    engine.handle_event(payload)
    engine.handle_event(payload)  # the task body run twice (a worker that died before acking)
    customer.refresh_from_db()
    assert customer.version == 2
    assert ActionLog.objects.filter(rule=rule).count() == 1


def test_a_worker_killed_mid_way_resumes_without_repeating(admin, rep, monkeypatch):
    """Action 1 done, action 2 crashes: the re-run does not repeat action 1 and completes action 2."""
    rule = make_rule(admin, trigger="created", actions=[
        {"type": "update_field", "params": {"field": "notes", "value": "第一步"}},
        {"type": "add_tag", "params": {"tag": "第二步"}}])
    customer = customer_of(rep)
    original = registry.REGISTRY["add_tag"]
    crashing = registry.ActionType(original.key, original.label, original.objects, original.params,
                                   run=lambda ctx: (_ for _ in ()).throw(SystemError("worker killed")))
    monkeypatch.setitem(registry.REGISTRY, "add_tag", crashing)
    payload = event("customer.created", customer.pk)
    outcome = engine.handle_event(payload)
    assert (outcome.done, outcome.failed) == (1, 1)
    assert tag_names(customer) == []
    assert ActionLog.objects.get(action_index=1).status == ActionStatus.RETRYING
    monkeypatch.setitem(registry.REGISTRY, "add_tag", original)
    log = ActionLog.objects.get(action_index=1)
    engine.retry_record(rule.pk, customer.pk, log.period, log.run_id)
    customer.refresh_from_db()
    assert customer.version == 3  # notes once (v2), tags once (v3)
    assert tag_names(customer) == ["第二步"]
    assert list(ActionLog.objects.order_by("action_index").values_list("status", "attempts")) == [
        ("done", 1), ("done", 2)]


def test_failures_are_retried_with_backoff_then_reported(admin, rep, monkeypatch):
    from kehu.automation import tasks
    from kehu.notifications.models import Notification

    scheduled = []
    monkeypatch.setattr(tasks.retry_record_task, "schedule",
                        lambda args, delay: scheduled.append((args, delay)))
    flaky = registry.ActionType("flaky", "flaky", frozenset({"customer"}), (),
                                run=lambda ctx: (_ for _ in ()).throw(ConnectionError("down")))
    monkeypatch.setitem(registry.REGISTRY, "flaky", flaky)
    rule = make_rule(admin, trigger="created", actions=[{"type": "flaky", "params": {}}])
    customer = customer_of(rep)
    engine.handle_event(event("customer.created", customer.pk))
    for _attempt in range(engine.MAX_ATTEMPTS - 1):
        args, _delay = scheduled[-1]
        engine.retry_record(*args)
    assert [delay for _args, delay in scheduled] == [30, 60, 120]
    log = ActionLog.objects.get()
    assert (log.status, log.attempts) == (ActionStatus.FAILED, engine.MAX_ATTEMPTS)
    assert "ConnectionError: down" in log.error
    note = Notification.objects.get(user=admin)
    assert note.kind == "automation_failed" and rule.name in note.title
    engine.retry_record(*scheduled[-1][0])  # a stray retry after giving up changes nothing
    assert ActionLog.objects.get().attempts == engine.MAX_ATTEMPTS


def test_paused_rules_ignore_events(admin, rep):
    from kehu.automation import services

    rule = make_rule(admin, trigger="created", actions=[{"type": "add_tag", "params": {"tag": "x"}}])
    services.rule_pause(acting_user=admin, rule_id=rule.pk)
    customer = customer_of(rep)
    assert fire(rule, customer.pk).matched == 0
    assert tag_names(customer) == []


def test_timeline_shows_the_automation_log(admin, rep):
    from kehu.core.registries import timeline_registry

    rule = make_rule(admin, name="打标签", trigger="created", actions=[{"type": "add_tag", "params": {"tag": "x"}}])
    customer = customer_of(rep)
    fire(rule, customer.pk)
    titles = [e.title for e in timeline_registry.entries(customer=customer, user=admin)
              if e.kind.startswith("automation.")]
    assert titles == ["自动化“打标签”：添加标签 x"]


def test_retries_wait_while_paused_and_resume_requeues_them(admin, rep, monkeypatch,
                                                            django_capture_on_commit_callbacks):
    from kehu.automation import services, tasks

    monkeypatch.setattr(tasks.retry_record_task, "schedule", lambda args, delay: None)
    calls = {"n": 0}

    def once_down(ctx):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("down")
        return "ok"

    monkeypatch.setitem(registry.REGISTRY, "once_down", registry.ActionType(
        "once_down", "once_down", frozenset({"customer"}), (), run=once_down))
    rule = make_rule(admin, trigger="created", actions=[{"type": "once_down", "params": {}}])
    customer = customer_of(rep)
    engine.handle_event(event("customer.created", customer.pk))
    services.rule_pause(acting_user=admin, rule_id=rule.pk)
    log = ActionLog.objects.get()
    engine.retry_record(rule.pk, customer.pk, log.period, log.run_id)  # the scheduled retry while paused
    assert ActionLog.objects.get().status == ActionStatus.RETRYING and calls["n"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.rule_resume(acting_user=admin, rule_id=rule.pk)
    assert ActionLog.objects.get().status == ActionStatus.DONE and calls["n"] == 2
