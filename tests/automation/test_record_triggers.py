"""Record triggers end to end: a service publishes its domain event, the bus delivers it after
commit, the subscriber queues the Huey task (inline in tests), the rule's conditions are checked
with one query and its actions run through the services."""

from __future__ import annotations

import pytest

from kehu.automation import engine
from kehu.automation.models import ActionLog, ActionStatus, RuleRun
from kehu.customers import services as customer_services
from kehu.customers.models import PicklistKind, PicklistOption
from kehu.leads import services as lead_services
from kehu.leads.models import Lead, LeadForm
from tests.automation.conftest import customer_of, event, make_rule, tag_names

pytestmark = pytest.mark.django_db

TAG = [{"type": "add_tag", "params": {"tag": "自动"}}]


def test_customer_created_runs_the_rule_after_commit(admin, rep, django_capture_on_commit_callbacks):
    make_rule(admin, trigger="created", actions=TAG)
    with django_capture_on_commit_callbacks(execute=True):
        customer = customer_services.customer_create(acting_user=rep, data={"name": "上海甲公司"})
    assert tag_names(customer) == ["自动"]
    run = RuleRun.objects.get()
    assert (run.trigger, run.record_id, run.matched, run.acted, run.status) == (
        "customer.created", customer.pk, 1, 1, "done")
    log = ActionLog.objects.get()
    assert log.status == ActionStatus.DONE and log.customer_id == customer.pk and log.attempts == 1


def test_conditions_use_the_customer_list_filter(admin, rep, django_capture_on_commit_callbacks):
    make_rule(admin, trigger="created", conditions={"city": "上海市"}, actions=TAG)
    with django_capture_on_commit_callbacks(execute=True):
        shanghai = customer_services.customer_create(acting_user=rep, data={"name": "甲公司", "city": "上海"})
        beijing = customer_services.customer_create(acting_user=rep, data={"name": "乙公司", "city": "北京"})
    assert tag_names(shanghai) == ["自动"]
    assert tag_names(beijing) == []
    assert RuleRun.objects.count() == 1


def test_conditions_given_as_a_query_string(admin, rep):
    rule = make_rule(admin, trigger="created", conditions="city=%E4%B8%8A%E6%B5%B7&kind=company", actions=TAG)
    assert rule.conditions == {"city": "上海", "kind": "company"}


def test_a_rolled_back_write_fires_nothing(admin, rep, django_capture_on_commit_callbacks):
    from django.db import transaction

    make_rule(admin, trigger="created", actions=TAG)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        customer_services.customer_create(acting_user=rep, data={"name": "回滚公司"})
        raise RuntimeError("boom")
    assert not RuleRun.objects.exists()


def test_field_changed_to_a_value(admin, rep, django_capture_on_commit_callbacks):
    level_a = PicklistOption.objects.filter(kind=PicklistKind.LEVEL).first()
    level_b = PicklistOption.objects.filter(kind=PicklistKind.LEVEL).exclude(pk=level_a.pk).first()
    make_rule(admin, trigger="field_changed", trigger_params={"field": "level", "to": str(level_a.pk)}, actions=TAG)
    customer = customer_of(rep)
    with django_capture_on_commit_callbacks(execute=True):
        customer_services.customer_update(acting_user=rep, customer=customer, data={"level": level_b.pk})
    assert tag_names(customer) == []
    with django_capture_on_commit_callbacks(execute=True):
        customer_services.customer_update(acting_user=rep, customer=customer, data={"level": level_a.pk})
    assert tag_names(customer) == ["自动"]


def test_updated_and_stage_changed(admin, rep, django_capture_on_commit_callbacks):
    stage = PicklistOption.objects.filter(kind=PicklistKind.STAGE).last()
    make_rule(admin, name="阶段", trigger="stage_changed", trigger_params={"to": str(stage.pk)},
              actions=[{"type": "add_tag", "params": {"tag": "阶段"}}])
    make_rule(admin, name="更新", trigger="updated", actions=[{"type": "add_tag", "params": {"tag": "更新"}}])
    customer = customer_of(rep)
    with django_capture_on_commit_callbacks(execute=True):
        customer_services.customer_update(acting_user=rep, customer=customer, data={"city": "杭州"})
    assert tag_names(customer) == ["更新"]
    with django_capture_on_commit_callbacks(execute=True):
        customer_services.customer_update(acting_user=rep, customer=customer, data={"stage": stage.pk})
    assert tag_names(customer) == ["更新", "阶段"]


