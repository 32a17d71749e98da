"""Rows as JSON and back, exactly: a merge stores every column of every record it touches so the
unmerge can write the same values again (microseconds, time zones and JSON columns included)."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Model


def json_value(value: Any) -> Any:
    """A JSON value that `Field.to_python` turns back into the same Python value."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    return value


def attnames(model: type[Model]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


def _sealed(model: type[Model]) -> frozenset[str]:
    """Encrypted columns (kehu.core.fields): the snapshot keeps their stored "enc1:" form, so a
    merge's JSON holds no plaintext ID numbers; `python_values` (the field's to_python) opens it."""
    from kehu.core.fields import EncryptedCharField

    return frozenset(f.attname for f in model._meta.concrete_fields if isinstance(f, EncryptedCharField))


def _snapshot_row(row: Mapping[str, Any], sealed: frozenset[str]) -> dict[str, Any]:
    from kehu.core.crypto import seal

    return {name: seal(value) if name in sealed else json_value(value) for name, value in row.items()}


def row_of(obj: Model) -> dict[str, Any]:
    return _snapshot_row({name: getattr(obj, name) for name in attnames(type(obj))}, _sealed(type(obj)))


def rows_where(model: type[Model], *, lock: bool = False, **lookup: Any) -> list[dict[str, Any]]:
    """Every column of the matching rows, as JSON values, in primary-key order. With `lock` the rows
    stay locked until the transaction ends, so an edit can't slip in between reading and writing."""
    names = attnames(model)
    queryset = model._default_manager.filter(**lookup).order_by("pk")
    if lock:
        queryset = queryset.select_for_update()
    sealed = _sealed(model)
    return [_snapshot_row(row, sealed) for row in queryset.values(*names)]


def python_values(model: type[Model], row: Mapping[str, Any], *, skip: Iterable[str] = ()) -> dict[str, Any]:
    """The stored JSON row as attribute values for `Model(**values)` or `.update(**values)`."""
    fields = {field.attname: field for field in model._meta.concrete_fields}
    skipped = set(skip)
    values = {}
    for name, value in row.items():
        if name in skipped or name not in fields:
            continue
        values[name] = None if value is None else fields[name].to_python(value)
    return values
