"""The customer edit page after someone else saved (issue 8, concurrent edits): the save is
refused (409) and nothing is written, what the user typed stays in the form, and a panel lists
per field the other person's change (old → new) and what the user typed, with a reload button."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from kehu.customers import services
from kehu.customers.models import Customer
from tests.etag_checks import state
from tests.factories import ManagerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales_client(client, sales_user):  # type: ignore[no-untyped-def]
    client.force_login(sales_user)
    return client


@pytest.fixture
def customer(sales_user):  # type: ignore[no-untyped-def]
    return services.customer_create(acting_user=sales_user, data={"name": "甲公司", "city": "北京", "notes": "老客户"})


def loaded_form(client: Any, customer: Customer) -> dict[str, Any]:
    """What the browser posts back unchanged: the form's initial values and the `_loaded` snapshot."""
    response = client.get(reverse("customers:edit", args=[customer.pk]))
    assert response.status_code == 200
    data = {k: v for k, v in response.context["form"].initial.items() if v is not None}
    data["_loaded"] = response.context["loaded"]
    assert f'name="_loaded" value="{data["_loaded"]}"' in response.content.decode()
    return data


def changes_of(response: Any) -> dict[str, Any]:
    return {c.name: c for c in response.context["changes"]}


def test_conflict_lists_the_other_persons_change_and_keeps_my_input(sales_client, sales_user, customer) -> None:
    data = loaded_form(sales_client, customer)
    colleague = ManagerFactory(department=sales_user.department, display_name="赵经理")
    services.customer_update(acting_user=colleague, customer=customer, data={"city": "广州", "short_name": "甲"})
    before = state(customer)

    data.update({"notes": "我写的备注"})
    response = sales_client.post(reverse("customers:edit", args=[customer.pk]), data)

    assert response.status_code == 409
    assert state(customer) == before
    changes = changes_of(response)
    assert set(changes) == {"city", "short_name", "notes", "province"}
    city = changes["city"]
    assert (city.changed_by_others, city.edited_by_me, city.loaded, city.current) == (True, False, "北京市", "广州市")
    assert changes["short_name"].loaded == "—" and changes["short_name"].current == "甲"
    notes = changes["notes"]
    assert (notes.changed_by_others, notes.edited_by_me, notes.mine) == (False, True, "我写的备注")
    body = response.content.decode()
    assert "他人的修改" in body and "重新载入" in body and "赵经理" in body
    assert "<del>北京市</del> → <ins>广州市</ins>" in body
    assert "我写的备注</textarea>" in body  # the user's input is still in the form


def test_a_field_both_changed_is_marked_as_a_clash(sales_client, sales_user, customer) -> None:
    data = loaded_form(sales_client, customer)
    services.customer_update(acting_user=sales_user, customer=customer, data={"notes": "别人的备注"})
    data.update({"notes": "我的备注"})
    response = sales_client.post(reverse("customers:edit", args=[customer.pk]), data)
    assert response.status_code == 409
    notes = changes_of(response)["notes"]
    assert notes.clash and (notes.loaded, notes.current, notes.mine) == ("老客户", "别人的备注", "我的备注")
    assert "（冲突）" in response.content.decode()
    assert Customer.objects.get(pk=customer.pk).notes == "别人的备注"


def test_saving_the_refused_form_again_is_refused_again(sales_client, sales_user, customer) -> None:
    data = loaded_form(sales_client, customer)
    services.customer_update(acting_user=sales_user, customer=customer, data={"city": "广州"})
    data.update({"city": "深圳"})
    first = sales_client.post(reverse("customers:edit", args=[customer.pk]), data)
    assert first.status_code == 409
    again = sales_client.post(reverse("customers:edit", args=[customer.pk]), data)
    assert again.status_code == 409
    assert Customer.objects.get(pk=customer.pk).city == "广州市"


def test_without_or_with_a_forged_snapshot_the_panel_compares_with_what_is_stored(sales_client, sales_user,
                                                                                    customer) -> None:
    data = loaded_form(sales_client, customer)
    services.customer_update(acting_user=sales_user, customer=customer, data={"city": "广州"})
    data.update({"notes": "我的备注", "_loaded": data["_loaded"] + "x"})
    response = sales_client.post(reverse("customers:edit", args=[customer.pk]), data)
    assert response.status_code == 409
    changes = changes_of(response)
    assert changes["notes"].loaded is None and changes["notes"].mine == "我的备注"
    assert changes["city"].current == "广州市" and not changes["city"].changed_by_others


def test_no_conflict_saves_normally(sales_client, customer) -> None:
    data = loaded_form(sales_client, customer)
    data.update({"notes": "新备注"})
    response = sales_client.post(reverse("customers:edit", args=[customer.pk]), data)
    assert response.status_code == 302
    assert Customer.objects.get(pk=customer.pk).notes == "新备注"
