"""Merge duplicate contacts of one customer and undo it within 30 days.

The same shape as the customer merge (`services.py`): `contact_merge_preview` shows the contacts
side by side with a default choice per field; `contacts_merge` writes the surviving contact's
chosen values, re-points every row of every kind in `registry.contact_registry` to it, deletes the
merged contacts and keeps a full snapshot in a `ContactMerge`; `contact_merge_undo` writes
everything back unless a later edit conflicts.

A contact holds one mobile, one landline and one e-mail, so a number or address that loses the
vote is not dropped: it is written into the survivor's notes ("合并时保留的联系方式：…"), and the
undo takes it out again with everything else. Only contacts of the same customer merge: the same
person under two customers means the two customers are duplicates (merge those first, then the
contacts) or that the person works for both, and then both contacts are right.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.permissions import require_operation
from kehu.core import audit
from kehu.core.errors import (
    ErrorCode,
    FieldError,
    KehuError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    VersionConflict,
)
from kehu.core.scoping import restrict
from kehu.customers.models import Contact, Customer
from kehu.customers.pinyin import pinyin_forms
from kehu.customers.services import CONTACT_FIELDS
from kehu.dataquality.merging import rows
from kehu.dataquality.merging.registry import RelatedKind, contact_registry, related_registry
from kehu.dataquality.merging.related import (  # noqa: F401 - may_undo, undo_deadline: used by views and API
    MAX_MERGED,
    UNDO_DAYS,
    check_choices,
    clean_ids,
    field_names,
    is_empty,
    may_undo,
    move_rows,
    note_rows_after,
    restore_moved_rows,
    rows_conflicts,
    survivor_first,
    undo_deadline,
)
from kehu.dataquality.merging.services import UnmergeConflict
from kehu.dataquality.models import (
    ContactDuplicatePair,
    ContactMerge,
    DistinctContactPair,
    DuplicateStatus,
    MergedContactId,
)

# Fields the user picks a value for; notes are joined instead, custom fields picked per key.
CHOSEN_FIELDS = [name for name in CONTACT_FIELDS if name not in ("notes", "custom")]
# A number or address that loses the vote is kept in the survivor's notes (see the docstring).
KEPT_IN_NOTES = ("mobile", "phone", "email", "wechat")
_FK_FIELDS = {"decision_role"}
_COMPUTED_FROM = {"name_pinyin": "name", "name_initials": "name", "mobile_e164": "mobile", "phone_e164": "phone"}
_SURVIVOR_BOOKKEEPING = {"id", "version", "updated_at", "updated_by_id"}


@dataclass(frozen=True)
class ValueCell:
    contact_id: int
    text: str
    empty: bool


@dataclass(frozen=True)
class FieldRow:
    name: str
    label: str
    cells: list[ValueCell]
    default: int
    differs: bool


@dataclass
class ContactMergePreview:
    customer: Customer
    contacts: list[Contact]  # the default survivor first
    survivor_id: int
    fields: list[FieldRow]
    notes: str  # the survivor's notes as the merge would write them with the default choices
    versions: dict[int, int]
    related_counts: dict[int, list[tuple[str, int]]]
    marked_distinct: bool = False
    choices: dict[str, int] = field(default_factory=dict)


def _visible(acting_user: Any, ids: Sequence[int], *, lock: bool) -> dict[int, Contact]:
    """The contacts, all of one customer the user may see; a contact another merge absorbed is a
    conflict (refresh), a missing or hidden one 404."""
    queryset = Contact.objects.select_for_update(of=("self",)) if lock else Contact.objects.all()
    found = {c.pk: c for c in restrict(queryset.select_related("customer", "decision_role"), acting_user)
             .filter(pk__in=list(ids)).order_by("pk")}
    for pk in ids:
        if pk in found:
            continue
        absorbed = MergedContactId.objects.filter(contact_id=pk).select_related("merge").first()
        if absorbed is not None and restrict(Contact.objects.filter(pk=absorbed.merge.survivor_id),
                                             acting_user).exists():
            raise VersionConflict(_("联系人 #%(id)s 已被合并到联系人 #%(survivor)s，请刷新后再试")
                                  % {"id": pk, "survivor": absorbed.merge.survivor_id})
        raise NotFound(_("联系人不存在或无权查看"))
    if len({c.customer_id for c in found.values()}) > 1:
        raise ValidationFailed([FieldError("ids", ErrorCode.INVALID,
                                           _("只能合并同一客户下的联系人；如果这些客户是同一家，请先合并客户"))])
    return found


def _ids(survivor_id: Any, ids: Any) -> list[int]:
    return clean_ids(survivor_id, ids, invalid=_("联系人编号无效"), too_few=_("至少需要两个联系人才能合并"),
                     too_many=_("一次最多合并 %(count)s 个联系人"))


def default_survivor(contacts: Sequence[Contact]) -> Contact:
    """The primary contact, else the oldest."""
    by_age = sorted(contacts, key=lambda c: (c.created_at, c.pk))
    primary = [c for c in by_age if c.is_primary]
    return (primary or by_age)[0]


def _raw(contact: Contact, name: str) -> Any:
    if name.startswith("custom."):
        return (contact.custom or {}).get(name.removeprefix("custom."))
    if name in _FK_FIELDS:
        return getattr(contact, f"{name}_id")
    return getattr(contact, name)


def default_choices(contacts: Sequence[Contact], survivor: Contact) -> dict[str, int]:
    """Per field, the contact whose value survives: the most recently updated non-empty value (the
    survivor when it holds the same); "primary" is kept when any of them is the primary contact."""
    recent_first = sorted(contacts, key=lambda c: (c.updated_at, c.pk), reverse=True)
    choices: dict[str, int] = {}
    for name in field_names(contacts, CHOSEN_FIELDS):
        if name == "is_primary":
            primary = next((c for c in [survivor, *recent_first] if c.is_primary), survivor)
            choices[name] = primary.pk
            continue
        source = next((c for c in recent_first if not is_empty(_raw(c, name))), survivor)
        if _raw(survivor, name) == _raw(source, name):
            source = survivor
        choices[name] = source.pk
    return choices


def _display(contact: Contact, name: str) -> str:
    value = _raw(contact, name)
    if name == "is_primary":
        return _("是") if value else _("否")
    if is_empty(value):
        return ""
    if name in _FK_FIELDS:
        related = getattr(contact, name)
        return str(getattr(related, "label", related))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _label(name: str) -> str:
    if name.startswith("custom."):
        from kehu.customers.models import CustomFieldDefinition, CustomFieldTarget

        key = name.removeprefix("custom.")
        definition = CustomFieldDefinition.objects.filter(target=CustomFieldTarget.CONTACT, key=key).first()
        return definition.label if definition else key
    return str(Contact._meta.get_field(name).verbose_name)


def _same(name: str, a: Any, b: Any) -> bool:
    if name in ("mobile", "phone"):
        digits = ["".join(ch for ch in str(v or "") if ch.isdigit()) for v in (a, b)]
        return digits[0][-11:] == digits[1][-11:]
    if name == "email":
        return str(a or "").strip().lower() == str(b or "").strip().lower()
    return a == b


def _merged_notes(contacts: Sequence[Contact], choices: Mapping[str, int]) -> str:
    """The survivor's notes: every contact's notes once, then the numbers and addresses that lost
    the vote, so nothing a rep typed in is lost."""
    by_id = {c.pk: c for c in contacts}
    parts: list[str] = []
    for contact in contacts:
        text = (contact.notes or "").strip()
        if text and text not in parts:
            parts.append(text)
    kept: list[str] = []
    for name in KEPT_IN_NOTES:
        chosen = _raw(by_id[choices[name]], name) if name in choices else None
        seen = [chosen] if not is_empty(chosen) else []
        for contact in contacts:
            value = _raw(contact, name)
            if is_empty(value) or any(_same(name, value, other) for other in seen):
                continue
            seen.append(value)
            kept.append(f"{_label(name)} {value}")
    if kept:
        parts.append(_("合并时保留的联系方式：%(values)s") % {"values": "；".join(kept)})
    return "\n".join(parts)[:20000]


def _counts(kind: RelatedKind, ids: Sequence[int]) -> dict[int, int]:
    return dict(kind.model._default_manager.filter(**{f"{kind.fk_attname}__in": list(ids)})
                .values(kind.fk_attname).annotate(n=Count("pk")).values_list(kind.fk_attname, "n"))


def _any_distinct(ids: Sequence[int]) -> bool:
    return DistinctContactPair.objects.filter(low_id__in=list(ids), high_id__in=list(ids)).exists()


def contact_merge_preview(*, acting_user: Any, ids: Sequence[Any],
                          survivor_id: int | None = None) -> ContactMergePreview:
    """The contacts side by side with each field's default choice; nothing is written."""
    clean = _ids(survivor_id, ids)
    require_operation(acting_user, "contact.merge")
    found = _visible(acting_user, clean, lock=False)
    survivor = found[int(survivor_id)] if survivor_id is not None else default_survivor(list(found.values()))
    contacts = survivor_first(found, survivor.pk)
    choices = default_choices(contacts, survivor)
    field_rows = []
    for name in field_names(contacts, CHOSEN_FIELDS):
        cells = [ValueCell(c.pk, _display(c, name), is_empty(_raw(c, name))) for c in contacts]
        differs = len({repr(_raw(c, name)) for c in contacts}) > 1
        field_rows.append(FieldRow(name, _label(name), cells, choices[name], differs))
    related_counts: dict[int, list[tuple[str, int]]] = {c.pk: [] for c in contacts}
    for kind in contact_registry.kinds():
        if kind.derived:
            continue
        counts = _counts(kind, clean)
        for pk in clean:
            related_counts[pk].append((str(kind.label), counts.get(pk, 0)))
    return ContactMergePreview(
        customer=survivor.customer, contacts=contacts, survivor_id=survivor.pk, fields=field_rows,
        notes=_merged_notes(contacts, choices), versions={c.pk: c.version for c in contacts},
        related_counts=related_counts, marked_distinct=_any_distinct(clean), choices=choices,
    )


