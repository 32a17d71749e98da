"""Conditions without code: the list pages' own filter forms build a rule's conditions ("用当前筛选建
自动化规则"), the builder shows them as chips with the lists' labels, "在客户列表中修改条件" opens the
list for the rule and "带回规则" brings the new filters back. Django test client, round trips."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from kehu.automation import conditions
from kehu.automation.models import Rule
from kehu.customers.models import PicklistOption
from tests.automation.conftest import customer_of, make_rule

pytestmark = pytest.mark.django_db

TAG = [{"type": "add_tag", "params": {"tag": "x"}}]


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def _chips(html: str) -> list[str]:
    return [unescape(re.sub(r"<[^>]+>", "", m)).strip()
            for m in re.findall(r'data-testid="condition-chip"[^>]*>(.*?)</span>', html)]


def test_customer_list_button_only_for_admins(client, admin, rep):
    client.force_login(admin)
    html = client.get(reverse("customers:list"), {"city": "杭州市"}).content.decode()
    assert 'data-testid="rule-from-list"' in html
    assert 'data-rule-form="filter-form" data-rule-action="/automation/from-list/customer/"' in html
    assert 'data-testid="rule-return"' not in html
    client.force_login(rep)
    html = client.get(reverse("customers:list"), {"city": "杭州市"}).content.decode()
    assert "rule-from-list" not in html and "用当前筛选建自动化规则" not in html
    assert client.get(reverse("automation:from_list", args=["customer"]), {"city": "杭州市"}).status_code == 403


def test_new_rule_from_the_customer_list(client, admin, rep):
    stage = PicklistOption.objects.filter(kind="stage").first()
    customer_of(rep, city="杭州市", stage=stage)
    customer_of(rep, city="杭州市")
    customer_of(rep, city="宁波市", stage=stage)
    client.force_login(admin)
    # The filter form as the list submits it: empty inputs, sorting and the cursor are not conditions.
    response = client.get(reverse("automation:from_list", args=["customer"]), {
        "q": "", "owner": "", "stage": str(stage.pk), "level": "", "city": "杭州市", "tags": ["VIP", "重点"],
        "created_from": "2026-01-01", "created_to": "", "sort": "name", "cursor": "abc"})
    assert response.status_code == 302
    target = response["Location"]
    assert target.startswith("/automation/new/?")
    wanted = f"stage={stage.pk}&city=杭州市&tags=VIP&tags=重点&created_from=2026-01-01"
    assert _query(target) == {"object_type": ["customer"], "conditions": [wanted]}
    html = client.get(target).content.decode()
    assert _chips(html) == [f"阶段：{stage.label}", "城市：杭州市", "标签：VIP、重点", "创建时间：2026-01-01 起"]
    assert 'data-testid="conditions-returned"' in html
    assert "当前符合条件的记录：0 条" in html  # nobody has both tags
    edit = re.search(r'href="([^"]+)" data-testid="conditions-edit-in-list"', html).group(1)
    assert _query(unescape(edit))["rule"] == ["new"] and "在客户列表中修改条件" in html

    # Without the tags: the count, and saving stores the conditions as the list's parameters.
    text = f"stage={stage.pk}&city=杭州市"
    html = client.get(reverse("automation:audience"), {"object_type": "customer", "conditions": text}).content.decode()
    assert "当前符合条件的记录：1 条" in html and _chips(html) == [f"阶段：{stage.label}", "城市：杭州市"]
    client.post(reverse("automation:create"), {"name": "杭州阶段", "object_type": "customer", "trigger": "created",
                                                "conditions": text, "action_row": ["a"], "action-a-type": "add_tag",
                                                "action-a-tag": "杭州"})
    assert Rule.objects.get().conditions == {"stage": str(stage.pk), "city": "杭州市"}


def test_round_trip_of_a_saved_rule(client, admin, rep):
    rule = make_rule(admin, conditions="city=宁波市&province=浙江省", trigger="created", actions=TAG)
    client.force_login(admin)
    html = client.get(reverse("automation:edit", args=[rule.pk])).content.decode()
    assert _chips(html) == ["城市：宁波市", "省份：浙江省"]
    assert 'data-testid="conditions-returned"' not in html
    edit = unescape(re.search(r'href="([^"]+)" data-testid="conditions-edit-in-list"', html).group(1))
    assert edit.startswith("/customers/?") and _query(edit) == {
        "city": ["宁波市"], "province": ["浙江省"], "rule": [str(rule.pk)]}

    # The list opened for the rule: "带回规则" instead of "new rule", the rule marker and the filter
    # the form has no input for (province) ride along as hidden inputs of the filter form.
    html = client.get(edit).content.decode()
    assert 'data-testid="rule-return"' in html and 'data-testid="rule-from-list"' not in html
    assert f'name="rule" value="{rule.pk}" form="filter-form"' in html
    assert 'name="province" value="浙江省" form="filter-form"' in html
    assert "正在为规则“测试规则”选择条件" in html

    # The admin changes the city and brings the filters back: filled in, not saved yet.
    response = client.get(reverse("automation:from_list", args=["customer"]),
                          {"q": "", "city": "杭州市", "province": "浙江省", "rule": str(rule.pk), "sort": "name"})
    target = response["Location"]
    assert target.startswith(f"/automation/{rule.pk}/?")
    assert _query(target)["conditions"] == ["city=杭州市&province=浙江省"]
    html = client.get(target).content.decode()
    assert 'data-testid="conditions-returned"' in html and _chips(html) == ["城市：杭州市", "省份：浙江省"]
    assert 'value="city=杭州市&amp;province=浙江省"' in html  # the advanced text box carries them to the save
    assert Rule.objects.get(pk=rule.pk).conditions == {"city": "宁波市", "province": "浙江省"}

    post = {"name": rule.name, "object_type": "customer", "trigger": "created",
            "conditions": "city=杭州市&province=浙江省", "action_row": ["0"], "action-0-type": "add_tag",
            "action-0-tag": "x"}
    assert client.post(reverse("automation:edit", args=[rule.pk]), post).status_code == 302
    assert Rule.objects.get(pk=rule.pk).conditions == {"city": "杭州市", "province": "浙江省"}


def test_a_list_of_another_object_does_not_overwrite(client, admin):
    rule = make_rule(admin, conditions="city=宁波市", trigger="created", actions=TAG)
    client.force_login(admin)
    response = client.get(reverse("automation:edit", args=[rule.pk]),
                          {"object_type": "lead", "conditions": "status=open"}, follow=True)
    html = response.content.decode()
    assert "列表的对象与规则不一致" in html and _chips(html) == ["城市：宁波市"]
    assert client.get(reverse("automation:from_list", args=["nothing"])).status_code == 404
    assert client.get(reverse("automation:from_list", args=["customer"]), {"rule": "99999"}).status_code == 404


def test_lead_list_round_trip(client, admin, rep):
    source = PicklistOption.objects.filter(kind="source").first()
    client.force_login(admin)
    html = client.get(reverse("leads:list")).content.decode()
    assert 'data-rule-form="filter-form" data-rule-action="/automation/from-list/lead/"' in html
    target = client.get(reverse("automation:from_list", args=["lead"]), {
        "q": "", "status": "open", "owner": "me", "source": str(source.pk), "campaign": "春季展会",
        "page": "2"})["Location"]
    assert _query(target) == {"object_type": ["lead"],
                              "conditions": [f"status=open&owner=me&source={source.pk}&campaign=春季展会"]}
    html = client.get(target).content.decode()
    assert _chips(html) == ["状态：跟进中（未转化、未作废）", "负责人：执行身份本人", f"来源：{source.label}",
                            "市场活动：春季展会"]
    assert "在线索列表中修改条件" in html
    html = client.get(reverse("leads:list"), {"status": "open", "rule": "new"}).content.decode()
    assert 'data-testid="rule-return"' in html and "正在为新规则选择条件" in html


def test_opportunity_list_round_trip(client, admin, rep):
    from kehu.sales.models import Opportunity, Pipeline, Stage

    pipeline = Pipeline.objects.filter(is_default=True).first()
    stage = Stage.objects.filter(pipeline=pipeline, kind="open").first()
    buyer = customer_of(rep, name="甲方有限公司")
    Opportunity.objects.create(name="甲单", customer=buyer, owner=rep, pipeline=pipeline, stage=stage)
    Opportunity.objects.create(name="乙单", customer=customer_of(rep), owner=rep, pipeline=pipeline, stage=stage)
    rule = make_rule(admin, object_type="opportunity", conditions={}, trigger="created",
                     actions=[{"type": "update_field", "params": {"field": "next_step", "value": "跟进"}}])
    client.force_login(admin)
    html = client.get(reverse("sales:list"), {"customer": str(buyer.pk), "rule": str(rule.pk)}).content.decode()
    assert 'data-rule-form="opportunity-filters" data-rule-action="/automation/from-list/opportunity/"' in html
    assert f'name="customer" value="{buyer.pk}" form="opportunity-filters"' in html
    target = client.get(reverse("automation:from_list", args=["opportunity"]), {
        "pipeline": str(pipeline.pk), "q": "", "owner": "", "status": "open", "close_from": "",
        "close_to": "2026-12-31", "overdue": "1", "customer": str(buyer.pk), "rule": str(rule.pk)})["Location"]
    text = f"pipeline={pipeline.pk}&status=open&close_to=2026-12-31&overdue=1&customer={buyer.pk}"
    assert target.startswith(f"/automation/{rule.pk}/?") and _query(target)["conditions"] == [text]
    html = client.get(target).content.decode()
    assert _chips(html) == [f"销售流程：{pipeline.label}", "客户：甲方有限公司", "状态：进行中",
                            "预计成交日期：截至 2026-12-31", "仅逾期：是"]
    # The audience reads the pipeline too (the list's pipeline picker).
    html = client.get(reverse("automation:audience"), {
        "object_type": "opportunity", "conditions": f"pipeline={pipeline.pk}&customer={buyer.pk}"}).content.decode()
    assert "当前符合条件的记录：1 条" in html
    html = client.get(reverse("automation:audience"), {
        "object_type": "opportunity", "conditions": "pipeline=999999"}).content.decode()
    assert "当前符合条件的记录：0 条" in html


def test_unknown_conditions_are_flagged(admin):
    chips = conditions.describe("customer", {"colour": "red", "stage": "abc", "cf_nothing": "1", "owner": "none"})
    assert [(c.label, c.value, c.known) for c in chips] == [
        ("负责人", "无负责人", True), ("阶段", "abc", False), ("colour", "red", False), ("cf_nothing", "1", False)]
    assert conditions.describe("customer", {}) == []


def test_custom_field_chips(admin):
    from kehu.customers.models import CustomFieldDefinition

    CustomFieldDefinition.objects.create(target="customer", key="grade", label_zh="客户等级", field_type="choice",
                                         choices=[{"value": "a", "label_zh": "甲等"}])
    assert [(c.label, c.value) for c in conditions.describe("customer", {"cf_grade": "a"})] == [("客户等级", "甲等")]
    assert conditions.from_list("customer", {"cf_grade": "a", "cf_": "x", "view": "3"}) == "cf_grade=a"


def test_readable_text_reads_back_the_same():
    from kehu.automation import services

    stored = {"city": "杭州 市&x=1", "tags": ["VIP", "a+b%"], "q": "张三"}
    text = conditions.mapping_text(stored)
    assert text == "city=杭州%20市%26x%3D1&tags=VIP&tags=a%2Bb%25&q=张三"
    assert services._conditions(text) == stored  # noqa: SLF001
