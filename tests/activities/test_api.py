"""/api/v1 follow-ups, follow-up kinds, tasks and me/day with a real API token."""

from __future__ import annotations

import pytest

from kehu.activities.models import FollowUp, Task
from tests.api_client import Api, error_of

from .conftest import soon

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(rep):  # type: ignore[no-untyped-def]
    return Api(rep)


def test_followup_kinds(api) -> None:
    response = api.get("/followup-kinds")
    assert response.status_code == 200
    assert [k["code"] for k in response.json()] == ["call", "visit", "meeting", "wechat", "email", "note"]
    assert response.json()[1]["allows_check_in"] is True


def test_followup_crud(api, rep, customer, contact) -> None:
    response = api.post("/followups", {
        "customer": customer.pk, "kind": "visit", "content": "上门拜访", "outcome": "有意向",
        "contacts": [contact.pk], "next_step": "发报价", "next_followup_at": soon(2, 9).isoformat(),
        "check_in": {"latitude": 31.230416, "longitude": 121.473701, "accuracy": 20, "address": "人民大道"}})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "visit" and body["contacts"] == [{"id": contact.pk, "name": "张伟"}]
    assert body["check_in"]["map_url"] == "https://uri.amap.com/marker?position=121.473701,31.230416"
    assert body["next_task_id"] == Task.objects.get(followup_id=body["id"]).pk
    fid = body["id"]

    assert api.get(f"/followups/{fid}").json()["outcome"] == "有意向"
    patched = api.patch(f"/followups/{fid}", {"outcome": "已报价", "version": 1})
    assert patched.status_code == 200 and patched.json()["outcome"] == "已报价" and patched.json()["version"] == 2
    assert api.patch(f"/followups/{fid}", {"outcome": "x", "version": 1}).status_code == 409
    listed = api.get("/followups", {"customer": customer.pk, "kind": "visit"}).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == fid
    assert api.get("/followups", {"kind": "call"}).json()["total"] == 0
    assert api.delete(f"/followups/{fid}").status_code == 204
    assert not FollowUp.objects.filter(pk=fid).exists()


def test_followup_errors_and_scope(api, customer, other_rep, other_customer) -> None:
    response = api.post("/followups", {"customer": customer.pk, "kind": "fax", "content": ""})
    assert response.status_code == 422
    assert {e["field"] for e in error_of(response)["errors"]} == {"kind", "content"}
    hidden = api.post("/followups", {"customer": other_customer.pk, "kind": "call", "content": "试试"})
    assert hidden.status_code == 404
    theirs = Api(other_rep).post("/followups", {"customer": other_customer.pk, "kind": "call", "content": "别人的"})
    assert api.get(f"/followups/{theirs.json()['id']}").status_code == 404
    assert api.get("/followups").json()["total"] == 0


def test_tasks(api, rep, other_rep, customer) -> None:
    created = api.post("/tasks", {"title": "整理报价", "due_at": soon(1, 9).isoformat(), "priority": "high",
                                  "customer": customer.pk, "source_key": "api:1"})
    assert created.status_code == 201, created.content
    task = created.json()
    assert (task["assignee"]["id"], task["customer"]["id"], task["priority"]) == (rep.pk, customer.pk, "high")
    again = api.post("/tasks", {"title": "整理报价", "source_key": "api:1"})
    assert again.status_code == 200 and again.json()["id"] == task["id"] and Task.objects.count() == 1

    api.post("/tasks", {"title": "给别人", "assignee": other_rep.pk})
    assert [t["title"] for t in api.get("/tasks", {"mine": True}).json()["items"]] == ["整理报价"]
    assert api.get("/tasks").json()["total"] == 2  # the one created for a colleague too
    assert Api(other_rep).get("/tasks").json()["items"][0]["title"] == "给别人"

    done = api.post(f"/tasks/{task['id']}/complete", {})
    assert done.json()["status"] == "done" and done.json()["completed_at"]
    assert api.get("/tasks", {"status": "open", "mine": True}).json()["total"] == 0
    reopened = api.patch(f"/tasks/{task['id']}", {"status": "open", "title": "整理报价（改）"})
    assert reopened.json()["status"] == "open" and reopened.json()["title"] == "整理报价（改）"
    assert api.patch(f"/tasks/{task['id']}", {"status": "later"}).status_code == 422
    assert Api(other_rep).post(f"/tasks/{task['id']}/complete", {}).status_code == 404


def test_me_day(api, rep, customer) -> None:
    api.post("/followups", {"customer": customer.pk, "kind": "call", "content": "电话",
                            "next_step": "回访", "next_followup_at": soon(0, 23, 50).isoformat()})
    api.post("/tasks", {"title": "今天的", "due_at": soon(0, 23, 55).isoformat()})
    api.post("/tasks", {"title": "明天的", "due_at": soon(1, 9).isoformat()})
    day = api.get("/me/day").json()
    assert [t["title"] for t in day["today_tasks"]] == ["今天的"]
    assert [t["title"] for t in day["today_followups"]] == ["回访（北京分扬科技有限公司）"]
    assert [t["title"] for t in day["upcoming"]] == ["明天的"]
    assert day["pool_reminders"] == [] and day["instalments"] == [] and day["contracts_expiring"] == []


def test_session_auth_and_anonymous(client, rep) -> None:
    assert client.get("/api/v1/tasks").status_code == 401
    client.force_login(rep)
    assert client.get("/api/v1/me/day").status_code == 200
