"""Request and response shapes of the data-quality API (/api/v1/quality/...).

Inputs only check types and forbid unknown keys; the services validate (the same rules as the
web pages). Outputs are plain pydantic models built from dicts by the `*_out` functions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from ninja import Field

from kehu.core.models import Job
from kehu.customers.models import Customer
from kehu.customers.schemas import InputSchema, OutputSchema, UserRefOut, user_ref
from kehu.dataquality.models import CityAlias, PicklistSynonym, QualityIssue, ValidationRule
from kehu.dataquality.quality import QualityReport, issue_label

# Overview and queues ---------------------------------------------------------------------------


class BucketOut(OutputSchema):
    label: str
    count: int


class CodeCountOut(OutputSchema):
    code: str
    label: str
    count: int
    queue: str | None = Field(None, description="Key of the review queue listing these customers")


class FieldCountOut(OutputSchema):
    field: str
    label: str
    count: int


class TrendPointOut(OutputSchema):
    day: dt.date
    average: float
    issues: int


class QueueOut(OutputSchema):
    key: str
    title: str
    count: int


class OverviewOut(OutputSchema):
    total: int = Field(description="Customers in the caller's scope")
    scored: int
    average: float
    buckets: list[BucketOut]
    by_code: list[CodeCountOut]
    worst_fields: list[FieldCountOut]
    trend: list[TrendPointOut]
    stale_days: int
    queues: list[QueueOut]


class IssueOut(OutputSchema):
    code: str
    field: str
    value: str
    hint: str
    label: str = Field(description="The issue in words, in the request's language")
    contact_id: int | None = None


def issue_out(issue: QualityIssue) -> dict[str, Any]:
    # A duplicate's hint is the other record's id, which the caller may not be allowed to see.
    hint = "" if issue.code == "unique.duplicate" else issue.hint
    return {"code": issue.code, "field": issue.field, "value": issue.value, "hint": hint,
            "label": issue_label(issue), "contact_id": issue.contact_id}


class QueueItemOut(OutputSchema):
    id: int
    name: str
    kind: str
    quality_score: int | None
    owner: UserRefOut | None
    updated_at: dt.datetime
    issues: list[IssueOut]


class QueuePageOut(OutputSchema):
    key: str
    title: str
    items: list[QueueItemOut]
    next_cursor: str | None = Field(None, description="Pass as cursor to get the next page; null on the last")


def queue_item_out(customer: Customer, issues: list[QualityIssue]) -> dict[str, Any]:
    return {"id": customer.pk, "name": customer.name, "kind": customer.kind, "quality_score": customer.quality_score,
            "owner": user_ref(customer.owner), "updated_at": customer.updated_at,
            "issues": [issue_out(i) for i in issues]}


class ReasonOut(OutputSchema):
    points: int
    message: str


class CustomerQualityOut(OutputSchema):
    customer_id: int
    score: int = Field(description="0-100: completeness (50) + validity (30) + freshness (20)")
    completeness: int
    validity: int
    freshness: int
    days_since_touch: int
    reviewed_at: dt.datetime | None
    reasons: list[ReasonOut]
    issues: list[IssueOut]


def customer_quality_out(customer: Customer, report: QualityReport) -> dict[str, Any]:
    return {
        "customer_id": customer.pk, "score": report.score, "completeness": report.completeness,
        "validity": report.validity, "freshness": report.freshness, "days_since_touch": report.days_since_touch,
        "reviewed_at": customer.reviewed_at,
        "reasons": [{"points": r.points, "message": r.message} for r in report.reasons],
        "issues": [issue_out(i) for i in report.issues],
    }


# Actions ---------------------------------------------------------------------------------------


# A record id: positive and within a bigint, so a wild number is a 422 rather than a database error.
RecordId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class IdsIn(InputSchema):
    ids: list[RecordId] = Field(max_length=5000, description="Customer ids; ids outside the caller's scope are skipped")


class AssignIn(IdsIn):
    code: str | None = Field(None, description="Only issues with this code (e.g. phone.invalid); all when absent")


# Admin tables ----------------------------------------------------------------------------------


class CityAliasIn(InputSchema):
    alias: str
    canonical: str = Field(description="Full name of a province or city, e.g. 北京市")


class CityAliasOut(OutputSchema):
    id: int
    alias: str
    canonical: str


def city_alias_out(item: CityAlias) -> dict[str, Any]:
    return {"id": item.pk, "alias": item.alias, "canonical": item.canonical}


class SynonymIn(InputSchema):
    option: int | None = Field(None, description="Picklist option id; or give kind + code")
    kind: str | None = Field(None, description="industry, source, level or stage")
    code: str | None = None
    text: str


class SynonymOut(OutputSchema):
    id: int
    kind: str
    text: str
    option_id: int
    option_code: str
    option_label: str


def synonym_out(item: PicklistSynonym) -> dict[str, Any]:
    return {"id": item.pk, "kind": item.kind, "text": item.text, "option_id": item.option_id,
            "option_code": item.option.code, "option_label": item.option.label}


class RuleIn(InputSchema):
    target: str = Field("customer", description="customer or contact")
    field: str = Field(description="A record field (phones, emails, city, credit_code, ...) or custom.<key>")
    rule_type: str = Field(description="required, unique, valid, pattern or range")
    severity: str = Field("error", description="error (refuse the save) or warning (save and flag)")
    customer_kind: str = Field("", description="company or person; empty = all")
    stage: int | None = Field(None, description="Lifecycle stage option id; null = all")
    params: dict[str, Any] = Field(default_factory=dict,
                                   description='pattern: {"regex": "..."}; range: {"min": 0, "max": 100}')
    message_zh: str = ""
    message_en: str = ""
    is_active: bool = True


class RuleOut(OutputSchema):
    id: int
    target: str
    field: str
    rule_type: str
    severity: str
    customer_kind: str
    stage: int | None
    params: dict[str, Any]
    message_zh: str
    message_en: str
    is_active: bool


def rule_out(rule: ValidationRule) -> dict[str, Any]:
    return {"id": rule.pk, "target": rule.target, "field": rule.field, "rule_type": rule.rule_type,
            "severity": rule.severity, "customer_kind": rule.customer_kind, "stage": rule.stage_id,
            "params": rule.params or {}, "message_zh": rule.message_zh, "message_en": rule.message_en,
            "is_active": rule.is_active}


class SettingsIn(InputSchema):
    stale_days: int = Field(description="Days without update, follow-up or review before a record is stale")
    key_fields_company: list[str]
    key_fields_person: list[str]
    duplicate_block_certain: bool | None = Field(
        None, description="Refuse to save a customer that certainly duplicates another (omit: unchanged)")


class SettingsOut(OutputSchema):
    stale_days: int
    key_fields_company: list[str]
    key_fields_person: list[str]
    duplicate_block_certain: bool


# Normalisation jobs ----------------------------------------------------------------------------


class NormalizeIn(InputSchema):
    dry_run: bool = Field(False, description="Only write the report; change nothing")


class JobOut(OutputSchema):
    id: int
    kind: str
    status: str = Field(description="queued, running, done, failed or cancelled")
    dry_run: bool
    total: int
    done: int
    rows_per_second: float
    eta_seconds: int | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    message: str
    changed_records: int | None
    fields: dict[str, int]
    problems: dict[str, int]
    report_url: str | None = Field(None, description="CSV report of every change (admins; web session)")


def job_out(job: Job, *, rate: float, eta: int | None, report_url: str | None) -> dict[str, Any]:
    result = job.result or {}
    return {
        "id": job.pk, "kind": job.kind, "status": job.status, "dry_run": bool((job.params or {}).get("dry_run")),
        "total": job.total, "done": job.done, "rows_per_second": rate, "eta_seconds": eta,
        "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at,
        "message": job.message, "changed_records": result.get("changed_records"),
        "fields": result.get("fields") or {}, "problems": result.get("problems") or {}, "report_url": report_url,
    }
