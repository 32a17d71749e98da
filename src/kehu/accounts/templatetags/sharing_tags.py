"""`{% share_panel "customers" customer %}`: the 共享 panel of a detail page (only for those who
may share the record: its owner, admins, holders of "<object>.assign")."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("accounts/partials/share_panel.html", takes_context=True)
def share_panel(context: dict[str, Any], kind: str, record: Any) -> dict[str, Any]:
    from kehu.accounts.models import Department, User
    from kehu.accounts.sharing import can_share, share_kind, shares_of

    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or user is None or not can_share(user, share_kind(kind), record):
        return {"show": False}
    return {
        "show": True, "kind": kind, "record": record,
        "shares": shares_of(user=user, kind=kind, object_id=record.pk),
        "users": User.objects.filter(is_active=True).exclude(pk=getattr(record, "owner_id", None))
        .order_by("username").only("id", "username", "display_name"),
        "departments": Department.objects.order_by("path").only("id", "name", "path"),
        "next": request.get_full_path(),
    }