def _apply_choices(survivor: Contact, by_id: Mapping[int, Contact], choices: Mapping[str, int]) -> None:
    custom = dict(survivor.custom or {})
    for name, source_id in choices.items():
        source = by_id[source_id]
        if name.startswith("custom."):
            key = name.removeprefix("custom.")
            if key in (source.custom or {}):
                custom[key] = source.custom[key]
            else:
                custom.pop(key, None)
        elif name in _FK_FIELDS:
            setattr(survivor, f"{name}_id", getattr(source, f"{name}_id"))
        elif name in ("mobile", "phone"):
            setattr(survivor, name, getattr(source, name))
            setattr(survivor, f"{name}_e164", getattr(source, f"{name}_e164"))
        else:
            setattr(survivor, name, getattr(source, name))
    survivor.custom = custom
    survivor.name_pinyin, survivor.name_initials = pinyin_forms(survivor.name, is_person=True)


def _shown(contact: Contact) -> dict[str, Any]:
    return {name: audit.audit_value(getattr(contact, name)) for name in CONTACT_FIELDS}


def _marker(contacts: Sequence[Contact]) -> list[str]:
    return [f"{c.name}（#{c.pk}）" for c in contacts]


def _rebuild_customer(customer_id: int) -> None:
    """The customer's derived rows (search postings, match keys, quality issues, scan keys) and its
    contact pairs, recomputed from the contacts as they now are."""
    from kehu.dataquality.contact_duplicates import contact_duplicates_refresh

    customers = list(Customer.objects.filter(pk=customer_id))
    for rebuild in related_registry.rebuilds():
        rebuild(customers)
    contact_duplicates_refresh([customer_id])


