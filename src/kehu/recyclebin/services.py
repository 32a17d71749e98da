"""Writes of the recycle bin (decision 0005): move a record into the bin with every row its delete
cascades to, restore it with its original ids, purge it for good.

`move_to_bin` does no permission check of its own: the calling delete service (customer_delete,
lead_delete …) has already decided that the user may delete the record, and audited the delete."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.core import serializers
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, models, router, transaction
from django.db.models.deletion import Collector
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.permissions import has_operation
from kehu.core import audit
from kehu.core.errors import ErrorCode, FieldError, NotFound, PermissionDenied, ValidationFailed
from kehu.core.events import DomainEvent, publish

from . import kinds
from .models import RecycleBinEntry

_CHUNK = 500


class _Encoder(DjangoJSONEncoder):
    """DjangoJSONEncoder cuts datetimes to milliseconds (ECMA-262); a restore must give back every
    microsecond."""

    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime | dt.time):
            return o.isoformat()
        return super().default(o)


def retention_days() -> int:
    return max(0, int(getattr(settings, "KEHU_RECYCLE_BIN_DAYS", 30)))


# Snapshot ---------------------------------------------------------------------------------------


def _full_rows(model: type[models.Model], pks: list[Any], using: str) -> list[models.Model]:
    """The collector may hold instances with deferred fields; read every column once per chunk."""
    rows: list[models.Model] = []
    for start in range(0, len(pks), _CHUNK):
        rows += list(model._base_manager.using(using).filter(pk__in=pks[start:start + _CHUNK]).order_by("pk"))
    return rows


def _serialize(objs: list[models.Model]) -> list[dict]:
    """Django's own serializer (every concrete column, files by name), minus many-to-many lists: their
    through rows are in the snapshot as rows of their own."""
    data = serializers.serialize("python", objs)
    for row, obj in zip(data, objs, strict=True):
        for f in obj._meta.many_to_many:
            row["fields"].pop(f.name, None)
    return json.loads(json.dumps(data, cls=_Encoder))


def _insert_order(models_: Iterable[type[models.Model]]) -> list[type[models.Model]]:
    """Referenced tables first (foreign keys between the models being restored)."""
    pending = list(dict.fromkeys(models_))
    ordered: list[type[models.Model]] = []
    while pending:
        for model in pending:
            targets = {f.related_model for f in model._meta.concrete_fields if f.is_relation}
            if not any(t in pending and t is not model for t in targets):
                break
        else:  # a cycle: constraints are deferred to commit on both backends, any order works
            model = pending[0]
        pending.remove(model)
        ordered.append(model)
    return ordered


def _snapshot(collector: Collector, extra: Iterable[models.QuerySet], using: str) -> tuple[list[dict], list[dict]]:
    skip = kinds.derived_models()
    by_model: dict[type[models.Model], dict[Any, None]] = defaultdict(dict)
    for model, instances in collector.data.items():
        for obj in instances:
            by_model[model][obj.pk] = None
    for qs in [*collector.fast_deletes, *extra]:
        for pk in qs.values_list("pk", flat=True):
            by_model[qs.model][pk] = None
    rows: list[dict] = []
    for model in _insert_order(m for m in by_model if m not in skip):
        rows += _serialize(_full_rows(model, list(by_model[model]), using))

    # References the delete sets to NULL (a converted lead's customer, a sent mail's contact …): put back
    # on restore if nobody has pointed them elsewhere since.
    relinks: list[dict] = []
    for (field, value), batches in collector.field_updates.items():
        if value is not None:
            continue
        pairs: list[list[Any]] = []
        for batch in batches:
            if isinstance(batch, models.QuerySet):
                pairs += [list(p) for p in batch.values_list("pk", field.attname)]
            else:
                pairs += [[o.pk, getattr(o, field.attname)] for o in batch]
        if pairs:
            relinks.append({"model": field.model._meta.label_lower, "field": field.name, "pairs": pairs})
    return rows, json.loads(json.dumps(relinks, cls=_Encoder))


def move_to_bin(obj: models.Model, *, acting_user: Any) -> RecycleBinEntry:
    """Delete `obj` and everything its delete cascades to, keeping a snapshot in the bin. Raises
    ProtectedError like `obj.delete()` would (e.g. a customer with deals), writing nothing."""
    object_type = obj._meta.model_name or ""
    kind = kinds.get(object_type)
    if kind is None:
        raise ValueError(f"the recycle bin does not accept {obj._meta.label}")
    using = router.db_for_write(type(obj), instance=obj)
    with transaction.atomic(using=using):
        collector = Collector(using=using, origin=obj)
        collector.collect([obj])
        rows, relinks = _snapshot(collector, kind.extra_rows(obj), using)
        scope = kind.scope(obj)
        now = timezone.now()
        counts: dict[str, int] = defaultdict(int)
        for row in rows:
            counts[row["model"]] += 1
        entry = RecycleBinEntry.objects.using(using).create(
            object_type=object_type, object_id=obj.pk, label=str(obj)[:300], customer_id=scope.customer_id,
            owner_id=scope.owner_id, department_id=scope.department_id,
            deleted_by=acting_user if getattr(acting_user, "pk", None) else None,
            deleted_by_name=(getattr(acting_user, "display_name", "") or getattr(acting_user, "username", "")
                             or "")[:150],
            deleted_at=now, purge_after=now + dt.timedelta(days=retention_days()),
            payload={"rows": rows, "relinks": relinks, "counts": dict(counts)}, row_count=len(rows),
        )
        collector.delete()
        # Rows that hold the id as a plain integer (consents) are not in the collector.
        for qs in kind.extra_rows(obj):
            qs.delete()
    return entry


# Restore ----------------------------------------------------------------------------------------


def _visible_entry(user: Any, entry_id: int, *, lock: bool = False) -> RecycleBinEntry:
    from .selectors import visible_entries

    queryset = RecycleBinEntry.objects.select_for_update(of=("self",)) if lock else None  # PG: scope joins departments
    entry = visible_entries(user=user, queryset=queryset).filter(pk=entry_id).first()
    if entry is None:
        raise NotFound(_("回收站记录不存在或无权查看"))
    return entry


def _verbose(model: type[models.Model]) -> str:
    return str(model._meta.verbose_name)


def _in_bin(model: type[models.Model], pk: Any) -> bool:
    return RecycleBinEntry.objects.filter(object_type=model._meta.model_name, object_id=pk,
                                          restored_at__isnull=True).exists()


def _check(entry: RecycleBinEntry, objs: list[models.Model]) -> tuple[list[models.Model], list[FieldError]]:
    """Refuse a taken id or a reference to a row that is gone. Mirrors what the database would have
    done had the record stayed: a SET_NULL reference becomes empty, a many-to-many link to a deleted
    row (a tag) is dropped; anything else stops the restore."""
    errors: list[FieldError] = []
    restoring = {(type(o), o.pk) for o in objs}

    by_model: dict[type[models.Model], list[Any]] = defaultdict(list)
    for obj in objs:
        by_model[type(obj)].append(obj.pk)
    for model, pks in by_model.items():
        for start in range(0, len(pks), _CHUNK):
            for pk in model._base_manager.filter(pk__in=pks[start:start + _CHUNK]).values_list("pk", flat=True):
                errors.append(FieldError("id", ErrorCode.UNIQUE, _("%(model)s #%(id)s 已存在，不能恢复")
                                         % {"model": _verbose(model), "id": pk}))

    snapshot_values: dict[tuple[type[models.Model], str], set[Any]] = {}

    def in_snapshot(target: type[models.Model], column: str, value: Any) -> bool:
        if column == target._meta.pk.attname:
            return (target, value) in restoring
        if (target, column) not in snapshot_values:  # a foreign key to another unique column
            snapshot_values[(target, column)] = {getattr(o, column) for o in objs if type(o) is target}
        return value in snapshot_values[(target, column)]

    wanted: dict[tuple[type[models.Model], str], set[Any]] = defaultdict(set)
    refs: list[tuple[models.Model, Any, Any]] = []
    for obj in objs:
        for f in obj._meta.concrete_fields:
            if not f.is_relation:
                continue
            value = getattr(obj, f.attname)
            target = f.related_model._meta.concrete_model
            target_field = f.target_field.attname  # type: ignore[attr-defined]
            if value is None or in_snapshot(target, target_field, value):
                continue
            wanted[(target, target_field)].add(value)
            refs.append((obj, f, value))
    existing: dict[tuple[type[models.Model], str], set[Any]] = {}
    for (target, target_field), values in wanted.items():
        found: set[Any] = set()
        listed = list(values)
        for start in range(0, len(listed), _CHUNK):
            found.update(target._base_manager.filter(**{f"{target_field}__in": listed[start:start + _CHUNK]})
                         .values_list(target_field, flat=True))
        existing[(target, target_field)] = found

    dropped: set[int] = set()
    for obj, f, value in refs:
        target = f.related_model._meta.concrete_model
        if value in existing[(target, f.target_field.attname)]:
            continue
        if obj._meta.auto_created:
            dropped.add(id(obj))  # a tag link whose tag was deleted meanwhile
        elif f.null and f.remote_field.on_delete is models.SET_NULL:
            setattr(obj, f.attname, None)
        else:
            record = (entry.label if type(obj)._meta.model_name == entry.object_type and obj.pk == entry.object_id
                      else f"{_verbose(type(obj))} #{obj.pk}")
            message = _("%(record)s 的“%(field)s”（%(target)s #%(id)s）已不存在") % {
                "record": record, "field": f.verbose_name, "target": _verbose(target), "id": value}
            if _in_bin(target, value):
                message += _("；它在回收站里，请先恢复它")
            errors.append(FieldError(f.name, ErrorCode.NOT_FOUND, message))
    unique = list({(e.field, str(e.message)): e for e in errors}.values())
    return [o for o in objs if id(o) not in dropped], unique


class _Gone(SimpleNamespace):
    def __str__(self) -> str:
        return str(self.text)


def _audit_target(entry: RecycleBinEntry) -> Any:
    """An object for `audit.record_event` when the record itself is not in the database; named by
    type and id only, so a purge leaves no personal data in the append-only log."""
    return _Gone(_meta=SimpleNamespace(model_name=entry.object_type), pk=entry.object_id,
                 text=f"{entry.object_type} #{entry.object_id}")


@transaction.atomic
def entry_restore(*, acting_user: Any, entry_id: int) -> models.Model:
    """Put the record and its related rows back with their original ids, in one transaction; then
    recompute derived data. Refused (nothing written) without `<object>.restore` or when an id is taken
    or a referenced row is gone."""
    entry = _visible_entry(acting_user, entry_id, lock=True)
    code = f"{entry.object_type}.restore"
    kind = kinds.get(entry.object_type)
    if kind is None or not has_operation(acting_user, code):
        raise PermissionDenied(_("无权从回收站恢复该记录"))
    objs = [d.object for d in serializers.deserialize("python", entry.payload.get("rows", []),
                                                      ignorenonexistent=True)]
    objs, errors = _check(entry, objs)
    if errors:
        raise ValidationFailed(errors)
    try:
        with transaction.atomic():
            for obj in objs:
                models.Model.save_base(obj, raw=True, force_insert=True)
            # Foreign keys are checked at commit on both backends; check now, so a row deleted
            # concurrently since `_check` is a refusal here rather than a failed commit.
            connection.check_constraints(table_names=sorted({o._meta.db_table for o in objs}))
    except IntegrityError as exc:  # e.g. a unique number taken by a record created since
        raise ValidationFailed([FieldError("id", ErrorCode.UNIQUE,
                                           _("恢复失败：与现有数据冲突（%(detail)s）") % {"detail": str(exc)[:200]})]) \
            from exc
    _relink(entry.payload.get("relinks", []))

    model = next(type(o) for o in objs if type(o)._meta.model_name == entry.object_type and o.pk == entry.object_id)
    record = model._base_manager.get(pk=entry.object_id)
    kind.after_restore(record)
    now = timezone.now()
    scope = kind.scope(record)
    audit.record_event(actor=acting_user, action="restore", obj=record, customer_id=scope.customer_id,
                       changes=[{"field": "recycle_bin", "old": entry.pk, "new": None}])
    publish(DomainEvent(name=f"{entry.object_type}.restored", object_type=entry.object_type,
                        object_id=entry.object_id, customer_id=scope.customer_id,
                        actor_id=getattr(acting_user, "pk", None)))
    entry.restored_at = now
    entry.restored_by = acting_user
    # The rows are live again; the bin keeps only a receipt, not a second copy of the data.
    entry.payload = {"counts": entry.payload.get("counts", {})}
    entry.save(update_fields=["restored_at", "restored_by", "payload"])
    return record


def _relink(relinks: list[dict]) -> None:
    from django.apps import apps

    for link in relinks:
        model = apps.get_model(link["model"])
        f = model._meta.get_field(link["field"])
        by_target: dict[Any, list[Any]] = defaultdict(list)
        for pk, target in link["pairs"]:
            by_target[target].append(pk)
        for target, pks in by_target.items():
            model._base_manager.filter(pk__in=pks, **{f"{f.name}__isnull": True}).update(**{f.name: target})


# Purge ------------------------------------------------------------------------------------------


def _files(entry: RecycleBinEntry) -> list[tuple[Any, str]]:
    """Stored files the snapshot's rows point at (contract attachments): they go with the entry."""
    from django.apps import apps

    found = []
    for row in entry.payload.get("rows", []):
        try:
            model = apps.get_model(row["model"])
        except LookupError:
            continue
        for f in model._meta.concrete_fields:
            if isinstance(f, models.FileField) and row["fields"].get(f.name):
                found.append((f.storage, row["fields"][f.name]))
    return found


