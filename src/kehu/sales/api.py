"""/api/v1/ endpoints of the sales app: opportunities (list, CRUD, stage moves, history), the
kanban board, forecast, funnel and headline figures, and the sales settings (pipelines, stages,
lost reasons, products).

Handlers stay thin: reads go through `kehu.sales.selectors` (scoped like the web pages), writes
through `kehu.sales.services` (validation, scope, permissions, optimistic locking, audit, running
totals). Errors raised there become the shared JSON error shape in `kehu.config.api`."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from kehu.core.errors import ErrorCode, FieldError, NotFound, ValidationFailed
from kehu.core.etag import etag_value, if_match
from kehu.customers.schemas import ErrorOut
from kehu.customers.selectors import cursor_is_valid, keyset_page
from kehu.sales import selectors, services
from kehu.sales.models import LostReason, Pipeline, Product, Stage
from kehu.sales.schemas import (
    BoardOut,
    BoardQuery,
    ColumnPageOut,
    FiguresOut,
    ForecastOut,
    ForecastQuery,
    FunnelQuery,
    FunnelStepOut,
    LostReasonIn,
    LostReasonOut,
    MoveIn,
    OpportunityCreateIn,
    OpportunityDetailOut,
    OpportunityListQuery,
    OpportunityPage,
    OpportunityPatchIn,
    PipelineIn,
    PipelineOut,
    ProductIn,
    ProductOut,
    StageChangeOut,
    StageIn,
    StageOut,
    board_out,
    card_out,
    figures_out,
    forecast_out,
    funnel_step_out,
    lost_reason_out,
    opportunity_detail_out,
    opportunity_out,
    pipeline_out,
    product_out,
    stage_change_out,
    stage_out,
    stage_ref,
)

router = Router(tags=["sales"])

MAX_LIMIT = 200
SORT_PATTERN = r"^-?(updated_at|created_at|name)$"
ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, Any] = {**ERRORS, 409: ErrorOut}
# Writes that honour If-Match (kehu.core.etag): 412 precondition_failed when it names a stale version.
GUARDED_ERRORS: dict[int, Any] = {**WRITE_ERRORS, 412: ErrorOut}


def _user(request: HttpRequest) -> Any:
    """The authenticated user (token or session), set by the API's auth classes."""
    return request.auth  # type: ignore[attr-defined]


def _filters(query: OpportunityListQuery | BoardQuery) -> selectors.OpportunityFilter:
    return selectors.OpportunityFilter(owner=query.owner, customer=query.customer, q=query.q.strip(),
                                       close_from=query.close_from, close_to=query.close_to, overdue=query.overdue,
                                       status=query.status)


def _pipeline(pipeline_id: int | None) -> int | None:
    """A pipeline the client names must exist and be active (the selectors would quietly fall back to
    the default pipeline, and a report of the wrong pipeline is worse than a 404)."""
    if pipeline_id is not None and not Pipeline.objects.filter(pk=pipeline_id, is_active=True).exists():
        raise NotFound(_("销售流程不存在或已停用"), field="pipeline")
    return pipeline_id


def _detail(request: HttpRequest, opportunity_id: int, response: HttpResponse | None = None) -> dict[str, Any]:
    """The deal as the detail endpoints return it; with `response`, its ETag is set there."""
    out = opportunity_detail_out(selectors.opportunity_get(user=_user(request), opportunity_id=opportunity_id))
    if response is not None:
        response["ETag"] = etag_value("opportunity", out["id"], out["version"])
    return out


def _guard(request: HttpRequest, opportunity_id: int, body_version: int | None = None) -> Any:
    """If-Match on a deal (kehu.core.etag.if_match): yields the expected_version for the service."""
    return if_match(request, selectors.opportunities_visible(user=_user(request)), opportunity_id,
                    body_version=body_version)