@transaction.atomic
def contacts_merge(
    *,
    acting_user: Any,
    survivor_id: int,
    merged_ids: Sequence[Any],
    field_choices: Mapping[str, Any] | None = None,
    expected_versions: Mapping[Any, Any] | None = None,
) -> ContactMerge:
    """Merge `merged_ids` into the contact `survivor_id` (all of one customer). `field_choices`
    maps a field (or `custom.<key>`) to the contact whose value survives; unnamed fields take the
    preview's default. A contact saved since `expected_versions` raises VersionConflict."""
    survivor_id = int(survivor_id)
    ids = _ids(survivor_id, merged_ids)
    merged = [pk for pk in ids if pk != survivor_id]
    missing_kinds = contact_registry.unregistered()
    if missing_kinds:
        raise KehuError(_("以下数据表引用了联系人但未登记到合并注册表，合并会丢失数据：%(tables)s")
                        % {"tables": "、".join(missing_kinds)})
    require_operation(acting_user, "contact.merge")
    found = _visible(acting_user, ids, lock=True)
    for raw_id, version in (expected_versions or {}).items():
        pk = int(raw_id)
        if pk in found and found[pk].version != int(version):
            raise VersionConflict(_("联系人“%(name)s”已被他人修改（当前版本 %(current)s，你看到的是版本 %(yours)s），"
                                    "请刷新后再合并") % {"name": found[pk].name, "current": found[pk].version,
                                                     "yours": version})
    survivor = found[survivor_id]
    customer_id = survivor.customer_id
    Customer.objects.select_for_update().filter(pk=customer_id).first()  # one merge per customer at a time
    contacts = survivor_first(found, survivor_id)
    choices = {**default_choices(contacts, survivor),
               **check_choices(field_choices or {}, set(field_names(contacts, CHOSEN_FIELDS)), set(ids),
                               label=_label,
                               outside=_("%(field)s 的取值必须来自参与合并的联系人"))}

    before = {pk: rows.row_of(c) for pk, c in found.items()}
    shown_before = _shown(survivor)
    notes = _merged_notes(contacts, choices)
    _apply_choices(survivor, found, choices)
    survivor.notes = notes

    related = move_rows(contact_registry, merged, survivor_id)
    Contact.objects.filter(pk__in=merged).delete()
    if survivor.is_primary:
        Contact.objects.filter(customer_id=customer_id, is_primary=True).exclude(pk=survivor_id).update(
            is_primary=False)
    survivor.version = F("version") + 1
    survivor.updated_at = timezone.now()
    survivor.updated_by = acting_user
    survivor.save()
    survivor.refresh_from_db()
    ContactDuplicatePair.objects.filter(low_id__in=ids, high_id__in=ids, status=DuplicateStatus.OPEN).update(
        status=DuplicateStatus.MERGED, decided_at=timezone.now(), decided_by=acting_user)
    _rebuild_customer(customer_id)

    note_rows_after(contact_registry, related)

    merge = ContactMerge.objects.create(
        customer_id=customer_id, survivor_id=survivor_id, merged_ids=merged, created_by=acting_user,
        snapshot={"contacts": {str(pk): row for pk, row in before.items()},
                  "survivor_after": rows.row_of(survivor), "related": related},
    )
    MergedContactId.objects.bulk_create([MergedContactId(contact_id=pk, merge=merge) for pk in merged])
    changes = [{"field": "_merged", "old": None, "new": _marker([found[pk] for pk in merged])},
               {"field": "_merge_id", "old": None, "new": merge.pk}]
    changes += audit.diff_values(shown_before, _shown(survivor), CONTACT_FIELDS)
    audit.record_event(actor=acting_user, action="merge", obj=survivor, customer_id=customer_id, changes=changes)
    return merge


