"""The compare & merge pages through the Django test client: the link from the customer page, the
picker, the side-by-side form with a radio per field, the undo button, "not a duplicate", and
old links of merged customers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kehu.customers import services as customer_services
from kehu.customers.models import Customer
from kehu.dataquality.merging.selectors import is_distinct
from kehu.dataquality.merging.services import customers_merge
from kehu.dataquality.models import CustomerMerge
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

COMPARE = reverse("dataquality:merge_compare")


def html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


@pytest.fixture
def rep(db):  # type: ignore[no-untyped-def]
    return UserFactory()


@pytest.fixture
def rep_client(client, rep):  # type: ignore[no-untyped-def]
    client.force_login(rep)
    return client


@pytest.fixture
def twins(rep):  # type: ignore[no-untyped-def]
    first = customer_services.customer_create(acting_user=rep, data={"name": "杭州青禾文化传媒有限公司",
                                                                     "city": "杭州"})
    second = customer_services.customer_create(acting_user=rep, data={"name": "青禾文化", "website": "qinghe.cn",
                                                                      "phones": ["13812345678"]})
    return Customer.objects.get(pk=first.pk), Customer.objects.get(pk=second.pk)


def test_customer_page_links_to_the_picker_which_finds_the_other_record(rep_client, twins) -> None:
    first, second = twins
    detail = html(rep_client.get(reverse("customers:detail", args=[first.pk])))
    pick_url = reverse("dataquality:merge_pick", args=[first.pk])
    assert pick_url in detail and "合并重复" in detail
    results = rep_client.get(pick_url, {"q": "青禾"}, HTTP_HX_REQUEST="true")
    assert results.status_code == 200
    assert f"{COMPARE}?ids={first.pk},{second.pk}" in html(results)
    assert f"ids={first.pk},{first.pk}" not in html(results)  # the record itself is not offered


def test_compare_page_shows_a_radio_per_differing_field_with_defaults(rep_client, twins) -> None:
    first, second = twins
    response = rep_client.get(COMPARE, {"ids": f"{first.pk},{second.pk}"})
    assert response.status_code == 200
    page = html(response)
    assert f'name="choice_website" value="{second.pk}" checked' in page
    assert f'name="choice_city" value="{first.pk}" checked' in page
    assert 'name="choice_kind"' not in page  # same value on both: nothing to choose
    assert f'name="version_{second.pk}" value="{second.version}"' in page
    assert "13812345678" in page and "确认合并" in page


def test_posting_the_form_merges_with_the_chosen_values(rep_client, twins) -> None:
    first, second = twins
    response = rep_client.post(COMPARE, {
        "ids": f"{first.pk},{second.pk}", "survivor": str(first.pk), "choice_name": str(second.pk),
        f"version_{first.pk}": str(first.version), f"version_{second.pk}": str(second.version),
    })
    assert response.status_code == 302 and response["Location"] == reverse("customers:detail", args=[first.pk])
    survivor = Customer.objects.get(pk=first.pk)
    assert survivor.name == "青禾文化" and survivor.city == "杭州市" and survivor.website == "https://qinghe.cn"
    assert not Customer.objects.filter(pk=second.pk).exists()


def test_a_stale_form_shows_the_conflict_and_merges_nothing(rep_client, twins, rep) -> None:
    first, second = twins
    customer_services.customer_update(acting_user=rep, customer=second, data={"city": "宁波"})
    response = rep_client.post(COMPARE, {"ids": f"{first.pk},{second.pk}", "survivor": str(first.pk),
                                         f"version_{second.pk}": str(second.version)})
    assert response.status_code == 422
    assert "已被他人修改" in html(response)
    assert Customer.objects.filter(pk=second.pk).exists()


def test_survivor_page_offers_undo_and_undo_restores(rep_client, twins, rep) -> None:
    first, second = twins
    merge = customers_merge(acting_user=rep, survivor_id=first.pk, merged_ids=[second.pk])
    detail = html(rep_client.get(reverse("customers:detail", args=[first.pk])))
    undo_url = reverse("dataquality:merge_undo", args=[merge.pk])
    assert undo_url in detail and "撤销合并" in detail
    assert f"合并了重复客户 青禾文化（#{second.pk}）" in detail  # the timeline entry
    record = html(rep_client.get(reverse("dataquality:merge_record", args=[merge.pk])))
    assert undo_url in record
    response = rep_client.post(undo_url)
    assert response.status_code == 302
    assert Customer.objects.filter(pk=second.pk).exists()
    assert CustomerMerge.objects.get(pk=merge.pk).undone_at is not None
    assert undo_url not in html(rep_client.get(reverse("customers:detail", args=[first.pk])))


def test_undo_conflict_is_shown_to_the_user(rep_client, twins, rep) -> None:
    first, second = twins
    merge = customers_merge(acting_user=rep, survivor_id=first.pk, merged_ids=[second.pk])
    customer_services.customer_update(acting_user=rep, customer=Customer.objects.get(pk=first.pk),
                                      data={"website": "https://qh.cn"})
    response = rep_client.post(reverse("dataquality:merge_undo", args=[merge.pk]), follow=True)
    assert "无法撤销合并" in html(response) and "网站" in html(response)
    assert not Customer.objects.filter(pk=second.pk).exists()


def test_old_link_of_a_merged_customer_redirects_to_the_survivor(rep_client, twins, rep) -> None:
    first, second = twins
    customers_merge(acting_user=rep, survivor_id=first.pk, merged_ids=[second.pk])
    response = rep_client.get(reverse("customers:detail", args=[second.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:detail", args=[first.pk])


def test_pages_of_customers_outside_the_scope_are_404(client, twins) -> None:
    first, second = twins
    outsider = UserFactory()
    client.force_login(outsider)
    customers_merge(acting_user=first.owner, survivor_id=first.pk, merged_ids=[second.pk])
    merge = CustomerMerge.objects.get()
    assert client.get(COMPARE, {"ids": f"{first.pk},{CustomerFactory(owner=outsider).pk}"}).status_code == 404
    assert client.get(reverse("dataquality:merge_pick", args=[first.pk])).status_code == 404
    assert client.get(reverse("dataquality:merge_record", args=[merge.pk])).status_code == 404
    assert client.post(reverse("dataquality:merge_undo", args=[merge.pk])).status_code == 404
    assert client.get(reverse("customers:detail", args=[second.pk])).status_code == 404
    assert not Customer.objects.filter(pk=second.pk).exists()


def test_not_a_duplicate_button_records_the_decision(rep_client, twins) -> None:
    first, second = twins
    response = rep_client.post(reverse("dataquality:not_duplicate"), {
        "ids": f"{first.pk},{second.pk}", "next": reverse("customers:detail", args=[first.pk])})
    assert response.status_code == 302 and response["Location"] == reverse("customers:detail", args=[first.pk])
    assert is_distinct(first.pk, second.pk)
