"""/api/v1/quality/ endpoints: the overview and review queues (scoped to the caller like the web
pages), a customer's score with reasons, the queue actions, the admin tables (city aliases,
picklist synonyms, validation rules, settings) and normalisation runs.

Handlers stay thin: reads through `selectors`, writes through `services`; errors become the
shared JSON error shape in `kehu.config.api`."""

from __future__ import annotations

import base64
from typing import Any

from django.http import FileResponse, HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from kehu.core.errors import ErrorCode, FieldError, NotFound, PermissionDenied, ValidationFailed
from kehu.customers import selectors as customer_selectors
from kehu.customers.models import PicklistKind, PicklistOption
from kehu.customers.schemas import ChangedOut, ErrorOut
from kehu.dataquality import quality, selectors, services, tasks
from kehu.dataquality.models import CityAlias, PicklistSynonym, ValidationRule
from kehu.dataquality.schemas import (
    AssignIn,
    CityAliasIn,
    CityAliasOut,
    CustomerQualityOut,
    IdsIn,
    JobOut,
    NormalizeIn,
    OverviewOut,
    QueueOut,
    QueuePageOut,
    RuleIn,
    RuleOut,
    SettingsIn,
    SettingsOut,
    SynonymIn,
    SynonymOut,
    city_alias_out,
    customer_quality_out,
    job_out,
    queue_item_out,
    rule_out,
    synonym_out,
)

router = Router(tags=["quality"])

MAX_LIMIT = 200
ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _admin(request: HttpRequest) -> Any:
    from kehu.accounts.permissions import has_operation

    user = _user(request)
    if not has_operation(user, "settings.manage"):
        raise PermissionDenied(_("只有管理员可以执行此操作"))
    return user


# Overview, queues, one customer ----------------------------------------------------------------


@router.get("/quality/overview", response={200: OverviewOut, **ERRORS})
def quality_overview(request: HttpRequest):  # type: ignore[no-untyped-def]
    """Score distribution, problems by code, worst fields, daily trend and queue counts, within the caller's scope."""
    user = _user(request)
    queues = [{"key": q.key, "title": q.title, "count": q.count} for q in selectors.queues(user=user)]
    return {**selectors.overview(user=user), "queues": queues}


@router.get("/quality/queues", response={200: list[QueueOut], **ERRORS})
def quality_queues(request: HttpRequest):  # type: ignore[no-untyped-def]
    return [{"key": q.key, "title": q.title, "count": q.count} for q in selectors.queues(user=_user(request))]


class QueuePageQuery(Schema):
    limit: int = Field(50, ge=1, le=MAX_LIMIT, description=f"Rows per page, at most {MAX_LIMIT}")
    cursor: str | None = Field(None, description="next_cursor of the previous response")


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _sep, number = text.partition(":")
        if kind == "o" and number.isdigit() and len(number) < 10:
            return int(number)
    except (ValueError, UnicodeDecodeError):
        pass
    raise ValidationFailed(
        [FieldError(field="cursor", code=ErrorCode.INVALID, message=_("无效的分页游标，请从第一页重新开始"))]
    )


@router.get("/quality/queues/{key}", response={200: QueuePageOut, **ERRORS})
def quality_queue(request: HttpRequest, key: str, page: Query[QueuePageQuery]):  # type: ignore[no-untyped-def]
    """Customers of one review queue (worst score first; the stale queue oldest first), with that queue's issues."""
    titles = selectors.queue_titles()
    if key not in titles:
        raise NotFound(_("没有这个复核队列"))
    offset = _decode_cursor(page.cursor)
    rows, has_more = selectors.queue_page(user=_user(request), key=key, offset=offset, limit=page.limit)
    issues = selectors.queue_issues_for(customers=rows, key=key)
    return {
        "key": key, "title": titles[key],
        "items": [queue_item_out(c, issues.get(c.pk, [])) for c in rows],
        "next_cursor": _encode_cursor(offset + page.limit) if has_more else None,
    }


