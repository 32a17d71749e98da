"""Web pages of the customer archive. Views stay thin: parse input, call one service or selector,
render. Records are read only through selectors (scoped to the user), written only through
services; service errors are mapped onto forms or messages here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kehu.accounts.permissions import has_operation
from kehu.accounts.selectors import departments_all, users_assignable
from kehu.core import masking
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.etag import form_changes, snapshot_read, snapshot_sign
from kehu.customers import selectors, services
from kehu.customers.filters import CustomerFilter
from kehu.customers.forms import (
    BulkActionForm,
    ContactForm,
    CustomerForm,
    CustomFieldDefinitionForm,
    NoteForm,
    PicklistOptionForm,
    SavedViewForm,
    TagForm,
)
from kehu.customers.models import CustomFieldTarget, PicklistKind
from kehu.customers.search import search
from kehu.dataquality import selectors as quality_selectors
from kehu.dataquality.contact_duplicates import likely_contact_duplicates
from kehu.dataquality.duplicates import customer_values, duplicates_blocked, likely_duplicates
from kehu.dataquality.merging.selectors import visible_survivor_for

COLUMNS_SESSION_KEY = "customer_list_columns"
BUILTIN_COLUMNS: list[tuple[str, Any]] = [
    ("kind", gettext_lazy("类型")),
    ("stage", gettext_lazy("阶段")),
    ("level", gettext_lazy("级别")),
    ("owner", gettext_lazy("负责人")),
    ("department", gettext_lazy("部门")),
    ("source", gettext_lazy("来源")),
    ("industry", gettext_lazy("行业")),
    ("city", gettext_lazy("城市")),
    ("phones", gettext_lazy("电话")),
    ("tags", gettext_lazy("标签")),
    ("created_at", gettext_lazy("创建时间")),
    ("updated_at", gettext_lazy("更新时间")),
]
DEFAULT_COLUMNS = ["stage", "level", "owner", "city", "phones", "tags", "updated_at"]
SORTABLE = {"name", "created_at", "updated_at"}


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _hx(response: HttpResponse, *, trigger: str | None = None, retarget: str | None = None) -> HttpResponse:
    if trigger:
        response["HX-Trigger"] = trigger
    if retarget:
        response["HX-Retarget"] = retarget
        response["HX-Reswap"] = "outerHTML"
    return response


def not_found_as_404(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A record outside the user's scope looks exactly like a missing one."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(str(exc)) from exc
        except PermissionDenied as exc:
            raise DjangoPermissionDenied(str(exc)) from exc

    return wrapper


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not has_operation(request.user, "settings.manage"):
            raise DjangoPermissionDenied(_("只有管理员可以访问设置"))
        return view(request, *args, **kwargs)

    return login_required(not_found_as_404(wrapper))


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


# List -----------------------------------------------------------------------------------------


def _available_columns(definitions: list[Any]) -> list[tuple[str, Any]]:
    custom = [(f"cf_{d.key}", d.label) for d in definitions if d.show_in_list]
    return BUILTIN_COLUMNS + custom


def _chosen_columns(request: HttpRequest, available: list[tuple[str, Any]]) -> list[str]:
    keys = {key for key, _label in available}
    stored = request.session.get(COLUMNS_SESSION_KEY)
    if stored is None:
        stored = DEFAULT_COLUMNS + [k for k in keys if k.startswith("cf_")]
    ordered = [key for key, _label in available if key in set(stored)]
    return ordered


@login_required
@require_GET
def customer_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    if request.GET.get("view"):
        return _apply_saved_view(request, request.GET["view"])
    filters = CustomerFilter.from_params(request.GET)
    sort = selectors.normalise_sort(request.GET.get("sort"))
    page = selectors.customer_list_page(
        user=user, filters=filters, sort=sort, cursor=request.GET.get("cursor") or None,
        limit=settings.KEHU_LIST_PAGE_SIZE,
    )
    masking.mask_instances(user, "customer", page.rows)  # field-level security: display copies only
    definitions = selectors.custom_field_definitions(target=CustomFieldTarget.CUSTOMER)
    available = _available_columns(definitions)
    columns = _chosen_columns(request, available)
    labels = dict(available)
    options = list(selectors.picklist_options())
    users = list(users_assignable(acting_user=user))
    week_start = timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday())
    context = {
        "page": page,
        "filters": filters,
        "filter_count": len(filters.as_params()) - (1 if filters.q else 0),
        "sort": sort,
        "columns": [(key, labels[key]) for key in columns],
        "available_columns": available,
        "chosen_columns": set(columns),
        "definitions": {d.key: d for d in definitions},
        "filter_definitions": [d for d in definitions if d.field_type in ("choice", "multi_choice", "boolean",
                                                                           "text", "user")],
        "options": {kind: [o for o in options if o.kind == kind] for kind in PicklistKind.values},
        "users": users,
        "users_by_id": {u.pk: u for u in users},
        "departments": list(departments_all()),
        "tags": list(selectors.tags_all()),
        "saved_views": list(selectors.saved_views_for(user=user)),
        "quick_views": [
            (_("我的客户"), urlencode({"owner": "me"})),
            (_("本周新增"), urlencode({"created_from": week_start.isoformat()})),
        ],
        "current_query": request.GET.urlencode(),
        "bulk_form_actions": BulkActionForm.ACTIONS,
        "can_manage_others": has_operation(user, "customer.assign"),
    }
    template = "customers/partials/list_results.html" if _is_htmx(request) else "customers/pages/list.html"
    return render(request, template, context)


@login_required
@require_POST
def customer_columns(request: HttpRequest) -> HttpResponse:
    definitions = selectors.custom_field_definitions(target=CustomFieldTarget.CUSTOMER)
    keys = {key for key, _label in _available_columns(definitions)}
    request.session[COLUMNS_SESSION_KEY] = [c for c in request.POST.getlist("columns") if c in keys]
    return redirect(_safe_next(request, reverse("customers:list")))


def _apply_saved_view(request: HttpRequest, view_id: str) -> HttpResponse:
    view = selectors.saved_views_for(user=request.user).filter(pk=int(view_id) if view_id.isdigit() else 0).first()
    if view is None:
        raise Http404(_("视图不存在"))
    if view.columns:
        request.session[COLUMNS_SESSION_KEY] = list(view.columns)
    query = urlencode(view.params)
    return redirect(reverse("customers:list") + (f"?{query}" if query else ""))


@login_required
@require_POST
@not_found_as_404
def saved_view_create(request: HttpRequest) -> HttpResponse:
    form = SavedViewForm(request.POST)
    form.is_valid()
    params = CustomerFilter.from_params(QueryDict(request.POST.get("query", ""))).as_params()
    sort = QueryDict(request.POST.get("query", "")).get("sort")
    if sort:
        params["sort"] = selectors.normalise_sort(sort)
    try:
        view = services.saved_view_create(
            acting_user=request.user, name=form.cleaned_data.get("name", ""), params=params,
            columns=request.session.get(COLUMNS_SESSION_KEY) or [],
            shared=bool(form.cleaned_data.get("shared")),
        )
    except ValidationFailed as exc:
        messages.error(request, exc.message)
        return redirect(reverse("customers:list") + "?" + request.POST.get("query", ""))
    messages.success(request, _("已保存视图“%(name)s”") % {"name": view.name})
    return redirect(reverse("customers:list") + f"?view={view.pk}")


@login_required
@require_POST
@not_found_as_404
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    view = get_object_or_404(selectors.saved_views_for(user=request.user), pk=pk)
    services.saved_view_delete(acting_user=request.user, view=view)
    messages.success(request, _("已删除视图“%(name)s”") % {"name": view.name})
    return redirect("customers:list")


@login_required
@require_POST
@not_found_as_404
def customer_bulk(request: HttpRequest) -> HttpResponse:
    back = _safe_next(request, reverse("customers:list"))
    form = BulkActionForm(request.POST)
    if not form.is_valid() or not form.cleaned_data["ids"]:
        messages.error(request, _("请先勾选客户，并选择一个批量操作"))
        return redirect(back)
    action, ids = form.cleaned_data["action"], form.cleaned_data["ids"]
    if action in ("add_tag", "remove_tag"):
        tag = form.cleaned_data.get("tag", "").strip()
        if not tag:
            messages.error(request, _("请输入标签名"))
            return redirect(back)
        changed = services.customers_bulk_tag(
            acting_user=request.user, customer_ids=ids,
            add=[tag] if action == "add_tag" else [], remove=[tag] if action == "remove_tag" else [],
        )
    else:
        owner = users_assignable(acting_user=request.user).filter(pk=form.cleaned_data.get("owner") or 0).first()
        if owner is None:
            messages.error(request, _("请选择新的负责人"))
            return redirect(back)
        try:
            changed = services.customers_bulk_change_owner(acting_user=request.user, customer_ids=ids, owner=owner)
        except PermissionDenied as exc:
            messages.error(request, exc.message)
            return redirect(back)
    messages.success(request, _("已更新 %(count)s 个客户") % {"count": changed})
    return redirect(back)


@login_required
@require_GET
def customer_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    hits = search(user=request.user, query=query, limit=12) if query else []
    # Field-level security: the hits' phones and e-mails as the user may see them (display copies only).
    masking.mask_instances(request.user, "customer", [h.customer for h in hits])
    masking.mask_instances(request.user, "contact", [h.contact for h in hits if h.contact is not None])
    return render(request, "customers/partials/search_results.html", {
        "query": query,
        "customer_hits": [h for h in hits if h.contact is None],
        "contact_hits": [h for h in hits if h.contact is not None],
    })


# Create / edit --------------------------------------------------------------------------------


def _quality_warnings(request: HttpRequest, customer: Any) -> None:
    """Values saved but flagged by a warning rule (a suspicious e-mail domain, a duplicate phone)."""
    for text in quality_selectors.describe_warnings(getattr(customer, "quality_warnings", None) or []):
        messages.warning(request, text)


def _customer_form(request: HttpRequest, *, data: Any = None, initial: dict | None = None,
                   custom_values: dict | None = None, customer: Any = None) -> CustomerForm:
    user = request.user
    form = CustomerForm(
        data=data, initial=initial,
        options=selectors.picklist_options(),
        users=users_assignable(acting_user=user),
        definitions=selectors.custom_field_definitions(target=CustomFieldTarget.CUSTOMER),
        custom_values=custom_values,
        can_assign=has_operation(user, "customer.assign"),
    )
    form.apply_field_security(user, "customer", customer)  # field-level security (kehu.core.masking)
    return form


@login_required
@require_http_methods(["GET", "POST"])
@not_found_as_404
def customer_create(request: HttpRequest) -> HttpResponse:
    duplicates: list[Any] = []
    if request.method == "POST":
        form = _customer_form(request, data=request.POST)
        if form.is_valid():
            data = form.service_data()
            try:
                # Likely duplicates are shown before the first save, of values that would save (errors
                # first); "save anyway" posts again with confirm_duplicates (the service still refuses
                # certain ones when an admin made them block).
                if not request.POST.get("confirm_duplicates"):
                    prepared = services.customer_prepare(acting_user=request.user, data=data)
                    duplicates = likely_duplicates(customer_values(prepared), user=request.user)
                if not duplicates:
                    customer = services.customer_create(acting_user=request.user, data=data)
            except ValidationFailed as exc:
                form.add_service_errors(exc)
            else:
                if not duplicates:
                    messages.success(request, _("已创建客户“%(name)s”") % {"name": customer.name})
                    _quality_warnings(request, customer)
                    return redirect("customers:detail", pk=customer.pk)
    else:
        form = _customer_form(request, initial={"owner": request.user.pk, "kind": request.GET.get("kind", "company")})
    return render(request, "customers/pages/form.html", {"form": form, "customer": None, "duplicates": duplicates,
                                                         "duplicates_block": duplicates_blocked(duplicates)})


@login_required
@require_POST
def customer_duplicate_check(request: HttpRequest) -> HttpResponse:
    """The form's live check (HTMX, on change of name, phones, e-mails or credit code): the
    warnings the save would show, before the user gets there."""
    values = {name: request.POST.get(name, "") for name in ("kind", "name", "phones", "emails", "credit_code",
                                                               "id_number", "province", "city", "district",
                                                               "address")}
    exclude = request.POST.get("customer_id", "")
    duplicates = likely_duplicates(values, user=request.user, exclude_id=int(exclude) if exclude.isdigit() else None)
    return render(request, "customers/partials/duplicate_warnings.html",
                  {"duplicates": duplicates, "duplicates_block": duplicates_blocked(duplicates), "live": True})


@login_required
@require_http_methods(["GET", "POST"])
@not_found_as_404
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The edit form carries the version it showed and its values (signed, `_loaded`). A save
    after someone else's is refused (409): the page keeps what the user typed and lists, per
    field, the other person's change (old → new) and what the user typed, with a reload button."""
    customer = selectors.customer_get(user=request.user, customer_id=pk, for_edit=True)
    conflict = False
    changes: list[Any] = []
    status = 200
    loaded = request.POST.get("_loaded", "")
    if request.method == "POST":
        form = _customer_form(request, data=request.POST, custom_values=customer.custom, customer=customer)
        if form.is_valid():
            try:
                saved = services.customer_update(
                    acting_user=request.user, customer=customer, data=form.service_data(),
                    expected_version=form.cleaned_data.get("version"),
                )
            except ValidationFailed as exc:
                form.add_service_errors(exc)
            except VersionConflict as exc:
                # Keep everything the user typed (the form keeps the version it loaded, so saving
                # again is refused again); show what changed; they copy what they need, then reload.
                conflict = True
                status = 409
                form.add_error(None, exc.message)
                customer = selectors.customer_get(user=request.user, customer_id=pk)
                stored = _customer_form(request, initial=CustomerForm.initial_for(customer),
                                        custom_values=customer.custom, customer=customer)
                changes = form_changes(form, loaded=snapshot_read(loaded), current=stored.initial)
            else:
                messages.success(request, _("已保存"))
                _quality_warnings(request, saved)
                return redirect("customers:detail", pk=customer.pk)
    else:
        form = _customer_form(request, initial=CustomerForm.initial_for(customer), custom_values=customer.custom,
                              customer=customer)
        loaded = snapshot_sign(form.initial)
    return render(request, "customers/pages/form.html",
                  {"form": form, "customer": customer, "conflict": conflict, "changes": changes, "loaded": loaded},
                  status=status)


