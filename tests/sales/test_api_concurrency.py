"""ETag / If-Match on opportunities (issue 8, concurrent edits): GET names the version, a stale
If-Match is 412 on PATCH, DELETE and the kanban move and writes nothing; `expected_version` keeps 409."""

from __future__ import annotations

from typing import Any

import pytest

from kehu.customers.services import customer_create
from kehu.sales import services
from kehu.sales.models import Stage
from tests.api_client import BASE, Api, error_of
from tests.etag_checks import check_delete_contract, check_patch_contract, check_two_editors, patch, state, tag
from tests.factories import ManagerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(db):  # type: ignore[no-untyped-def]
    return UserFactory(display_name="李销售")


@pytest.fixture
def deal(rep):  # type: ignore[no-untyped-def]
    customer = customer_create(acting_user=rep, data={"name": "北京分扬科技有限公司"})
    return services.opportunity_create(acting_user=rep, data={"name": "年度采购", "customer": customer.pk})


def test_opportunity_get_patch_and_stale_if_match(rep, deal) -> None:
    check_patch_contract(Api(rep), f"/opportunities/{deal.pk}", deal, field="next_step",
                         values=("发报价", "约演示", "签合同"))


def test_opportunity_delete_honours_if_match(rep, deal) -> None:
    check_delete_contract(Api(rep), f"/opportunities/{deal.pk}", deal)


def test_two_editors_the_second_is_refused(rep, deal) -> None:
    manager = ManagerFactory(department=rep.department, display_name="赵经理")
    check_two_editors(Api(rep), Api(manager), f"/opportunities/{deal.pk}", deal, field="next_step",
                      mine="我的下一步", theirs="经理的下一步")


def test_move_with_a_stale_if_match_is_412_and_stays_in_its_stage(rep, deal) -> None:
    api = Api(rep)
    stale = tag(deal, deal.version + 5)
    target: Any = Stage.objects.filter(pipeline=deal.pipeline).exclude(pk=deal.stage_id).order_by("position").first()
    before = state(deal)
    refused = api.client.post(f"{BASE}/opportunities/{deal.pk}/move", f'{{"stage": {target.pk}}}',
                              content_type="application/json", HTTP_IF_MATCH=stale)
    assert refused.status_code == 412 and error_of(refused)["code"] == "precondition_failed"
    assert state(deal) == before


def test_body_version_stays_409_when_the_header_matches(rep, deal) -> None:
    response = patch(Api(rep), f"/opportunities/{deal.pk}", {"next_step": "x", "expected_version": deal.version + 3},
                     tag(deal))
    assert response.status_code == 409 and error_of(response)["code"] == "version_conflict"