@router.get("/quality/customers/{int:customer_id}", response={200: CustomerQualityOut, **ERRORS})
def customer_quality(request: HttpRequest, customer_id: int):  # type: ignore[no-untyped-def]
    """A customer's live score (freshness as of now), the points lost and why, and its issues."""
    customer = customer_selectors.customer_get(user=_user(request), customer_id=customer_id)
    return customer_quality_out(customer, selectors.customer_quality(customer=customer))


# Queue actions ---------------------------------------------------------------------------------


@router.post("/quality/actions/mark-reviewed", response={200: ChangedOut, **ERRORS})
def mark_reviewed(request: HttpRequest, payload: IdsIn):  # type: ignore[no-untyped-def]
    """Confirm records are current without editing them (the quarterly check)."""
    return {"changed": services.customers_mark_reviewed(acting_user=_user(request), customer_ids=payload.ids)}


@router.post("/quality/actions/assign-to-owner", response={200: ChangedOut, **ERRORS})
def assign_to_owner(request: HttpRequest, payload: AssignIn):  # type: ignore[no-untyped-def]
    """Hand the customers' issues to each customer's owner (managers and admins); `changed` counts issues."""
    changed = services.issues_assign_to_owner(acting_user=_user(request), customer_ids=payload.ids,
                                              code=payload.code)
    return {"changed": changed}


@router.post("/quality/actions/apply-email-fixes", response={200: ChangedOut, **ERRORS})
def apply_email_fixes(request: HttpRequest, payload: IdsIn):  # type: ignore[no-untyped-def]
    """Replace e-mails with a known domain typo (qq.con) by the suggestion; `changed` counts customers."""
    changed = services.customers_apply_email_suggestions(acting_user=_user(request), customer_ids=payload.ids)
    return {"changed": changed}


# Admin: city aliases ---------------------------------------------------------------------------


@router.get("/quality/city-aliases", response={200: list[CityAliasOut], **ERRORS})
def city_alias_list(request: HttpRequest):  # type: ignore[no-untyped-def]
    _admin(request)
    return [city_alias_out(a) for a in selectors.city_aliases_all()]


@router.post("/quality/city-aliases", response={201: CityAliasOut, **ERRORS})
def city_alias_create(request: HttpRequest, payload: CityAliasIn):  # type: ignore[no-untyped-def]
    item = services.city_alias_save(acting_user=_user(request), alias=payload.alias, canonical=payload.canonical)
    return Status(201, city_alias_out(item))


@router.put("/quality/city-aliases/{int:alias_id}", response={200: CityAliasOut, **ERRORS})
def city_alias_update(request: HttpRequest, alias_id: int, payload: CityAliasIn):  # type: ignore[no-untyped-def]
    _admin(request)
    if not CityAlias.objects.filter(pk=alias_id).exists():
        raise NotFound(_("别名不存在"))
    item = services.city_alias_save(acting_user=_user(request), alias=payload.alias, canonical=payload.canonical,
                                    alias_id=alias_id)
    return city_alias_out(item)


@router.delete("/quality/city-aliases/{int:alias_id}", response={204: None, **ERRORS})
def city_alias_delete(request: HttpRequest, alias_id: int):  # type: ignore[no-untyped-def]
    _admin(request)
    if not CityAlias.objects.filter(pk=alias_id).exists():
        raise NotFound(_("别名不存在"))
    services.city_alias_delete(acting_user=_user(request), alias_id=alias_id)
    return Status(204, None)


# Admin: picklist synonyms ----------------------------------------------------------------------


@router.get("/quality/synonyms", response={200: list[SynonymOut], **ERRORS})
def synonym_list(request: HttpRequest, kind: str | None = None):  # type: ignore[no-untyped-def]
    _admin(request)
    return [synonym_out(s) for s in selectors.picklist_synonyms_all() if kind is None or s.kind == kind]