def test_deleted_trigger_acts_without_the_record(admin, rep, manager, django_capture_on_commit_callbacks):
    from kehu.notifications.models import Notification

    make_rule(admin, trigger="deleted", actions=[{"type": "notify", "params": {
        "to": "user", "user": manager.pk, "title": "客户被删除"}}])
    customer = customer_of(rep)
    with django_capture_on_commit_callbacks(execute=True):
        customer_services.customer_delete(acting_user=admin, customer=customer)
    note = Notification.objects.get(user=manager)
    assert note.title == "客户被删除" and note.kind == "automation"


def test_opportunity_stage_changed_to_won(admin, rep, django_capture_on_commit_callbacks):
    from kehu.notifications.models import Notification
    from kehu.sales import services as sales_services
    from kehu.sales.models import Stage

    make_rule(admin, object_type="opportunity", trigger="stage_changed", trigger_params={"to_kind": "won"},
              actions=[{"type": "notify", "params": {"to": "owner", "title": "赢单：{{ opportunity.name }}"}}])
    customer = customer_of(rep)
    with django_capture_on_commit_callbacks(execute=True):
        deal = sales_services.opportunity_create(acting_user=rep, data={
            "name": "大单", "customer": customer.pk, "amount": "5000", "expected_close_date": "2026-12-01"})
    lost_free = Stage.objects.filter(pipeline=deal.pipeline, kind="open").exclude(pk=deal.stage_id).first()
    with django_capture_on_commit_callbacks(execute=True):
        sales_services.opportunity_move(acting_user=rep, opportunity_id=deal.pk, stage_id=lost_free.pk)
    assert not Notification.objects.filter(user=rep).exists()
    won = Stage.objects.filter(pipeline=deal.pipeline, kind="won").first()
    with django_capture_on_commit_callbacks(execute=True):
        sales_services.opportunity_move(acting_user=rep, opportunity_id=deal.pk, stage_id=won.pk)
    assert list(Notification.objects.filter(user=rep).values_list("title", flat=True)) == ["赢单：大单"]


def test_followup_logged_fires_customer_and_opportunity_rules(admin, rep):
    make_rule(admin, trigger="followup_logged", actions=TAG)
    customer = customer_of(rep)
    outcome = engine.handle_event(event("followup.logged", 99, customer_id=customer.pk,
                                        data={"opportunity_id": None}))
    assert outcome.done == 1 and tag_names(customer) == ["自动"]


def test_followup_logged_through_the_activities_service(admin, rep, django_capture_on_commit_callbacks):
    from kehu.activities import services as activity_services
    from kehu.activities.models import FollowUpKind

    make_rule(admin, trigger="followup_logged", actions=TAG)
    customer = customer_of(rep)
    kind = FollowUpKind.objects.first()
    with django_capture_on_commit_callbacks(execute=True):
        activity_services.followup_create(acting_user=rep, customer_id=customer.pk, kind=kind.code,
                                          content="电话沟通")
    assert tag_names(customer) == ["自动"]


def test_new_lead_from_the_public_form_round_robin(admin, rep, rep2, django_capture_on_commit_callbacks):
    make_rule(admin, object_type="lead", trigger="created", actions=[
        {"type": "assign_owner", "params": {"mode": "round_robin", "users": [rep.pk, rep2.pk]}}])
    form = LeadForm.objects.create(slug="site", title="官网", fields=["company", "mobile"])
    owners = []
    for i in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            lead = lead_services.lead_submit_public(web_form=form, data={"name": f"访客{i}", "company": "某公司"})
        owners.append(Lead.objects.get(pk=lead.pk).owner_id)
    assert owners == [rep.pk, rep2.pk, rep.pk]


def test_action_chains_stop_at_the_depth_limit(admin, rep, django_capture_on_commit_callbacks):
    """A rule whose action updates the record fires "updated" again; the chain stops, no endless loop."""
    make_rule(admin, trigger="updated", actions=[{"type": "update_field", "params": {"field": "notes",
                                                                                     "value": "{{ x }}"}}])
    customer = customer_of(rep)
    with django_capture_on_commit_callbacks(execute=True):
        customer_services.customer_update(acting_user=rep, customer=customer, data={"city": "杭州"})
    assert RuleRun.objects.count() <= engine.MAX_DEPTH