def _purge(entry: RecycleBinEntry, *, actor: Any) -> None:
    files = _files(entry)
    if entry.restored_at is None:  # a restored entry is only a receipt: nothing is lost by dropping it
        audit.record_event(actor=actor, action="purge", obj=_audit_target(entry),  # type: ignore[arg-type]
                           customer_id=entry.customer_id,
                           changes=[{"field": "recycle_bin", "old": entry.pk, "new": None}])
    entry.delete()

    def remove_files() -> None:
        for storage, name in files:
            if storage.exists(name):
                storage.delete(name)

    transaction.on_commit(remove_files)


@transaction.atomic
def entry_purge(*, acting_user: Any, entry_id: int) -> None:
    """Delete an entry for good (administrators only)."""
    if not getattr(acting_user, "is_kehu_admin", False):
        raise PermissionDenied(_("只有管理员可以彻底删除"))
    entry = RecycleBinEntry.objects.select_for_update().filter(pk=entry_id).first()
    if entry is None:
        raise NotFound(_("回收站记录不存在或无权查看"))
    _purge(entry, actor=acting_user)


def purge_expired(*, now: dt.datetime | None = None) -> int:
    """The scheduler's purge: every entry past its purge date. Returns the number removed."""
    now = now or timezone.now()
    removed = 0
    ids = list(RecycleBinEntry.objects.filter(purge_after__lte=now).values_list("pk", flat=True))
    for entry_id in ids:
        with transaction.atomic():
            entry = RecycleBinEntry.objects.select_for_update().filter(pk=entry_id, purge_after__lte=now).first()
            if entry is not None:
                _purge(entry, actor=None)
                removed += 1
    return removed


def purge_customer(*, acting_user: Any, customer_id: int) -> int:
    """Legal erasure: the entries holding this customer's data (its deleted contacts, leads, deals …)
    go at once, whatever their purge date. Call inside the erasure's transaction."""
    removed = 0
    for entry in RecycleBinEntry.objects.select_for_update().filter(customer_id=customer_id):
        _purge(entry, actor=acting_user)
        removed += 1
    return removed