def _option_for(payload: SynonymIn) -> PicklistOption:
    options = PicklistOption.objects.exclude(kind=PicklistKind.CONTACT_ROLE)
    if payload.option is not None:
        option = options.filter(pk=payload.option).first()
    else:
        option = options.filter(kind=payload.kind or "", code=payload.code or "").first()
    if option is None:
        raise ValidationFailed([FieldError(field="option", code=ErrorCode.UNKNOWN_CHOICE,
                                           message=_("未知的选项，请给出 option（编号）或 kind + code"))])
    return option


@router.post("/quality/synonyms", response={201: SynonymOut, **ERRORS})
def synonym_create(request: HttpRequest, payload: SynonymIn):  # type: ignore[no-untyped-def]
    user = _admin(request)
    synonym = services.picklist_synonym_add(acting_user=user, option=_option_for(payload), text=payload.text)
    return Status(201, synonym_out(PicklistSynonym.objects.select_related("option").get(pk=synonym.pk)))


@router.delete("/quality/synonyms/{int:synonym_id}", response={204: None, **ERRORS})
def synonym_delete(request: HttpRequest, synonym_id: int):  # type: ignore[no-untyped-def]
    _admin(request)
    if not PicklistSynonym.objects.filter(pk=synonym_id).exists():
        raise NotFound(_("同义词不存在"))
    services.picklist_synonym_delete(acting_user=_user(request), synonym_id=synonym_id)
    return Status(204, None)


# Admin: validation rules -----------------------------------------------------------------------


@router.get("/quality/rules", response={200: list[RuleOut], **ERRORS})
def rule_list(request: HttpRequest):  # type: ignore[no-untyped-def]
    _admin(request)
    return [rule_out(r) for r in selectors.validation_rules_all()]


@router.post("/quality/rules", response={201: RuleOut, **ERRORS})
def rule_create(request: HttpRequest, payload: RuleIn):  # type: ignore[no-untyped-def]
    rule = services.validation_rule_save(acting_user=_user(request), data=payload.dict())
    return Status(201, rule_out(rule))


@router.put("/quality/rules/{int:rule_id}", response={200: RuleOut, **ERRORS})
def rule_update(request: HttpRequest, rule_id: int, payload: RuleIn):  # type: ignore[no-untyped-def]
    _admin(request)
    if not ValidationRule.objects.filter(pk=rule_id).exists():
        raise NotFound(_("规则不存在"))
    return rule_out(services.validation_rule_save(acting_user=_user(request), data=payload.dict(), rule_id=rule_id))


@router.delete("/quality/rules/{int:rule_id}", response={204: None, **ERRORS})
def rule_delete(request: HttpRequest, rule_id: int):  # type: ignore[no-untyped-def]
    _admin(request)
    if not ValidationRule.objects.filter(pk=rule_id).exists():
        raise NotFound(_("规则不存在"))
    services.validation_rule_delete(acting_user=_user(request), rule_id=rule_id)
    return Status(204, None)


# Admin: settings and normalisation -------------------------------------------------------------


def _settings_out() -> dict[str, Any]:
    current = quality.quality_settings()
    return {"stale_days": current.stale_days, "key_fields_company": current.key_fields_company,
            "key_fields_person": current.key_fields_person,
            "duplicate_block_certain": current.duplicate_block_certain}


@router.get("/quality/settings", response={200: SettingsOut, **ERRORS})
def settings_get(request: HttpRequest):  # type: ignore[no-untyped-def]
    _admin(request)
    return _settings_out()


@router.put("/quality/settings", response={200: SettingsOut, **ERRORS})
def settings_update(request: HttpRequest, payload: SettingsIn):  # type: ignore[no-untyped-def]
    services.quality_settings_update(acting_user=_user(request), stale_days=payload.stale_days,
                                     key_fields_company=payload.key_fields_company,
                                     key_fields_person=payload.key_fields_person,
                                     duplicate_block_certain=payload.duplicate_block_certain)
    return _settings_out()


