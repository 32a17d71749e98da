"""Bulk writes with one `executemany` instead of the ORM's per-value expression building, for
the paths that write thousands of rows (imports, quality checks, normalisation runs). Values go
through each field's own `get_db_prep_save`, so JSON, dates and times are stored exactly as the
ORM would store them. No signals, no save(): callers own audit and consistency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection, models
from django.db.models import Model

BATCH = 2000
# Field classes whose get_db_prep_save returns a str/int/bool value unchanged (checked by type below,
# anything else goes through the field): skipping the call is most of a wide insert's Python time.
_PLAIN: dict[type, tuple[type, ...]] = {
    models.CharField: (str,), models.TextField: (str,), models.EmailField: (str,), models.URLField: (str,),
    models.SlugField: (str,), models.IntegerField: (int,), models.SmallIntegerField: (int,),
    models.BigIntegerField: (int,), models.PositiveIntegerField: (int,), models.PositiveSmallIntegerField: (int,),
    models.PositiveBigIntegerField: (int,), models.BooleanField: (bool,), models.AutoField: (int,),
    models.BigAutoField: (int,),
}


def _plain_types(field: Any) -> tuple[type, ...]:
    if isinstance(field, models.ForeignKey):
        return _plain_types(field.target_field)
    return _PLAIN.get(type(field), ())


def preparer(field: Any) -> Any:
    """value -> database value as `field.get_db_prep_save(value, connection)` returns it."""
    plain = _plain_types(field)
    prep = field.get_db_prep_save

    if isinstance(field, models.DateTimeField):
        # A batch stamps most rows with the same moment: convert each distinct value once.
        seen: dict[Any, Any] = {}

        def cached(value: Any) -> Any:
            if value is None:
                return None
            out = seen.get(value)
            if out is None:
                if len(seen) > 4096:
                    seen.clear()
                out = seen[value] = prep(value, connection)
            return out

        return cached
    if not plain:
        return lambda value: prep(value, connection)

    def fast(value: Any) -> Any:
        if value is None or type(value) in plain:
            return value
        return prep(value, connection)

    return fast


def fast_insert(model: type[Model], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert plain rows ({attname: value}; missing columns take the field default)."""
    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    sql = (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    defaults = {f.attname: f.get_default() for f in fields}
    columns = [(f.attname, preparer(f), defaults[f.attname]) for f in fields]
    prepared = [tuple(prep(row.get(name, default)) for name, prep, default in columns) for row in rows]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # COPY: one stream instead of a statement per row
            _copy(cursor, model, [f.column for f in fields], prepared)
            return
        for start in range(0, len(prepared), BATCH):
            cursor.executemany(sql, prepared[start:start + BATCH])


def _copy(cursor: Any, model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    quote = connection.ops.quote_name
    sql = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    with cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def fast_update(model: type[Model], objs: Sequence[Model], field_names: Sequence[str]) -> None:
    """UPDATE the given fields of each object by primary key, one executemany."""
    if not objs:
        return
    fields = [model._meta.get_field(name) for name in field_names]
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)  # type: ignore[union-attr]
    sql = f"UPDATE {quote(model._meta.db_table)} SET {sets} WHERE {quote(model._meta.pk.column)} = %s"
    columns = [(f.attname, preparer(f)) for f in fields]  # type: ignore[union-attr]
    prepared = [(*(prep(getattr(obj, name)) for name, prep in columns), obj.pk) for obj in objs]
    with connection.cursor() as cursor:
        for start in range(0, len(prepared), BATCH):
            cursor.executemany(sql, prepared[start:start + BATCH])


def model_rows(objs: Sequence[Model]) -> list[dict[str, Any]]:
    """{attname: value} of unsaved instances, for `fast_insert`."""
    if not objs:
        return []
    fields = [f.attname for f in objs[0]._meta.concrete_fields if not f.primary_key]
    return [{name: getattr(obj, name) for name in fields} for obj in objs]


def fast_create(model: type[Model], objs: Sequence[Model]) -> None:
    """Insert unsaved instances (the values `bulk_create` would write, `pre_save` included) and set
    their primary keys. SQLite: ids allocated as AUTOINCREMENT would (after the table's sequence
    and its largest id) under the write lock, then one executemany; PostgreSQL: multi-row INSERT
    ... RETURNING, as bulk_create."""
    if not objs:
        return
    meta = model._meta
    pk = meta.pk
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    names = [quote(f.column) for f in fields]
    # Fields whose pre_save is not a plain getattr (auto_now and the like) keep their ORM behaviour.
    columns = [(f.attname, preparer(f), f if _custom_pre_save(f) else None) for f in fields]
    rows = [tuple(prep(field.pre_save(obj, True) if field is not None else getattr(obj, name))
                  for name, prep, field in columns) for obj in objs]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # A write first, so no other connection can insert between reading the ids and using them.
            cursor.execute("UPDATE sqlite_sequence SET seq = seq WHERE name = %s", [meta.db_table])
            cursor.execute(f"SELECT MAX(id) FROM (SELECT MAX({quote(pk.column)}) AS id FROM {table} "
                           "UNION ALL SELECT seq FROM sqlite_sequence WHERE name = %s)", [meta.db_table])
            start = (cursor.fetchone()[0] or 0) + 1
            sql = (f"INSERT INTO {table} ({quote(pk.column)}, {', '.join(names)}) "
                   f"VALUES ({', '.join(['%s'] * (len(fields) + 1))})")
            ids = list(range(start, start + len(rows)))
            values = [(pk_value, *row) for pk_value, row in zip(ids, rows, strict=True)]
            for begin in range(0, len(values), BATCH):
                cursor.executemany(sql, values[begin:begin + BATCH])
        else:
            # Ids from the table's own sequence, then one COPY (a multi-row INSERT ... RETURNING was
            # 4 s of a 10k-row import).
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                           [table, pk.column, len(rows)])
            ids = sorted(r[0] for r in cursor.fetchall())
            _copy(cursor, model, [pk.column, *(f.column for f in fields)],
                  [(pk_value, *row) for pk_value, row in zip(ids, rows, strict=True)])
    for obj, pk_value in zip(objs, ids, strict=True):
        setattr(obj, pk.attname, pk_value)
        obj._state.adding = False
        obj._state.db = connection.alias


def _custom_pre_save(field: Any) -> bool:
    return type(field).pre_save is not models.Field.pre_save or bool(getattr(field, "auto_now", False)) or bool(
        getattr(field, "auto_now_add", False))
