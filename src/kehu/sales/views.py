"""Web pages of the sales app: the kanban board (drag and drop, with a per-card "移到…" form for
keyboard and phone), the list, the opportunity form and detail, the forecast and the settings.
Views stay thin: parse input, call one service or selector, render; service errors become form
errors or the board's message."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kehu.accounts.permissions import require_operation
from kehu.accounts.selectors import users_assignable
from kehu.core.errors import KehuError, NotFound, ValidationFailed, VersionConflict
from kehu.core.etag import form_changes, snapshot_read, snapshot_sign
from kehu.core.params import query_date, query_int
from kehu.customers import selectors as customer_selectors
from kehu.customers.views import admin_required, not_found_as_404
from kehu.sales import selectors, services
from kehu.sales.forms import (
    LostReasonForm,
    OpportunityForm,
    PipelineForm,
    ProductForm,
    StageForm,
    line_formset,
    lines_data,
)
from kehu.sales.models import LostReason, Pipeline, Product, ProductCategory, Stage, StageKind

LIST_PAGE = 50
RECENT_CUSTOMERS = 200
FILTER_KEYS = ("pipeline", "owner", "q", "close_from", "close_to", "overdue", "status")


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _filters(request: HttpRequest, params: QueryDict | None = None) -> selectors.OpportunityFilter:
    params = params if params is not None else request.GET
    owner = params.get("owner", "")
    return selectors.OpportunityFilter(
        owner=request.user.pk if owner == "me" else query_int(owner),
        customer=query_int(params.get("customer")),
        q=params.get("q", "").strip()[:100],
        close_from=query_date(params.get("close_from")),
        close_to=query_date(params.get("close_to")),
        overdue=params.get("overdue") in ("1", "on", "true"),
        status=params.get("status", "") if params.get("status") in StageKind.values else "",
    )


def _query(params: QueryDict, drop: tuple[str, ...] = ()) -> str:
    """The filter part of a query string, to carry along in "load more", paging and move URLs."""
    kept = QueryDict(mutable=True)
    for key in FILTER_KEYS:
        if key not in drop and params.get(key):
            kept[key] = params[key]
    return kept.urlencode()


# Board -----------------------------------------------------------------------------------------


def _board_context(request: HttpRequest, params: QueryDict) -> dict[str, Any]:
    user = request.user
    pipeline = selectors.pipeline_get(query_int(params.get("pipeline")))
    filters = _filters(request, params)
    board = selectors.kanban_board(user=user, pipeline_id=pipeline.pk, filters=filters)
    return {
        "board": board,
        "pipeline": pipeline,
        "figures": selectors.sales_figures(user=user, pipeline_id=pipeline.pk),
        "filters": filters,
        "query": _query(params, drop=("pipeline",)),
        "full_query": _query(params),
        "today": timezone.localdate(),
        "stages": [c.stage for c in board.columns],
    }


@login_required
@require_GET
@not_found_as_404
def board(request: HttpRequest) -> HttpResponse:
    context = _board_context(request, request.GET)
    if _is_htmx(request):
        return render(request, "sales/partials/board.html", context)
    context.update({
        "pipelines": selectors.pipelines_active(),
        "users": list(users_assignable(acting_user=request.user)),
        "reasons": list(LostReason.objects.filter(is_active=True)),
        "params": request.GET,
    })
    return render(request, "sales/pages/board.html", context)


@login_required
@require_GET
@not_found_as_404
def column_more(request: HttpRequest, stage_id: int) -> HttpResponse:
    """The next page of one column's cards ("加载更多"), with the next button when there are more."""
    stage = Stage.objects.filter(pk=stage_id, is_active=True).select_related("pipeline").first()
    if stage is None:
        raise NotFound("stage")
    offset = query_int(request.GET.get("offset")) or 0
    filters = _filters(request)
    cards = selectors.column_cards(user=request.user, stage=stage, filters=filters, offset=offset,
                                   limit=selectors.BOARD_PAGE + 1)
    has_more = len(cards) > selectors.BOARD_PAGE
    return render(request, "sales/partials/cards.html", {
        "cards": cards[:selectors.BOARD_PAGE], "stage": stage, "has_more": has_more,
        "next_offset": offset + selectors.BOARD_PAGE, "query": _query(request.GET, drop=("pipeline",)),
        "today": timezone.localdate(), "stages": selectors.stages_of(stage.pipeline),
        "pipeline": stage.pipeline,
    })


