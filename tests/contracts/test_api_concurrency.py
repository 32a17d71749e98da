"""ETag / If-Match on contracts (issue 8, concurrent edits): GET names the version, a stale
If-Match is 412 on PATCH (fields and status alike) and DELETE and writes nothing."""

from __future__ import annotations

import pytest

from tests.api_client import Api, error_of
from tests.contracts.conftest import new_contract
from tests.etag_checks import check_delete_contract, check_patch_contract, check_two_editors, patch, state, tag
from tests.factories import ManagerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def contract(rep, customer):  # type: ignore[no-untyped-def]
    return new_contract(rep, customer)


def test_contract_get_patch_and_stale_if_match(rep, contract) -> None:
    check_patch_contract(Api(rep), f"/contracts/{contract.pk}", contract, field="title",
                         values=("年度服务合同（修订）", "三年服务合同", "框架协议"))


def test_contract_delete_honours_if_match(rep, contract) -> None:
    check_delete_contract(Api(rep), f"/contracts/{contract.pk}", contract)


def test_two_editors_the_second_is_refused(rep, contract) -> None:
    manager = ManagerFactory(department=rep.department, display_name="赵经理")
    check_two_editors(Api(rep), Api(manager), f"/contracts/{contract.pk}", contract, field="title",
                      mine="我的标题", theirs="经理的标题")


def test_a_stale_status_change_writes_neither_fields_nor_status(rep, contract) -> None:
    api = Api(rep)
    stale = tag(contract, contract.version + 7)
    before = state(contract)
    refused = patch(api, f"/contracts/{contract.pk}", {"title": "新标题", "status": "active"}, stale)
    assert refused.status_code == 412 and error_of(refused)["code"] == "precondition_failed"
    assert state(contract) == before
