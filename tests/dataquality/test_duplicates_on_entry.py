"""Duplicate warnings before a save: found through the fresh indexes, scored, masked by scope."""

from __future__ import annotations

import pytest

from kehu.customers import services
from kehu.dataquality.duplicates import blocking_duplicates, likely_duplicates, role_values
from tests.factories import AdminFactory, DepartmentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep_a():  # type: ignore[no-untyped-def]
    return UserFactory(display_name="王销售", department=DepartmentFactory(name="北京一部"))


@pytest.fixture
def rep_b():  # type: ignore[no-untyped-def]
    return UserFactory(display_name="李销售", department=DepartmentFactory(name="上海一部"))


def _company(user, **data):  # type: ignore[no-untyped-def]
    return services.customer_create(acting_user=user, data={"kind": "company", **data})


def test_same_mobile_in_another_format_is_a_certain_match_with_masked_reason(rep_a):  # type: ignore[no-untyped-def]
    existing = services.customer_create(acting_user=rep_a, data={
        "kind": "person", "name": "张伟", "phones": ["13812345678"], "city": "北京"})
    warnings = likely_duplicates({"kind": "person", "name": "张伟", "phones": ["+86 138-1234-5678"]}, user=rep_a)
    assert [w.customer_id for w in warnings] == [existing.pk]
    first = warnings[0]
    assert first.verdict == "certain" and first.visible and first.name == "张伟"
    assert "138****5678" in first.reasons and "13812345678" not in first.reasons


def test_company_core_name_variant_is_found_through_the_pinyin_postings(rep_a):  # type: ignore[no-untyped-def]
    existing = _company(rep_a, name="北京分扬科技有限公司", city="北京")
    _company(rep_a, name="上海远航物流有限公司", city="上海")
    warnings = likely_duplicates({"kind": "company", "name": "分扬科技", "city": "北京"}, user=rep_a)
    assert [w.customer_id for w in warnings] == [existing.pk]
    assert "分扬科技" in warnings[0].reasons


def test_common_name_alone_is_not_a_duplicate(rep_a):  # type: ignore[no-untyped-def]
    services.customer_create(acting_user=rep_a, data={
        "kind": "person", "name": "张伟", "phones": ["13812345678"], "city": "北京"})
    warnings = likely_duplicates({"kind": "person", "name": "张伟", "phones": ["13987654321"], "city": "北京"},
                                 user=rep_a)
    assert blocking_duplicates(warnings) == []


def test_a_match_outside_the_scope_shows_only_owner_and_department(rep_a, rep_b):  # type: ignore[no-untyped-def]
    _company(rep_a, name="北京分扬科技有限公司", phones=["13812345678"], city="北京")
    warnings = likely_duplicates({"kind": "company", "name": "分扬科技", "phones": ["138 1234 5678"]}, user=rep_b)
    assert len(warnings) == 1
    hidden = warnings[0]
    assert not hidden.visible and hidden.name == ""
    assert (hidden.owner_name, hidden.department_name) == ("王销售", "北京一部")
    assert "1234" not in hidden.reasons and "分扬" not in hidden.reasons
    assert "电话" in hidden.reasons
    assert hidden.as_dict()["customer_id"] is None  # not even the id leaks


def test_the_record_being_edited_is_not_its_own_duplicate(rep_a):  # type: ignore[no-untyped-def]
    existing = _company(rep_a, name="北京分扬科技有限公司", phones=["13812345678"])
    values = {"kind": "company", "name": existing.name, "phones": existing.phones}
    assert likely_duplicates(values, user=rep_a, exclude_id=existing.pk) == []
    assert [w.customer_id for w in likely_duplicates(values, user=rep_a)] == [existing.pk]


def test_admin_sees_every_match_by_name(rep_a):  # type: ignore[no-untyped-def]
    existing = _company(rep_a, name="北京分扬科技有限公司", phones=["01062345678"])
    admin = AdminFactory()
    warnings = likely_duplicates({"kind": "company", "name": "北京分扬科技有限公司"}, user=admin)
    assert [(w.customer_id, w.visible, w.name) for w in warnings] == [(existing.pk, True, "北京分扬科技有限公司")]