def _payload(schema: Schema, *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """Only the keys the client sent: PATCH is partial, and an absent key must not become null."""
    data = schema.dict(exclude_unset=True)
    for key in drop:
        data.pop(key, None)
    return data


# Opportunities ---------------------------------------------------------------------------------


class PageQuery(Schema):
    limit: int = Field(50, ge=1, le=MAX_LIMIT, description=f"Rows per page, at most {MAX_LIMIT}")
    cursor: str | None = Field(None, description="next_cursor or prev_cursor of the previous response")
    sort: str = Field("-updated_at", pattern=SORT_PATTERN, description="updated_at, created_at or name; - = desc")


@router.get("/opportunities", response={200: OpportunityPage, **ERRORS})
def opportunity_list(request: HttpRequest, page: Query[PageQuery], filters: Query[OpportunityListQuery]):  # type: ignore[no-untyped-def]
    """Deals visible to the caller, with the board's filters and keyset pagination."""
    if page.cursor and not cursor_is_valid(cursor=page.cursor, sort=page.sort):
        raise ValidationFailed([FieldError("cursor", ErrorCode.INVALID, _("无效的分页游标，请从第一页重新开始"))])
    queryset = selectors.opportunities_filtered(user=_user(request), filters=_filters(filters),
                                                pipeline_id=filters.pipeline).select_related("department",
                                                                                             "lost_reason")
    result = keyset_page(queryset, sort=page.sort, cursor=page.cursor, limit=page.limit)
    return {"items": [opportunity_out(o) for o in result.rows], "next_cursor": result.next_cursor,
            "prev_cursor": result.prev_cursor, "total": result.total, "total_capped": result.total_capped}


@router.post("/opportunities", response={201: OpportunityDetailOut, **WRITE_ERRORS})
def opportunity_create(request: HttpRequest, payload: OpportunityCreateIn):  # type: ignore[no-untyped-def]
    """A new deal, in the pipeline's first open stage unless `stage` is given; owned by the caller
    unless `owner` is given."""
    opportunity = services.opportunity_create(acting_user=_user(request), data=_payload(payload))
    return Status(201, _detail(request, opportunity.pk))


@router.get("/opportunities/{int:opportunity_id}", response={200: OpportunityDetailOut, **ERRORS})
def opportunity_detail(request: HttpRequest, opportunity_id: int, response: HttpResponse):  # type: ignore[no-untyped-def]
    """The ETag header names the version; send it back as If-Match when writing."""
    return _detail(request, opportunity_id, response)


@router.patch("/opportunities/{int:opportunity_id}", response={200: OpportunityDetailOut, **GUARDED_ERRORS})
def opportunity_patch(request: HttpRequest, opportunity_id: int, payload: OpportunityPatchIn,  # type: ignore[no-untyped-def]
                      response: HttpResponse):
    """Edit the fields sent. `expected_version` guards against overwriting someone else's save
    (409 version_conflict when stale), and so does an `If-Match` header (412 precondition_failed)."""
    with _guard(request, opportunity_id, payload.expected_version) as version:
        services.opportunity_update(acting_user=_user(request), opportunity_id=opportunity_id,
                                    data=_payload(payload, drop=("expected_version",)), expected_version=version)
    return _detail(request, opportunity_id, response)


@router.delete("/opportunities/{int:opportunity_id}", response={204: None, **GUARDED_ERRORS})
def opportunity_delete(request: HttpRequest, opportunity_id: int):  # type: ignore[no-untyped-def]
    with _guard(request, opportunity_id):
        services.opportunity_delete(acting_user=_user(request), opportunity_id=opportunity_id)
    return Status(204, None)


@router.post("/opportunities/{int:opportunity_id}/move", response={200: OpportunityDetailOut, **GUARDED_ERRORS})
def opportunity_move(request: HttpRequest, opportunity_id: int, payload: MoveIn, response: HttpResponse):  # type: ignore[no-untyped-def]
    """The kanban's drag and drop: to another stage (its required fields must be filled, a lost
    stage needs `lost_reason`) and/or between `after_id` (card above) and `before_id` (card below)."""
    with _guard(request, opportunity_id, payload.expected_version) as version:
        services.opportunity_move(acting_user=_user(request), opportunity_id=opportunity_id, stage_id=payload.stage,
                                  before_id=payload.before_id, after_id=payload.after_id, expected_version=version,
                                  lost_reason=payload.lost_reason, lost_note=payload.lost_note)
    return _detail(request, opportunity_id, response)


@router.get("/opportunities/{int:opportunity_id}/stage-history", response={200: list[StageChangeOut], **ERRORS})
def opportunity_stage_history(request: HttpRequest, opportunity_id: int):  # type: ignore[no-untyped-def]
    """Every stage the deal entered, oldest first, with the time spent in the previous one."""
    return [stage_change_out(c) for c in selectors.stage_history(user=_user(request), opportunity_id=opportunity_id)]


# Board, forecast, funnel, figures --------------------------------------------------------------


@router.get("/sales/board", response={200: BoardOut, **ERRORS})
def board(request: HttpRequest, query: Query[BoardQuery]):  # type: ignore[no-untyped-def]
    """The kanban: each active stage with its count, amount, weighted amount and first cards."""
    board = selectors.kanban_board(user=_user(request), pipeline_id=_pipeline(query.pipeline), filters=_filters(query))
    return board_out(board)


class ColumnQuery(BoardQuery):
    offset: int = Field(0, ge=0, le=1_000_000_000)
    limit: int = Field(selectors.BOARD_PAGE, ge=1, le=MAX_LIMIT)


@router.get("/sales/board/columns/{int:stage_id}", response={200: ColumnPageOut, **ERRORS})
def board_column(request: HttpRequest, stage_id: int, query: Query[ColumnQuery]):  # type: ignore[no-untyped-def]
    """More cards of one column (same filters as the board), from `offset` in board order."""
    stage = Stage.objects.filter(pk=stage_id, pipeline__is_active=True).first()
    if stage is None:
        raise NotFound(_("阶段不存在"))
    # One card more than asked says whether the column goes on.
    cards = selectors.column_cards(user=_user(request), stage=stage, filters=_filters(query), offset=query.offset,
                                   limit=query.limit + 1)
    return {"stage": stage_ref(stage), "offset": query.offset, "cards": [card_out(c) for c in cards[:query.limit]],
            "has_more": len(cards) > query.limit}


@router.get("/sales/forecast", response={200: ForecastOut, **ERRORS})
def forecast(request: HttpRequest, query: Query[ForecastQuery]):  # type: ignore[no-untyped-def]
    """Open deals by expected close month × owner (or department): count, amount, weighted amount.
    Overdue open deals count in the first month."""
    plan = selectors.forecast(user=_user(request), pipeline_id=_pipeline(query.pipeline), start=query.start,
                              months=query.months, group=query.group)
    return forecast_out(plan, group=query.group)


@router.get("/sales/funnel", response={200: list[FunnelStepOut], **ERRORS})
def funnel(request: HttpRequest, query: Query[FunnelQuery]):  # type: ignore[no-untyped-def]
    """How many deals created in the period reached each open and won stage, with the conversion."""
    steps = selectors.funnel(user=_user(request), pipeline_id=_pipeline(query.pipeline),
                             created_from=query.created_from, created_to=query.created_to)
    return [funnel_step_out(s) for s in steps]


@router.get("/sales/figures", response={200: FiguresOut, **ERRORS})
def figures(request: HttpRequest, pipeline: int | None = Query(None, description="Default: the default pipeline")):  # type: ignore[no-untyped-def]
    """Open and weighted amounts, win rate, average deal and cycle, overdue deals."""
    return figures_out(selectors.sales_figures(user=_user(request), pipeline_id=_pipeline(pipeline)))


# Settings: pipelines and stages ----------------------------------------------------------------
# Small reads of settings tables (no scope applies to them); writes go through the services,
# which refuse non-admins with 403.


def _pipeline_with_stages(pipeline: Pipeline, *, include_inactive: bool) -> dict[str, Any]:
    return pipeline_out(pipeline, selectors.stages_of(pipeline, active_only=not include_inactive))


@router.get("/sales/pipelines", response={200: list[PipelineOut], **ERRORS})
def pipeline_list(request: HttpRequest, include_inactive: bool = False):  # type: ignore[no-untyped-def]
    """Pipelines (the default first) with their stages in order."""
    pipelines = list(Pipeline.objects.order_by("-is_default", "position", "id")) if include_inactive \
        else selectors.pipelines_active()
    return [_pipeline_with_stages(p, include_inactive=include_inactive) for p in pipelines]


@router.post("/sales/pipelines", response={201: PipelineOut, **WRITE_ERRORS})
def pipeline_create(request: HttpRequest, payload: PipelineIn):  # type: ignore[no-untyped-def]
    """Add a pipeline (admins)."""
    pipeline = services.pipeline_save(acting_user=_user(request), data=payload.dict())
    return Status(201, _pipeline_with_stages(pipeline, include_inactive=True))


@router.put("/sales/pipelines/{int:pipeline_id}", response={200: PipelineOut, **WRITE_ERRORS})
def pipeline_update(request: HttpRequest, pipeline_id: int, payload: PipelineIn):  # type: ignore[no-untyped-def]
    """Replace a pipeline's settings (admins)."""
    pipeline = services.pipeline_save(acting_user=_user(request), data=payload.dict(), pipeline_id=pipeline_id)
    return _pipeline_with_stages(pipeline, include_inactive=True)


def _stage_data(payload: StageIn) -> dict[str, Any]:
    data = payload.dict()
    if data.get("position") is None:
        data.pop("position")  # keep the current position (or append on create)
    return data


@router.post("/sales/pipelines/{int:pipeline_id}/stages", response={201: StageOut, **WRITE_ERRORS})
def stage_create(request: HttpRequest, pipeline_id: int, payload: StageIn):  # type: ignore[no-untyped-def]
    """Add a stage to a pipeline (admins); it goes last unless `position` is given."""
    stage = services.stage_save(acting_user=_user(request), pipeline_id=pipeline_id, data=_stage_data(payload))
    return Status(201, stage_out(stage))


@router.put("/sales/pipelines/{int:pipeline_id}/stages/{int:stage_id}", response={200: StageOut, **WRITE_ERRORS})
def stage_update(request: HttpRequest, pipeline_id: int, stage_id: int, payload: StageIn):  # type: ignore[no-untyped-def]
    """Replace a stage's settings (admins). The probability may change freely; the kind only while
    no deal is in the stage."""
    stage = services.stage_save(acting_user=_user(request), pipeline_id=pipeline_id, data=_stage_data(payload),
                                stage_id=stage_id)
    return stage_out(stage)


# Settings: lost reasons and products -----------------------------------------------------------


@router.get("/sales/lost-reasons", response={200: list[LostReasonOut], **ERRORS})
def lost_reason_list(request: HttpRequest, include_inactive: bool = False):  # type: ignore[no-untyped-def]
    reasons = LostReason.objects.all() if include_inactive else LostReason.objects.filter(is_active=True)
    return [lost_reason_out(r) for r in reasons]


@router.post("/sales/lost-reasons", response={201: LostReasonOut, **WRITE_ERRORS})
def lost_reason_create(request: HttpRequest, payload: LostReasonIn):  # type: ignore[no-untyped-def]
    """Add a lost reason (admins)."""
    return Status(201, lost_reason_out(services.lost_reason_save(acting_user=_user(request), data=payload.dict())))


@router.put("/sales/lost-reasons/{int:reason_id}", response={200: LostReasonOut, **WRITE_ERRORS})
def lost_reason_update(request: HttpRequest, reason_id: int, payload: LostReasonIn):  # type: ignore[no-untyped-def]
    """Relabel, reorder or deactivate a lost reason (admins)."""
    reason = services.lost_reason_save(acting_user=_user(request), data=payload.dict(), reason_id=reason_id)
    return lost_reason_out(reason)


@router.get("/sales/products", response={200: list[ProductOut], **ERRORS})
def product_list(  # type: ignore[no-untyped-def]
    request: HttpRequest,
    q: str = Query("", max_length=100, description="Text in the code or name"),
    include_inactive: bool = False,
    limit: int = Query(MAX_LIMIT, ge=1, le=1000),
):
    """Products by code (everyone may read them; only admins write)."""
    products = Product.objects.select_related("category").order_by("code")
    if not include_inactive:
        products = products.filter(is_active=True)
    if q.strip():
        products = products.filter(Q(code__icontains=q.strip()) | Q(name__icontains=q.strip()))
    return [product_out(p) for p in products[:limit]]


@router.post("/sales/products", response={201: ProductOut, **WRITE_ERRORS})
def product_create(request: HttpRequest, payload: ProductIn):  # type: ignore[no-untyped-def]
    """Add a product (admins)."""
    product = services.product_save(acting_user=_user(request), data=payload.dict())
    return Status(201, product_out(product))


@router.put("/sales/products/{int:product_id}", response={200: ProductOut, **WRITE_ERRORS})
def product_update(request: HttpRequest, product_id: int, payload: ProductIn):  # type: ignore[no-untyped-def]
    """Replace a product's fields (admins)."""
    product = services.product_save(acting_user=_user(request), data=payload.dict(), product_id=product_id)
    return product_out(product)


# Export ----------------------------------------------------------------------------------------
# Declared after "/opportunities/{int:opportunity_id}": the int converter never takes "export".

EXPORT_FORMAT = Query("csv", pattern=r"^(csv|xlsx)$", description="csv (streamed) or xlsx")
EXPORT_COLUMNS = Query("", description="Comma-separated column keys; every column when empty")


@router.get("/opportunities/export", response={200: None, **ERRORS})
def opportunity_export(  # type: ignore[no-untyped-def]
    request: HttpRequest, filters: Query[OpportunityListQuery], format: str = EXPORT_FORMAT,
    columns: str = EXPORT_COLUMNS, stage: int | None = Query(None, description="Stage id"),
):
    """Every deal the list would show with these filters (and `stage`), as a CSV or XLSX download that
    the opportunity import reads back as it is."""
    from kehu.core.exporting import export_response, requested_columns

    return export_response("opportunities", user=_user(request), params=request.GET, fmt=format,
                           columns=requested_columns(request.GET))


@router.get("/products/export", response={200: None, **ERRORS})
def product_export(  # type: ignore[no-untyped-def]
    request: HttpRequest, format: str = EXPORT_FORMAT, columns: str = EXPORT_COLUMNS,
    q: str = Query("", max_length=100, description="Text in the code or name"),
    category: int | None = Query(None, description="Category id"), include_inactive: bool = False,
):
    """The product catalogue as a CSV or XLSX download that the product import reads back as it is."""
    from kehu.core.exporting import export_response, requested_columns

    return export_response("products", user=_user(request), params=request.GET, fmt=format,
                           columns=requested_columns(request.GET))
