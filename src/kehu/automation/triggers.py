"""Triggers: which events fire a record rule, and the one set query that selects a time-based
rule's records for a day (never a Python loop over the table).

Time-based rules (date offset, inactivity, daily schedule) run once a day at their `at` time
(local, default 09:00). Each selected record comes with its *period*, part of the idempotency key:
- anniversaries (birthday, customer since): the anniversary's year, so a greeting goes once a year;
- other dates (contract end, expected close): that date;
- inactivity: the moment it was last touched, so one idle spell acts once, a new one again;
- a daily schedule: the day.

Birthdays are matched on month and day through the list of that date in every year since 1900
(`birthday IN (...)`, a plain comparison SQLite and PostgreSQL run in C over the column, no
per-row function): ~1M rows in a fraction of a second, no extra column or index. A 29 February
birthday is celebrated on 28 February in other years.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.automation import objects
from kehu.automation.models import TriggerKind
from kehu.core.errors import ErrorCode, FieldError, ValidationFailed

FIRST_YEAR = 1900
DEFAULT_AT = "09:00"


def _error(name: str, message: str) -> ValidationFailed:
    return ValidationFailed([FieldError(field=f"trigger_params.{name}", code=ErrorCode.INVALID, message=message)])


def parse_at(value: Any) -> dt.time:
    try:
        hour, minute = str(value or DEFAULT_AT).strip().split(":")
        return dt.time(int(hour), int(minute))
    except (ValueError, TypeError) as exc:
        raise _error("at", _("时间格式应为 HH:MM")) from exc


def clean_params(trigger: str, object_type: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validated trigger parameters (raises ValidationFailed)."""
    params = dict(params or {})
    if trigger not in TriggerKind.values:
        raise ValidationFailed([FieldError("trigger", ErrorCode.UNKNOWN_CHOICE, _("未知的触发条件"))])
    cleaned: dict[str, Any] = {}
    if trigger == TriggerKind.FIELD_CHANGED:
        field = str(params.get("field") or "")
        if objects.changeable(object_type, field) is None:
            raise _error("field", _("未知的字段：%(field)s") % {"field": field})
        cleaned = {"field": field, "to": str(params.get("to") or "").strip()}
    elif trigger == TriggerKind.STAGE_CHANGED:
        cleaned = {"to": str(params.get("to") or "").strip()}
        if object_type == "opportunity":
            kind = str(params.get("to_kind") or "").strip()
            if kind not in ("", "open", "won", "lost"):
                raise _error("to_kind", _("阶段类型应为 open/won/lost"))
            cleaned["to_kind"] = kind
    elif trigger == TriggerKind.FOLLOWUP_LOGGED and object_type == "lead":
        raise ValidationFailed([FieldError("trigger", ErrorCode.INVALID, _("线索没有跟进记录触发"))])
    elif trigger in (TriggerKind.DATE_OFFSET, TriggerKind.INACTIVE, TriggerKind.SCHEDULE):
        cleaned["at"] = parse_at(params.get("at")).strftime("%H:%M")
        if trigger != TriggerKind.SCHEDULE:
            try:
                days = int(params.get("days") or 0)
            except (TypeError, ValueError) as exc:
                raise _error("days", _("天数应为整数")) from exc
            if not 0 <= days <= 3650:
                raise _error("days", _("天数应在 0 到 3650 之间"))
            cleaned["days"] = days
        if trigger == TriggerKind.DATE_OFFSET:
            field = str(params.get("field") or "")
            if objects.date_field(object_type, field) is None:
                raise _error("field", _("未知的日期字段：%(field)s") % {"field": field})
            direction = str(params.get("direction") or "before")
            if direction not in ("before", "after"):
                raise _error("direction", _("方向应为 before 或 after"))
            cleaned.update(field=field, direction=direction)
        elif trigger == TriggerKind.INACTIVE:
            anchor = str(params.get("anchor") or "last_activity")
            if anchor not in {a for a, _label in objects.INACTIVE_ANCHORS[object_type]}:
                raise _error("anchor", _("未知的依据：%(value)s") % {"value": anchor})
            cleaned["anchor"] = anchor
    return cleaned


# Record events --------------------------------------------------------------------------------------


def event_record_id(rule: Any, event: Mapping[str, Any]) -> int | None:
    """The record of `rule`'s object this event fires the rule for, or None when it does not."""
    name = str(event.get("name") or "")
    object_type, _sep, verb = name.partition(".")
    trigger = rule.trigger
    data = event.get("data") or {}
    changes = event.get("changes") or {}
    if trigger == TriggerKind.FOLLOWUP_LOGGED:
        if name != "followup.logged":
            return None
        if rule.object_type == "customer":
            return event.get("customer_id")
        if rule.object_type == "opportunity":
            return data.get("opportunity_id")
        return None
    if object_type != rule.object_type:
        return None
    record_id = event.get("object_id")
    if trigger == TriggerKind.CREATED:
        return record_id if verb == "created" else None
    if trigger == TriggerKind.DELETED:
        return record_id if verb == "deleted" else None
    if trigger == TriggerKind.UPDATED:
        return record_id if verb in ("updated", "stage_changed") else None
    if trigger == TriggerKind.FIELD_CHANGED:
        return record_id if verb == "updated" and rule.trigger_params.get("field") in changes else None
    if trigger == TriggerKind.STAGE_CHANGED:
        params = rule.trigger_params
        if rule.object_type == "opportunity":
            if verb != "stage_changed":
                return None
            if params.get("to") and str(data.get("to_stage")) != str(params["to"]):
                return None
            if params.get("to_kind") and data.get("to_kind") != params["to_kind"]:
                return None
            return record_id
        field = "stage" if rule.object_type == "customer" else "status"
        return record_id if verb == "updated" and field in changes else None
    return None