def test_role_values_map_customer_fields():  # type: ignore[no-untyped-def]
    roles = role_values({"kind": "person", "name": " 张伟 ", "phones": "13812345678", "emails": ["a@b.cn"],
                         "city": "北京", "birthday": None})
    assert roles["name"] == "张伟" and roles["phone"] == ["13812345678"] and roles["email"] == ["a@b.cn"]
    assert roles["city"] == "北京" and "birth_date" not in roles and "company" not in roles
    assert role_values({"name": "分扬科技"})["company"] == "分扬科技"  # a customer is a company unless told


def test_a_contacts_mobile_counts_for_its_customer(rep_a):  # type: ignore[no-untyped-def]
    """A new customer whose phone is an existing customer's contact's mobile: the 撞单 case."""
    existing = _company(rep_a, name="北京分扬科技有限公司", city="北京")
    services.contact_create(acting_user=rep_a, customer=existing, data={"name": "张伟", "mobile": "13812345678"})
    warnings = likely_duplicates({"kind": "company", "name": "分扬科技", "phones": ["138 1234 5678"]}, user=rep_a)
    assert [w.customer_id for w in warnings] == [existing.pk]
    assert "138****5678" in warnings[0].reasons


# The form, its live check and the API ------------------------------------------------------------


@pytest.fixture
def rep_a_client(client, rep_a):  # type: ignore[no-untyped-def]
    client.force_login(rep_a)
    return client


def test_form_shows_the_warning_before_saving_and_saves_on_confirmation(rep_a_client, rep_a):  # type: ignore[no-untyped-def]
    from django.urls import reverse

    from kehu.customers.models import Customer

    existing = _company(rep_a, name="北京分扬科技有限公司", phones=["13812345678"], city="北京")
    form = {"kind": "company", "name": "分扬科技", "phones": "138-1234-5678", "owner": rep_a.pk}
    first = rep_a_client.post(reverse("customers:create"), form)
    assert first.status_code == 200 and Customer.objects.count() == 1  # nothing saved yet
    page = first.content.decode()
    assert 'data-testid="duplicate-warnings"' in page and "北京分扬科技有限公司" in page
    assert f'href="{reverse("customers:detail", args=[existing.pk])}"' in page
    assert 'name="confirm_duplicates"' in page
    second = rep_a_client.post(reverse("customers:create"), {**form, "confirm_duplicates": "1"})
    assert second.status_code == 302 and Customer.objects.count() == 2


def test_live_check_renders_the_same_warnings(rep_a_client, rep_a):  # type: ignore[no-untyped-def]
    from django.urls import reverse

    _company(rep_a, name="北京分扬科技有限公司", phones=["13812345678"])
    response = rep_a_client.post(reverse("customers:duplicate_check"), {"kind": "company", "name": "分扬科技",
                                                                         "phones": "13812345678"})
    assert response.status_code == 200
    assert "北京分扬科技有限公司" in response.content.decode()
    assert 'name="confirm_duplicates"' not in response.content.decode()  # the live panel never saves
    empty = rep_a_client.post(reverse("customers:duplicate_check"), {"kind": "company", "name": "完全不同的公司"})
    assert empty.content.decode().strip() == ""


def test_api_duplicate_check_masks_what_the_caller_cannot_see(rep_a, rep_b):  # type: ignore[no-untyped-def]
    from tests.api_client import Api

    existing = _company(rep_a, name="北京分扬科技有限公司", phones=["13812345678"])
    body = {"kind": "company", "name": "分扬科技", "phones": ["13812345678"]}
    own = Api(rep_a).post("/customers/duplicate-check", body)
    assert own.status_code == 200
    assert [(d["customer_id"], d["verdict"]) for d in own.json()["duplicates"]] == [(existing.pk, "certain")]
    assert own.json()["blocked"] is False
    other = Api(rep_b).post("/customers/duplicate-check", body).json()["duplicates"]
    assert [(d["customer_id"], d["name"], d["owner"]) for d in other] == [(None, "", "王销售")]
    edited = Api(rep_a).post("/customers/duplicate-check", {**body, "exclude_id": existing.pk})
    assert edited.json()["duplicates"] == []


# Blocking certain matches (an admin's setting) --------------------------------------------------------