# Unmerge -------------------------------------------------------------------------------------------


def _undo_conflicts(merge: ContactMerge, survivor: Contact) -> list[FieldError]:
    snapshot = merge.snapshot
    before = snapshot["contacts"][str(merge.survivor_id)]
    after = snapshot["survivor_after"]
    current = rows.row_of(survivor)
    conflicts: list[FieldError] = []
    reported: set[str] = set()
    for column, old in before.items():
        if column in _SURVIVOR_BOOKKEEPING or old == after.get(column) or current.get(column) == after.get(column):
            continue
        if column == "is_primary":
            continue  # another contact made primary since: the undo leaves the primary where it is now
        name = _COMPUTED_FROM.get(column, column).removesuffix("_id")
        if name in reported:
            continue
        reported.add(name)
        conflicts.append(FieldError(name, ErrorCode.VERSION_CONFLICT,
                                    _("合并后“%(field)s”又被修改过") % {"field": _label(name)}))
    return conflicts + rows_conflicts(contact_registry, snapshot["related"])


@dataclass
class ContactUnmergeResult:
    merge: ContactMerge
    survivor: Contact
    restored: list[Contact]


@transaction.atomic
def contact_merge_undo(*, acting_user: Any, merge_id: int) -> ContactUnmergeResult:
    """Undo a contact merge of the last 30 days: the merged contacts come back with their ids,
    values and related rows, the survivor gets back what the merge replaced (its notes included).
    Refused with UnmergeConflict, naming each field and record, when later edits touch those."""
    merge = ContactMerge.objects.select_for_update().filter(pk=merge_id).first()
    if merge is None:
        raise NotFound(_("合并记录不存在"))
    survivor = restrict(Contact.objects.select_for_update(of=("self",)), acting_user).filter(
        pk=merge.survivor_id).first()
    if survivor is None:
        if MergedContactId.objects.filter(contact_id=merge.survivor_id).exists():
            raise KehuError(_("保留的联系人之后又被合并到其他联系人，请先撤销那次合并"))
        raise NotFound(_("合并记录不存在或无权查看"))
    if merge.undone_at is not None:
        raise VersionConflict(_("这次合并已经撤销过了"))
    if timezone.now() > undo_deadline(merge):
        raise KehuError(_("只能撤销 %(days)s 天内的合并") % {"days": UNDO_DAYS})
    if not may_undo(merge, acting_user):
        raise PermissionDenied(_("只有合并操作人、经理或管理员可以撤销这次合并"))
    if survivor.customer_id != merge.customer_id:
        raise KehuError(_("联系人已随客户合并转到了另一个客户，请先撤销那次客户合并"))
    if Contact.objects.filter(pk__in=merge.merged_ids).exists():
        raise VersionConflict(_("被合并的联系人已经存在，无法恢复"))
    conflicts = _undo_conflicts(merge, survivor)
    if conflicts:
        raise UnmergeConflict(_("合并后有修改与撤销冲突，未做任何更改：%(items)s")
                              % {"items": "；".join(str(c.message) for c in conflicts)}, conflicts)

    snapshot = merge.snapshot
    restored_rows = [rows.python_values(Contact, snapshot["contacts"][str(pk)]) for pk in merge.merged_ids]
    has_primary_now = Contact.objects.filter(customer_id=merge.customer_id, is_primary=True).exists()
    for values in restored_rows:
        if has_primary_now:
            values["is_primary"] = False  # one primary contact per customer: the current one stays
        values["customer_id"] = merge.customer_id
    Contact.objects.bulk_create([Contact(**values) for values in restored_rows])
    restore_moved_rows(contact_registry, snapshot["related"])  # derived rows: rebuilt below

    before = snapshot["contacts"][str(merge.survivor_id)]
    after = snapshot["survivor_after"]
    shown_before = _shown(survivor)
    restore = {column: old for column, old in before.items()
               if column not in _SURVIVOR_BOOKKEEPING and column != "is_primary" and old != after.get(column)}
    Contact.objects.filter(pk=survivor.pk).update(**rows.python_values(Contact, restore), version=F("version") + 1,
                                                  updated_at=timezone.now(), updated_by=acting_user)
    MergedContactId.objects.filter(merge=merge).delete()
    ContactMerge.objects.filter(pk=merge.pk).update(undone_at=timezone.now(), undone_by=acting_user)
    _rebuild_customer(merge.customer_id)
    merge.refresh_from_db()
    survivor.refresh_from_db()
    restored = list(Contact.objects.filter(pk__in=merge.merged_ids).order_by("pk"))

    changes = [{"field": "_restored", "old": None, "new": _marker(restored)},
               {"field": "_merge_id", "old": None, "new": merge.pk}]
    changes += audit.diff_values(shown_before, _shown(survivor), CONTACT_FIELDS)
    audit.record_event(actor=acting_user, action="unmerge", obj=survivor, customer_id=merge.customer_id,
                       changes=changes)
    return ContactUnmergeResult(merge=merge, survivor=survivor, restored=restored)