def value_condition(rule: Any) -> Q:
    """The "changed *to* X" part, checked against the committed record (the event names the field)."""
    params = rule.trigger_params
    if rule.trigger == TriggerKind.FIELD_CHANGED and params.get("to"):
        field = params["field"]
        lookup = f"{field}_id" if field in objects.FK_FIELDS else field
        return Q(**{lookup: params["to"]})
    if rule.trigger == TriggerKind.STAGE_CHANGED and rule.object_type != "opportunity" and params.get("to"):
        lookup = "stage_id" if rule.object_type == "customer" else "status"
        return Q(**{lookup: params["to"]})
    return Q()


# Time-based selection -------------------------------------------------------------------------------


def anniversary_dates(target: dt.date, *, last_year: int) -> list[dt.date]:
    """Every date from FIRST_YEAR to `last_year` whose anniversary falls on `target` (29 February
    anniversaries on 28 February of a common year)."""
    dates = []
    for year in range(FIRST_YEAR, last_year + 1):
        if target.month == 2 and target.day == 29 and not calendar.isleap(year):
            continue
        dates.append(dt.date(year, target.month, target.day))
        if target.month == 2 and target.day == 28 and not calendar.isleap(target.year) and calendar.isleap(year):
            dates.append(dt.date(year, 2, 29))
    return dates


def _day_range(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    return start, start + dt.timedelta(days=1)


def _date_q(field: str, days: list[dt.date]) -> Q:
    """`field` (a datetime column) on one of `days`, local time: OR of day ranges (index-friendly)."""
    condition = Q(pk__in=[])
    for day in days:
        start, end = _day_range(day)
        condition |= Q(**{f"{field}__gte": start, f"{field}__lt": end})
    return condition


def time_selection(rule: Any, audience: QuerySet, *, now: dt.datetime,
                   since: dt.datetime | None = None) -> tuple[QuerySet, str | None]:
    """(queryset of the day's records, period for all) or, for inactivity, (queryset with `_period`, None).

    `since`: the start of the previous completed daily pass; an inactivity rule then looks only at
    records that crossed the line since (plus a day), not the whole idle backlog every day."""
    params = rule.trigger_params
    today = timezone.localdate(now)
    if rule.trigger == TriggerKind.SCHEDULE:
        return audience, today.isoformat()
    if rule.trigger == TriggerKind.DATE_OFFSET:
        days = int(params.get("days") or 0)
        target = today + dt.timedelta(days=days) if params.get("direction", "before") == "before" \
            else today - dt.timedelta(days=days)
        field = objects.date_field(rule.object_type, params["field"])
        assert field is not None
        if field.annual:
            if field.key == "created_at":
                selected = audience.filter(_date_q("created_at", anniversary_dates(target, last_year=target.year - 1)))
            else:
                selected = audience.filter(**{f"{field.key}__in": anniversary_dates(target, last_year=target.year)})
            return selected, str(target.year)
        if field.key == "contract_end":
            from kehu.contracts.models import Contract, ContractStatus

            ending = Contract.objects.filter(customer_id=OuterRef("pk"), status=ContractStatus.ACTIVE, ends_on=target)
            return audience.filter(Exists(ending)), target.isoformat()
        if field.key == "created_at":
            return audience.filter(_date_q("created_at", [target])), target.isoformat()
        return audience.filter(**{field.key: target}), target.isoformat()
    # Inactivity: last touched at least N days ago.
    cut = now - dt.timedelta(days=int(params.get("days") or 0))
    selected = audience.annotate(_period=objects.inactive_anchor(rule.object_type, params.get("anchor", "")))
    selected = selected.filter(_period__lte=cut)
    if since is not None:
        selected = selected.filter(_period__gt=cut - (now - since) - dt.timedelta(days=1))
    return selected, None


def selected_rows(queryset: QuerySet, period: str | None, *, chunk: int = 2000) -> Iterator[tuple[int, str]]:
    """(record id, period) of the selection, in id order, fetched by keyset chunks."""
    last = 0
    while True:
        page = queryset.filter(pk__gt=last).order_by("pk")
        rows = list(page.values_list("pk", "_period")[:chunk] if period is None else
                    page.values_list("pk", flat=True)[:chunk])
        if not rows:
            return
        for row in rows:
            if period is None:
                pk, anchor = row
                yield pk, timezone.localtime(anchor).strftime("%Y-%m-%dT%H:%M")
                last = pk
            else:
                yield row, period
                last = row
