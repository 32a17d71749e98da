"""Leaving employees: one action ends their sessions, revokes their tokens and hands their records
over to a colleague or returns their customers to the pool."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from kehu.accounts.models import ApiToken, User
from kehu.accounts.services import api_token_create, user_deactivate, user_reactivate
from kehu.activities.models import Task, TaskStatus
from kehu.activities.services import task_create
from kehu.contracts.models import Contract, ContractStatus
from kehu.contracts.services import contract_create
from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.models import AuditEvent
from kehu.customers.models import Customer
from kehu.leads.models import Lead, LeadStatus
from kehu.pool.models import CustomerPool, PoolEntry
from kehu.sales.models import Opportunity, Stage, StageKind
from kehu.sales.services import opportunity_create
from tests.factories import CustomerFactory, DepartmentFactory, ManagerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(db):  # type: ignore[no-untyped-def]
    return DepartmentFactory(name="华东销售部")


@pytest.fixture
def leaver(team):  # type: ignore[no-untyped-def]
    return UserFactory(username="leaver", display_name="离职的小王", department=team)


@pytest.fixture
def successor(team):  # type: ignore[no-untyped-def]
    return UserFactory(username="successor", display_name="接手的小李", department=team)


@pytest.fixture
def book(leaver):  # type: ignore[no-untyped-def]
    """The leaver's records: 2 customers, an open and a won deal, 2 leads (one converted), an open and a done task."""
    customers = [CustomerFactory(owner=leaver), CustomerFactory(owner=leaver)]
    open_deal = opportunity_create(acting_user=leaver, data={"name": "年度采购", "customer": customers[0].pk})
    won_stage = Stage.objects.filter(pipeline_id=open_deal.pipeline_id, kind=StageKind.WON).first()
    won = Opportunity.objects.create(name="已签单", customer=customers[1], owner=leaver, pipeline=open_deal.pipeline,
                                     stage=won_stage)
    lead = Lead.objects.create(name="陈先生", company="某某贸易", owner=leaver)
    converted = Lead.objects.create(name="刘女士", owner=leaver, status=LeadStatus.CONVERTED)
    task = task_create(acting_user=leaver, assignee=leaver, title="回访", customer_id=customers[0].pk)
    done = task_create(acting_user=leaver, assignee=leaver, title="已完成的事")
    Task.objects.filter(pk=done.pk).update(status=TaskStatus.DONE)
    active = contract_create(acting_user=leaver, data={"title": "年度服务合同", "customer": customers[0].pk,
                                                       "amount": "12000"})
    Contract.objects.filter(pk=active.pk).update(status=ContractStatus.ACTIVE)
    finished = contract_create(acting_user=leaver, data={"title": "去年的合同", "customer": customers[1].pk,
                                                         "amount": "8000"})
    Contract.objects.filter(pk=finished.pk).update(status=ContractStatus.COMPLETED)
    return {"customers": customers, "open_deal": open_deal, "won": won, "lead": lead, "converted": converted,
            "task": task, "done": done, "active_contract": active, "finished_contract": finished}


def signed_in_client(user: User) -> Client:
    client = Client()
    assert client.post(reverse("accounts:login"), {"username": user.username, "password": "pass-word-123"}
                       ).status_code == 302
    assert client.get(reverse("customers:list")).status_code == 200
    return client


def test_hand_over_to_a_colleague(admin_user, leaver, successor, book):
    browser, phone = signed_in_client(leaver), signed_in_client(leaver)
    bystander = signed_in_client(successor)
    _, secret = api_token_create(user=leaver)

    result = user_deactivate(acting_user=admin_user, user_id=leaver.pk, hand_over_to=successor.pk)

    assert result == {"customers": 2, "opportunities": 1, "leads": 1, "contracts": 1, "tasks": 1, "api_tokens": 1,
                      "sessions": 2}
    leaver.refresh_from_db()
    assert not leaver.is_active
    # Sessions gone: both devices are sent to the login page; the colleague's session is untouched.
    for client in (browser, phone):
        response = client.get(reverse("customers:list"))
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    assert bystander.get(reverse("customers:list")).status_code == 200
    assert not [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(leaver.pk)]
    # Tokens refused.
    assert Client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert ApiToken.objects.get(user=leaver).revoked_at is not None
    # Records moved (closed deals, converted leads and finished tasks stay as history).
    assert set(Customer.objects.filter(owner=successor)) == set(book["customers"])
    assert Customer.objects.filter(owner=successor, department=successor.department).count() == 2
    assert Opportunity.objects.get(pk=book["open_deal"].pk).owner == successor
    assert Opportunity.objects.get(pk=book["won"].pk).owner == leaver
    assert Lead.objects.get(pk=book["lead"].pk).owner == successor
    assert Lead.objects.get(pk=book["converted"].pk).owner == leaver
    assert Task.objects.get(pk=book["task"].pk).assignee == successor
    assert Task.objects.get(pk=book["done"].pk).assignee == leaver
    assert Contract.objects.get(pk=book["active_contract"].pk).owner == successor
    assert Contract.objects.get(pk=book["finished_contract"].pk).owner == leaver
    # Audited: each moved customer and the deactivation itself.
    event = AuditEvent.objects.filter(object_type="user", object_id=leaver.pk, action="update").latest("id")
    fields = {c["field"]: c["new"] for c in event.changes}
    assert fields["is_active"] is False and fields["handed_over_customers"] == 2 and fields["sessions_ended"] == 2
    for customer in book["customers"]:
        assert AuditEvent.objects.filter(object_type="customer", object_id=customer.pk, action="update").exists()


