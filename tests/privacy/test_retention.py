"""Retention policies (kehu.privacy.retention): exactly the right records are anonymised or deleted,
the rest untouched; a dry run writes nothing; the daily task and `kehu privacy retention` apply the
enabled policies. Time travel by setting timestamps, never by waiting."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from kehu.core.models import AuditEvent
from kehu.customers.models import Contact, Customer, PicklistOption
from kehu.customers.services import contact_create, customer_create
from kehu.leads.models import Lead
from kehu.leads.services import lead_create
from kehu.privacy import retention
from kehu.privacy.models import Erasure, RetentionPolicy, RetentionRecord
from kehu.privacy.tasks import daily_retention
from kehu.recyclebin.models import RecycleBinEntry

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _age(obj, days: int, *, activity_days: int | None = None) -> None:  # type: ignore[no-untyped-def]
    """Make a record look untouched for `days` (and its last follow-up `activity_days` ago)."""
    values = {"updated_at": NOW - dt.timedelta(days=days)}
    if activity_days is not None:
        values["last_activity_at"] = NOW - dt.timedelta(days=activity_days)
    type(obj).objects.filter(pk=obj.pk).update(**values)


def _stage(code: str) -> PicklistOption:
    return PicklistOption.objects.get(kind="stage", code=code)


@pytest.fixture
def customers(rep):  # type: ignore[no-untyped-def]
    """old: 400 days untouched; recent: updated 10 days ago; followed_up: old record, recent follow-up;
    old_lost: 400 days, stage churned (流失客户)."""
    made = {}
    names = (("old", "旧客户甲"), ("recent", "新客户乙"), ("followed_up", "旧客户丙"), ("old_lost", "流失客户丁"))
    for key, name in names:
        made[key] = customer_create(acting_user=rep, data={"kind": "person", "name": name,
                                                           "phones": ["13812345678"], "notes": "私人备注"})
    contact_create(acting_user=rep, customer=made["old"], data={"name": "赵敏", "mobile": "13987654321"})
    Customer.objects.filter(pk=made["old_lost"].pk).update(stage=_stage("churned"))
    _age(made["old"], 400)
    _age(made["recent"], 10)
    _age(made["followed_up"], 400, activity_days=5)
    _age(made["old_lost"], 400, activity_days=380)
    return made


def _policy(**values) -> RetentionPolicy:  # type: ignore[no-untyped-def]
    defaults = {"name": "三百天", "object_kind": "customer", "inactive_days": 365, "action": "anonymise",
                "enabled": True}
    return RetentionPolicy.objects.create(**{**defaults, **values})


def test_selects_exactly_the_untouched_records(customers) -> None:  # type: ignore[no-untyped-def]
    policy = _policy()
    ids = set(retention.retention_candidates(policy=policy).values_list("pk", flat=True))
    assert ids == {customers["old"].pk, customers["old_lost"].pk}
    policy.customer_stage = "churned"
    assert list(retention.retention_candidates(policy=policy).values_list("pk", flat=True)) == [
        customers["old_lost"].pk]
    policy.customer_stage, policy.inactive_days = "", 7
    # "recent" (10 days) counts now; followed_up (5 days) still not
    assert retention.retention_preview(policy=policy) == 3


def test_dry_run_writes_nothing(customers) -> None:  # type: ignore[no-untyped-def]
    policy = _policy()
    events, names = AuditEvent.objects.count(), sorted(Customer.objects.values_list("name", flat=True))
    result = retention.retention_apply(policy=policy, dry_run=True)
    assert (result.selected, result.processed) == (2, 0)
    assert sorted(result.sample_ids) == sorted([customers["old"].pk, customers["old_lost"].pk])
    assert AuditEvent.objects.count() == events
    assert sorted(Customer.objects.values_list("name", flat=True)) == names
    assert not RetentionRecord.objects.exists() and not Erasure.objects.exists()
    policy.refresh_from_db()
    assert policy.last_run_at is None


def test_anonymises_the_selected_customers_and_skips_the_rest(customers, admin) -> None:  # type: ignore[no-untyped-def]
    policy = _policy(run_as=admin)
    result = retention.retention_apply(policy=policy, now=NOW)
    assert (result.selected, result.processed, result.skipped) == (2, 2, 0)

    old = Customer.objects.get(pk=customers["old"].pk)
    assert old.name == f"已删除用户 #{old.pk}" and old.phones == [] and old.notes == ""
    assert Contact.objects.get(customer=old).mobile == ""
    assert Erasure.objects.filter(customer_id=old.pk, erased_by=admin).exists()
    for key in ("recent", "followed_up"):
        untouched = Customer.objects.get(pk=customers[key].pk)
        assert untouched.name == customers[key].name and untouched.notes == "私人备注"

    # One audit event per record (the erasure's), and a summary event on the policy.
    erased = AuditEvent.objects.filter(action="delete", object_type="customer", actor=admin)
    assert sorted(erased.values_list("object_id", flat=True)) == sorted([customers["old"].pk,
                                                                        customers["old_lost"].pk])
    summary = AuditEvent.objects.get(object_type="retentionpolicy", object_id=policy.pk)
    assert {c["field"]: c["new"] for c in summary.changes}["processed"] == 2
    policy.refresh_from_db()
    assert policy.last_run_count == 2 and policy.last_run_summary["processed"] == 2

    # A second run finds nothing more: the anonymised records are not picked again.
    again = retention.retention_apply(policy=policy, now=NOW)
    assert (again.selected, again.processed) == (0, 0)


def test_leads_anonymise_and_delete_by_status(rep, admin) -> None:  # type: ignore[no-untyped-def]
    stale = lead_create(acting_user=rep, data={"name": "钱七", "mobile": "13700001111", "company": "某公司",
                                               "status": "disqualified", "disqualify_reason": "无预算"}).lead
    working = lead_create(acting_user=rep, data={"name": "孙八", "mobile": "13700002222"}).lead
    fresh = lead_create(acting_user=rep, data={"name": "周九", "status": "disqualified",
                                               "disqualify_reason": "无预算"}).lead
    _age(stale, 200)
    _age(working, 200)
    _age(fresh, 3)

    policy = _policy(object_kind="lead", inactive_days=180, lead_status="disqualified", run_as=admin)
    assert list(retention.retention_candidates(policy=policy).values_list("pk", flat=True)) == [stale.pk]
    result = retention.retention_apply(policy=policy)
    assert result.processed == 1
    stale.refresh_from_db()
    assert stale.name == f"已删除线索 #{stale.pk}" and stale.mobile == "" and stale.company == ""
    event = AuditEvent.objects.get(object_type="lead", object_id=stale.pk, action="update", actor=admin)
    assert "13700001111" not in str(event.changes)  # the new event copies no personal data
    assert Lead.objects.get(pk=working.pk).mobile == "13700002222"

    deleting = _policy(object_kind="lead", inactive_days=180, action="delete", run_as=admin)
    assert retention.retention_apply(policy=deleting).processed == 1  # "working"; stale already processed
    assert not Lead.objects.filter(pk=working.pk).exists()
    assert RecycleBinEntry.objects.count() >= 1
    assert Lead.objects.filter(pk__in=[stale.pk, fresh.pk]).count() == 2


def test_delete_skips_customers_that_cannot_be_deleted(customers, admin) -> None:  # type: ignore[no-untyped-def]
    from kehu.sales.services import opportunity_create

    opportunity_create(acting_user=admin, data={"name": "一单", "customer": customers["old"].pk, "amount": "1"})
    _age(customers["old"], 400)  # the new deal touched nothing on the customer, but be sure
    result = retention.retention_apply(policy=_policy(action="delete", run_as=admin))
    assert (result.processed, result.skipped) == (1, 1)
    assert result.errors and result.errors[0].startswith(f"#{customers['old'].pk}:")
    assert Customer.objects.filter(pk=customers["old"].pk).exists()
    assert not Customer.objects.filter(pk=customers["old_lost"].pk).exists()


def test_disabled_policies_are_left_alone_by_the_daily_task(customers, admin) -> None:  # type: ignore[no-untyped-def]
    _policy(enabled=False, run_as=admin)
    daily_retention.call_local()
    assert not Erasure.objects.exists()
    enabled = _policy(run_as=admin, customer_stage="churned")
    daily_retention.call_local()
    assert list(Erasure.objects.values_list("customer_id", flat=True)) == [customers["old_lost"].pk]
    enabled.refresh_from_db()
    assert enabled.last_run_count == 1


def test_runs_as_the_first_admin_when_none_is_named(customers, admin) -> None:  # type: ignore[no-untyped-def]
    retention.retention_apply(policy=_policy(customer_stage="churned"))
    assert Erasure.objects.get().erased_by == admin


def test_command(customers, admin) -> None:  # type: ignore[no-untyped-def]
    _policy(run_as=admin)
    out = io.StringIO()
    call_command("privacy", "retention", "--dry-run", stdout=out)
    assert "would process 2" in out.getvalue() and not Erasure.objects.exists()
    out = io.StringIO()
    call_command("privacy", "retention", stdout=out)
    assert "processed 2, skipped 0" in out.getvalue() and Erasure.objects.count() == 2


def test_invalid_policy_is_refused() -> None:
    from kehu.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as exc:
        retention.policy_validate(RetentionPolicy(name="x", object_kind="lead", inactive_days=0,
                                                  customer_stage="churned", lead_status="bogus"))
    assert {e.field for e in exc.value.errors} == {"inactive_days", "customer_stage", "lead_status"}


def test_admin_list_shows_the_preview_count(client, customers, admin) -> None:  # type: ignore[no-untyped-def]
    policy = _policy(run_as=admin)
    admin.is_staff = True
    admin.save()
    client.force_login(admin)
    page = client.get("/admin/privacy/retentionpolicy/")
    assert page.status_code == 200 and policy.name in page.content.decode()
    response = client.post("/admin/privacy/retentionpolicy/", {"action": "preview", "_selected_action": [policy.pk]},
                           follow=True)
    assert "将处理 2 条" in response.content.decode() and not Erasure.objects.exists()
