"""Writes of the data-quality app: admin tables (aliases, synonyms, rules, settings), review-queue
actions, bounced e-mails, and the `kehu normalize` run over the stored archive."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Avg, Count, F
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.core import audit
from kehu.core.errors import ErrorCode, FieldError, PermissionDenied, ValidationFailed
from kehu.core.jobs import job_create, job_progress, run_job
from kehu.core.models import Job
from kehu.core.scoping import restrict
from kehu.customers import search
from kehu.customers.models import Contact, Customer, PicklistOption
from kehu.dataquality import quality
from kehu.dataquality.cleaning import city_aliases, clean_contact_fields, clean_customer_fields
from kehu.dataquality.models import (
    BouncedEmail,
    CityAlias,
    PicklistSynonym,
    QualityIssue,
    QualitySettings,
    QualitySnapshot,
    RuleSeverity,
    RuleTarget,
    RuleType,
    ValidationRule,
)
from kehu.dataquality.picklists import fold

NORMALIZE_JOB = "dataquality.normalize"
CHUNK = 500


def _require_admin(user: User) -> None:
    from kehu.accounts.permissions import has_operation

    if not has_operation(user, "settings.manage"):
        raise PermissionDenied(_("只有管理员可以执行此操作"))


def _invalid(field: str, message: str, code: ErrorCode = ErrorCode.INVALID) -> ValidationFailed:
    return ValidationFailed([FieldError(field=field, code=code, message=message)])


# Admin tables -----------------------------------------------------------------------------------


@transaction.atomic
def city_alias_save(*, acting_user: User, alias: str, canonical: str, alias_id: int | None = None) -> CityAlias:
    from kehu.dataquality.normalize.addresses import normalize_address

    _require_admin(acting_user)
    alias, canonical = alias.strip(), canonical.strip()
    if not alias:
        raise _invalid("alias", _("别名不能为空"), ErrorCode.REQUIRED)
    # The target must be a real province or city, or the alias would invent places.
    target = normalize_address(canonical)
    if not (target.province or target.city) or target.district:
        raise _invalid("canonical", _("标准名称必须是省份或城市的全称，例如 北京市、广东省、深圳市"))
    canonical = target.city or target.province
    clash = CityAlias.objects.filter(alias=alias).exclude(pk=alias_id).exists()
    if clash:
        raise _invalid("alias", _("别名已存在：%(alias)s") % {"alias": alias}, ErrorCode.UNIQUE)
    item = CityAlias.objects.filter(pk=alias_id).first() if alias_id else CityAlias()
    if item is None:
        item = CityAlias()
    item.alias, item.canonical = alias, canonical
    item.save()
    return item


@transaction.atomic
def city_alias_delete(*, acting_user: User, alias_id: int) -> None:
    _require_admin(acting_user)
    CityAlias.objects.filter(pk=alias_id).delete()


@transaction.atomic
def picklist_synonym_add(*, acting_user: User, option: PicklistOption, text: str) -> PicklistSynonym:
    _require_admin(acting_user)
    text = text.strip()
    key = fold(text)
    if not key:
        raise _invalid("text", _("同义词不能为空"), ErrorCode.REQUIRED)
    existing = PicklistSynonym.objects.filter(kind=option.kind, key=key).select_related("option").first()
    if existing and existing.option_id != option.pk:
        raise _invalid("text", _("「%(text)s」已是「%(option)s」的同义词") % {"text": text, "option": existing.option},
                       ErrorCode.UNIQUE)
    if existing:
        return existing
    return PicklistSynonym.objects.create(option=option, kind=option.kind, text=text, key=key)


@transaction.atomic
def picklist_synonym_delete(*, acting_user: User, synonym_id: int) -> None:
    _require_admin(acting_user)
    PicklistSynonym.objects.filter(pk=synonym_id).delete()


RULE_FIELDS = {
    "customer": ["name", "phones", "emails", "website", "province", "city", "district", "address", "industry",
                 "level", "stage", "source", "birthday", "credit_code", "id_number", "gender", "short_name"],
    "contact": ["name", "title", "mobile", "phone", "email", "wechat", "birthday", "decision_role"],
}


@transaction.atomic
def validation_rule_save(*, acting_user: User, data: Mapping[str, Any], rule_id: int | None = None) -> ValidationRule:
    import re

    _require_admin(acting_user)
    rule = ValidationRule.objects.filter(pk=rule_id).first() if rule_id else ValidationRule()
    if rule is None:
        rule = ValidationRule()
    errors: list[FieldError] = []
    target = str(data.get("target") or RuleTarget.CUSTOMER)
    field = str(data.get("field") or "").strip()
    rule_type = str(data.get("rule_type") or "")
    severity = str(data.get("severity") or RuleSeverity.ERROR)
    if target not in RuleTarget.values:
        errors.append(FieldError("target", ErrorCode.UNKNOWN_CHOICE, _("未知的对象")))
    if rule_type not in RuleType.values:
        errors.append(FieldError("rule_type", ErrorCode.UNKNOWN_CHOICE, _("未知的规则类型")))
    if severity not in RuleSeverity.values:
        errors.append(FieldError("severity", ErrorCode.UNKNOWN_CHOICE, _("未知的处理方式")))
    if not (field in RULE_FIELDS.get(target, []) or field.startswith("custom.")):
        errors.append(FieldError("field", ErrorCode.INVALID, _("不支持的字段：%(field)s") % {"field": field}))
    params = dict(data.get("params") or {})
    if rule_type == RuleType.PATTERN:
        try:
            re.compile(str(params.get("regex") or ""))
        except re.error as exc:
            errors.append(FieldError("params", ErrorCode.INVALID, _("正则表达式无效：%(error)s") % {"error": exc}))
    if rule_type == RuleType.RANGE and params.get("min") in (None, "") and params.get("max") in (None, ""):
        errors.append(FieldError("params", ErrorCode.REQUIRED, _("范围规则至少需要最小值或最大值")))
    if rule_type == RuleType.UNIQUE and field not in ("phones", "emails", "credit_code", "mobile", "phone", "email"):
        errors.append(FieldError("rule_type", ErrorCode.INVALID, _("唯一性只能用于电话、手机、邮箱和统一社会信用代码")))
    customer_kind = str(data.get("customer_kind") or "")
    stage = data.get("stage")
    if stage not in (None, "") and not isinstance(stage, PicklistOption):
        stage = PicklistOption.objects.filter(kind="stage", pk=int(stage)).first() if str(stage).isdigit() else None
        if stage is None:
            errors.append(FieldError("stage", ErrorCode.UNKNOWN_CHOICE, _("未知的生命周期阶段")))
    if errors:
        raise ValidationFailed(errors)
    rule.target, rule.field, rule.rule_type, rule.severity = target, field, rule_type, severity
    rule.customer_kind = customer_kind
    rule.stage = stage or None
    rule.params = params
    rule.message_zh = str(data.get("message_zh") or "")[:200]
    rule.message_en = str(data.get("message_en") or "")[:200]
    rule.is_active = bool(data.get("is_active", True))
    rule.save()
    return rule


@transaction.atomic
def validation_rule_delete(*, acting_user: User, rule_id: int) -> None:
    _require_admin(acting_user)
    ValidationRule.objects.filter(pk=rule_id).delete()


@transaction.atomic
def quality_settings_update(
    *, acting_user: User, stale_days: int, key_fields_company: list[str], key_fields_person: list[str],
    duplicate_block_certain: bool | None = None,
) -> QualitySettings:
    _require_admin(acting_user)
    if not 1 <= int(stale_days) <= 3650:
        raise _invalid("stale_days", _("天数应在 1 到 3650 之间"))
    settings = quality.quality_settings()
    settings.stale_days = int(stale_days)
    settings.key_fields_company = list(key_fields_company)
    settings.key_fields_person = list(key_fields_person)
    if duplicate_block_certain is not None:
        settings.duplicate_block_certain = bool(duplicate_block_certain)
    settings.save()
    return settings


# Review-queue actions --------------------------------------------------------------------------


def _scoped(acting_user: User, customer_ids: Iterable[int]) -> Any:
    # Every caller changes the customers (or their issues): a read-only share doesn't count.
    return restrict(Customer.objects.filter(pk__in=list(customer_ids)), acting_user, write=True)


@transaction.atomic
def issues_assign_to_owner(*, acting_user: User, customer_ids: Iterable[int], code: str | None = None) -> int:
    """Hand the listed customers' issues to each customer's owner (their 待处理 queue)."""
    from kehu.accounts.permissions import has_operation

    if not has_operation(acting_user, "customer.assign"):
        raise PermissionDenied(_("无权分派数据问题"))
    customers = _scoped(acting_user, customer_ids).filter(owner__isnull=False)
    issues = QualityIssue.objects.filter(customer__in=customers)
    if code:
        issues = issues.filter(code=code)
    return _assign_each(issues)


def _assign_each(issues: Any) -> int:
    # UPDATE ... SET col = (join) isn't portable through the ORM; group by owner instead.
    changed = 0
    owners = issues.values_list("customer__owner_id", flat=True).distinct()
    for owner_id in list(owners):
        changed += QualityIssue.objects.filter(pk__in=issues.filter(customer__owner_id=owner_id).values("pk")).update(
            assigned_to_id=owner_id
        )
    return changed


@transaction.atomic
def customers_mark_reviewed(*, acting_user: User, customer_ids: Iterable[int]) -> int:
    """The quarterly check: someone confirmed the records are current without editing them."""
    now = timezone.now()
    customers = list(_scoped(acting_user, customer_ids))
    for customer in customers:
        Customer.objects.filter(pk=customer.pk).update(reviewed_at=now)
        customer.reviewed_at = now
        audit.record_event(actor=acting_user, action="update", obj=customer, customer_id=customer.pk,
                           changes=[{"field": "reviewed_at", "old": None, "new": now.isoformat()}])
        quality.customer_quality_refresh(customer)
    return len(customers)


@transaction.atomic
def customers_apply_email_suggestions(*, acting_user: User, customer_ids: Iterable[int]) -> int:
    """Replace e-mails whose domain is a known typo (qq.con) by the suggestion, through the normal
    update service (validation, audit, version)."""
    from kehu.customers.services import customer_update
    from kehu.dataquality.normalize.emails import normalize_email

    changed = 0
    for customer in _scoped(acting_user, customer_ids):
        fixed = []
        for email in customer.emails or []:
            result = normalize_email(email)
            suggestion = next((p.hint for p in result.problems if p.code == "email.domain_typo" and p.hint), "")
            fixed.append(suggestion or email)
        if fixed != list(customer.emails or []):
            customer_update(acting_user=acting_user, customer=customer, data={"emails": fixed})
            changed += 1
    return changed


@transaction.atomic
def email_mark_bounced(*, email: str, reason: str = "") -> int:
    """Record a rejected address (mail delivery calls this) and flag every customer that has it."""
    address = email.strip().lower()
    BouncedEmail.objects.update_or_create(email=address, defaults={"reason": reason[:300]})
    from kehu.dataquality.models import MatchKey

    customer_ids = set(MatchKey.objects.filter(kind="email", value=address).values_list("customer_id", flat=True))
    for customer in Customer.objects.filter(pk__in=customer_ids):
        quality.customer_quality_refresh(customer)
    return len(customer_ids)


# Normalising the stored archive ----------------------------------------------------------------


def normalize_job_create(*, acting_user: User | None, dry_run: bool = False) -> Job:
    if acting_user is not None:
        _require_admin(acting_user)
    return job_create(kind=NORMALIZE_JOB, created_by=acting_user, params={"dry_run": dry_run},
                      total=Customer.objects.count())


def reports_dir() -> Path:
    path = Path(django_settings.DATA_DIR) / "reports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def normalize_report_path(job: Job) -> Path:
    return reports_dir() / f"normalize-{job.pk}.csv"


CUSTOMER_NORMALISED = ("name", "phones", "emails", "province", "city", "district", "address", "credit_code",
                       "id_number", "website")
CONTACT_NORMALISED = ("name", "mobile", "phone", "email")


def _customer_changes(customer: Customer, aliases: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """{field: new value} for the stored values whose canonical form differs, and the codes."""
    raw = {name: getattr(customer, name) for name in CUSTOMER_NORMALISED}
    cleaned = clean_customer_fields(raw, kind=customer.kind, aliases=aliases)
    cleaned.values.pop("_id_birthday", None)
    cleaned.values.pop("_id_gender", None)
    changes: dict[str, Any] = {}
    for name, value in cleaned.values.items():
        old = getattr(customer, name)
        # Never lose information: a canonical form that is empty where something was stored is refused.
        if value in ("", [], None) and old not in ("", [], None):
            continue
        if name == "salutation" and not value:
            continue
        if value != old:
            changes[name] = value
    return changes, [p.problem.code for p in cleaned.problems]


def _contact_changes(contact: Contact) -> dict[str, Any]:
    cleaned = clean_contact_fields({name: getattr(contact, name) for name in CONTACT_NORMALISED})
    changes = {}
    for name, value in cleaned.values.items():
        old = getattr(contact, name)
        if value in ("", None) and old not in ("", None):
            continue
        if name == "salutation" and (not value or contact.salutation):
            continue
        if value != old:
            changes[name] = value
    return changes


def normalize_archive(job: Job, on_progress: Callable[[Job], None] | None = None) -> dict[str, Any]:
    """Re-run normalisation over every customer and contact in id order, one transaction per chunk.
    The chunk's last id is committed with the chunk, so a killed run resumes where it stopped
    without touching a record twice. Writes a CSV report of every change."""
    dry_run = bool(job.params.get("dry_run"))
    actor = job.created_by
    aliases = city_aliases()
    qsettings = quality.quality_settings()
    unique_rules = list(ValidationRule.objects.filter(is_active=True, rule_type=RuleType.UNIQUE,
                                                      severity=RuleSeverity.WARNING))
    state = dict(job.result or {})
    last_id = int(state.get("last_id", 0))
    done = int(state.get("done", 0))
    fields = Counter(state.get("fields", {}))
    problems = Counter(state.get("problems", {}))
    changed_records = int(state.get("changed_records", 0))
    report_path = normalize_report_path(job)
    new_report = not report_path.exists() or last_id == 0
    total = Customer.objects.count()
    with report_path.open("a" if not new_report else "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        if new_report:
            writer.writerow(["object", "id", "customer_id", "field", "old", "new"])
        while True:
            with transaction.atomic():
                chunk = list(
                    Customer.objects.filter(pk__gt=last_id).order_by("pk").select_for_update(of=("self",))[:CHUNK]
                )
                if not chunk:
                    break
                contacts_by_customer: dict[int, list[Contact]] = {}
                for contact in Contact.objects.filter(customer_id__in=[c.pk for c in chunk]):
                    contacts_by_customer.setdefault(contact.customer_id, []).append(contact)
                for customer in chunk:
                    changes, codes = _customer_changes(customer, aliases)
                    problems.update(codes)
                    contact_changes = [(c, _contact_changes(c)) for c in contacts_by_customer.get(customer.pk, [])]
                    contact_changes = [(c, ch) for c, ch in contact_changes if ch]
                    if changes or contact_changes:
                        changed_records += 1
                    for name, value in changes.items():
                        fields[name] += 1
                        writer.writerow(["customer", customer.pk, customer.pk, name,
                                         _cell(getattr(customer, name)), _cell(value)])
                    for contact, ch in contact_changes:
                        for name, value in ch.items():
                            fields[f"contact.{name}"] += 1
                            writer.writerow(["contact", contact.pk, customer.pk, name,
                                             _cell(getattr(contact, name)), _cell(value)])
                    if dry_run:
                        continue
                    if changes:
                        _apply_normalised(customer, changes, actor)
                    for contact, ch in contact_changes:
                        _apply_normalised_contact(contact, ch, actor)
                if not dry_run:
                    quality.customers_quality_refresh(chunk, settings=qsettings, unique_rules=unique_rules)
                last_id = chunk[-1].pk
                done += len(chunk)
                job.result = {"last_id": last_id, "done": done, "fields": dict(fields), "problems": dict(problems),
                              "changed_records": changed_records, "dry_run": dry_run,
                              "report": str(report_path)}
                from kehu.core.models import Job as JobModel

                JobModel.objects.filter(pk=job.pk).update(result=job.result)
            handle.flush()
            job_progress(job, done=done, total=total)
            if on_progress:
                on_progress(job)
    if not dry_run:
        quality_snapshot_take()
    return job.result or {"done": 0, "fields": {}, "problems": {}, "changed_records": 0, "dry_run": dry_run,
                          "report": str(report_path)}


def _cell(value: Any) -> str:
    text = "; ".join(map(str, value)) if isinstance(value, list) else str(value)
    # The report is opened in Excel: a value starting with = + - @ must not run as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _apply_normalised(customer: Customer, changes: Mapping[str, Any], actor: User | None) -> None:
    old = {name: getattr(customer, name) for name in changes}
    for name, value in changes.items():
        setattr(customer, name, value)
    extra: dict[str, Any] = {}
    if "name" in changes:
        from kehu.customers.pinyin import pinyin_forms

        customer.name_pinyin, customer.name_initials = pinyin_forms(customer.name, is_person=customer.kind == "person")
        extra = {"name_pinyin": customer.name_pinyin, "name_initials": customer.name_initials}
    # A normalisation run is not a user's edit: version goes up (an open edit form must reload),
    # updated_at stays (freshness measures people, not the cleaner).
    Customer.objects.filter(pk=customer.pk).update(version=F("version") + 1, **changes, **extra)
    audit.record_event(
        actor=actor, action="update", obj=customer, customer_id=customer.pk,
        changes=[{"field": n, "old": old[n], "new": changes[n], "by": "normalize"} for n in changes],
    )
    if {"name", "phones", "emails", "credit_code"} & set(changes):
        search.index_customer(customer)


def _apply_normalised_contact(contact: Contact, changes: Mapping[str, Any], actor: User | None) -> None:
    old = {name: getattr(contact, name) for name in changes}
    for name, value in changes.items():
        setattr(contact, name, value)
    Contact.objects.filter(pk=contact.pk).update(version=F("version") + 1, **changes)
    audit.record_event(
        actor=actor, action="update", obj=contact, customer_id=contact.customer_id,
        changes=[{"field": n, "old": old[n], "new": changes[n], "by": "normalize"} for n in changes],
    )
    search.index_contact(contact)


def normalize_run(job: Job, on_progress: Callable[[Job], None] | None = None) -> Job:
    return run_job(job, lambda j: normalize_archive(j, on_progress))


# Nightly check and trend -----------------------------------------------------------------------


def quality_check_all(*, chunk: int = CHUNK) -> int:
    """Recompute every customer's score (freshness decays daily) and take the day's snapshot."""
    qsettings = quality.quality_settings()
    unique_rules = list(ValidationRule.objects.filter(is_active=True, rule_type=RuleType.UNIQUE,
                                                      severity=RuleSeverity.WARNING))
    last_id, count = 0, 0
    now = timezone.now()
    while True:
        with transaction.atomic():
            batch = list(Customer.objects.filter(pk__gt=last_id).order_by("pk")[:chunk])
            if not batch:
                break
            quality.customers_quality_refresh(batch, settings=qsettings, unique_rules=unique_rules, now=now)
            last_id = batch[-1].pk
            count += len(batch)
    quality_snapshot_take()
    return count


BUCKETS = [(0, 39), (40, 59), (60, 79), (80, 89), (90, 100)]


def quality_snapshot_take(day: dt.date | None = None) -> QualitySnapshot:
    day = day or timezone.localdate()
    stats = Customer.objects.aggregate(n=Count("id"), avg=Avg("quality_score"))
    buckets = {f"{low}-{high}": Customer.objects.filter(quality_score__gte=low, quality_score__lte=high).count()
               for low, high in BUCKETS}
    issue_counts = dict(QualityIssue.objects.values_list("code").annotate(n=Count("id")).values_list("code", "n"))
    snapshot, _ = QualitySnapshot.objects.update_or_create(
        day=day,
        defaults={"customers": stats["n"] or 0, "average_score": float(stats["avg"] or 0),
                  "issue_counts": issue_counts, "score_buckets": buckets},
    )
    return snapshot
