"""ETag / If-Match on follow-ups and tasks (issue 8, concurrent edits): GET names the version, a
stale If-Match is 412 on PATCH (and DELETE of a follow-up) and writes nothing; `version` keeps 409."""

from __future__ import annotations

import pytest

from kehu.activities import services
from tests.api_client import BASE, Api, error_of
from tests.etag_checks import check_delete_contract, check_patch_contract, check_two_editors, patch, state, tag

pytestmark = pytest.mark.django_db


@pytest.fixture
def followup(rep, customer):  # type: ignore[no-untyped-def]
    return services.followup_create(acting_user=rep, customer_id=customer.pk, kind="call", content="电话沟通需求")


@pytest.fixture
def task(rep):  # type: ignore[no-untyped-def]
    return services.task_create(acting_user=rep, assignee=rep, title="整理报价单")


def test_followup_get_patch_and_stale_if_match(rep, followup) -> None:
    check_patch_contract(Api(rep), f"/followups/{followup.pk}", followup, field="content",
                         values=("电话沟通报价", "上门演示", "确认合同条款"))


def test_followup_delete_honours_if_match(rep, followup) -> None:
    check_delete_contract(Api(rep), f"/followups/{followup.pk}", followup)


def test_task_get_patch_and_stale_if_match(rep, task) -> None:
    check_patch_contract(Api(rep), f"/tasks/{task.pk}", task, field="title",
                         values=("整理报价单 v2", "发送报价单", "跟进报价反馈"))


def test_two_editors_of_a_followup_the_second_is_refused(rep, manager, followup) -> None:
    check_two_editors(Api(rep), Api(manager), f"/followups/{followup.pk}", followup, field="content",
                      mine="我的记录", theirs="经理补充的记录")


def test_a_stale_status_change_of_a_task_is_412(rep, task) -> None:
    before = state(task)
    refused = patch(Api(rep), f"/tasks/{task.pk}", {"status": "done"}, tag(task, task.version + 2))
    assert refused.status_code == 412 and error_of(refused)["code"] == "precondition_failed"
    assert state(task) == before


def test_body_version_stays_409_when_the_header_matches(rep, task) -> None:
    response = patch(Api(rep), f"/tasks/{task.pk}", {"title": "x", "version": task.version + 3}, tag(task))
    assert response.status_code == 409 and error_of(response)["code"] == "version_conflict"


def test_complete_with_a_stale_if_match_is_412_and_with_the_current_one_200(rep, task) -> None:
    api = Api(rep)
    before = state(task)
    refused = api.client.post(f"{BASE}/tasks/{task.pk}/complete", HTTP_IF_MATCH=tag(task, task.version + 1))
    assert refused.status_code == 412 and state(task) == before
    done = api.client.post(f"{BASE}/tasks/{task.pk}/complete", HTTP_IF_MATCH=tag(task))
    assert done.status_code == 200 and done.json()["status"] == "done" and done["ETag"] == tag(task)