def _job_out(request: HttpRequest, job: Any) -> dict[str, Any]:
    figures = selectors.job_figures(job)
    report = None
    if job.finished and selectors.job_report_path(job) is not None:
        report = request.build_absolute_uri(reverse("api:quality_job_report", args=[job.pk]))
    return job_out(job, rate=figures["rate"], eta=figures["eta"], report_url=report)


@router.post("/quality/normalize", response={202: JobOut, **ERRORS})
def normalize_start(request: HttpRequest, payload: NormalizeIn):  # type: ignore[no-untyped-def]
    """Start `kehu normalize` over the stored archive as a background job; poll /quality/jobs/{id}."""
    job = services.normalize_job_create(acting_user=_user(request), dry_run=payload.dry_run)
    tasks.run_normalize_job(job.pk)
    job.refresh_from_db()
    return Status(202, _job_out(request, job))


def _job(request: HttpRequest, job_id: int) -> Any:
    job = selectors.job_get(user=_admin(request), job_id=job_id)
    if job is None or job.kind != services.NORMALIZE_JOB:
        raise NotFound(_("任务不存在"))
    return job


@router.get("/quality/jobs/{int:job_id}", response={200: JobOut, **ERRORS})
def job_detail(request: HttpRequest, job_id: int):  # type: ignore[no-untyped-def]
    return _job_out(request, _job(request, job_id))


@router.get("/quality/jobs/{int:job_id}/report", response={200: None, **ERRORS}, url_name="quality_job_report")
def job_report(request: HttpRequest, job_id: int):  # type: ignore[no-untyped-def]
    """The run's CSV report (UTF-8 with BOM, opens in Excel): object, id, customer_id, field, old, new."""
    path = selectors.job_report_path(_job(request, job_id))
    if path is None:
        raise NotFound(_("报告不存在"))
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name, content_type="text/csv")


# Merge and unmerge (kehu.dataquality.merging) -----------------------------------------------------

from kehu.dataquality.merging import schemas as merge_schemas  # noqa: E402 - this section's own imports
from kehu.dataquality.merging import selectors as merge_selectors  # noqa: E402
from kehu.dataquality.merging import services as merge_services  # noqa: E402

MERGE_ERRORS: dict[int, Any] = {**ERRORS, 409: ErrorOut}


@router.post("/quality/merge/preview", response={200: merge_schemas.MergePreviewOut, **MERGE_ERRORS})
def merge_preview(request: HttpRequest, payload: merge_schemas.MergePreviewIn):  # type: ignore[no-untyped-def]
    """The customers side by side with the default choice per field; writes nothing. Customers
    outside the caller's scope answer 404 like missing ones."""
    preview = merge_services.merge_preview(acting_user=_user(request), ids=payload.ids,
                                           survivor_id=payload.survivor_id)
    return merge_schemas.preview_out(preview)


@router.post("/quality/merge", response={201: merge_schemas.MergeOut, **MERGE_ERRORS})
def merge_create(request: HttpRequest, payload: merge_schemas.MergeIn):  # type: ignore[no-untyped-def]
    """Merge `merged_ids` into `survivor_id`. Fields not in `field_choices` take the preview's
    default; phones, e-mails and tags are united. 409 when a record changed since `expected_versions`
    or another merge absorbed it first."""
    user = _user(request)
    merge = merge_services.customers_merge(
        acting_user=user, survivor_id=payload.survivor_id, merged_ids=payload.merged_ids,
        field_choices=payload.field_choices, expected_versions=payload.expected_versions or None,
    )
    return Status(201, merge_schemas.merge_out(merge, user))