@login_required
@require_POST
@not_found_as_404
def customer_delete(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_get(user=request.user, customer_id=pk)
    try:
        services.customer_delete(acting_user=request.user, customer=customer)
    except ValidationFailed as exc:  # deals or contracts still point at it: say so, don't 500
        messages.error(request, str(exc.message))
        return redirect("customers:detail", pk=pk)
    messages.success(request, _("已删除客户“%(name)s”") % {"name": customer.name})
    return redirect("customers:list")


# 360° view ------------------------------------------------------------------------------------


def _timeline_context(request: HttpRequest, customer: Any) -> dict[str, Any]:
    return {
        "customer": customer,
        "timeline": selectors.customer_timeline(user=request.user, customer=customer),
        "change_definitions": selectors.custom_field_definitions(target=CustomFieldTarget.CUSTOMER,
                                                                 active_only=False)
        + selectors.custom_field_definitions(target=CustomFieldTarget.CONTACT, active_only=False),
    }


@login_required
@require_GET
@not_found_as_404
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        customer = selectors.customer_get(user=request.user, customer_id=pk)
    except NotFound:  # an old link of a customer merged into another: go to the survivor
        survivor_id = visible_survivor_for(user=request.user, customer_id=pk)
        if survivor_id is None:
            raise
        messages.info(request, _("客户 #%(old)s 已合并到这个客户") % {"old": pk})
        return redirect("customers:detail", pk=survivor_id)
    definitions = selectors.custom_field_definitions(target=CustomFieldTarget.CUSTOMER)
    users = list(users_assignable(acting_user=request.user))
    context = {
        **_timeline_context(request, customer),
        "definitions": definitions,
        "contact_definitions": selectors.custom_field_definitions(target=CustomFieldTarget.CONTACT),
        "users_by_id": {u.pk: u for u in users},
        "contacts": list(customer.contacts.all()),
        "note_form": NoteForm(),
        "quality": quality_selectors.customer_quality(customer=customer),
    }
    return render(request, "customers/pages/detail.html", context)


@login_required
@require_GET
@not_found_as_404
def customer_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_get(user=request.user, customer_id=pk)
    return render(request, "customers/partials/timeline.html", _timeline_context(request, customer))


@login_required
@require_POST
@not_found_as_404
def note_create(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_get(user=request.user, customer_id=pk)
    form = NoteForm(request.POST)
    form.is_valid()
    try:
        services.note_create(acting_user=request.user, customer=customer, body=form.cleaned_data.get("body", ""))
    except ValidationFailed as exc:
        form.add_service_errors(exc)
        return render(request, "customers/partials/note_form.html", {"customer": customer, "note_form": form})
    response = render(request, "customers/partials/note_form.html", {"customer": customer, "note_form": NoteForm()})
    return _hx(response, trigger="timelineChanged")


# Contacts (inline, HTMX) ----------------------------------------------------------------------


def _contact_form(request: HttpRequest, *, data: Any = None, initial: dict | None = None,
                  custom_values: dict | None = None, contact: Any = None) -> ContactForm:
    form = ContactForm(
        data=data, initial=initial, options=selectors.picklist_options(kind=PicklistKind.CONTACT_ROLE),
        users=users_assignable(acting_user=request.user),
        definitions=selectors.custom_field_definitions(target=CustomFieldTarget.CONTACT),
        custom_values=custom_values,
    )
    form.apply_field_security(request.user, "contact", contact)  # field-level security (kehu.core.masking)
    return form


def _contacts_section(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = selectors.customer_get(user=request.user, customer_id=customer_id)
    users = list(users_assignable(acting_user=request.user))
    response = render(request, "customers/partials/contacts.html", {
        "customer": customer, "contacts": list(customer.contacts.all()),
        "contact_definitions": selectors.custom_field_definitions(target=CustomFieldTarget.CONTACT),
        "users_by_id": {u.pk: u for u in users},
    })
    return _hx(response, trigger="timelineChanged", retarget="#contacts")


@login_required
@require_http_methods(["GET", "POST"])
@not_found_as_404
def contact_create(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_get(user=request.user, customer_id=pk)
    duplicates: list[Any] = []
    same_customer: list[Any] = []
    if request.method == "POST":
        form = _contact_form(request, data=request.POST)
        if form.is_valid():
            data = form.service_data()
            if not request.POST.get("confirm_duplicates"):
                # The same person already known under another customer (another team's, too): 撞单.
                duplicates = likely_duplicates(
                    {"kind": "person", "name": data.get("name", ""), "phones": [data.get("mobile"), data.get("phone")],
                     "emails": [data.get("email")]}, user=request.user, exclude_id=customer.pk)
                # Or already a contact of this very customer, entered again under another name or number.
                same_customer = likely_contact_duplicates(customer.pk, data)
            if not duplicates and not same_customer:
                try:
                    services.contact_create(acting_user=request.user, customer=customer, data=data)
                except ValidationFailed as exc:
                    form.add_service_errors(exc)
                else:
                    return _contacts_section(request, customer.pk)
    else:
        form = _contact_form(request)
    return render(request, "customers/partials/contact_form.html",
                  {"form": form, "customer": customer, "contact": None, "duplicates": duplicates,
                   "for_contact": True, "contact_duplicates": same_customer})


@login_required
@require_http_methods(["GET", "POST"])
@not_found_as_404
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    contact = selectors.contact_get(user=request.user, contact_id=pk, for_edit=True)
    if request.method == "POST":
        form = _contact_form(request, data=request.POST, custom_values=contact.custom, contact=contact)
        if form.is_valid():
            try:
                services.contact_update(acting_user=request.user, contact=contact, data=form.service_data(),
                                        expected_version=form.cleaned_data.get("version"))
            except ValidationFailed as exc:
                form.add_service_errors(exc)
            except VersionConflict as exc:
                form.add_error(None, exc.message)
            else:
                return _contacts_section(request, contact.customer_id)
    else:
        form = _contact_form(request, initial=ContactForm.initial_for(contact), custom_values=contact.custom,
                             contact=contact)
    return render(request, "customers/partials/contact_form.html",
                  {"form": form, "customer": contact.customer, "contact": contact})


@login_required
@require_GET
@not_found_as_404
def contacts_section(request: HttpRequest, pk: int) -> HttpResponse:
    return _contacts_section(request, pk)


@login_required
@require_POST
@not_found_as_404
def contact_delete(request: HttpRequest, pk: int) -> HttpResponse:
    contact = selectors.contact_get(user=request.user, contact_id=pk)
    services.contact_delete(acting_user=request.user, contact=contact)
    return _contacts_section(request, contact.customer_id)


# Admin settings -------------------------------------------------------------------------------


@admin_required
@require_http_methods(["GET", "POST"])
def settings_picklists(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind") or request.POST.get("kind") or PicklistKind.STAGE
    if kind not in PicklistKind.values:
        kind = PicklistKind.STAGE
    form = PicklistOptionForm(request.POST or None, initial={"kind": kind, "is_active": True, "color": "#8c8c8c"})
    if request.method == "POST" and form.is_valid():
        try:
            option = services.picklist_option_save(acting_user=request.user, **form.service_kwargs())
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("已添加选项“%(label)s”") % {"label": option.label})
            return redirect(reverse("customers:settings_picklists") + f"?kind={option.kind}")
    return render(request, "customers/settings/picklists.html", {
        "kind": kind, "kinds": PicklistKind.choices, "form": form,
        "options": selectors.picklist_options(kind=kind, active_only=False),
    })


@admin_required
@require_http_methods(["GET", "POST"])
def settings_picklist_edit(request: HttpRequest, pk: int) -> HttpResponse:
    option = get_object_or_404(selectors.picklist_options(active_only=False), pk=pk)
    initial = {f: getattr(option, f) for f in ("kind", "code", "label_zh", "label_en", "position", "color",
                                                "is_active")}
    initial["color"] = option.color or "#8c8c8c"  # a colour input can't be empty
    form = PicklistOptionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.picklist_option_save(acting_user=request.user, option=option, **form.service_kwargs())
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("已保存"))
            return redirect(reverse("customers:settings_picklists") + f"?kind={option.kind}")
    return render(request, "customers/settings/edit.html", {
        "form": form, "title": _("编辑选项"), "back": reverse("customers:settings_picklists") + f"?kind={option.kind}",
        "section": "picklists",
    })


@admin_required
@require_GET
def settings_fields(request: HttpRequest) -> HttpResponse:
    return render(request, "customers/settings/fields.html", {
        "definitions": selectors.custom_field_definitions(target=CustomFieldTarget.CUSTOMER, active_only=False)
        + selectors.custom_field_definitions(target=CustomFieldTarget.CONTACT, active_only=False),
    })


@admin_required
@require_http_methods(["GET", "POST"])
def settings_field_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    definition = None
    initial: dict[str, Any] = {"target": request.GET.get("target", CustomFieldTarget.CUSTOMER), "is_active": True}
    if pk is not None:
        try:
            definition = selectors.custom_field_get(definition_id=pk)
        except NotFound as exc:
            raise Http404 from exc
        initial = CustomFieldDefinitionForm.initial_for(definition)
    form = CustomFieldDefinitionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.custom_field_save(acting_user=request.user, definition=definition, **form.service_kwargs())
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("已保存"))
            return redirect("customers:settings_fields")
    return render(request, "customers/settings/edit.html", {
        "form": form, "title": _("编辑自定义字段") if definition else _("新建自定义字段"),
        "back": reverse("customers:settings_fields"), "section": "fields",
    })


@admin_required
@require_http_methods(["GET", "POST"])
def settings_tags(request: HttpRequest) -> HttpResponse:
    form = TagForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tag = services.tag_create(acting_user=request.user, name=form.cleaned_data.get("name", ""),
                                      color=form.cleaned_data.get("color") or "#1677ff")
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("已添加标签“%(name)s”") % {"name": tag.name})
            return redirect("customers:settings_tags")
    return render(request, "customers/settings/tags.html", {"form": form, "tags": selectors.tags_all()})


@admin_required
@require_POST
def settings_tag_edit(request: HttpRequest, pk: int) -> HttpResponse:
    tag = get_object_or_404(selectors.tags_all(), pk=pk)
    form = TagForm(request.POST)
    form.is_valid()
    if request.POST.get("delete"):
        services.tag_delete(acting_user=request.user, tag=tag)
        messages.success(request, _("已删除标签“%(name)s”") % {"name": tag.name})
        return redirect("customers:settings_tags")
    try:
        services.tag_update(acting_user=request.user, tag=tag, name=form.cleaned_data.get("name"),
                            color=form.cleaned_data.get("color") or None)
    except ValidationFailed as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已保存"))
    return HttpResponseRedirect(reverse("customers:settings_tags"))


# Export ---------------------------------------------------------------------------------------


@login_required
@require_GET
def customer_export(request: HttpRequest) -> HttpResponse:
    """The list as CSV/XLSX: its filters (the query string), the user's scope, and the columns the
    list shows (`columns=visible`, the default) or every column (`columns=all`)."""
    from kehu.customers.export import export_response, list_columns_to_keys

    fmt = "xlsx" if request.GET.get("format") == "xlsx" else "csv"
    e164 = request.GET.get("e164") == "1"
    columns = None
    if request.GET.get("columns", "visible") != "all":
        definitions = selectors.custom_field_definitions(target=CustomFieldTarget.CUSTOMER)
        columns = list_columns_to_keys(_chosen_columns(request, _available_columns(definitions)), e164=e164)
    return export_response(user=request.user, params=request.GET, fmt=fmt, columns=columns, e164=e164)


@login_required
@require_GET
@not_found_as_404
def customer_archive(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    from kehu.customers.export import archive_response

    return archive_response(user=request.user, customer_id=int(pk), fmt=fmt)
