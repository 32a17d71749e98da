"""Bulk writes with one `executemany` instead of the ORM's per-value expression building, for
the paths that write thousands of rows (imports, quality checks, normalisation runs). Values go
through each field's own `get_db_prep_save`, so JSON, dates and times are stored exactly as the
ORM would store them. No signals, no save(): callers own audit and consistency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection
from django.db.models import Model

BATCH = 2000


def fast_insert(model: type[Model], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert plain rows ({attname: value}; missing columns take the field default)."""
    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    sql = (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    defaults = {f.attname: f.get_default() for f in fields}
    prepared = [
        tuple(f.get_db_prep_save(row.get(f.attname, defaults[f.attname]), connection) for f in fields)
        for row in rows
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(prepared), BATCH):
            cursor.executemany(sql, prepared[start:start + BATCH])


def fast_update(model: type[Model], objs: Sequence[Model], field_names: Sequence[str]) -> None:
    """UPDATE the given fields of each object by primary key, one executemany."""
    if not objs:
        return
    fields = [model._meta.get_field(name) for name in field_names]
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)  # type: ignore[union-attr]
    sql = f"UPDATE {quote(model._meta.db_table)} SET {sets} WHERE {quote(model._meta.pk.column)} = %s"
    prepared = [
        (*(f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields), obj.pk)  # type: ignore[union-attr]
        for obj in objs
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(prepared), BATCH):
            cursor.executemany(sql, prepared[start:start + BATCH])


def model_rows(objs: Sequence[Model]) -> list[dict[str, Any]]:
    """{attname: value} of unsaved instances, for `fast_insert`."""
    if not objs:
        return []
    fields = [f.attname for f in objs[0]._meta.concrete_fields if not f.primary_key]
    return [{name: getattr(obj, name) for name in fields} for obj in objs]