# Reads -------------------------------------------------------------------------------------------


def contact_merge_get(*, user: Any, merge_id: int) -> ContactMerge:
    """A contact merge the user may see (its customer is in their scope)."""
    merge = ContactMerge.objects.filter(pk=merge_id).first()
    if merge is None or not restrict(Customer.objects.filter(pk=merge.customer_id), user).exists():
        raise NotFound(_("合并记录不存在或无权查看"))
    return merge


def contact_merges_of_customer(*, user: Any, customer_id: int, standing_only: bool = True) -> list[ContactMerge]:
    if not restrict(Customer.objects.filter(pk=customer_id), user).exists():
        return []
    merges = ContactMerge.objects.filter(customer_id=customer_id)
    if standing_only:
        merges = merges.filter(undone_at__isnull=True)
    return list(merges.order_by("-created_at", "-id"))


def merged_contact_names(merge: ContactMerge) -> list[str]:
    contacts = merge.snapshot.get("contacts", {})
    return [str(contacts.get(str(pk), {}).get("name") or f"#{pk}") for pk in merge.merged_ids]


def contact_survivor_of(contact_id: int) -> int | None:
    """The surviving contact a standing merge folded `contact_id` into (following later merges)."""
    seen: set[int] = set()
    current = contact_id
    while current not in seen:
        seen.add(current)
        absorbed = MergedContactId.objects.filter(contact_id=current).select_related("merge").first()
        if absorbed is None:
            return None if current == contact_id else current
        current = absorbed.merge.survivor_id
    return None

