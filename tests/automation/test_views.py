"""The rule builder pages through the Django test client: list, templates, form with action rows,
HTMX parts (trigger fields, action row, audience count, dry run), pause and the run log."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kehu.automation import builtin, engine
from kehu.automation.models import Rule
from tests.automation.conftest import customer_of, event, make_rule

pytestmark = pytest.mark.django_db


def test_only_admins_see_the_pages(client, rep):
    client.force_login(rep)
    assert client.get(reverse("automation:list")).status_code == 403
    assert "自动化" not in client.get(reverse("customers:list")).content.decode().split("数据质量")[0][-400:]


def test_build_a_rule_in_the_form(client, admin, rep, rep2):
    client.force_login(admin)
    assert client.get(reverse("automation:create")).status_code == 200
    post = {"name": "上海新客户", "object_type": "customer", "trigger": "created", "conditions": "city=上海市",
            "action_row": ["a", "b"],
            "action-a-type": "assign_owner", "action-a-mode": "round_robin", "action-a-users": [rep.pk, rep2.pk],
            "action-b-type": "add_tag", "action-b-tag": "上海"}
    response = client.post(reverse("automation:create"), post)
    assert response.status_code == 302
    rule = Rule.objects.get()
    assert rule.conditions == {"city": "上海市"}
    assert rule.actions == [
        {"type": "assign_owner", "params": {"mode": "round_robin", "user": None, "users": [rep.pk, rep2.pk],
                                            "territory": []}},
        {"type": "add_tag", "params": {"tag": "上海"}}]
    page = client.get(reverse("automation:edit", args=[rule.pk])).content.decode()
    assert "上海新客户" in page and 'name="action-0-tag"' not in page and 'name="action-1-tag"' in page


def test_form_errors_are_shown_and_nothing_saved(client, admin):
    client.force_login(admin)
    response = client.post(reverse("automation:create"), {"name": "", "object_type": "customer",
                                                          "trigger": "created", "action_row": []})
    assert response.status_code == 422 and "rule-errors" in response.content.decode()
    assert not Rule.objects.exists()


def test_time_based_trigger_fields(client, admin):
    client.force_login(admin)
    post = {"name": "生日", "object_type": "customer", "trigger": "date_offset", "tp-field": "birthday",
            "tp-days": "0", "tp-direction": "before", "tp-at": "08:30", "action_row": ["x"],
            "action-x-type": "add_tag", "action-x-tag": "生日"}
    assert client.post(reverse("automation:create"), post).status_code == 302
    assert Rule.objects.get().trigger_params == {"at": "08:30", "days": 0, "field": "birthday", "direction": "before"}


def test_htmx_parts(client, admin, rep):
    client.force_login(admin)
    fields = client.get(reverse("automation:trigger_fields"), {"trigger": "inactive", "object_type": "opportunity"})
    assert 'name="tp-anchor"' in fields.content.decode()
    row = client.get(reverse("automation:action_row"), {"object_type": "customer", "index": "n1",
                                                        "action-n1-type": "notify"}).content.decode()
    assert 'name="action-n1-title"' in row and 'name="action-n1-to"' in row
    customer_of(rep, city="杭州市")
    customer_of(rep, city="宁波市")
    audience = client.get(reverse("automation:audience"), {"object_type": "customer",
                                                           "conditions": "city=杭州市"}).content.decode()
    assert "1 条" in audience and "/customers/?city=" in audience


def test_templates_dry_run_pause_and_runs(client, admin, rep):
    client.force_login(admin)
    page = client.get(reverse("automation:list")).content.decode()
    for template in builtin.TEMPLATES:
        assert str(template.name) in page
        response = client.post(reverse("automation:from_template", args=[template.key]))
        assert response.status_code == 302
    assert Rule.objects.count() == 4 and not Rule.objects.filter(is_active=True).exists()
    for each in Rule.objects.all():  # every template's rule opens in the builder with its rows
        page = client.get(reverse("automation:edit", args=[each.pk])).content.decode()
        assert page.count('data-testid="action-row"') == len(each.actions)
        assert client.get(reverse("automation:runs", args=[each.pk])).status_code == 200
    rule = Rule.objects.get(template_key="birthday")
    assert rule.trigger == "date_offset" and rule.actions[0]["params"]["template"] == "birthday_greeting"
    # The mail each template sends exists in both languages, each written in its own language.
    from kehu.mailing.models import MailTemplate

    greetings = {t.language: t for t in MailTemplate.objects.filter(key="birthday_greeting")}
    assert set(greetings) == {"zh-hans", "en"}
    assert "生日" in greetings["zh-hans"].subject and "birthday" in greetings["en"].subject.lower()
    dry = client.post(reverse("automation:dry_run", args=[rule.pk])).content.decode()
    assert "dry-run-result" in dry and "0" in dry
    client.post(reverse("automation:toggle", args=[rule.pk]))
    assert Rule.objects.get(pk=rule.pk).is_active
    tagger = make_rule(admin, trigger="created", actions=[{"type": "add_tag", "params": {"tag": "x"}}])
    customer = customer_of(rep)
    engine.handle_event(event("customer.created", customer.pk))
    runs = client.get(reverse("automation:runs", args=[tagger.pk])).content.decode()
    assert "customer.created" in runs and "添加标签 x" in runs


def test_template_rules_run_as_built(admin, rep, rep2):
    """The "new lead" template: round-robin over the sales reps and the welcome mail to the lead."""
    from kehu.automation import services
    from kehu.leads.models import Lead
    from kehu.mailing.models import SentMail

    rule = services.rule_from_template(acting_user=admin, key="new_lead")
    services.rule_resume(acting_user=admin, rule_id=rule.pk)
    lead = Lead.objects.create(name="访客", email="visitor@example.com")
    assert engine.handle_event(event("lead.created", lead.pk)).done == 2
    assert Lead.objects.get(pk=lead.pk).owner_id in {rep.pk, rep2.pk}
    assert SentMail.objects.get().to == "visitor@example.com"
