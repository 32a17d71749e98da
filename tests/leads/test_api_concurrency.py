"""ETag / If-Match on leads (issue 8, concurrent edits): GET names the version, a stale If-Match
is 412 on PATCH and DELETE and writes nothing; `expected_version` keeps 409."""

from __future__ import annotations

import pytest

from kehu.leads import services
from tests.api_client import BASE, Api, error_of
from tests.etag_checks import check_delete_contract, check_patch_contract, check_two_editors, patch, state, tag
from tests.factories import ManagerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(sales_user):  # type: ignore[no-untyped-def]
    return services.lead_create(acting_user=sales_user, data={"name": "张伟", "company": "分扬科技"}).lead


def test_lead_get_patch_and_stale_if_match(sales_user, lead) -> None:
    check_patch_contract(Api(sales_user), f"/leads/{lead.pk}", lead, field="company",
                         values=("分扬网络", "分扬贸易", "分扬集团"))


def test_lead_delete_honours_if_match(sales_user, lead) -> None:
    check_delete_contract(Api(sales_user), f"/leads/{lead.pk}", lead)


def test_two_editors_the_second_is_refused(sales_user, lead) -> None:
    manager = ManagerFactory(department=sales_user.department, display_name="赵经理")
    check_two_editors(Api(sales_user), Api(manager), f"/leads/{lead.pk}", lead, field="company",
                      mine="我的公司名", theirs="经理的公司名")


def test_body_version_stays_409_when_the_header_matches(sales_user, lead) -> None:
    response = patch(Api(sales_user), f"/leads/{lead.pk}", {"company": "x", "expected_version": lead.version + 3},
                     tag(lead))
    assert response.status_code == 409 and error_of(response)["code"] == "version_conflict"


def test_status_and_convert_with_a_stale_if_match_are_412(sales_user, lead) -> None:
    api = Api(sales_user)
    stale = tag(lead, lead.version + 4)
    before = state(lead)
    for path, body in ((f"/leads/{lead.pk}/status", '{"status": "contacted"}'),
                       (f"/leads/{lead.pk}/convert", '{"create_opportunity": false}')):
        refused = api.client.post(BASE + path, body, content_type="application/json", HTTP_IF_MATCH=stale)
        assert refused.status_code == 412 and error_of(refused)["code"] == "precondition_failed"
        assert state(lead) == before
    ok = api.client.post(f"{BASE}/leads/{lead.pk}/status", '{"status": "contacted"}',
                         content_type="application/json", HTTP_IF_MATCH=tag(lead))
    assert ok.status_code == 200 and ok["ETag"] == tag(lead) and ok.json()["status"] == "contacted"
