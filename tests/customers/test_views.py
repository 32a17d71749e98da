"""Web pages of the customer archive, through the Django test client."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kehu.core.models import AuditEvent
from kehu.customers import services
from kehu.customers.models import (
    Contact,
    Customer,
    CustomFieldDefinition,
    Note,
    PicklistOption,
    SavedView,
    Tag,
)
from tests.factories import ContactFactory, CustomerFactory, TagFactory, UserFactory, option

pytestmark = pytest.mark.django_db

LIST = reverse("customers:list")


@pytest.fixture
def sales_client(client, sales_user):
    client.force_login(sales_user)
    return client


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def html(response) -> str:
    return response.content.decode()


# Access ---------------------------------------------------------------------------------------


def test_every_page_requires_login(client):
    customer = CustomerFactory()
    for url in (LIST, reverse("customers:detail", args=[customer.pk]), reverse("customers:create"),
                reverse("customers:search") + "?q=zw", reverse("customers:settings_tags")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


def test_sales_rep_gets_404_for_another_reps_customer(sales_client):
    other = CustomerFactory(owner=UserFactory())
    assert sales_client.get(reverse("customers:detail", args=[other.pk])).status_code == 404
    assert sales_client.get(reverse("customers:edit", args=[other.pk])).status_code == 404
    assert sales_client.post(reverse("customers:note_create", args=[other.pk]), {"body": "x"}).status_code == 404
    assert Note.objects.count() == 0


# List -----------------------------------------------------------------------------------------


def test_list_shows_only_own_customers_with_total(sales_client, sales_user):
    CustomerFactory(owner=sales_user, name="甲公司")
    CustomerFactory(owner=sales_user, name="乙公司")
    CustomerFactory(owner=UserFactory(), name="别人的公司")
    response = sales_client.get(LIST)
    assert response.status_code == 200
    body = html(response)
    assert "甲公司" in body and "乙公司" in body
    assert "别人的公司" not in body
    assert "共 2 个客户" in body


def test_list_filters_use_the_api_filter_keys(sales_client, sales_user):
    lead, won = option("stage", "lead"), option("stage", "customer")
    CustomerFactory(owner=sales_user, name="线索公司", stage=lead, city="杭州")
    CustomerFactory(owner=sales_user, name="成交公司", stage=won, city="上海")
    body = html(sales_client.get(LIST, {"stage": won.pk}))
    assert "成交公司" in body and "线索公司" not in body
    body = html(sales_client.get(LIST, {"city": "杭州", "owner": "me"}))
    assert "线索公司" in body and "成交公司" not in body


def test_list_filters_by_tag_and_custom_field(sales_client, sales_user):
    CustomFieldDefinition.objects.create(target="customer", key="region", label_zh="大区", field_type="choice",
                                         choices=[{"value": "east", "label_zh": "华东"}], show_in_list=True)
    vip = TagFactory(name="VIP")
    tagged = CustomerFactory(owner=sales_user, name="有标签公司", custom={"region": "east"})
    tagged.tags.add(vip)
    CustomerFactory(owner=sales_user, name="无标签公司")
    body = html(sales_client.get(LIST, {"tags": "VIP"}))
    assert "有标签公司" in body and "无标签公司" not in body
    body = html(sales_client.get(LIST, {"cf_region": "east"}))
    assert "有标签公司" in body and "无标签公司" not in body
    assert "华东" in body  # the show_in_list custom field is a column


def test_list_total_is_capped(sales_client, sales_user, monkeypatch):
    from kehu.customers import selectors

    real = selectors.customer_list_page
    monkeypatch.setattr(selectors, "customer_list_page", lambda **kwargs: real(**kwargs, count_cap=2))
    for _ in range(3):
        CustomerFactory(owner=sales_user)
    assert "共 2+ 个客户" in html(sales_client.get(LIST))


def test_list_keyset_pagination_walks_forward_and_back(sales_client, sales_user, settings):
    settings.KEHU_LIST_PAGE_SIZE = 2
    for i in range(5):
        CustomerFactory(owner=sales_user, name=f"公司{i}")
    page1 = sales_client.get(LIST, {"sort": "name"})
    rows1 = [c.name for c in page1.context["page"].rows]
    assert rows1 == ["公司0", "公司1"]
    page2 = sales_client.get(LIST, {"sort": "name", "cursor": page1.context["page"].next_cursor})
    assert [c.name for c in page2.context["page"].rows] == ["公司2", "公司3"]
    back = sales_client.get(LIST, {"sort": "name", "cursor": page2.context["page"].prev_cursor})
    assert [c.name for c in back.context["page"].rows] == rows1


def test_list_query_count_does_not_grow_with_rows(sales_client, sales_user):
    tag = TagFactory(name="重点")
    for _ in range(3):
        CustomerFactory(owner=sales_user, stage=option("stage", "lead")).tags.add(tag)
    sales_client.get(LIST)  # warm caches (content types, session)
    with CaptureQueriesContext(connection) as small:
        assert sales_client.get(LIST).status_code == 200
    for _ in range(20):
        CustomerFactory(owner=sales_user, stage=option("stage", "customer")).tags.add(tag)
    with CaptureQueriesContext(connection) as large:
        assert sales_client.get(LIST).status_code == 200
    assert len(large) == len(small)
    assert len(large) <= 15, [q["sql"] for q in large.captured_queries]


def test_column_chooser_is_remembered(sales_client, sales_user):
    CustomerFactory(owner=sales_user, city="苏州")
    response = sales_client.post(reverse("customers:columns"), {"columns": ["city", "created_at", "bogus"]})
    assert response.status_code == 302
    response = sales_client.get(LIST)
    assert [key for key, _label in response.context["columns"]] == ["city", "created_at"]


def test_save_and_apply_a_saved_view(sales_client, sales_user):
    response = sales_client.post(reverse("customers:saved_view_create"),
                                 {"name": "我的客户", "query": "owner=me&sort=name&cursor=abc"})
    view = SavedView.objects.get()
    assert view.owner == sales_user
    assert view.params == {"owner": "me", "sort": "name"}
    response = sales_client.get(LIST, {"view": view.pk})
    assert response.status_code == 302
    assert "owner=me" in response["Location"]


def test_only_admins_can_share_views(sales_client):
    sales_client.post(reverse("customers:saved_view_create"), {"name": "全员", "query": "", "shared": "1"})
    assert SavedView.objects.count() == 0


def test_search_partial_finds_customers_and_contacts_by_pinyin_and_phone(sales_client, sales_user):
    customer = services.customer_create(
        acting_user=sales_user, data={"kind": "person", "name": "张伟", "phones": ["13812345678"]}
    )
    services.contact_create(acting_user=sales_user, customer=customer, data={"name": "王芳", "mobile": "13900001111"})
    CustomerFactory(owner=UserFactory(), name="张伟伟", phones=["13800005678"])  # not visible
    url = reverse("customers:search")
    body = html(sales_client.get(url, {"q": "zw"}, HTTP_HX_REQUEST="true"))
    assert "张伟" in body and "张伟伟" not in body
    body = html(sales_client.get(url, {"q": "5678"}))
    assert reverse("customers:detail", args=[customer.pk]) in body
    body = html(sales_client.get(url, {"q": "王芳"}))
    assert "王芳" in body and "联系人" in body


def test_bulk_add_tag_and_change_owner(client, manager_user):
    client.force_login(manager_user)
    rep = UserFactory(department=manager_user.department)
    a = CustomerFactory(owner=manager_user)
    b = CustomerFactory(owner=manager_user)
    hidden = CustomerFactory(owner=UserFactory())
    response = client.post(reverse("customers:bulk"),
                           {"action": "add_tag", "tag": "重点", "ids": [a.pk, b.pk, hidden.pk]})
    assert response.status_code == 302
    assert set(Tag.objects.get(name="重点").customers.all()) == {a, b}
    client.post(reverse("customers:bulk"), {"action": "change_owner", "owner": rep.pk, "ids": [a.pk]})
    a.refresh_from_db()
    assert a.owner == rep
    client.post(reverse("customers:bulk"), {"action": "remove_tag", "tag": "重点", "ids": [b.pk]})
    assert list(Tag.objects.get(name="重点").customers.all()) == [a]


def test_sales_rep_cannot_bulk_change_owner(sales_client, sales_user):
    mine = CustomerFactory(owner=sales_user)
    other = UserFactory()
    sales_client.post(reverse("customers:bulk"), {"action": "change_owner", "owner": other.pk, "ids": [mine.pk]})
    mine.refresh_from_db()
    assert mine.owner == sales_user


# Detail, create, edit -------------------------------------------------------------------------


def test_detail_shows_facts_contacts_and_timeline(sales_client, sales_user):
    customer = services.customer_create(acting_user=sales_user, data={
        "name": "北京分扬科技有限公司", "phones": ["010-62345678"], "city": "北京", "stage": "lead",
    })
    services.customer_update(acting_user=sales_user, customer=customer, data={"city": "上海"})
    ContactFactory(customer=customer, name="李雷", title="采购经理")
    body = html(sales_client.get(reverse("customers:detail", args=[customer.pk])))
    assert "010-62345678" in body and "李雷" in body and "采购经理" in body
    assert '<span class="old">北京市</span>' in body and '<span class="new">上海市</span>' in body


def test_create_customer_with_custom_fields(sales_client, sales_user):
    CustomFieldDefinition.objects.create(target="customer", key="budget", label_zh="预算", field_type="money")
    CustomFieldDefinition.objects.create(
        target="customer", key="channels", label_zh="渠道", field_type="multi_choice",
        choices=[{"value": "online", "label_zh": "线上"}, {"value": "offline", "label_zh": "线下"}],
    )
    response = sales_client.post(reverse("customers:create"), {
        "kind": "company", "name": "新客户有限公司", "phones": "13812345678, 010-88886666",
        "tags": "重点，华东", "cf_budget": "12000", "cf_channels": ["online", "offline"],
        "stage": option("stage", "lead").pk,
    })
    customer = Customer.objects.get(name="新客户有限公司")
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:detail", args=[customer.pk])
    assert customer.owner == sales_user
    assert customer.phones == ["13812345678", "010-88886666"]
    assert customer.custom == {"budget": "12000.00", "channels": ["online", "offline"]}
    assert sorted(customer.tags.values_list("name", flat=True)) == ["华东", "重点"]


def test_create_shows_service_errors_inline_and_writes_nothing(sales_client):
    CustomFieldDefinition.objects.create(target="customer", key="budget", label_zh="预算", field_type="number",
                                         required=True)
    response = sales_client.post(reverse("customers:create"), {
        "kind": "company", "name": "", "credit_code": "91350100M000100Y44", "cf_budget": "",
    })
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["name"] == ["名称为必填项"]
    assert "校验" in form.errors["credit_code"][0]
    assert form.errors["cf_budget"] == ["预算 为必填项"]
    assert 'class="field-error"' in html(response)
    assert Customer.objects.count() == 0


def test_edit_saves_and_records_change(sales_client, sales_user):
    customer = services.customer_create(acting_user=sales_user, data={"name": "甲公司", "city": "北京"})
    form = sales_client.get(reverse("customers:edit", args=[customer.pk])).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update({"city": "深圳"})
    response = sales_client.post(reverse("customers:edit", args=[customer.pk]), data)
    assert response.status_code == 302
    customer.refresh_from_db()
    # Stored in canonical form; the province follows the new city.
    assert (customer.province, customer.city, customer.version) == ("广东省", "深圳市", 2)
    event = AuditEvent.objects.filter(object_id=customer.pk, action="update").get()
    assert event.changes == [
        {"field": "province", "old": "北京市", "new": "广东省"}, {"field": "city", "old": "北京市", "new": "深圳市"},
    ]


def test_edit_version_conflict_keeps_input_and_writes_nothing(sales_client, sales_user):
    customer = services.customer_create(acting_user=sales_user, data={"name": "甲公司", "city": "北京"})
    services.customer_update(acting_user=sales_user, customer=customer, data={"city": "广州"})  # someone else
    response = sales_client.post(reverse("customers:edit", args=[customer.pk]), {
        "kind": "company", "name": "甲公司", "city": "我的修改", "version": 1,
    })
    assert response.status_code == 409
    body = html(response)
    assert "请刷新后再改" in body
    assert 'value="我的修改"' in body
    customer.refresh_from_db()
    assert customer.city == "广州市" and customer.version == 2


def test_script_in_name_is_escaped_on_list_and_detail(sales_client, sales_user):
    evil = '<script>alert("x")</script>'
    customer = CustomerFactory(owner=sales_user, name=evil)
    customer.tags.add(TagFactory(name="<b>tag</b>"))
    for url in (LIST, reverse("customers:detail", args=[customer.pk])):
        body = html(sales_client.get(url))
        assert evil not in body and "<b>tag</b>" not in body
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    body = html(sales_client.get(reverse("customers:search"), {"q": "alert"}))
    assert evil not in body


def test_note_adds_to_timeline(sales_client, sales_user):
    customer = CustomerFactory(owner=sales_user)
    response = sales_client.post(reverse("customers:note_create", args=[customer.pk]),
                                 {"body": "电话沟通，下周报价"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Trigger"] == "timelineChanged"
    body = html(sales_client.get(reverse("customers:timeline", args=[customer.pk])))
    assert "电话沟通，下周报价" in body
    response = sales_client.post(reverse("customers:note_create", args=[customer.pk]), {"body": "  "})
    assert "备注内容不能为空" in html(response)
    assert Note.objects.count() == 1


def test_contact_inline_create_edit_delete(sales_client, sales_user):
    customer = CustomerFactory(owner=sales_user)
    url = reverse("customers:contact_create", args=[customer.pk])
    response = sales_client.post(url, {"name": "", "mobile": "abc"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "HX-Retarget" not in response
    assert "姓名为必填项" in html(response)
    response = sales_client.post(url, {"name": "韩梅梅", "mobile": "13700001234"}, HTTP_HX_REQUEST="true")
    assert response["HX-Retarget"] == "#contacts"
    contact = Contact.objects.get(name="韩梅梅")
    assert contact.is_primary
    assert "韩梅梅" in html(response)
    response = sales_client.post(reverse("customers:contact_edit", args=[contact.pk]),
                                 {"name": "韩梅梅", "title": "总监", "version": contact.version})
    contact.refresh_from_db()
    assert contact.title == "总监"
    sales_client.post(reverse("customers:contact_delete", args=[contact.pk]))
    assert not Contact.objects.filter(pk=contact.pk).exists()


def test_contact_of_hidden_customer_is_404(sales_client):
    contact = ContactFactory(customer=CustomerFactory(owner=UserFactory()))
    assert sales_client.get(reverse("customers:contact_edit", args=[contact.pk])).status_code == 404
    assert sales_client.post(reverse("customers:contact_delete", args=[contact.pk])).status_code == 404
    assert Contact.objects.filter(pk=contact.pk).exists()


# Admin settings -------------------------------------------------------------------------------


def test_settings_pages_are_forbidden_for_non_admins(sales_client):
    tag = TagFactory(name="旧")
    stage = option("stage", "lead")
    for url in (reverse("customers:settings_picklists"), reverse("customers:settings_fields"),
                reverse("customers:settings_field_create"), reverse("customers:settings_tags"),
                reverse("customers:settings_picklist_edit", args=[stage.pk])):
        assert sales_client.get(url).status_code == 403
    response = sales_client.post(reverse("customers:settings_tag_edit", args=[tag.pk]), {"name": "新"})
    assert response.status_code == 403
    response = sales_client.post(reverse("customers:settings_picklist_edit", args=[stage.pk]),
                                 {"kind": "stage", "code": "lead", "label_zh": "改名"})
    assert response.status_code == 403
    tag.refresh_from_db()
    stage.refresh_from_db()
    assert tag.name == "旧" and stage.label_zh == "线索"


def test_admin_edits_picklist_option(admin_client):
    stage = option("stage", "lead")
    response = admin_client.post(reverse("customers:settings_picklist_edit", args=[stage.pk]), {
        "kind": "stage", "code": "lead", "label_zh": "潜在客户", "label_en": "Prospect", "position": 5,
        "color": "#ff0000", "is_active": "on",
    })
    assert response.status_code == 302
    stage.refresh_from_db()
    assert (stage.label_zh, stage.label_en, stage.position, stage.color) == ("潜在客户", "Prospect", 5, "#ff0000")
    response = admin_client.post(reverse("customers:settings_picklists"), {
        "kind": "stage", "code": "lead", "label_zh": "重复",
    })
    assert "代码已存在" in html(response)
    assert PicklistOption.objects.filter(kind="stage", code="lead").count() == 1


def test_admin_creates_choice_custom_field(admin_client):
    response = admin_client.post(reverse("customers:settings_field_create"), {
        "target": "customer", "key": "region", "label_zh": "大区", "label_en": "Region",
        "field_type": "choice", "choices": "east | 华东 | East\nwest | 华西", "show_in_list": "on",
        "is_active": "on", "position": 1,
    })
    assert response.status_code == 302
    definition = CustomFieldDefinition.objects.get(key="region")
    assert definition.choices == [
        {"value": "east", "label_zh": "华东", "label_en": "East"},
        {"value": "west", "label_zh": "华西", "label_en": "华西"},
    ]
    assert definition.show_in_list
    response = admin_client.post(reverse("customers:settings_field_create"), {
        "target": "customer", "key": "Bad Key", "label_zh": "", "field_type": "choice",
    })
    form = response.context["form"]
    assert set(form.errors) == {"key", "label_zh", "choices"}


def test_admin_manages_tags(admin_client):
    admin_client.post(reverse("customers:settings_tags"), {"name": "重点", "color": "#00aa00"})
    tag = Tag.objects.get(name="重点")
    admin_client.post(reverse("customers:settings_tag_edit", args=[tag.pk]), {"name": "重点客户", "color": "#0000ff"})
    tag.refresh_from_db()
    assert (tag.name, tag.color) == ("重点客户", "#0000ff")
    admin_client.post(reverse("customers:settings_tag_edit", args=[tag.pk]), {"delete": "1"})
    assert not Tag.objects.exists()


# Language -------------------------------------------------------------------------------------


def test_language_switch_shows_english_labels(sales_client, sales_user):
    CustomerFactory(owner=sales_user, stage=option("stage", "lead"))
    body = html(sales_client.get(LIST))
    assert "新建客户" in body and "线索" in body
    response = sales_client.post(reverse("set_language"), {"language": "en", "next": LIST})
    assert response.status_code == 302
    body = html(sales_client.get(LIST))
    assert "New customer" in body and "Lead" in body and "新建客户" not in body
    assert '<html lang="en">' in body
