"""One filter definition for the customer list, shared by the web list, the API and exports.

`CustomerFilter.from_params()` reads a query string (the web list, the API and saved views all
store the same keys), `apply()` turns it into a queryset filter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from kehu.customers.models import Customer, CustomFieldDefinition, CustomFieldTarget

LIST_KEYS = {"tags"}


def _get(params: Mapping[str, Any], key: str) -> Any:
    getlist = getattr(params, "getlist", None)
    if key in LIST_KEYS:
        if getlist is not None:
            values = [v for item in getlist(key) for v in str(item).split(",")]
        else:
            raw = params.get(key)
            values = raw if isinstance(raw, list) else str(raw or "").split(",")
        return [v.strip() for v in values if str(v).strip()]
    value = params.get(key)
    if isinstance(value, list):
        value = value[0] if value else None
    return value.strip() if isinstance(value, str) else value


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


@dataclass
class CustomerFilter:
    q: str = ""
    kind: str = ""
    owner: str = ""  # a user id, or "me"
    department: int | None = None
    stage: int | None = None
    source: int | None = None
    level: int | None = None
    industry: int | None = None
    city: str = ""
    province: str = ""
    tags: list[str] = field(default_factory=list)
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    updated_from: dt.date | None = None
    updated_to: dt.date | None = None
    custom: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> CustomerFilter:
        custom = {}
        for key in params:
            if key.startswith("cf_"):
                value = _get(params, key)
                if value not in (None, ""):
                    custom[key[3:]] = str(value)
        return cls(
            q=str(_get(params, "q") or "")[:100],
            kind=str(_get(params, "kind") or ""),
            owner=str(_get(params, "owner") or ""),
            department=_int(_get(params, "department")),
            stage=_int(_get(params, "stage")),
            source=_int(_get(params, "source")),
            level=_int(_get(params, "level")),
            industry=_int(_get(params, "industry")),
            city=str(_get(params, "city") or "")[:50],
            province=str(_get(params, "province") or "")[:50],
            tags=_get(params, "tags"),
            created_from=_date(_get(params, "created_from")),
            created_to=_date(_get(params, "created_to")),
            updated_from=_date(_get(params, "updated_from")),
            updated_to=_date(_get(params, "updated_to")),
            custom=custom,
        )

    def as_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "custom":
                params.update({f"cf_{k}": v for k, v in value.items()})
            elif value not in (None, "", []):
                params[f.name] = ",".join(value) if isinstance(value, list) else str(value)
        return params

    @property
    def is_empty(self) -> bool:
        return not self.as_params()

    def apply(self, queryset: QuerySet[Customer], *, user: Any) -> QuerySet[Customer]:
        from kehu.customers.search import search_customer_ids_q

        if self.q:
            queryset = queryset.filter(search_customer_ids_q(query=self.q))
        if self.kind:
            queryset = queryset.filter(kind=self.kind)
        if self.owner == "me":
            queryset = queryset.filter(owner=user)
        elif self.owner == "none":
            queryset = queryset.filter(owner__isnull=True)
        elif _int(self.owner) is not None:
            queryset = queryset.filter(owner_id=_int(self.owner))
        if self.department is not None:
            from kehu.accounts.models import Department

            department = Department.objects.filter(pk=self.department).first()
            queryset = queryset.filter(department__path__startswith=department.path) if department else queryset.none()
        for name in ("stage", "source", "level", "industry"):
            value = getattr(self, name)
            if value is not None:
                queryset = queryset.filter(**{f"{name}_id": value})
        if self.city:
            queryset = queryset.filter(city=self.city)
        if self.province:
            queryset = queryset.filter(province=self.province)
        for tag in self.tags:
            queryset = queryset.filter(tags__name=tag)
        tz = timezone.get_current_timezone()
        for name, lookup, shift in (
            ("created_from", "created_at__gte", 0),
            ("created_to", "created_at__lt", 1),
            ("updated_from", "updated_at__gte", 0),
            ("updated_to", "updated_at__lt", 1),
        ):
            day = getattr(self, name)
            if day is not None:
                start = dt.datetime.combine(day + dt.timedelta(days=shift), dt.time.min, tzinfo=tz)
                queryset = queryset.filter(**{lookup: start})
        if self.custom:
            definitions = {
                d.key: d
                for d in CustomFieldDefinition.objects.filter(
                    target=CustomFieldTarget.CUSTOMER, key__in=list(self.custom)
                )
            }
            for key, value in self.custom.items():
                definition = definitions.get(key)
                if definition is None:
                    continue
                queryset = queryset.filter(_custom_q(definition, value))
        return queryset


def _custom_q(definition: CustomFieldDefinition, value: str) -> Q:
    lookup = f"custom__{definition.key}"
    kind = definition.field_type
    if kind == "boolean":
        return Q(**{lookup: value.lower() in {"1", "true", "yes", "是"}})
    if kind == "multi_choice":
        return (
            Q(**{f"{lookup}__contains": [value]}) if _supports_json_contains() else Q(**{f"{lookup}__icontains": value})
        )
    if kind == "user":
        return Q(**{lookup: _int(value)})
    if kind in ("text", "long_text"):
        return Q(**{f"{lookup}__icontains": value})
    return Q(**{lookup: value})


def _supports_json_contains() -> bool:
    from django.db import connection

    return connection.features.supports_json_field_contains
