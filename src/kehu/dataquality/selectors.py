"""Reads of the data-quality app. Everything about customers goes through `restrict()`, so a rep's
quality page and review queues cover exactly the customers that rep may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from kehu.accounts.models import User
from kehu.core.models import Job
from kehu.core.scoping import restrict
from kehu.customers.models import Customer
from kehu.dataquality import quality
from kehu.dataquality.messages import describe, field_label
from kehu.dataquality.models import (
    CityAlias,
    PicklistSynonym,
    QualityIssue,
    QualitySnapshot,
    ValidationRule,
)
from kehu.dataquality.services import BUCKETS, NORMALIZE_JOB

# Review queues: key -> (title, issue codes or a special filter)
QUEUE_INVALID_PHONES = "invalid_phones"
QUEUE_INVALID_EMAILS = "invalid_emails"
QUEUE_BOUNCED = "bounced_emails"
QUEUE_MISSING = "missing_fields"
QUEUE_UNKNOWN_PICKLIST = "unknown_picklist"
QUEUE_DUPLICATES = "duplicates"
QUEUE_STALE = "stale"
QUEUE_IDENTIFIERS = "invalid_identifiers"
QUEUE_ADDRESSES = "addresses"
QUEUE_MINE = "assigned_to_me"


@dataclass(frozen=True)
class Queue:
    key: str
    title: str
    count: int


def _issue_filter(key: str) -> Q | None:
    return {
        QUEUE_INVALID_PHONES: Q(code__startswith="phone.") & ~Q(code="phone.not_mobile"),
        QUEUE_INVALID_EMAILS: Q(code__startswith="email.") & ~Q(code="email.bounced"),
        QUEUE_BOUNCED: Q(code="email.bounced"),
        QUEUE_MISSING: Q(code__startswith="missing."),
        QUEUE_UNKNOWN_PICKLIST: Q(code="picklist.unknown"),
        QUEUE_DUPLICATES: Q(code="unique.duplicate"),
        QUEUE_IDENTIFIERS: Q(code__startswith="credit_code.") | Q(code__startswith="resident_id.")
        | Q(code__startswith="id_number.") | Q(code__startswith="url."),
        QUEUE_ADDRESSES: Q(code__startswith="address."),
    }.get(key)


def queue_key_for_code(code: str) -> str | None:
    """The review queue that lists customers with this issue code (None: no queue shows it)."""
    if code == "phone.not_mobile":
        return None
    if code == "email.bounced":
        return QUEUE_BOUNCED
    for prefix, key in (("phone.", QUEUE_INVALID_PHONES), ("email.", QUEUE_INVALID_EMAILS),
                        ("missing.", QUEUE_MISSING), ("address.", QUEUE_ADDRESSES), ("credit_code.", QUEUE_IDENTIFIERS),
                        ("resident_id.", QUEUE_IDENTIFIERS), ("id_number.", QUEUE_IDENTIFIERS),
                        ("url.", QUEUE_IDENTIFIERS)):
        if code.startswith(prefix):
            return key
    return {"picklist.unknown": QUEUE_UNKNOWN_PICKLIST, "unique.duplicate": QUEUE_DUPLICATES}.get(code)


def queue_titles() -> dict[str, str]:
    from django.utils.translation import gettext as _

    return {
        QUEUE_STALE: _("长期未更新"),
        QUEUE_INVALID_PHONES: _("无效电话"),
        QUEUE_INVALID_EMAILS: _("无效或可疑邮箱"),
        QUEUE_BOUNCED: _("退信邮箱"),
        QUEUE_MISSING: _("缺少关键字段"),
        QUEUE_UNKNOWN_PICKLIST: _("未知选项值"),
        QUEUE_DUPLICATES: _("电话/邮箱重复"),
        QUEUE_IDENTIFIERS: _("证照与网址问题"),
        QUEUE_ADDRESSES: _("地址无法识别"),
        QUEUE_MINE: _("分派给我的"),
    }


def stale_cutoff(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(days=quality.quality_settings().stale_days)


def stale_customers(*, user: User, now: dt.datetime | None = None) -> QuerySet[Customer]:
    cutoff = stale_cutoff(now)
    return restrict(Customer.objects.all(), user).filter(
        Q(updated_at__lt=cutoff)
        & (Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=cutoff))
        & (Q(reviewed_at__isnull=True) | Q(reviewed_at__lt=cutoff))
    )


def queue_customers(*, user: User, key: str) -> QuerySet[Customer]:
    """The customers of one review queue, worst score first."""
    if key == QUEUE_STALE:
        customers = stale_customers(user=user).order_by("updated_at", "id")
    elif key == QUEUE_MINE:
        ids = QualityIssue.objects.filter(assigned_to=user).values("customer_id")
        customers = restrict(Customer.objects.filter(pk__in=ids), user).order_by("quality_score", "id")
    else:
        condition = _issue_filter(key)
        if condition is None:
            return Customer.objects.none()
        ids = QualityIssue.objects.filter(condition).values("customer_id")
        customers = restrict(Customer.objects.filter(pk__in=ids), user).order_by("quality_score", "id")
    return customers.select_related("owner", "department")


def queue_issues_for(*, customers: list[Customer], key: str) -> dict[int, list[QualityIssue]]:
    """The issues to show beside each listed customer (only those of the queue)."""
    issues = QualityIssue.objects.filter(customer_id__in=[c.pk for c in customers])
    condition = _issue_filter(key)
    if condition is not None:
        issues = issues.filter(condition)
    grouped: dict[int, list[QualityIssue]] = {}
    for issue in issues.order_by("code", "id"):
        grouped.setdefault(issue.customer_id, []).append(issue)
    return grouped


def queue_page(*, user: User, key: str, offset: int = 0, limit: int = 50) -> tuple[list[Customer], bool]:
    """One page of a queue (rows, has_more). Offset paging: queues are worked from the top and shrink
    as records are fixed, so a keyset over a nullable score buys nothing here."""
    rows = list(queue_customers(user=user, key=key)[offset:offset + limit + 1])
    return rows[:limit], len(rows) > limit


def queues(*, user: User) -> list[Queue]:
    titles = queue_titles()
    visible_ids = restrict(Customer.objects.all(), user).values("pk")
    scoped_issues = QualityIssue.objects.filter(customer_id__in=visible_ids)
    result = [Queue(QUEUE_STALE, titles[QUEUE_STALE], stale_customers(user=user).count())]
    for key in (QUEUE_INVALID_PHONES, QUEUE_INVALID_EMAILS, QUEUE_BOUNCED, QUEUE_MISSING, QUEUE_UNKNOWN_PICKLIST,
                QUEUE_DUPLICATES, QUEUE_IDENTIFIERS, QUEUE_ADDRESSES):
        condition = _issue_filter(key)
        count = scoped_issues.filter(condition).values("customer_id").distinct().count()
        result.append(Queue(key, titles[key], count))
    mine = QualityIssue.objects.filter(assigned_to=user).values("customer_id").distinct().count()
    result.append(Queue(QUEUE_MINE, titles[QUEUE_MINE], mine))
    return result


def overview(*, user: User) -> dict[str, Any]:
    """Figures for the data-quality page, within the user's scope."""
    customers = restrict(Customer.objects.all(), user)
    total = customers.count()
    checked = customers.filter(quality_score__isnull=False)
    buckets = [
        {"label": f"{low}-{high}", "count": checked.filter(quality_score__gte=low, quality_score__lte=high).count()}
        for low, high in BUCKETS
    ]
    scored = checked.count()
    average = _avg(checked)
    issues = QualityIssue.objects.filter(customer_id__in=customers.values("pk"))
    by_code = [
        {"code": row["code"], "label": describe(row["code"]), "count": row["n"],
         "queue": queue_key_for_code(row["code"])}
        for row in issues.values("code").annotate(n=Count("id")).order_by("-n", "code")
    ]
    by_field = [
        {"field": row["field"], "label": field_label(row["field"].removeprefix("contact.")), "count": row["n"]}
        for row in issues.exclude(field="").values("field").annotate(n=Count("id")).order_by("-n", "field")[:10]
    ]
    trend = list(QualitySnapshot.objects.order_by("-day")[:90])[::-1]
    return {
        "total": total,
        "scored": scored,
        "average": average,
        "buckets": buckets,
        "by_code": by_code,
        "worst_fields": by_field,
        "trend": [{"day": s.day.isoformat(), "average": round(s.average_score, 1),
                   "issues": sum(s.issue_counts.values())} for s in trend],
        "stale_days": quality.quality_settings().stale_days,
    }


