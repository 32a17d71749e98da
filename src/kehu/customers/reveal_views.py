"""The "显示" button next to a masked value (HTMX): the full value in place of the masked one,
through `reveal.field_reveal` (permission, scope, audit event, rate limit)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.customers.reveal import field_reveal
from kehu.customers.templatetags.field_security import render_full


@login_required
@require_POST
def reveal(request: HttpRequest, object_type: str, pk: int, field: str) -> HttpResponse:
    try:
        value = field_reveal(acting_user=request.user, object_type=object_type, object_id=pk, field=field)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except PermissionDenied as exc:
        return HttpResponse(format_html('<span class="sensitive error">{}</span>', exc.message),
                            status=exc.http_status)
    except ValidationFailed as exc:
        return HttpResponse(format_html('<span class="sensitive error">{}</span>', exc.message), status=400)
    return HttpResponse(format_html('<span class="sensitive sensitive-revealed" data-field="{}">{}</span>', field,
                                    render_full(object_type, field, value)))
