"""Web pages: My day, calendar (full page and HTMX partial), follow-up form and quick entry from the
customer page, the customer list's quick link, task list/forms with HTMX completion, kinds settings."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from kehu.activities import services
from kehu.activities.models import FollowUp, FollowUpKind, Task, TaskStatus

from .conftest import soon

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(rep):  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(rep)
    return client


def test_nav_has_my_day_and_the_page_renders_sections(web, rep, customer) -> None:
    services.task_create(acting_user=rep, assignee=rep, title="今天要做的", due_at=soon(0, 23, 59))
    services.followup_create(acting_user=rep, customer_id=customer.pk, kind="call", content="电话",
                             next_step="回访", next_followup_at=soon(0, 23, 59))
    response = web.get("/activities/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'href="/activities/"' in html and "今天要做的" in html and "回访（北京分扬科技有限公司）" in html
    assert 'data-testid="calendar-feed"' in html and "activities/activities.css" in html
    assert 'name="viewport"' in html


def test_calendar_page_and_htmx_navigation(web, rep) -> None:
    services.task_create(acting_user=rep, assignee=rep, title="月度复盘", due_at=soon(0, 23, 59))
    page = web.get("/activities/calendar/")
    assert page.status_code == 200 and "月度复盘" in page.content.decode() and "<html" in page.content.decode()
    today = timezone.localdate()
    partial = web.get(f"/activities/calendar/?mode=week&date={today:%Y-%m-%d}", HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert "<html" not in html and 'data-mode="week"' in html and "月度复盘" in html
    assert web.get("/activities/calendar/?mode=month&date=bad").status_code == 200


def test_followup_form_creates_with_check_in_and_next_step(web, rep, customer, contact) -> None:
    page = web.get(f"/activities/followups/new/?customer={customer.pk}")
    html = page.content.decode()
    assert page.status_code == 200 and "张伟" in html and "data-check-in-button" in html
    response = web.post("/activities/followups/new/", {
        "customer": customer.pk, "kind": "visit", "content": "上门拜访，见了老板", "outcome": "有意向",
        "contact_ids": [contact.pk], "next_step": "发报价", "next_followup_at": soon(2, 9).strftime("%Y-%m-%dT%H:%M"),
        "latitude": "31.230416", "longitude": "121.473701", "accuracy": "15", "address": "人民大道",
        "next": f"/customers/{customer.pk}/"})
    assert response.status_code == 302 and response["Location"] == f"/customers/{customer.pk}/"
    followup = FollowUp.objects.get()
    assert (followup.kind.code, followup.address, str(followup.latitude)) == ("visit", "人民大道", "31.230416")
    assert Task.objects.get(followup=followup).due_at == soon(2, 9)


def test_followup_form_shows_service_errors(web, customer) -> None:
    future = soon(3).strftime("%Y-%m-%dT%H:%M")
    response = web.post("/activities/followups/new/", {"customer": customer.pk, "kind": "call", "content": "x",
                                                       "occurred_at": future})
    assert response.status_code == 200 and "跟进时间不能晚于现在" in response.content.decode()
    assert FollowUp.objects.count() == 0


def test_customer_page_has_quick_entry_and_open_tasks(web, rep, customer) -> None:
    services.task_create(acting_user=rep, assignee=rep, title="准备合同", customer_id=customer.pk)
    html = web.get(f"/customers/{customer.pk}/").content.decode()
    assert 'data-testid="quick-followup"' in html and "准备合同" in html
    response = web.post("/activities/followups/new/", {"customer": customer.pk, "kind": "wechat",
                                                       "content": "微信发了报价", "next": f"/customers/{customer.pk}/"})
    assert response.status_code == 302
    html = web.get(f"/customers/{customer.pk}/").content.decode()
    assert "微信跟进" in html and "微信发了报价" in html  # on the timeline


def test_customer_list_has_a_quick_followup_link(web, customer) -> None:
    html = web.get("/customers/").content.decode()
    assert f"/activities/followups/new/?customer={customer.pk}" in html


def test_other_reps_customer_and_followup_are_404(web, other_rep, other_customer) -> None:
    assert web.get(f"/activities/followups/new/?customer={other_customer.pk}").status_code == 404
    theirs = services.followup_create(acting_user=other_rep, customer_id=other_customer.pk, kind="call",
                                      content="别人的")
    assert web.get(f"/activities/followups/{theirs.pk}/edit/").status_code == 404
    assert web.post(f"/activities/followups/{theirs.pk}/delete/").status_code == 404
    assert FollowUp.objects.filter(pk=theirs.pk).exists()


def test_followup_edit_and_delete(web, rep, customer) -> None:
    followup = services.followup_create(acting_user=rep, customer_id=customer.pk, kind="call", content="电话")
    page = web.get(f"/activities/followups/{followup.pk}/edit/")
    assert page.status_code == 200
    occurred = timezone.localtime(followup.occurred_at).strftime("%Y-%m-%dT%H:%M")
    web.post(f"/activities/followups/{followup.pk}/edit/", {"kind": "meeting", "content": "改成会议",
                                                            "occurred_at": occurred, "version": 1})
    followup.refresh_from_db()
    assert (followup.kind.code, followup.content) == ("meeting", "改成会议")
    web.post(f"/activities/followups/{followup.pk}/delete/")
    assert not FollowUp.objects.filter(pk=followup.pk).exists()
    assert web.get("/activities/followups/").status_code == 200


def test_tasks_pages_and_htmx_complete(web, rep, customer) -> None:
    response = web.post("/activities/tasks/new/", {"title": "打电话", "priority": "high", "assignee": rep.pk,
                                                   "due_at": soon(1, 9).strftime("%Y-%m-%dT%H:%M"),
                                                   "customer_id": customer.pk})
    assert response.status_code == 302
    task = Task.objects.get()
    assert (task.title, task.customer_id, task.due_at) == ("打电话", customer.pk, soon(1, 9))
    assert "打电话" in web.get("/activities/tasks/").content.decode()
    row = web.post(f"/activities/tasks/{task.pk}/complete/", HTTP_HX_REQUEST="true")
    assert row.status_code == 200 and "is-done" in row.content.decode() and row["HX-Trigger"] == "timelineChanged"
    assert Task.objects.get().status == TaskStatus.DONE
    web.post(f"/activities/tasks/{task.pk}/reopen/")
    web.post(f"/activities/tasks/{task.pk}/", {"title": "打电话（改）", "priority": "low", "assignee": rep.pk,
                                               "version": 3})
    task.refresh_from_db()
    assert (task.status, task.title, task.priority, task.due_at) == ("open", "打电话（改）", "low", None)


def test_kinds_settings_admin_only(web, admin_user) -> None:
    assert web.get("/activities/settings/kinds/").status_code == 403
    admin = Client()
    admin.force_login(admin_user)
    assert admin.get("/activities/settings/kinds/").status_code == 200
    admin.post("/activities/settings/kinds/", {"code": "demo", "name_zh": "产品演示", "name_en": "Demo",
                                               "is_active": "on"})
    assert FollowUpKind.objects.get(code="demo").name_en == "Demo"


def test_list_pages_make_a_constant_number_of_queries(web, rep, customer, contact) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def counts() -> list[int]:
        out = []
        for url in ("/activities/", "/activities/tasks/", "/activities/followups/", "/activities/calendar/",
                    "/api/v1/followups", "/api/v1/tasks"):
            with CaptureQueriesContext(connection) as ctx:
                assert web.get(url).status_code == 200
            out.append(len(ctx.captured_queries))
        return out

    def add(n: int) -> None:
        for i in range(n):
            services.followup_create(acting_user=rep, customer_id=customer.pk, kind="call", content=f"电话{i}",
                                     contact_ids=[contact.pk], next_step="回访", next_followup_at=soon(0, 23, 59))
            services.task_create(acting_user=rep, assignee=rep, title=f"任务{i}", customer_id=customer.pk,
                                 due_at=soon(0, 23, 58))

    add(2)
    counts()  # warm caches (content types, per-process lookups)
    few = counts()
    add(8)
    assert counts() == few


def test_lists_are_paged(web, rep, monkeypatch) -> None:
    from kehu.activities import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for i in range(5):
        services.task_create(acting_user=rep, assignee=rep, title=f"第{i}项", due_at=soon(1, 9, i))
    first = web.get("/activities/tasks/").content.decode()
    assert "第0项" in first and "第2项" not in first and "1 / 3" in first and "page=2" in first
    last = web.get("/activities/tasks/?page=3").content.decode()
    assert "第4项" in last and "第0项" not in last


def test_deal_and_contract_pages_link_to_the_forms(web, rep, customer) -> None:
    from decimal import Decimal
    from html import unescape

    from kehu.contracts.models import Contract
    from kehu.sales.models import Opportunity, Stage

    stage = Stage.objects.filter(pipeline__is_default=True, kind="open").first()
    deal = Opportunity.objects.create(name="年度采购", customer=customer, owner=rep, pipeline=stage.pipeline,
                                      stage=stage)
    contract = Contract.objects.create(number="HT9", title="服务合同", customer=customer, owner=rep,
                                       amount=Decimal("100"), opportunity=deal)
    page = unescape(web.get(f"/sales/opportunities/{deal.pk}/").content.decode())
    assert (f'href="/activities/followups/new/?customer={customer.pk}&opportunity={deal.pk}'
            f'&next=/sales/opportunities/{deal.pk}/" class="btn" data-testid="deal-followup"') in page
    assert f'href="/activities/tasks/new/?customer={customer.pk}&opportunity={deal.pk}&next=' in page
    page = unescape(web.get(f"/contracts/{contract.pk}/").content.decode())
    assert f'href="/activities/followups/new/?customer={customer.pk}&opportunity={deal.pk}&next=' in page
    assert f'href="/activities/tasks/new/?customer={customer.pk}&contract={contract.pk}&next=' in page

    # The forms take them: the task form pre-selects the contract, the follow-up form the deal.
    form = web.get(f"/activities/tasks/new/?customer={customer.pk}&contract={contract.pk}").content.decode()
    assert f'name="contract_id" value="{contract.pk}"' in form
    form = web.get(f"/activities/followups/new/?customer={customer.pk}&opportunity={deal.pk}").content.decode()
    assert f'value="{deal.pk}" selected' in form


def test_settings_nav_links_to_the_kinds_for_admins(web, admin_user) -> None:
    assert "/activities/settings/kinds/" not in web.get("/customers/settings/tags/").content.decode()
    admin = Client()
    admin.force_login(admin_user)
    html = admin.get("/customers/settings/tags/").content.decode()
    assert 'href="/activities/settings/kinds/"' in html and 'data-testid="settings-followup-kinds"' in html