def _avg(queryset: QuerySet[Customer]) -> float:
    from django.db.models import Avg

    return round(float(queryset.aggregate(a=Avg("quality_score"))["a"] or 0), 1)


def customer_quality(*, customer: Customer) -> quality.QualityReport:
    """Live report for the 360° view (freshness as of now), without writing anything."""
    return quality.customer_quality_refresh(customer, save=False)


def describe_warnings(warnings: list[tuple[str, str, str, str]]) -> list[str]:
    """Sentences for the (field, code, value, hint) warnings a save attached to the record."""
    from django.utils.translation import gettext as _

    texts = []
    for field_name, code, value, hint in warnings:
        if code == "unique.duplicate" and hint:
            texts.append(hint)  # the rule's sentence already names the field, value and existing record
            continue
        sentence = describe(code)
        text = f"{field_label(field_name.removeprefix('contact.'))}：{sentence}"
        if value:
            text += f"「{value}」"
        # A duplicate's hint is the other record's id, and a rule without its own message repeats the
        # sentence: neither is worth showing.
        if hint and code != "unique.duplicate" and not hint.startswith(sentence):
            text += str(_("（%(hint)s）")) % {"hint": hint}
        texts.append(text)
    return texts


def city_aliases_all() -> list[CityAlias]:
    return list(CityAlias.objects.all())


