"""Web pages of the pool through the Django test client."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kehu.customers.models import Customer
from kehu.pool import services
from kehu.pool.models import CustomerPool, PoolEntry
from tests.factories import AdminFactory
from tests.pool.conftest import owned

pytestmark = pytest.mark.django_db


def test_list_shows_masked_customers_and_claims(client, rep, rep2, pool):
    customer = owned(rep, name="北京分扬科技有限公司", phones=["13812345678"], phones_e164=["+8613812345678"])
    services.pool_release(acting_user=rep, customer_id=customer.pk, reason="无需求")
    client.force_login(rep2)
    page = client.get(reverse("pool:list")).content.decode()
    assert "北京分扬科技有限公司" in page and "138****5678" in page and "13812345678" not in page
    response = client.post(reverse("pool:claim", args=[pool.pk, customer.pk]))
    assert response.status_code == 302
    assert Customer.objects.get(pk=customer.pk).owner == rep2


def test_release_form_requires_reason(client, rep, pool):
    customer = owned(rep)
    client.force_login(rep)
    url = reverse("pool:release", args=[customer.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"reason": ""})
    assert response.status_code == 200 and not PoolEntry.objects.exists()
    assert client.post(url, {"reason": "客户已倒闭"}).status_code == 302
    assert PoolEntry.objects.get().reason == "客户已倒闭"


def test_outsider_sees_no_pool_and_cannot_claim(client, rep, outsider, pool):
    customer = owned(rep)
    services.pool_release(acting_user=rep, customer_id=customer.pk, reason="无需求")
    client.force_login(outsider)
    assert "你还不是任何公海的成员" in client.get(reverse("pool:list")).content.decode()
    assert client.post(reverse("pool:claim", args=[pool.pk, customer.pk])).status_code == 404


def test_admin_settings_saves_rules(client, rep, team):
    client.force_login(rep)
    assert client.get(reverse("pool:settings")).status_code == 403
    client.force_login(AdminFactory())
    response = client.post(reverse("pool:settings"), {
        "name": "华东公海", "is_default": "on", "is_active": "on", "holding_cap": 50, "daily_claim_limit": 5,
        "reclaim_cooldown_days": 7, "return_no_followup_days": 30, "return_no_won_days": 0, "remind_days_before": 3,
        "exempt_open_opportunity": "on", "member_departments": [team.pk]})
    assert response.status_code == 302, response.content.decode()[:2000]
    pool = CustomerPool.objects.get(name="华东公海")
    assert pool.daily_claim_limit == 5 and list(pool.member_departments.all()) == [team]
    assert not pool.exempt_live_contract
    assert client.get(reverse("pool:settings_edit", args=[pool.pk])).status_code == 200
    assert client.post(reverse("pool:run_scan")).status_code == 302


def test_reminders_section_lists_customers_about_to_return(client, rep, pool):
    from kehu.pool.models import ReturnReminder
    from tests.pool.conftest import days

    pool.return_no_followup_days = 30
    pool.remind_days_before = 5
    pool.save()
    customer = owned(rep, name="上海即将退回有限公司")
    Customer.objects.filter(pk=customer.pk).update(last_activity_at=customer.created_at - days(27))
    services.auto_return_scan()
    assert ReturnReminder.objects.filter(customer=customer).exists()
    client.force_login(rep)
    page = client.get(reverse("pool:list")).content.decode()
    assert "即将退回公海的客户" in page and "上海即将退回有限公司" in page