@router.get("/quality/merges/{int:merge_id}", response={200: merge_schemas.MergeOut, **ERRORS})
def merge_detail(request: HttpRequest, merge_id: int):  # type: ignore[no-untyped-def]
    user = _user(request)
    return merge_schemas.merge_out(merge_selectors.merge_get(user=user, merge_id=merge_id), user)


@router.post("/quality/merges/{int:merge_id}/undo", response={200: merge_schemas.UnmergeOut, **MERGE_ERRORS})
def merge_undo(request: HttpRequest, merge_id: int):  # type: ignore[no-untyped-def]
    """Undo a merge of the last 30 days. 409 with one entry in `errors` per conflicting field or
    related record when later edits touch what the undo would restore; nothing is written then."""
    user = _user(request)
    result = merge_services.merge_undo(acting_user=user, merge_id=merge_id)
    return {"merge": merge_schemas.merge_out(result.merge, user), "survivor_id": result.survivor.pk,
            "restored_ids": [c.pk for c in result.restored]}


@router.post("/quality/not-duplicate", response={200: merge_schemas.DistinctOut, **MERGE_ERRORS})
def not_duplicate(request: HttpRequest, payload: merge_schemas.DistinctIn):  # type: ignore[no-untyped-def]
    """Remember that two customers are different; the duplicate suggestions leave the pair out."""
    pair = merge_services.pair_mark_distinct(acting_user=_user(request), a_id=payload.a_id, b_id=payload.b_id)
    return merge_schemas.distinct_out(pair)


# Duplicate scan and review queue (kehu.dataquality.scanning) --------------------------------------

import datetime as dt  # noqa: E402 - this section's own imports

from kehu.core.models import Job  # noqa: E402
from kehu.customers.schemas import InputSchema, OutputSchema  # noqa: E402
from kehu.dataquality import scan_selectors, scanning  # noqa: E402
from kehu.dataquality.models import DuplicateStatus  # noqa: E402


class DuplicateCustomerOut(OutputSchema):
    id: int
    name: str
    kind: str
    owner: str
    department: str


class DuplicateReasonOut(OutputSchema):
    code: str
    text: str = Field(description="The reason in the request's language; values masked (138****5678)")
    weight: float = Field(description="Bits of evidence: positive for, negative against")


class DuplicatePairOut(OutputSchema):
    id: int
    score: float
    verdict: str = Field(description="certain or review")
    status: str = Field(description="open, dismissed or merged")
    cluster_id: int = Field(description="Smallest customer id of the group of open pairs this pair belongs to")
    customers: list[DuplicateCustomerOut]
    reasons: list[DuplicateReasonOut]
    found_at: dt.datetime


class DuplicatePageOut(OutputSchema):
    items: list[DuplicatePairOut]
    counts: dict[str, int] = Field(description="Open pairs per verdict within the caller's scope")
    next_cursor: str | None = None


class DuplicatePageQuery(Schema):
    verdict: str | None = Field(None, description="certain or review; both when left out")
    status: str = Field(DuplicateStatus.OPEN, description="open (default), dismissed or merged")
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


class DuplicateScanIn(InputSchema):
    full: bool = Field(False, description="Re-read the whole archive; otherwise only the customers changed since "
                                          "the last scan are compared")


class DuplicateScanOut(OutputSchema):
    id: int
    status: str = Field(description="queued, running, done, failed or cancelled")
    full: bool
    phase: str
    total: int
    done: int
    rows_per_second: float
    eta_seconds: int | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    result: dict[str, Any] = Field(description="customers, compared, found, certain, stored, clusters, seconds")


def _customer_out(customer: scan_selectors.PairCustomer) -> dict[str, Any]:
    return {"id": customer.id, "name": customer.name, "kind": customer.kind, "owner": customer.owner,
            "department": customer.department}


