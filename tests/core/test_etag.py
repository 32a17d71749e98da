"""kehu.core.etag: the ETag of a record, parsing If-Match, the 412 error, and the form diff."""

from __future__ import annotations

import pytest
from django import forms

from kehu.core.etag import (
    MalformedIfMatch,
    PreconditionFailed,
    etag,
    form_changes,
    parse_if_match,
    snapshot_read,
    snapshot_sign,
)
from kehu.customers.services import customer_create


def test_parse_if_match_accepts_etags_lists_bare_versions_and_star() -> None:
    assert parse_if_match("*", label="customer", pk=7).matches(123)
    assert parse_if_match('W/"customer-7-v3"', label="customer", pk=7).versions == {3}
    assert parse_if_match('"customer-7-v3"', label="customer", pk=7).versions == {3}
    assert parse_if_match('W/"customer-7-v3", W/"customer-7-v4"', label="customer", pk=7).versions == {3, 4}
    assert parse_if_match('3', label="customer", pk=7).versions == {3}
    assert parse_if_match('W/"3"', label="customer", pk=7).versions == {3}
    # Well-formed tags of another record (or anything else) never match.
    assert parse_if_match('W/"customer-8-v3"', label="customer", pk=7).versions == frozenset()
    assert parse_if_match('W/"contact-7-v3"', label="customer", pk=7).versions == frozenset()
    assert not parse_if_match('"whatever"', label="customer", pk=7).matches(1)


@pytest.mark.parametrize("header", ["", "  ", "customer-7-v3", 'W/"open', '"a" "b"', "W/3", '"a";x', "*, 3"])
def test_parse_if_match_refuses_what_is_not_an_etag_list(header: str) -> None:
    with pytest.raises(MalformedIfMatch) as refused:
        parse_if_match(header, label="customer", pk=7)
    assert refused.value.http_status == 400 and refused.value.field == "If-Match"


@pytest.mark.django_db
def test_etag_and_precondition_failed_name_the_version_and_the_last_editor(sales_user) -> None:
    sales_user.display_name = "李销售"
    customer = customer_create(acting_user=sales_user, data={"name": "北京分扬科技有限公司"})
    assert etag(customer) == f'W/"customer-{customer.pk}-v{customer.version}"'
    error = PreconditionFailed(customer)
    body = error.as_dict()
    assert error.http_status == 412 and error.headers == {"ETag": etag(customer)}
    assert body["code"] == "precondition_failed" and body["current_version"] == customer.version
    assert body["updated_by"] == str(sales_user) and str(sales_user) in body["message"]
    assert body["updated_at"] == customer.updated_at.isoformat()
    customer.updated_by = None
    assert PreconditionFailed(customer).as_dict()["updated_by"] is None


def test_snapshot_round_trip_and_tampering() -> None:
    token = snapshot_sign({"city": "北京", "tags": ("a", "b"), "n": 3})
    assert snapshot_read(token) == {"city": "北京", "tags": ["a", "b"], "n": 3}
    assert snapshot_read(token + "x") is None and snapshot_read("") is None and snapshot_read(None) is None


class DemoForm(forms.Form):
    city = forms.CharField(label="城市", required=False)
    stage = forms.ChoiceField(label="阶段", required=False, choices=[("", "—"), ("1", "初步接洽"), ("2", "赢单")])
    when = forms.DateField(label="日期", required=False)
    vip = forms.BooleanField(label="重要", required=False)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)


def test_form_changes_separates_their_change_mine_and_clashes() -> None:
    loaded = {"city": "北京", "stage": 1, "when": "2026-01-02", "vip": False, "version": 1}
    current = {"city": "上海", "stage": 2, "when": "2026-01-02", "vip": False, "version": 2}
    posted = DemoForm(data={"city": "广州", "stage": "1", "when": "2026-1-2", "version": "1", "vip": "on"})
    changes = {c.name: c for c in form_changes(posted, loaded=loaded, current=current)}
    assert set(changes) == {"city", "stage", "vip"}  # the date is the same day, however typed
    assert changes["city"].clash and (changes["city"].loaded, changes["city"].current, changes["city"].mine) == (
        "北京", "上海", "广州")
    assert changes["stage"].changed_by_others and not changes["stage"].edited_by_me
    assert (changes["stage"].loaded, changes["stage"].current) == ("初步接洽", "赢单")
    assert changes["vip"].edited_by_me and not changes["vip"].changed_by_others and changes["vip"].mine == "是"


def test_form_changes_without_a_snapshot_compares_with_what_is_stored() -> None:
    current = {"city": "上海", "stage": 2, "when": "", "vip": False}
    posted = DemoForm(data={"city": "上海", "stage": "1", "when": ""})
    changes = form_changes(posted, loaded=None, current=current)
    assert [(c.name, c.loaded, c.current, c.mine) for c in changes] == [("stage", None, "赢单", "初步接洽")]


@pytest.mark.django_db
def test_the_message_names_the_kind_of_record(sales_user) -> None:
    from kehu.activities.services import task_create

    customer = customer_create(acting_user=sales_user, data={"name": "北京分扬科技有限公司"})
    assert PreconditionFailed(customer).message.startswith("该客户已被")
    task = task_create(acting_user=sales_user, assignee=sales_user, title="回电话")
    assert PreconditionFailed(task).message.startswith("该任务已被")
