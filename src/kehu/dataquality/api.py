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
    user = _user(request)
    if not user.is_kehu_admin:
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
            "key_fields_person": current.key_fields_person}


@router.get("/quality/settings", response={200: SettingsOut, **ERRORS})
def settings_get(request: HttpRequest):  # type: ignore[no-untyped-def]
    _admin(request)
    return _settings_out()


@router.put("/quality/settings", response={200: SettingsOut, **ERRORS})
def settings_update(request: HttpRequest, payload: SettingsIn):  # type: ignore[no-untyped-def]
    services.quality_settings_update(acting_user=_user(request), stale_days=payload.stale_days,
                                     key_fields_company=payload.key_fields_company,
                                     key_fields_person=payload.key_fields_person)
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