@login_required
@require_http_methods(["GET", "POST"])
@not_found_as_404
def opportunity_move(request: HttpRequest, pk: int) -> HttpResponse:
    """The board's drag and drop and each card's "移到…" form. The board's script posts with
    `X-Kehu-Board` and gets the re-rendered board back (totals and figures updated; after a refusal
    the card is back where it was and the message is on top). A plain form post (no script)
    redirects to the board, or shows this page's form again with the message (e.g. a lost reason)."""
    opportunity = selectors.opportunity_get(user=request.user, opportunity_id=pk, for_edit=True)
    from_board = request.headers.get("X-Kehu-Board") == "1"
    params = request.GET.copy()
    params.setdefault("pipeline", str(opportunity.pipeline_id))  # re-render the deal's own board
    error: KehuError | None = None
    if request.method == "POST":
        data = request.POST
        try:
            services.opportunity_move(
                acting_user=request.user, opportunity_id=pk, stage_id=data.get("stage"),
                before_id=query_int(data.get("before")), after_id=query_int(data.get("after")),
                expected_version=query_int(data.get("version")), lost_reason=data.get("lost_reason") or None,
                lost_note=data.get("lost_note") or None,
            )
        except (ValidationFailed, VersionConflict) as exc:
            error = exc
        if from_board:
            context = _board_context(request, params)
            if error is not None:
                context["move_error"] = error
                context["need_lost_reason"] = isinstance(error, ValidationFailed) and any(
                    e.field == "lost_reason" for e in error.errors)
                context["moved_id"] = pk
                context["moved_stage"] = data.get("stage")
            return render(request, "sales/partials/board.html", context, status=422 if error else 200)
        if error is None:
            messages.success(request, _("已移动商机“%(name)s”") % {"name": opportunity.name})
            return redirect(reverse("sales:board") + f"?{_query(params)}")
    return render(request, "sales/pages/move.html", {
        "opportunity": opportunity, "error": error, "stages": selectors.stages_of(opportunity.pipeline),
        "reasons": list(LostReason.objects.filter(is_active=True)),
        "chosen": request.POST.get("stage") or opportunity.stage_id,
    }, status=422 if error else 200)


# List ------------------------------------------------------------------------------------------


@login_required
@require_GET
@not_found_as_404
def opportunity_list(request: HttpRequest) -> HttpResponse:
    pipeline_id = query_int(request.GET.get("pipeline"))
    rows = selectors.opportunities_filtered(user=request.user, filters=_filters(request), pipeline_id=pipeline_id)
    page = Paginator(rows.order_by("-updated_at", "-id"), LIST_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "query": _query(request.GET), "today": timezone.localdate(), "params": request.GET}
    if _is_htmx(request):
        return render(request, "sales/partials/list_results.html", context)
    context.update({"pipelines": selectors.pipelines_active(),
                    "users": list(users_assignable(acting_user=request.user)), "statuses": StageKind.choices})
    return render(request, "sales/pages/list.html", context)


# Create / edit / delete -----------------------------------------------------------------------


def _form(request: HttpRequest, *, data: Any = None, initial: dict | None = None, opportunity: Any = None,
          customer_id: int | None = None) -> OpportunityForm:
    user = request.user
    customers = list(customer_selectors.customers_visible(user=user).order_by("-updated_at", "-id")
                     .only("pk", "name")[:RECENT_CUSTOMERS])
    wanted = customer_id or (opportunity.customer_id if opportunity else None)
    if wanted and all(c.pk != wanted for c in customers):
        extra = customer_selectors.customers_visible(user=user).filter(pk=wanted).first()
        if extra is not None:
            customers.insert(0, extra)
    users = list(users_assignable(acting_user=user))
    if opportunity is not None and opportunity.owner and all(u.pk != opportunity.owner_id for u in users):
        users.insert(0, opportunity.owner)
    if opportunity is not None:
        stages = selectors.stages_of(opportunity.pipeline)
    else:
        stages = [s for p in selectors.pipelines_active() for s in selectors.stages_of(p)]
    contacts = customer_selectors.contacts_visible(user=user).filter(customer_id=wanted) if wanted else []
    return OpportunityForm(
        data=data, initial=initial, customers=customers, users=users, pipelines=selectors.pipelines_active(),
        stages=stages, contacts=contacts, reasons=LostReason.objects.filter(is_active=True),
        editing=opportunity is not None)


def _products() -> list[Product]:
    return list(Product.objects.filter(is_active=True).order_by("code"))


@login_required
@require_http_methods(["GET", "POST"])
@not_found_as_404
def opportunity_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = _form(request, data=request.POST, customer_id=query_int(request.POST.get("customer")))
        lines = line_formset(request.POST, products=_products())
        if form.is_valid():
            try:
                deal = services.opportunity_create(acting_user=request.user,
                                                   data=form.service_data(lines_data(lines)))
            except ValidationFailed as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("已创建商机“%(name)s”") % {"name": deal.name})
                return redirect("sales:detail", pk=deal.pk)
    else:
        customer_id = query_int(request.GET.get("customer"))
        form = _form(request, initial={"customer": customer_id, "owner": request.user.pk, "currency": "CNY"},
                     customer_id=customer_id)
        lines = line_formset(products=_products())
    return render(request, "sales/pages/form.html", {"form": form, "lines": lines, "opportunity": None},
                  status=422 if form.errors else 200)