def _pair_out(view: scan_selectors.PairView) -> dict[str, Any]:
    pair = view.pair
    return {
        "id": pair.pk, "score": pair.score, "verdict": pair.verdict, "status": pair.status,
        "cluster_id": pair.cluster_id, "customers": [_customer_out(view.a), _customer_out(view.b)],
        "reasons": [{"code": code, "text": text, "weight": weight}
                    for (code, _args, _w), (text, weight) in zip(pair.reasons, view.reasons, strict=True)],
        "found_at": pair.found_at,
    }


def _scan_out(job: Job) -> dict[str, Any]:
    figures = selectors.job_figures(job)
    return {
        "id": job.pk, "status": job.status, "full": bool((job.params or {}).get("full")), "phase": job.message,
        "total": job.total, "done": job.done, "rows_per_second": figures["rate"], "eta_seconds": figures["eta"],
        "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at,
        "result": job.result or {},
    }


@router.get("/quality/duplicates", response={200: DuplicatePageOut, **ERRORS})
def duplicate_list(request: HttpRequest, page: Query[DuplicatePageQuery]):  # type: ignore[no-untyped-def]
    """Likely duplicate pairs found by the scan, strongest first, with reasons; only pairs whose two
    customers the caller may see."""
    if page.verdict and page.verdict not in scan_selectors.VERDICTS:
        raise ValidationFailed([FieldError("verdict", ErrorCode.UNKNOWN_CHOICE, _("未知的判断：%(v)s")
                                           % {"v": page.verdict})])
    if page.status not in DuplicateStatus.values:
        raise ValidationFailed([FieldError("status", ErrorCode.UNKNOWN_CHOICE, _("未知的状态：%(v)s")
                                           % {"v": page.status})])
    user = _user(request)
    offset = _decode_cursor(page.cursor)
    views, has_more = scan_selectors.duplicate_pairs_page(user=user, verdict=page.verdict, status=page.status,
                                                          offset=offset, limit=page.limit)
    return {"items": [_pair_out(v) for v in views], "counts": scan_selectors.duplicate_counts(user=user),
            "next_cursor": _encode_cursor(offset + page.limit) if has_more else None}


@router.post("/quality/duplicates/{int:pair_id}/dismiss", response={200: DuplicatePairOut, **ERRORS})
def duplicate_dismiss(request: HttpRequest, pair_id: int):  # type: ignore[no-untyped-def]
    """"Not a duplicate": remembered, never suggested again."""
    user = _user(request)
    if scan_selectors.duplicate_pair_get(user=user, pair_id=pair_id) is None:
        raise NotFound(_("疑似重复记录不存在"))
    scanning.duplicate_pair_dismiss(acting_user=user, pair_id=pair_id)
    view = scan_selectors.duplicate_pair_get(user=user, pair_id=pair_id)
    return _pair_out(view)  # type: ignore[arg-type]


@router.post("/quality/duplicates/scan", response={202: DuplicateScanOut, **ERRORS})
def duplicate_scan_start(request: HttpRequest, payload: DuplicateScanIn):  # type: ignore[no-untyped-def]
    """Start a duplicate scan as a background job (admins); while one runs, that one is returned.
    Poll /quality/duplicates/scan/{id}."""
    job = scanning.duplicates_scan_job_create(acting_user=_admin(request), full=payload.full)
    if job.status == Job.Status.QUEUED:
        tasks.run_duplicates_scan_job(job.pk)
        job.refresh_from_db()
    return Status(202, _scan_out(job))


@router.get("/quality/duplicates/scan/{int:job_id}", response={200: DuplicateScanOut, **ERRORS})
def duplicate_scan_detail(request: HttpRequest, job_id: int):  # type: ignore[no-untyped-def]
    job = selectors.job_get(user=_admin(request), job_id=job_id)
    if job is None or job.kind != scanning.SCAN_JOB:
        raise NotFound(_("任务不存在"))
    return _scan_out(job)


# Duplicate contacts within one customer: their endpoints live in contact_api (on this router).
from kehu.dataquality import contact_api  # noqa: E402,F401 - registers the contact endpoints
