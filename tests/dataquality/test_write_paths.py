"""Every write path stores the canonical form and answers the same error for the same value:
the service (used by import and automation), the web form and the API go through one code path."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from kehu.core.errors import ValidationFailed
from kehu.customers import services
from kehu.customers.models import Customer
from kehu.dataquality.models import CityAlias, MatchKey, QualityIssue, ValidationRule
from tests.factories import AdminFactory, UserFactory, option

pytestmark = pytest.mark.django_db

# A valid unified social credit code (check character computed by GB 32100-2015).
CREDIT_CODE = "91350100M000100Y43"


def _errors(excinfo: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    return {e.field: e.message for e in excinfo.value.errors}


def test_customer_fields_are_stored_in_canonical_form(sales_user):
    customer = services.customer_create(
        acting_user=sales_user,
        data={
            "name": "北京 分扬科技 有限公司",
            "phones": ["+86 138-1234-5678", "（010）6552 9988 转 123"],
            "emails": [" Zhang.Wei@QQ.COM "],
            "address": "北京市朝阳区建国路88号",
            "credit_code": CREDIT_CODE.lower(),
            "website": "www.Example.com/",
        },
    )
    customer.refresh_from_db()
    assert customer.phones == ["13812345678", "010-65529988 转 123"]
    assert customer.phones_e164 == ["+8613812345678", "+861065529988"]
    assert customer.emails == ["Zhang.Wei@qq.com"]
    assert (customer.province, customer.city, customer.district, customer.address) == (
        "北京市", "北京市", "朝阳区", "建国路88号")
    assert customer.credit_code == CREDIT_CODE
    assert customer.website == "https://www.example.com"
    assert customer.name_core == "分扬科技"
    keys = set(MatchKey.objects.filter(customer=customer).values_list("kind", "value"))
    assert keys == {("phone", "+8613812345678"), ("phone", "+861065529988"), ("email", "zhang.wei@qq.com"),
                    ("credit_code", CREDIT_CODE)}


def test_person_name_salutation_is_split_and_id_number_fills_birthday_and_gender(sales_user):
    customer = services.customer_create(
        acting_user=sales_user,
        data={"kind": "person", "name": "张先生", "id_number": "11010519491231002X"},
    )
    assert (customer.name, customer.salutation) == ("张", "先生")
    assert customer.birthday == dt.date(1949, 12, 31)
    assert customer.gender == "female"


def test_invalid_phone_is_kept_verbatim_and_flagged_not_dropped(sales_user):
    customer = services.customer_create(acting_user=sales_user, data={"name": "甲公司", "phones": ["12345"]})
    assert customer.phones == ["12345"]
    assert customer.phones_e164 == [""]
    codes = set(QualityIssue.objects.filter(customer=customer).values_list("code", flat=True))
    assert any(code.startswith("phone.") for code in codes)
    assert customer.quality_warnings and customer.quality_warnings[0][0] == "phones"


def test_invalid_credit_code_blocks_the_save_with_a_clear_message(sales_user):
    with pytest.raises(ValidationFailed) as excinfo:
        services.customer_create(acting_user=sales_user, data={"name": "乙公司", "credit_code": "91350100M000100Y44"})
    assert "credit_code" in _errors(excinfo)
    assert not Customer.objects.exists()


def test_unique_credit_code_names_the_existing_record_when_visible(sales_user):
    first = services.customer_create(acting_user=sales_user, data={"name": "丙公司", "credit_code": CREDIT_CODE})
    with pytest.raises(ValidationFailed) as excinfo:
        services.customer_create(acting_user=sales_user, data={"name": "丁公司", "credit_code": CREDIT_CODE})
    message = _errors(excinfo)["credit_code"]
    assert first.name in message


def test_unique_clash_with_an_invisible_record_shows_owner_and_masked_name(sales_user):
    other_rep = UserFactory(display_name="李雷")
    services.customer_create(acting_user=other_rep, data={"name": "北京分扬科技有限公司", "credit_code": CREDIT_CODE})
    with pytest.raises(ValidationFailed) as excinfo:
        services.customer_create(acting_user=sales_user, data={"name": "分扬科技", "credit_code": CREDIT_CODE})
    message = _errors(excinfo)["credit_code"]
    assert "李雷" in message
    assert "北京分扬科技有限公司" not in message
    assert "*" in message


def test_duplicate_mobile_is_a_warning_by_default_and_an_error_when_the_admin_says_so(sales_user):
    first = services.customer_create(acting_user=sales_user, data={"name": "戊公司", "phones": ["13812345678"]})
    second = services.customer_create(acting_user=sales_user, data={"name": "己公司", "phones": ["138 1234 5678"]})
    issue = QualityIssue.objects.get(customer=second, code="unique.duplicate")
    assert issue.hint == str(first.pk)
    ValidationRule.objects.filter(field="phones", rule_type="unique").update(severity="error")
    with pytest.raises(ValidationFailed) as excinfo:
        services.customer_create(acting_user=sales_user, data={"name": "庚公司", "phones": ["+8613812345678"]})
    assert "phones" in _errors(excinfo)


def test_required_rule_per_stage_applies_only_in_that_stage(sales_user):
    ValidationRule.objects.create(field="credit_code", rule_type="required", severity="error",
                                  customer_kind="company", stage=option("stage", "customer"))
    services.customer_create(acting_user=sales_user, data={"name": "线索公司", "stage": "lead"})
    with pytest.raises(ValidationFailed) as excinfo:
        services.customer_create(acting_user=sales_user, data={"name": "成交公司", "stage": "customer"})
    assert "credit_code" in _errors(excinfo)


def test_pattern_and_range_rules_on_custom_fields(sales_user, admin_user):
    services.custom_field_save(acting_user=admin_user, target="customer", key="seats", label_zh="座席",
                               field_type="number")
    ValidationRule.objects.create(field="custom.seats", rule_type="range", params={"min": 1, "max": 500},
                                  message_zh="座席数应在 1-500 之间")
    with pytest.raises(ValidationFailed) as excinfo:
        services.customer_create(acting_user=sales_user, data={"name": "辛公司", "custom": {"seats": 900}})
    assert _errors(excinfo)["custom.seats"] == "座席数应在 1-500 之间"
    services.customer_create(acting_user=sales_user, data={"name": "壬公司", "custom": {"seats": 20}})


def test_picklist_values_map_through_synonyms(sales_user):
    customer = services.customer_create(acting_user=sales_user, data={"name": "癸公司", "source": "Baidu"})
    assert customer.source == option("source", "baidu_ads")
    with pytest.raises(ValidationFailed) as excinfo:
        services.customer_create(acting_user=sales_user, data={"name": "子公司", "source": "火星广告"})
    assert "source" in _errors(excinfo)


def test_admin_city_alias_is_used_on_every_write(sales_user):
    CityAlias.objects.create(alias="鹏城", canonical="深圳市")
    customer = services.customer_create(acting_user=sales_user, data={"name": "丑公司", "city": "鹏城"})
    assert (customer.province, customer.city) == ("广东省", "深圳市")


def test_form_and_api_give_the_same_result_and_the_same_error(client):
    rep = UserFactory()
    client.force_login(rep)
    form_data = {"kind": "company", "name": "表单公司", "phones": "+86 139-0000-1111", "emails": "", "owner": rep.pk}
    response = client.post(reverse("customers:create"), form_data)
    assert response.status_code == 302, response.content.decode()[:2000]
    via_form = Customer.objects.get(name="表单公司")
    response = client.post("/api/v1/customers", {"kind": "company", "name": "接口公司",
                                                 "phones": ["+86 139-0000-2222"]}, content_type="application/json")
    assert response.status_code in (200, 201), response.content
    via_api = Customer.objects.get(name="接口公司")
    assert via_form.phones == ["13900001111"] and via_api.phones == ["13900002222"]

    bad_code = "91350100M000100Y44"
    api_error = client.post("/api/v1/customers", {"name": "坏接口", "credit_code": bad_code},
                            content_type="application/json").json()
    form_response = client.post(reverse("customers:create"), {**form_data, "name": "坏表单", "credit_code": bad_code})
    api_messages = [e["message"] for e in api_error["error"]["errors"] if e["field"] == "credit_code"]
    assert api_messages and api_messages[0] in form_response.content.decode()


def test_normalize_job_cleans_stored_rows_once_and_reports(tmp_path, settings):
    from kehu.core.models import Job
    from kehu.dataquality import services as dq

    settings.DATA_DIR = tmp_path
    admin = AdminFactory()
    owner = UserFactory()
    raw = Customer.objects.create(name="上海 某某贸易(有限公司)", phones=["+86 138 0000 1234"], emails=["A@QQ.COM"],
                                  address="上海浦东新区张江路1号", owner=owner)
    bad = Customer.objects.create(name="坏数据公司", phones=["abc123"], owner=owner)
    job = dq.normalize_job_create(acting_user=admin)
    job = dq.normalize_run(job)
    assert job.status == Job.Status.DONE
    raw.refresh_from_db()
    bad.refresh_from_db()
    assert raw.phones == ["13800001234"] and raw.phones_e164 == ["+8613800001234"]
    assert raw.emails == ["A@qq.com"]
    assert (raw.province, raw.city, raw.district, raw.address) == ("上海市", "上海市", "浦东新区", "张江路1号")
    assert raw.version == 2
    assert bad.phones == ["abc123"]  # kept as typed, flagged
    assert QualityIssue.objects.filter(customer=bad, code__startswith="phone.").exists()
    report = (tmp_path / "reports" / f"normalize-{job.pk}.csv").read_text(encoding="utf-8-sig")
    assert "+86 138 0000 1234" in report and "13800001234" in report
    assert job.result["fields"]["phones"] == 1
    # A second run finds nothing left to change.
    again = dq.normalize_run(dq.normalize_job_create(acting_user=admin))
    assert again.result["changed_records"] == 0


def test_api_takes_and_returns_the_new_person_fields(client):
    rep = UserFactory()
    client.force_login(rep)
    created = client.post("/api/v1/customers", {"kind": "person", "name": "李女士", "id_number": "11010519491231002X"},
                          content_type="application/json")
    assert created.status_code == 201, created.content
    customer = Customer.objects.get(pk=created.json()["id"])
    assert (customer.name, customer.salutation, customer.gender) == ("李", "女士", "female")
    contact = client.post("/api/v1/contacts", {"customer": customer.pk, "name": "王总", "mobile": "+86 139 0000 3333"},
                          content_type="application/json")
    assert contact.status_code == 201, contact.content
    body = contact.json()
    assert (body["name"], body["salutation"], body["mobile"], body["mobile_e164"]) == (
        "王", "总", "13900003333", "+8613900003333")


def test_web_form_splits_the_salutation_even_when_the_salutation_box_is_empty(client):
    rep = UserFactory()
    client.force_login(rep)
    response = client.post(reverse("customers:create"), {"kind": "person", "name": "赵女士", "salutation": "",
                                                         "owner": rep.pk, "id_number": "11010519491231002X"})
    assert response.status_code == 302, response.content.decode()[:3000]
    customer = Customer.objects.get()
    assert (customer.name, customer.salutation, customer.gender, customer.birthday) == (
        "赵", "女士", "female", dt.date(1949, 12, 31))


def test_detail_page_shows_salutation_gender_and_a_masked_id_number(client):
    rep = UserFactory()
    client.force_login(rep)
    customer = services.customer_create(acting_user=rep, data={"kind": "person", "name": "钱先生",
                                                               "id_number": "11010519491231002X"})
    body = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert '<span class="salutation">先生</span>' in body
    assert "110105********002X" in body and "11010519491231002X" not in body