def test_hand_over_to_the_pool(admin_user, leaver, team, book):
    manager = ManagerFactory(department=team)
    team.manager = manager
    team.save()
    pool = CustomerPool.objects.create(name="华东公海", is_default=True)
    pool.member_departments.add(team)

    result = user_deactivate(acting_user=admin_user, user_id=leaver.pk, hand_over_to="pool")

    assert result["customers"] == 2
    assert Customer.objects.filter(owner__isnull=True).count() == 2
    assert set(PoolEntry.objects.values_list("customer_id", flat=True)) == {c.pk for c in book["customers"]}
    assert PoolEntry.objects.filter(previous_owner=leaver, pool=pool).count() == 2
    # Deals, leads and tasks can't sit in a pool: they go to the department's manager.
    assert Opportunity.objects.get(pk=book["open_deal"].pk).owner == manager
    assert Lead.objects.get(pk=book["lead"].pk).owner == manager
    assert Task.objects.get(pk=book["task"].pk).assignee == manager


def test_pool_without_any_pool_changes_nothing(admin_user, leaver, book):
    with pytest.raises(ValidationFailed):
        user_deactivate(acting_user=admin_user, user_id=leaver.pk, hand_over_to="pool")
    leaver.refresh_from_db()
    assert leaver.is_active and Customer.objects.filter(owner=leaver).count() == 2


def test_only_admins_and_never_oneself(admin_user, leaver, successor, book):
    with pytest.raises(PermissionDenied):
        user_deactivate(acting_user=successor, user_id=leaver.pk, hand_over_to=successor.pk)
    with pytest.raises(ValidationFailed):
        user_deactivate(acting_user=admin_user, user_id=admin_user.pk)
    with pytest.raises(ValidationFailed):
        user_deactivate(acting_user=admin_user, user_id=leaver.pk, hand_over_to=leaver.pk)
    inactive = UserFactory(is_active=False)
    with pytest.raises(ValidationFailed):
        user_deactivate(acting_user=admin_user, user_id=leaver.pk, hand_over_to=inactive.pk)
    leaver.refresh_from_db()
    assert leaver.is_active and Customer.objects.filter(owner=leaver).count() == 2


def test_without_hand_over_records_stay_and_access_ends(admin_user, leaver, book):
    client = signed_in_client(leaver)
    result = user_deactivate(acting_user=admin_user, user_id=leaver.pk)
    assert result == {"api_tokens": 0, "sessions": 1}
    assert Customer.objects.filter(owner=leaver).count() == 2
    assert client.get(reverse("customers:list")).status_code == 302
    assert Client().post(reverse("accounts:login"), {"username": "leaver", "password": "pass-word-123"}
                         ).status_code == 200
    user_reactivate(acting_user=admin_user, user_id=leaver.pk)
    signed_in_client(leaver)


def test_the_admin_page_shows_counts_and_deactivates(admin_user, leaver, successor, book):
    web = Client()
    web.force_login(admin_user)
    url = reverse("accounts:user_deactivate", args=[leaver.pk])
    page = web.get(url).content.decode()
    assert "负责的客户：2 个" in page and "进行中的商机：1 个" in page and "接手的小李" in page
    response = web.post(url, {"hand_over_to": str(successor.pk)}, follow=True)
    assert "已停用" in response.content.decode()
    assert Customer.objects.filter(owner=successor).count() == 2
    rep = Client()
    rep.force_login(successor)
    assert rep.get(url).status_code == 403