@login_required
@require_GET
def opportunity_contacts(request: HttpRequest) -> HttpResponse:
    """The form's contact checkboxes for the customer just chosen (HTMX)."""
    form = _form(request, customer_id=query_int(request.GET.get("customer")))
    return render(request, "sales/partials/contacts_field.html", {"field": form["contacts"]})


@login_required
@require_http_methods(["GET", "POST"])
@not_found_as_404
def opportunity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deal = selectors.opportunity_get(user=request.user, opportunity_id=pk)
    status = 200
    changes: list[Any] = []
    loaded = request.POST.get("_loaded", "")
    if request.method == "POST":
        form = _form(request, data=request.POST, opportunity=deal, customer_id=query_int(request.POST.get("customer")))
        lines = line_formset(request.POST, products=_products())
        if form.is_valid():
            try:
                services.opportunity_update(acting_user=request.user, opportunity_id=pk,
                                            data=form.service_data(lines_data(lines)),
                                            expected_version=form.cleaned_data.get("version"))
            except ValidationFailed as exc:
                form.add_service_errors(exc)
                status = 422
            except VersionConflict as exc:
                # What the user typed stays; the panel shows what the other person changed (kehu.core.etag).
                form.add_error(None, exc.message)
                status = 409
                deal = selectors.opportunity_get(user=request.user, opportunity_id=pk)
                stored = _form(request, initial=OpportunityForm.initial_for(deal), opportunity=deal)
                changes = form_changes(form, loaded=snapshot_read(loaded), current=stored.initial)
            else:
                messages.success(request, _("已保存"))
                return redirect("sales:detail", pk=pk)
        else:
            status = 422
    else:
        form = _form(request, initial=OpportunityForm.initial_for(deal), opportunity=deal)
        lines = line_formset(products=_products(), opportunity=deal)
        loaded = snapshot_sign(form.initial)
    history = selectors.stage_history(user=request.user, opportunity_id=pk)
    return render(request, "sales/pages/detail.html", {
        "opportunity": deal, "form": form, "lines": lines, "history": history,
        "conflict": status == 409, "changes": changes, "loaded": loaded,
        "deal_lines": list(deal.lines.select_related("product")),
        "contacts": list(deal.contacts.all()),
        "weighted": (deal.amount * deal.stage.probability / Decimal(100)).quantize(Decimal("0.01")),
    }, status=status)


@login_required
@require_POST
@not_found_as_404
def opportunity_delete(request: HttpRequest, pk: int) -> HttpResponse:
    deal = selectors.opportunity_get(user=request.user, opportunity_id=pk)
    services.opportunity_delete(acting_user=request.user, opportunity_id=pk)
    messages.success(request, _("已删除商机“%(name)s”") % {"name": deal.name})
    return redirect("sales:board")


# Forecast -------------------------------------------------------------------------------------


@login_required
@require_GET
@not_found_as_404
def forecast(request: HttpRequest) -> HttpResponse:
    user = request.user
    pipeline = selectors.pipeline_get(query_int(request.GET.get("pipeline")))
    group = "department" if request.GET.get("group") == "department" else "owner"
    months = query_int(request.GET.get("months")) or 6
    months = months if months in (3, 6, 12) else 6
    data = selectors.forecast(user=user, pipeline_id=pipeline.pk, months=months, group=group)
    steps = selectors.funnel(user=user, pipeline_id=pipeline.pk)
    rows = [(who, name, [data.cell(m, who) for m in data.months]) for who, name in data.owners]
    total_weighted = sum((c.weighted for c in data.by_month.values()), Decimal("0")) + data.undated.weighted
    total_amount = sum((c.amount for c in data.by_month.values()), Decimal("0")) + data.undated.amount
    chart = {
        "months": data.months,
        "weighted": [float(data.by_month[m].weighted) for m in data.months],
        "amount": [float(data.by_month[m].amount) for m in data.months],
        "funnel": [{"name": s.stage.label, "value": s.reached,
                    "conversion": None if s.conversion is None else round(s.conversion * 100, 1)} for s in steps],
        "labels": {"weighted": _("加权金额"), "amount": _("金额"), "reached": _("到达商机数")},
    }
    return render(request, "sales/pages/forecast.html", {
        "pipeline": pipeline, "pipelines": selectors.pipelines_active(), "forecast": data, "rows": rows,
        "group": group, "months": months, "steps": steps, "chart": chart,
        "by_month": [data.by_month[m] for m in data.months],
        "figures": selectors.sales_figures(user=user, pipeline_id=pipeline.pk),
        "total_weighted": total_weighted, "total_amount": total_amount,
    })


