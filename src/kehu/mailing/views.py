"""Web pages of the mailing app: mail templates (admins), the preview (HTMX), "发邮件" to a customer
(a template or free text, preview, send) and the sent-mail log. Thin: parse the POST, call one
service or selector, render; service errors come back as field errors on the same form."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.customers import selectors as customer_selectors
from kehu.customers.views import admin_required, not_found_as_404

from . import rendering, selectors, services
from .models import MailLanguage, MailStatus, MailTemplate

PAGE = 50
TEMPLATE_INPUTS = ("key", "name", "language", "subject", "body", "body_html")


def _int(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def _merge_fields() -> list[tuple[str, str]]:
    return [(f"{{{{ {obj}.{name} }}}}", str(label)) for obj, fields in rendering.MERGE_FIELDS.items()
            for name, label in fields.items()] + [("{{ today|date:'Y-m-d' }}", _("今天"))]


# Templates ---------------------------------------------------------------------------------------


@admin_required
@require_GET
def template_list(request: HttpRequest) -> HttpResponse:
    return render(request, "mailing/pages/template_list.html", {"templates": selectors.templates_all()})


def _template_page(request: HttpRequest, *, template: MailTemplate | None, values: dict[str, Any],
                   errors: dict[str, list[str]] | None = None, status: int = 200) -> HttpResponse:
    customers = customer_selectors.customers_visible(user=request.user).order_by("-updated_at", "-id").only(
        "pk", "name")[:100]
    return render(request, "mailing/pages/template_form.html", {
        "template": template, "values": values, "errors": errors or {}, "languages": MailLanguage.choices,
        "merge_fields": _merge_fields(), "customers": customers}, status=status)


def _template_values(template: MailTemplate | None) -> dict[str, Any]:
    if template is None:
        return {"language": MailLanguage.ZH, "is_active": True}
    return {name: getattr(template, name) for name in (*TEMPLATE_INPUTS, "is_active")}


def _save_template(request: HttpRequest, template: MailTemplate | None) -> HttpResponse:
    data = {name: request.POST.get(name, "") for name in TEMPLATE_INPUTS}
    data["is_active"] = request.POST.get("is_active") == "on"
    try:
        saved = services.template_save(acting_user=request.user, data=data,
                                       template_id=template.pk if template else None)
    except ValidationFailed as exc:
        return _template_page(request, template=template, values=data, errors=exc.by_field(), status=422)
    messages.success(request, _("已保存邮件模板 %(name)s") % {"name": saved.name})
    return redirect("mailing:templates")


@admin_required
@require_http_methods(["GET", "POST"])
def template_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _save_template(request, None)
    return _template_page(request, template=None, values=_template_values(None))


@admin_required
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    template = selectors.template_get(template_id=pk)
    if request.method == "POST":
        return _save_template(request, template)
    return _template_page(request, template=template, values=_template_values(template))


@admin_required
@require_POST
def template_delete(request: HttpRequest, pk: int) -> HttpResponse:
    services.template_delete(acting_user=request.user, template_id=pk)
    messages.success(request, _("已删除邮件模板"))
    return redirect("mailing:templates")


@login_required
@require_POST
def preview(request: HttpRequest) -> HttpResponse:
    """The rendered subject and bodies for the texts in the form (or the chosen template), with the
    chosen customer/contact or sample data. Always a partial (HTMX target)."""
    post = request.POST
    subject, body, body_html = post.get("subject", ""), post.get("body", ""), post.get("body_html", "")
    template_id = _int(post.get("template"))
    context: dict[str, Any] = {}
    try:
        if template_id:
            template = services.template_resolve(template_id, post.get("language") or None)
            subject, body, body_html = template.subject, template.body, template.body_html
        context["shown"] = services.mail_preview(
            acting_user=request.user, subject=subject, body=body, body_html=body_html,
            customer=_int(post.get("customer")), contact=_int(post.get("contact")),
            language=post.get("language") or None)
    except ValidationFailed as exc:
        context["errors"] = [str(e.message) for e in exc.errors]
    except NotFound as exc:
        context["errors"] = [str(exc)]
    return render(request, "mailing/partials/preview.html", context)


# Compose ----------------------------------------------------------------------------------------


def _compose_page(request: HttpRequest, *, customer: Any, values: dict[str, Any],
                  errors: dict[str, list[str]] | None = None, status: int = 200) -> HttpResponse:
    contacts = customer_selectors.contacts_visible(user=request.user).filter(customer_id=customer.pk).order_by(
        "-is_primary", "id")
    return render(request, "mailing/pages/compose.html", {
        "customer": customer, "contacts": contacts, "templates": selectors.templates_all(active_only=True),
        "values": values, "errors": errors or {}, "bounced": _bounced(customer, contacts)}, status=status)


def _bounced(customer: Any, contacts: Any) -> set[str]:
    from kehu.dataquality.models import BouncedEmail

    addresses = {e.lower() for e in customer.emails or [] if e} | {c.email.lower() for c in contacts if c.email}
    return set(BouncedEmail.objects.filter(email__in=addresses).values_list("email", flat=True))


@login_required
@require_http_methods(["GET", "POST"])
@not_found_as_404
def compose(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = customer_selectors.customer_get(user=request.user, customer_id=customer_id)
    if request.method == "GET":
        contact_id = _int(request.GET.get("contact"))
        contact = customer_selectors.contacts_visible(user=request.user).filter(
            customer_id=customer.pk, pk=contact_id).first() if contact_id else None
        if contact is None:
            contact = customer_selectors.contacts_visible(user=request.user).filter(
                customer_id=customer.pk).exclude(email="").order_by("-is_primary", "id").first()
        values = {"contact": contact.pk if contact else "", "template": "",
                  "to": services.default_recipient(customer, contact)}
        return _compose_page(request, customer=customer, values=values)
    post = request.POST
    values = {name: post.get(name, "") for name in ("template", "contact", "to", "subject", "body")}
    template_id, contact_id = _int(values["template"]), _int(values["contact"])
    try:
        if template_id:
            mail = services.send_template_mail(template=template_id, acting_user=request.user, customer=customer,
                                               contact=contact_id, to=values["to"] or None)
        else:
            mail = services.send_mail_message(subject=values["subject"], body=values["body"], to=values["to"] or None,
                                              acting_user=request.user, customer=customer, contact=contact_id)
    except ValidationFailed as exc:
        return _compose_page(request, customer=customer, values=values, errors=exc.by_field(), status=422)
    if mail is None:
        messages.info(request, _("这封邮件已经发送过"))
    elif mail.status == MailStatus.BOUNCED:
        messages.error(request, _("邮件被退回：%(to)s（%(error)s）") % {"to": mail.to, "error": mail.error})
    elif mail.status == MailStatus.FAILED:
        messages.error(request, _("邮件发送失败：%(error)s") % {"error": mail.error})
    elif mail.status == MailStatus.QUEUED:
        messages.info(request, _("邮件将发送给 %(to)s") % {"to": mail.to})
    else:
        messages.success(request, _("邮件已发送给 %(to)s") % {"to": mail.to})
    return redirect("customers:detail", customer.pk)


# Sent mails ---------------------------------------------------------------------------------------


@login_required
@require_GET
def sent_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    status = status if status in MailStatus.values else ""
    q = request.GET.get("q", "").strip()[:100]
    rows = selectors.sent_mails_filtered(user=request.user, status=status, q=q,
                                         customer_id=_int(request.GET.get("customer")))
    page = Paginator(rows, PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "statuses": MailStatus.choices, "params": request.GET}
    if request.headers.get("HX-Request") == "true":
        return render(request, "mailing/partials/sent_results.html", context)
    return render(request, "mailing/pages/sent_list.html", context)


@login_required
@require_GET
@not_found_as_404
def sent_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "mailing/pages/sent_detail.html",
                  {"mail": selectors.sent_mail_get(user=request.user, mail_id=pk)})


@login_required
@require_POST
@not_found_as_404
def sent_retry(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        mail = services.mail_retry(acting_user=request.user, mail_id=pk)
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(str(exc)) from exc
    except ValidationFailed as exc:
        messages.error(request, str(exc.message))
        return redirect("mailing:sent_detail", pk)
    if mail.status == MailStatus.SENT:
        messages.success(request, _("邮件已发送给 %(to)s") % {"to": mail.to})
    else:
        messages.error(request, _("邮件发送失败：%(error)s") % {"error": mail.error})
    return redirect("mailing:sent_detail", pk)
