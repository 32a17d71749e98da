"""What the customer merge and the contact merge do alike with the rows that point at the merged
records (one `RelatedRegistry` each): move or drop them and remember each row, note what the moved
rows look like afterwards, find the later edits that block an undo, and put the rows back.

The snapshot of one kind is {"kind": key, "derived": bool, "rows": [{"before": row, "after": row}]}
(rows as `rows.row_of` writes them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.errors import ErrorCode, FieldError, ValidationFailed
from kehu.dataquality.merging import rows
from kehu.dataquality.merging.registry import RelatedKind, RelatedRegistry

UNDO_DAYS = 30


def move_rows(registry: RelatedRegistry, merged_ids: Sequence[int], survivor_id: int) -> list[dict[str, Any]]:
    """Re-point every moved kind's rows of `merged_ids` to the survivor and delete the derived
    kinds' rows (the caller recomputes them); returns the snapshot of each kind before."""
    related: list[dict[str, Any]] = []
    for kind in registry.kinds():
        kind_rows = rows.rows_where(kind.model, lock=not kind.derived, **{f"{kind.fk_attname}__in": merged_ids})
        related.append({"kind": kind.key, "derived": kind.derived, "rows": [{"before": r} for r in kind_rows]})
        rows_of_merged = kind.model._default_manager.filter(**{f"{kind.fk_attname}__in": merged_ids})
        if kind.derived:
            rows_of_merged.delete()
        else:
            rows_of_merged.update(**{kind.fk_attname: survivor_id})
    return related


def note_rows_after(registry: RelatedRegistry, related: Sequence[dict[str, Any]]) -> None:
    """Add each moved row's values after the merge (what an undo checks for later edits)."""
    for entry in related:
        kind = registry.get(entry["kind"])
        if entry["derived"] or kind is None:
            continue
        after = {r["id"]: r for r in rows.rows_where(kind.model, pk__in=[x["before"]["id"] for x in entry["rows"]])}
        for item in entry["rows"]:
            item["after"] = after.get(item["before"]["id"])


def row_label(kind: RelatedKind, row: Mapping[str, Any]) -> str:
    name = str(row.get("name") or row.get("title") or row.get("body") or "")[:30]
    return f"{kind.label}“{name}”（#{row['id']}）" if name else f"{kind.label} #{row['id']}"


def rows_conflicts(registry: RelatedRegistry, related: Sequence[dict[str, Any]]) -> list[FieldError]:
    """Moved rows edited or deleted since the merge (locked, so the undo that follows sees them so)."""
    conflicts: list[FieldError] = []
    for entry in related:
        kind = registry.get(entry["kind"])
        if entry["derived"] or kind is None:
            continue
        ids = [item["before"]["id"] for item in entry["rows"]]
        now_rows = {r["id"]: r for r in rows.rows_where(kind.model, lock=True, pk__in=ids)}
        for item in entry["rows"]:
            row = now_rows.get(item["before"]["id"])
            if row is None:
                record = row_label(kind, item["before"])
                conflicts.append(FieldError(entry["kind"], ErrorCode.VERSION_CONFLICT,
                                            _("%(record)s 在合并后被删除") % {"record": record}))
            elif row != item["after"]:
                conflicts.append(FieldError(entry["kind"], ErrorCode.VERSION_CONFLICT,
                                            _("%(record)s 在合并后被修改过") % {"record": row_label(kind, row)}))
    return conflicts


def restore_moved_rows(registry: RelatedRegistry, related: Sequence[dict[str, Any]]) -> None:
    """Put every moved row back as it was before the merge (derived rows are the caller's)."""
    for entry in related:
        kind = registry.get(entry["kind"])
        if kind is None or entry["derived"]:
            continue
        manager = kind.model._default_manager
        for item in entry["rows"]:
            manager.filter(pk=item["before"]["id"]).update(**rows.python_values(kind.model, item["before"],
                                                                                skip=["id"]))


def undo_deadline(merge: Any) -> dt.datetime:
    return merge.created_at + dt.timedelta(days=UNDO_DAYS)


def may_undo(merge: Any, user: Any, *, now: dt.datetime | None = None) -> bool:
    """Whether the undo is offered: not undone, within 30 days, and the user made the merge or
    manages more than their own records."""
    if merge.undone_at is not None or (now or timezone.now()) > undo_deadline(merge):
        return False
    return bool(user.is_kehu_admin or merge.created_by_id == user.pk or user.data_scope != "own")


def check_choices(choices: Mapping[str, Any], allowed: set[str], ids: set[int], *, label: Callable[[str], str],
                  outside: str) -> dict[str, int]:
    """The user's picks {field: record id}, each a known field and a record of the merge; else
    ValidationFailed naming every bad pick (`outside`: the message, with %(field)s)."""
    errors = []
    clean: dict[str, int] = {}
    for name, source in choices.items():
        if name not in allowed:
            errors.append(FieldError(name, ErrorCode.INVALID, _("未知字段：%(field)s") % {"field": name}))
            continue
        try:
            source_id = int(source)
        except (TypeError, ValueError):
            source_id = -1
        if source_id not in ids:
            errors.append(FieldError(name, ErrorCode.INVALID, outside % {"field": label(name)}))
            continue
        clean[name] = source_id
    if errors:
        raise ValidationFailed(errors)
    return clean


# Picking the records and their values --------------------------------------------------------------

MAX_MERGED = 10  # records folded into one survivor at a time


def clean_ids(survivor_id: Any, ids: Iterable[Any], *, invalid: str, too_few: str, too_many: str) -> list[int]:
    """The ids of a merge, each once, the survivor first when it was not among them; the messages
    name the kind of record (`too_many` with %(count)s)."""
    try:
        unique = list(dict.fromkeys(int(i) for i in ids))
        survivor = int(survivor_id) if survivor_id is not None else None
    except (TypeError, ValueError) as exc:
        raise ValidationFailed([FieldError("ids", ErrorCode.INVALID, invalid)]) from exc
    if survivor is not None and survivor not in unique:
        unique.insert(0, survivor)
    if len(unique) < 2:
        raise ValidationFailed([FieldError("ids", ErrorCode.REQUIRED, too_few)])
    if len(unique) > MAX_MERGED + 1:
        raise ValidationFailed([FieldError("ids", ErrorCode.INVALID, too_many % {"count": MAX_MERGED + 1})])
    return unique


def is_empty(value: Any) -> bool:
    return value in (None, "", [], {})


def field_names(records: Sequence[Any], chosen: Sequence[str]) -> list[str]:
    """The fields a user picks a value for: `chosen`, then each custom field any record has."""
    custom_keys = sorted({key for r in records for key in (r.custom or {})})
    return [*chosen, *(f"custom.{key}" for key in custom_keys)]


def survivor_first(found: Mapping[int, Any], survivor_id: int) -> list[Any]:
    """The survivor first, then the others oldest first: the order values are united in."""
    others = sorted((r for pk, r in found.items() if pk != survivor_id), key=lambda r: (r.created_at, r.pk))
    return [found[survivor_id], *others]