@pytest.fixture
def blocking(db):  # type: ignore[no-untyped-def]
    from kehu.dataquality import services as dq

    dq.quality_settings_update(acting_user=AdminFactory(), stale_days=90, key_fields_company=[],
                               key_fields_person=[], duplicate_block_certain=True)


def test_blocking_refuses_a_certain_duplicate_on_every_write_path(rep_a, rep_b, blocking):  # type: ignore[no-untyped-def]
    from kehu.core.errors import ValidationFailed
    from kehu.customers.models import Customer
    from tests.api_client import Api

    existing = _company(rep_a, name="北京分扬科技有限公司", phones=["13812345678"])
    with pytest.raises(ValidationFailed) as caught:
        _company(rep_b, name="分扬科技", phones=["138 1234 5678"])
    assert caught.value.errors[0].code == "duplicate" and "王销售" in caught.value.errors[0].message
    assert "北京分扬科技有限公司" not in caught.value.errors[0].message  # rep_b may not see it
    response = Api(rep_a).post("/customers", {"kind": "company", "name": "分扬科技", "phones": ["13812345678"]})
    assert response.status_code == 422
    assert response.json()["error"]["errors"][0]["code"] == "duplicate"
    assert f"#{existing.pk}" in response.json()["error"]["errors"][0]["message"]
    assert Customer.objects.count() == 1
    # A review-level match (a common name alone) is never blocked; an unrelated company saves.
    _company(rep_a, name="上海远航物流有限公司")
    assert Customer.objects.count() == 2


def test_blocking_form_has_no_save_anyway_button(rep_a_client, rep_a, blocking):  # type: ignore[no-untyped-def]
    from django.urls import reverse

    _company(rep_a, name="北京分扬科技有限公司", phones=["13812345678"])
    form = {"kind": "company", "name": "分扬科技", "phones": "13812345678", "owner": rep_a.pk}
    page = rep_a_client.post(reverse("customers:create"), form).content.decode()
    assert "不能保存" in page and 'name="confirm_duplicates"' not in page
    forced = rep_a_client.post(reverse("customers:create"), {**form, "confirm_duplicates": "1"})
    assert forced.status_code == 200 and "重复" in forced.content.decode()  # the service refused it


def test_editing_into_a_certain_duplicate_is_refused_when_blocking(rep_a, blocking):  # type: ignore[no-untyped-def]
    from kehu.core.errors import ValidationFailed

    _company(rep_a, name="北京分扬科技有限公司", phones=["13812345678"])
    other = _company(rep_a, name="上海远航物流有限公司", phones=["13987654321"])
    services.customer_update(acting_user=rep_a, customer=other, data={"notes": "无关修改"})  # no identity change
    with pytest.raises(ValidationFailed):
        services.customer_update(acting_user=rep_a, customer=other, data={"name": "分扬科技",
                                                                         "phones": ["13812345678"]})


def test_contact_form_warns_when_the_person_is_known_under_another_customer(rep_a_client, rep_a):  # type: ignore[no-untyped-def]
    from django.urls import reverse

    from kehu.customers.models import Contact

    known = _company(rep_a, name="北京分扬科技有限公司", city="北京")
    services.contact_create(acting_user=rep_a, customer=known, data={"name": "张伟", "mobile": "13812345678"})
    target = _company(rep_a, name="上海远航物流有限公司", city="上海")
    form = {"name": "张伟", "mobile": "138 1234 5678"}
    first = rep_a_client.post(reverse("customers:contact_create", args=[target.pk]), form)
    page = first.content.decode()
    assert "这个联系人可能已在其他客户下登记" in page and "北京分扬科技有限公司" in page
    assert not Contact.objects.filter(customer=target).exists()
    # A second contact with a number its own customer already has is no warning (a shared line).
    own = rep_a_client.post(reverse("customers:contact_create", args=[known.pk]), {"name": "李娜",
                                                                                 "mobile": "13812345678"})
    assert "其他客户下登记" not in own.content.decode()
    second = rep_a_client.post(reverse("customers:contact_create", args=[target.pk]),
                               {**form, "confirm_duplicates": "1"})
    assert second.status_code == 200 and Contact.objects.filter(customer=target).count() == 1