# Settings (admins) ----------------------------------------------------------------------------


@admin_required
@require_GET
def settings_home(request: HttpRequest) -> HttpResponse:
    pipelines = list(Pipeline.objects.order_by("position", "id").prefetch_related("stages"))
    return render(request, "sales/settings/home.html", {
        "pipelines": [(p, list(p.stages.order_by("position", "id"))) for p in pipelines],
        "reasons": list(LostReason.objects.order_by("position", "id")),
        "products": list(Product.objects.select_related("category").order_by("code")),
    })


def _settings_edit(request: HttpRequest, form: Any, save: Any, title: str) -> HttpResponse:
    """One settings form: validate, call the service, map its errors; back to the settings page."""
    if request.method == "POST" and form.is_valid():
        try:
            save(form)
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("已保存"))
            return redirect("sales:settings")
    return render(request, "sales/settings/edit.html", {"form": form, "title": title},
                  status=422 if request.method == "POST" else 200)


def _get(model: Any, pk: int | None) -> Any:
    if pk is None:
        return None
    found = model.objects.filter(pk=pk).first()
    if found is None:
        raise NotFound(str(model._meta.verbose_name))
    return found


@admin_required
@require_http_methods(["GET", "POST"])
def settings_pipeline(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    pipeline = _get(Pipeline, pk)
    initial = {f: getattr(pipeline, f) for f in ("name_zh", "name_en", "position", "is_default", "is_active")} \
        if pipeline else {"is_active": True}
    form = PipelineForm(request.POST or None, initial=initial)
    return _settings_edit(request, form, lambda f: services.pipeline_save(
        acting_user=request.user, data=f.cleaned_data, pipeline_id=pk),
        _("编辑销售流程") if pipeline else _("新建销售流程"))


@admin_required
@require_http_methods(["GET", "POST"])
def settings_stage(request: HttpRequest, pipeline_pk: int | None = None, pk: int | None = None) -> HttpResponse:
    stage = _get(Stage, pk)
    pipeline_id = stage.pipeline_id if stage else pipeline_pk
    _get(Pipeline, pipeline_id)
    initial: dict[str, Any] = {"is_active": True, "kind": StageKind.OPEN, "color": "#1677ff"}
    if stage:
        initial = {f: getattr(stage, f) for f in ("name_zh", "name_en", "probability", "kind", "position",
                                                  "required_fields", "is_active")}
        initial["color"] = stage.color or "#8c8c8c"
    form = StageForm(request.POST or None, initial=initial)
    return _settings_edit(request, form, lambda f: services.stage_save(
        acting_user=request.user, pipeline_id=pipeline_id, data=f.service_data(), stage_id=pk),
        _("编辑阶段") if stage else _("新建阶段"))


@admin_required
@require_http_methods(["GET", "POST"])
def settings_lost_reason(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    reason = _get(LostReason, pk)
    initial = {f: getattr(reason, f) for f in ("label_zh", "label_en", "position", "is_active")} \
        if reason else {"is_active": True}
    form = LostReasonForm(request.POST or None, initial=initial)
    return _settings_edit(request, form, lambda f: services.lost_reason_save(
        acting_user=request.user, data=f.cleaned_data, reason_id=pk),
        _("编辑输单原因") if reason else _("新建输单原因"))


@login_required
@not_found_as_404
@require_http_methods(["GET", "POST"])
def settings_product(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    require_operation(request.user, "product.edit" if pk else "product.create")
    product = _get(Product, pk)
    initial: dict[str, Any] = {"is_active": True}
    if product:
        initial = {f: getattr(product, f) for f in ("code", "name", "unit", "description", "is_active")}
        initial.update({"category": product.category_id, "list_price": f"{product.list_price:.2f}"})
    form = ProductForm(request.POST or None, initial=initial, categories=ProductCategory.objects.all())
    return _settings_edit(request, form, lambda f: services.product_save(
        acting_user=request.user, data=f.cleaned_data, product_id=pk),
        _("编辑产品") if product else _("新建产品"))


# Export ----------------------------------------------------------------------------------------


@login_required
@require_GET
def opportunity_export(request: HttpRequest) -> HttpResponse:
    """The list as CSV/XLSX (`format`): its filters from the query string, the user's scope, audited."""
    from kehu.core.exporting import export_response, requested_columns

    return export_response("opportunities", user=request.user, params=request.GET,
                           fmt=request.GET.get("format", "csv"), columns=requested_columns(request.GET))