def picklist_synonyms_all() -> list[PicklistSynonym]:
    return list(PicklistSynonym.objects.select_related("option").order_by("kind", "option__position", "text"))


def validation_rules_all() -> list[ValidationRule]:
    return list(ValidationRule.objects.select_related("stage").all())


def normalize_jobs(limit: int = 10) -> list[Job]:
    return list(Job.objects.filter(kind=NORMALIZE_JOB).select_related("created_by")[:limit])


def job_get(*, user: User, job_id: int) -> Job | None:
    job = Job.objects.filter(pk=job_id).first()
    if job is None or not (user.is_kehu_admin or job.created_by_id == user.pk):
        return None
    return job


def job_figures(job: Job, now: dt.datetime | None = None) -> dict[str, Any]:
    """Progress of a job as shown to people: percent, rows per second, seconds left (None if unknown)."""
    now = now or timezone.now()
    elapsed = ((job.finished_at or now) - job.started_at).total_seconds() if job.started_at else 0.0
    rate = job.done / elapsed if elapsed > 0 and job.done else 0.0
    eta = round((job.total - job.done) / rate) if rate and not job.finished and job.total > job.done else None
    percent = min(100, round(100 * job.done / job.total)) if job.total else 0
    if job.status == Job.Status.DONE:
        percent = 100
    return {"percent": percent, "rate": round(rate), "eta": eta}


def job_report_path(job: Job) -> Path | None:
    """The job's CSV report, only if it is a file inside the reports directory (the path is stored
    in the job's result, so it is checked rather than trusted)."""
    from kehu.dataquality.services import reports_dir

    raw = (job.result or {}).get("report")
    if not raw or job.kind != NORMALIZE_JOB:
        return None
    root = reports_dir().resolve()
    path = Path(str(raw)).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path
