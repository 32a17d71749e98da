"""/api/v1/quality/merge... endpoints and the redirect of merged ids in /api/v1/customers/<id>."""

from __future__ import annotations

import pytest

from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer
from kehu.dataquality.models import CustomerMerge, DistinctPair
from tests.api_client import Api, error_of
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(db):  # type: ignore[no-untyped-def]
    return UserFactory()


@pytest.fixture
def api(rep):  # type: ignore[no-untyped-def]
    return Api(rep)


@pytest.fixture
def twins(rep):  # type: ignore[no-untyped-def]
    first = customer_services.customer_create(acting_user=rep, data={"name": "上海云杉贸易有限公司",
                                                                     "phones": ["13812345678"]})
    second = customer_services.customer_create(acting_user=rep, data={"name": "云杉贸易", "phones": ["13900001111"],
                                                                      "website": "yunshan.com"})
    customer_services.contact_create(acting_user=rep, customer=second, data={"name": "赵敏"})
    return Customer.objects.get(pk=first.pk), Customer.objects.get(pk=second.pk)


def test_preview_merge_and_undo_round_trip(api, twins) -> None:
    first, second = twins
    response = api.post("/quality/merge/preview", {"ids": [second.pk, first.pk]})
    assert response.status_code == 200, response.content
    preview = response.json()
    assert preview["survivor_id"] == first.pk
    assert [c["id"] for c in preview["customers"]] == [first.pk, second.pk]
    website = next(f for f in preview["fields"] if f["name"] == "website")
    assert website["default"] == second.pk and website["differs"] is True
    assert preview["phones"] == ["13812345678", "13900001111"]
    assert {"label": "联系人", "count": 1} in preview["customers"][1]["related"]

    response = api.post("/quality/merge", {
        "survivor_id": first.pk, "merged_ids": [second.pk], "field_choices": {"name": second.pk},
        "expected_versions": preview["versions"],
    })
    assert response.status_code == 201, response.content
    merge = response.json()
    assert merge["merged_ids"] == [second.pk] and merge["can_undo"] is True
    assert merge["merged_names"] == {str(second.pk): "云杉贸易"}
    assert Customer.objects.get(pk=first.pk).name == "云杉贸易"
    assert api.get(f"/quality/merges/{merge['id']}").json()["survivor_id"] == first.pk

    response = api.post(f"/quality/merges/{merge['id']}/undo", {})
    assert response.status_code == 200, response.content
    assert response.json()["restored_ids"] == [second.pk]
    assert Customer.objects.get(pk=first.pk).name == "上海云杉贸易有限公司"
    assert Contact.objects.get(name="赵敏").customer_id == second.pk


def test_merge_with_a_stale_version_is_409_and_writes_nothing(api, twins, rep) -> None:
    first, second = twins
    customer_services.customer_update(acting_user=rep, customer=second, data={"city": "上海"})
    response = api.post("/quality/merge", {"survivor_id": first.pk, "merged_ids": [second.pk],
                                           "expected_versions": {str(second.pk): second.version}})
    assert response.status_code == 409
    assert error_of(response)["code"] == "version_conflict"
    assert Customer.objects.filter(pk=second.pk).exists() and not CustomerMerge.objects.exists()


def test_unknown_field_choice_is_422(api, twins) -> None:
    first, second = twins
    response = api.post("/quality/merge", {"survivor_id": first.pk, "merged_ids": [second.pk],
                                           "field_choices": {"password": first.pk}})
    assert response.status_code == 422
    assert error_of(response)["field"] == "password"


def test_customers_outside_the_scope_are_404_and_untouched(api, twins) -> None:
    first, _second = twins
    stranger = CustomerFactory(owner=UserFactory(), name="别人的客户")
    for path, body in (
        ("/quality/merge/preview", {"ids": [first.pk, stranger.pk]}),
        ("/quality/merge", {"survivor_id": first.pk, "merged_ids": [stranger.pk]}),
        ("/quality/merge", {"survivor_id": stranger.pk, "merged_ids": [first.pk]}),
        ("/quality/not-duplicate", {"a_id": first.pk, "b_id": stranger.pk}),
    ):
        response = api.post(path, body)
        assert response.status_code == 404, path
        assert "别人的客户" not in response.content.decode()
    assert Customer.objects.filter(pk=stranger.pk, name="别人的客户").exists()
    assert not CustomerMerge.objects.exists() and not DistinctPair.objects.exists()


def test_undo_conflict_is_409_listing_each_conflict(api, twins, rep) -> None:
    first, second = twins
    merge_id = api.post("/quality/merge", {"survivor_id": first.pk, "merged_ids": [second.pk]}).json()["id"]
    customer_services.customer_update(acting_user=rep, customer=Customer.objects.get(pk=first.pk),
                                      data={"website": "https://ys.cn"})
    response = api.post(f"/quality/merges/{merge_id}/undo", {})
    assert response.status_code == 409
    error = error_of(response)
    assert [e["field"] for e in error["errors"]] == ["website"]
    assert "网站" in error["message"]
    assert not Customer.objects.filter(pk=second.pk).exists()


def test_not_duplicate_is_remembered(api, twins) -> None:
    first, second = twins
    response = api.post("/quality/not-duplicate", {"a_id": second.pk, "b_id": first.pk})
    assert response.status_code == 200
    assert (response.json()["low_id"], response.json()["high_id"]) == tuple(sorted((first.pk, second.pk)))
    assert api.post("/quality/merge/preview", {"ids": [first.pk, second.pk]}).json()["marked_distinct"] is True


def test_get_of_a_merged_id_redirects_to_the_survivor(api, twins) -> None:
    first, second = twins
    api.post("/quality/merge", {"survivor_id": first.pk, "merged_ids": [second.pk]})
    response = api.get(f"/customers/{second.pk}")
    assert response.status_code == 308
    assert response["Location"] == f"/api/v1/customers/{first.pk}"
    assert response["Cache-Control"] == "no-store"
    assert error_of(response)["code"] == "merged" and error_of(response)["survivor_id"] == first.pk
    followed = api.client.get(response["Location"])
    assert followed.status_code == 200 and followed.json()["id"] == first.pk


def test_a_merged_id_is_404_for_whoever_cannot_see_the_survivor(twins, rep) -> None:
    first, second = twins
    Api(rep).post("/quality/merge", {"survivor_id": first.pk, "merged_ids": [second.pk]})
    response = Api(UserFactory()).get(f"/customers/{second.pk}")
    assert response.status_code == 404
    assert str(first.pk) not in response.content.decode()
