"""The sandboxed merge-field engine: what a template can reach, and what it can't."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Model
from django.template import TemplateSyntaxError

from kehu.mailing import rendering

pytestmark = pytest.mark.django_db


@pytest.fixture
def context(rep, customer, contact):  # type: ignore[no-untyped-def]
    return rendering.merge_context(customer=customer, contact=contact, sender=rep, today=dt.date(2026, 11, 28))


def render(source: str, context, html: bool = False) -> str:  # type: ignore[no-untyped-def]
    return rendering.render_string(source, context, html=html)


def test_merge_fields_render(context) -> None:  # type: ignore[no-untyped-def]
    text = render("{{ customer.name }}|{{ customer.short_name }}|{{ customer.city }}|{{ customer.owner_name }}|"
                  "{{ contact.name }}|{{ contact.salutation }}|{{ contact.title }}|{{ sender.name }}|{{ user.email }}|"
                  "{{ today|date:'Y-m-d' }}|{{ customer.salutation|default:'贵公司' }}", context)
    assert text == ("北京分扬科技有限公司|分扬科技|北京市|李销售|王小明|王总|总经理|李销售|li@kehu.example.com|"
                    "2026-11-28|贵公司")


def test_the_context_holds_no_model_instances(context) -> None:  # type: ignore[no-untyped-def]
    for value in context.values():
        assert not isinstance(value, Model)
        if isinstance(value, rendering.MergeData):
            assert not any(isinstance(v, Model) for v in value._values.values())


@pytest.mark.parametrize("source", [
    "{{ customer.delete }}", "{{ customer.save }}", "{{ contact.customer }}", "{{ contact.customer.owner.password }}",
    "{{ customer.objects }}", "{{ customer.items }}", "{{ customer.clear }}", "{{ customer.keys }}",
    "{{ customer }}", "{{ sender.password }}", "{{ user.is_superuser }}", "{{ settings.SECRET_KEY }}",
    "{{ request.user }}",
])
def test_attribute_walking_finds_nothing(context, source) -> None:  # type: ignore[no-untyped-def]
    assert render(source, context) == ""
    assert render("{{ customer.name }}", context) == "北京分扬科技有限公司"  # nothing was cleared or changed


@pytest.mark.parametrize("source", [
    "{% load static %}", "{% include 'base.html' %}", "{% extends 'base.html' %}", "{% debug %}",
    "{% url 'customers:list' %}", "{% csrf_token %}", "{% for c in customer.name %}{{ c }}{% endfor %}",
    "{{ customer.__class__ }}", "{{ customer._values }}", "{{ customer.name|safe }}", "{{ customer|pprint }}",
    "{% autoescape off %}{{ customer.name }}{% endautoescape %}", "{% templatetag openblock %}",
])
def test_dangerous_syntax_is_refused(context, source) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TemplateSyntaxError):
        render(source, context)
    assert rendering.check_template(source) is not None


def test_html_is_escaped_text_is_not(context) -> None:  # type: ignore[no-untyped-def]
    ctx = {**context, "customer": rendering.MergeData({"name": "<script>alert(1)</script>"})}
    assert render("<p>{{ customer.name }}</p>", ctx, html=True) == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert render("{{ customer.name }}", ctx) == "<script>alert(1)</script>"


def test_unknown_fields_are_reported() -> None:
    assert rendering.unknown_fields("{{ custmer.name }} {{ customer.nam }} {{ customer.name }} {{ today.year }} "
                                    "{{ contact.birthday.year }} {{ customer.name.x }}") == [
        "custmer.name", "customer.nam", "customer.name.x"]
    assert rendering.check_template("{{ customer.name }}{% if contact.title %}{{ contact.title }}{% endif %}") is None


def test_subject_is_one_line(context) -> None:  # type: ignore[no-untyped-def]
    shown = rendering.render_mail(subject="你好\n{{ customer.name }}\r\nBcc: x@y", body="b", context=context)
    assert shown.subject == "你好 北京分扬科技有限公司 Bcc: x@y"
