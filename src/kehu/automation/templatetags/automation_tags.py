from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

register = template.Library()


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.inclusion_tag("automation/partials/list_bar.html", takes_context=True)
def rule_conditions_bar(context: template.Context, object_type: str) -> dict[str, Any]:
    """On a list page (admins): "用当前筛选建自动化规则", or — when the list was opened from a rule's
    conditions (`?rule=<id>` or `?rule=new`) — "带回规则". Both submit the list's own filter form to
    the automation app, which turns its filters into the rule's conditions."""
    from kehu.automation import conditions
    from kehu.automation.models import Rule

    request = context.get("request")
    user = getattr(request, "user", None)
    from kehu.accounts.permissions import has_operation

    if request is None or not has_operation(user, "automation.manage") or object_type not in conditions.FORM_IDS:
        return {"show": False}
    marker = request.GET.get("rule", "")
    rule = Rule.objects.filter(pk=int(marker)).only("pk", "name").first() if marker.isdigit() else None
    returning = rule is not None or marker == "new"
    return {
        "show": True, "object_type": object_type, "form_id": conditions.FORM_IDS[object_type],
        "action_url": reverse("automation:from_list", args=[object_type]),
        "returning": returning, "marker": str(rule.pk) if rule else "new", "rule": rule,
        "cancel_url": reverse("automation:edit", args=[rule.pk]) if rule else reverse("automation:create"),
        "carry": [(key, value) for key in conditions.HIDDEN_KEYS[object_type] for value in request.GET.getlist(key)
                  if value] if returning else [],
    }
