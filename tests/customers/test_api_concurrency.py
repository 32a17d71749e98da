"""ETag / If-Match on customers and contacts (issue 8, concurrent edits): GET names the version,
a stale If-Match is 412 and writes nothing, the body's `version` keeps its 409."""

from __future__ import annotations

import pytest
from django.db import connection

from kehu.customers import services
from kehu.customers.models import Customer
from tests.api_client import Api, error_of
from tests.etag_checks import (
    check_delete_contract,
    check_patch_contract,
    check_two_editors,
    patch,
    race,
    state,
    tag,
)
from tests.factories import ManagerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(sales_user):  # type: ignore[no-untyped-def]
    return services.customer_create(acting_user=sales_user, data={"name": "北京分扬科技有限公司", "city": "北京市"})


@pytest.fixture
def contact(sales_user, customer):  # type: ignore[no-untyped-def]
    return services.contact_create(acting_user=sales_user, customer=customer, data={"name": "张伟", "title": "经理"})


def test_customer_get_patch_and_stale_if_match(sales_user, customer) -> None:
    check_patch_contract(Api(sales_user), f"/customers/{customer.pk}", customer, field="city",
                         values=("上海市", "广州市", "深圳市"))


def test_contact_get_patch_and_stale_if_match(sales_user, contact) -> None:
    check_patch_contract(Api(sales_user), f"/contacts/{contact.pk}", contact, field="title",
                         values=("总经理", "董事长", "顾问"))


def test_customer_delete_honours_if_match(sales_user, customer) -> None:
    check_delete_contract(Api(sales_user), f"/customers/{customer.pk}", customer)


def test_contact_delete_honours_if_match(sales_user, contact) -> None:
    check_delete_contract(Api(sales_user), f"/contacts/{contact.pk}", contact)


def test_two_editors_the_second_is_refused(sales_user, customer) -> None:
    manager = ManagerFactory(department=sales_user.department, display_name="赵经理")
    check_two_editors(Api(sales_user), Api(manager), f"/customers/{customer.pk}", customer, field="city",
                      mine="杭州市", theirs="南京市")


def test_body_version_still_409_and_one_of_them_is_required(sales_user, customer) -> None:
    api = Api(sales_user)
    path = f"/customers/{customer.pk}"
    stale_body = patch(api, path, {"version": customer.version + 5, "city": "x"}, tag(customer))
    assert stale_body.status_code == 409 and error_of(stale_body)["code"] == "version_conflict"
    neither = patch(api, path, {"city": "x"}, None)
    assert neither.status_code == 422 and error_of(neither)["field"] == "version"
    header_only = patch(api, path, {"city": "成都市"}, tag(customer))
    assert header_only.status_code == 200 and header_only.json()["city"] == "成都市"


def test_a_hidden_record_is_404_whatever_the_header(sales_user, customer) -> None:
    stranger = Api(UserFactory())
    before = state(customer)
    for header in (tag(customer), tag(customer, 99), "*", "garbage"):
        response = patch(stranger, f"/customers/{customer.pk}", {"city": "x"}, header)
        assert response.status_code in (404, 400), response.content
        assert "current_version" not in error_of(response)
    assert state(customer) == before


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_writers_with_the_same_etag_exactly_one_wins() -> None:
    owner = UserFactory()
    manager = ManagerFactory(department=owner.department)
    customer = services.customer_create(acting_user=owner, data={"name": "并发测试有限公司"})
    loaded = tag(customer)
    codes = race([Api(owner), Api(manager)], f"/customers/{customer.pk}",
                 [{"city": "甲市"}, {"city": "乙市"}], loaded)
    assert sorted(codes) == [200, 412]
    stored = Customer.objects.get(pk=customer.pk)
    assert stored.version == customer.version + 1
    assert stored.city == ("甲市" if codes[0] == 200 else "乙市")
