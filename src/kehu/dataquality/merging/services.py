"""Merge duplicate customers into one and undo it within 30 days.

`merge_preview` shows the records side by side with a default choice per field; `customers_merge`
writes the survivor's chosen values (phones, e-mails and tags united), re-points every related row
of every kind in `registry.related_registry` to the survivor, deletes the merged records and keeps
a full snapshot in a `CustomerMerge`; `merge_undo` writes everything back exactly unless a later
edit conflicts. Every write is one transaction, scoped to the acting user and audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import FieldDoesNotExist
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
from kehu.customers.models import Contact, Customer, CustomerKind, Tag
from kehu.customers.pinyin import pinyin_forms
from kehu.customers.services import CUSTOMER_FIELDS
from kehu.dataquality.merging import rows
from kehu.dataquality.merging.registry import RelatedKind, merge_listeners, related_registry, unmerge_listeners
from kehu.dataquality.merging.related import (  # noqa: F401 - UNDO_DAYS, may_undo, undo_deadline: used by views
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
from kehu.dataquality.messages import field_label
from kehu.dataquality.models import CustomerMerge, DistinctPair, MergedCustomerId
from kehu.dataquality.normalize.identifiers import normalize_credit_code, normalize_resident_id

# Fields the user picks a value for; phones, e-mails and tags are united instead, the department
# follows the chosen owner, custom fields are picked per key ("custom.<key>").
CHOSEN_FIELDS = [name for name in CUSTOMER_FIELDS if name not in ("phones", "emails", "department", "custom")]
UNITED_FIELDS = ("phones", "emails")
PERSON_ONLY = {"birthday", "id_number", "gender"}
COMPANY_ONLY = {"credit_code"}
_FK_FIELDS = {"industry", "level", "stage", "source", "owner"}
# Columns computed from another column: a conflict on them is reported as the source field.
_COMPUTED_FROM = {"name_pinyin": "name", "name_initials": "name", "name_core": "name", "phones_e164": "phones",
                  "department_id": "owner"}
# Bookkeeping the unmerge does not restore on the survivor (it is an edit of the survivor: a new
# version, now, the acting user; the score is recomputed) and never reports as a conflict.
_SURVIVOR_BOOKKEEPING = {"id", "version", "updated_at", "updated_by_id", "quality_score", "quality_checked_at",
                         "last_activity_at"}


class UnmergeConflict(VersionConflict):
    """Later edits touch what the unmerge would restore; nothing was written. `conflicts` names
    each field and related record so the user can see what blocks the undo."""

    def __init__(self, message: str, conflicts: list[FieldError]):
        super().__init__(message)
        self.conflicts = conflicts

    def as_dict(self) -> dict:
        data = super().as_dict()
        data["errors"] = [c.as_dict() for c in self.conflicts]
        return data


# Preview ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueCell:
    customer_id: int
    text: str
    empty: bool


@dataclass(frozen=True)
class FieldRow:
    name: str
    label: str
    cells: list[ValueCell]
    default: int  # the customer whose value survives unless the user picks another
    differs: bool


@dataclass
class MergePreview:
    customers: list[Customer]  # the default survivor first
    survivor_id: int
    fields: list[FieldRow]
    phones: list[str]
    emails: list[str]
    tags: list[str]
    versions: dict[int, int]
    related_counts: dict[int, list[tuple[str, int]]]
    marked_distinct: bool = False
    choices: dict[str, int] = field(default_factory=dict)


def _locked_or_missing(acting_user: Any, ids: Sequence[int], *, lock: bool) -> dict[int, Customer]:
    queryset = Customer.objects.select_for_update(of=("self",)) if lock else Customer.objects.all()
    found = {c.pk: c for c in restrict(queryset, acting_user).filter(pk__in=list(ids)).order_by("pk")}
    for pk in ids:
        if pk in found:
            continue
        absorbed = MergedCustomerId.objects.filter(customer_id=pk).select_related("merge").first()
        if absorbed is not None and restrict(Customer.objects.filter(pk=absorbed.merge.survivor_id),
                                             acting_user).exists():
            raise VersionConflict(_("客户 #%(id)s 已被合并到客户 #%(survivor)s，请刷新后再试")
                                  % {"id": pk, "survivor": absorbed.merge.survivor_id})
        raise NotFound(_("客户不存在或无权查看"))
    return found


def _ids(survivor_id: Any, ids: Any) -> list[int]:
    return clean_ids(survivor_id, ids, invalid=_("客户编号无效"), too_few=_("至少需要两个客户才能合并"),
                     too_many=_("一次最多合并 %(count)s 个客户"))


def default_survivor(customers: Sequence[Customer], acting_user: Any) -> Customer:
    """The acting user's own record (the older if several), else the oldest record."""
    by_age = sorted(customers, key=lambda c: (c.created_at, c.pk))
    own = [c for c in by_age if c.owner_id == getattr(acting_user, "pk", None)]
    return (own or by_age)[0]


def _raw(customer: Customer, name: str) -> Any:
    if name.startswith("custom."):
        return (customer.custom or {}).get(name.removeprefix("custom."))
    if name in _FK_FIELDS:
        return getattr(customer, f"{name}_id")
    return getattr(customer, name)


def _is_valid(name: str, value: Any) -> bool:
    if is_empty(value):
        return False
    if name == "credit_code":
        return normalize_credit_code(str(value)).valid
    if name == "id_number":
        return normalize_resident_id(str(value)).valid
    return True


def _applies(name: str, kind: str) -> bool:
    if name in PERSON_ONLY:
        return kind == CustomerKind.PERSON
    if name in COMPANY_ONLY:
        return kind == CustomerKind.COMPANY
    return True


def default_choices(customers: Sequence[Customer], survivor: Customer) -> dict[str, int]:
    """Per field, the record whose value survives by default: the most recently updated record with
    a valid value, the survivor when it holds the same value; the survivor's kind and owner; a field
    that does not apply to the survivor's kind (a company's birthday) keeps an empty value."""
    recent_first = sorted(customers, key=lambda c: (c.updated_at, c.pk), reverse=True)
    choices: dict[str, int] = {}
    for name in field_names(customers, CHOSEN_FIELDS):
        if name == "owner" and survivor.owner_id is not None:
            choices[name] = survivor.pk  # merging never hands the record to someone else unasked
            continue
        if name == "kind" or not _applies(name, survivor.kind):
            empty = [c for c in [survivor, *recent_first] if is_empty(_raw(c, name))]
            choices[name] = (empty or [survivor])[0].pk
            continue
        source = next((c for c in recent_first if _is_valid(name, _raw(c, name))), None) \
            or next((c for c in recent_first if not is_empty(_raw(c, name))), survivor)
        if _raw(survivor, name) == _raw(source, name):
            source = survivor
        choices[name] = source.pk
    return choices


def _display(customer: Customer, name: str) -> str:
    value = _raw(customer, name)
    if is_empty(value):
        return ""
    if name in _FK_FIELDS:
        related = getattr(customer, name)
        text = str(related.label if hasattr(related, "label") else related)
        if name == "owner" and customer.department_id:
            text = f"{text} · {customer.department}"
        return text
    if name in ("kind", "gender"):
        return str(getattr(customer, f"get_{name}_display")())
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


def _label(name: str) -> str:
    if name.startswith("custom."):
        from kehu.customers.models import CustomFieldDefinition, CustomFieldTarget

        key = name.removeprefix("custom.")
        definition = CustomFieldDefinition.objects.filter(target=CustomFieldTarget.CUSTOMER, key=key).first()
        return definition.label if definition else key
    try:
        return str(Customer._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return field_label(name)


def _united_phones(customers: Sequence[Customer]) -> tuple[list[str], list[str]]:
    """Every phone once (same E.164 = same number), the survivor's first, in their order."""
    phones: list[str] = []
    e164s: list[str] = []
    seen: set[str] = set()
    for customer in customers:
        numbers = customer.phones or []
        codes = list(customer.phones_e164 or [])
        codes += [""] * (len(numbers) - len(codes))
        for number, code in zip(numbers, codes, strict=False):
            key = code or "raw:" + "".join(ch for ch in str(number) if ch.isdigit()) or str(number)
            if key in seen:
                continue
            seen.add(key)
            phones.append(number)
            e164s.append(code)
    return phones, e164s


def _united_emails(customers: Sequence[Customer]) -> list[str]:
    emails: list[str] = []
    seen: set[str] = set()
    for customer in customers:
        for email in customer.emails or []:
            if email.lower() not in seen:
                seen.add(email.lower())
                emails.append(email)
    return emails


def merge_preview(*, acting_user: Any, ids: Sequence[Any], survivor_id: int | None = None) -> MergePreview:
    """The records side by side with each field's default choice; nothing is written."""
    clean = _ids(survivor_id, ids)
    require_operation(acting_user, "customer.merge")
    found = _locked_or_missing(acting_user, clean, lock=False)
    survivor = found[survivor_id] if survivor_id is not None else default_survivor(list(found.values()), acting_user)
    customers = survivor_first(found, survivor.pk)
    choices = default_choices(customers, survivor)
    rows_out = []
    for name in field_names(customers, CHOSEN_FIELDS):
        cells = [ValueCell(c.pk, _display(c, name), is_empty(_raw(c, name))) for c in customers]
        differs = len({repr(_raw(c, name)) for c in customers}) > 1
        rows_out.append(FieldRow(name=name, label=_label(name), cells=cells, default=choices[name], differs=differs))
    phones, _codes = _united_phones(customers)
    tags = sorted({t.name for c in customers for t in c.tags.all()})
    related_counts: dict[int, list[tuple[str, int]]] = {c.pk: [] for c in customers}
    for kind in related_registry.kinds():
        if kind.derived:
            continue
        counts = _counts(kind, clean)
        for pk in clean:
            related_counts[pk].append((str(kind.label), counts.get(pk, 0)))
    return MergePreview(
        customers=customers,
        survivor_id=survivor.pk,
        fields=rows_out,
        phones=phones,
        emails=_united_emails(customers),
        tags=tags,
        versions={c.pk: c.version for c in customers},
        related_counts=related_counts,
        marked_distinct=_any_distinct(clean),
        choices=choices,
    )


def _counts(kind: RelatedKind, ids: Sequence[int]) -> dict[int, int]:
    return dict(kind.model._default_manager.filter(**{f"{kind.fk_attname}__in": list(ids)})
                .values(kind.fk_attname).annotate(n=Count("pk")).values_list(kind.fk_attname, "n"))


def _any_distinct(ids: Sequence[int]) -> bool:
    return DistinctPair.objects.filter(low_id__in=list(ids), high_id__in=list(ids)).exists()


# Merge --------------------------------------------------------------------------------------------


def _apply_choices(survivor: Customer, by_id: Mapping[int, Customer], choices: Mapping[str, int]) -> None:
    custom = dict(survivor.custom or {})
    for name, source_id in choices.items():
        source = by_id[source_id]
        if name.startswith("custom."):
            key = name.removeprefix("custom.")
            if key in (source.custom or {}):
                custom[key] = source.custom[key]
            else:
                custom.pop(key, None)
        elif name == "owner":
            survivor.owner_id = source.owner_id
            survivor.department_id = source.department_id
        elif name in _FK_FIELDS:
            setattr(survivor, f"{name}_id", getattr(source, f"{name}_id"))
        elif name == "name":
            survivor.name = source.name
            survivor.name_core = source.name_core
        else:
            setattr(survivor, name, _raw(source, name))
    survivor.custom = custom
    survivor.name_pinyin, survivor.name_initials = pinyin_forms(
        survivor.name, is_person=survivor.kind == CustomerKind.PERSON)


def _kind_errors(customer: Customer) -> list[FieldError]:
    errors = []
    if customer.kind == CustomerKind.COMPANY and customer.birthday:
        errors.append(FieldError("birthday", ErrorCode.INVALID, _("企业客户没有生日字段")))
    if customer.kind == CustomerKind.COMPANY and customer.id_number:
        errors.append(FieldError("id_number", ErrorCode.INVALID, _("企业客户没有身份证号")))
    if customer.kind == CustomerKind.PERSON and customer.credit_code:
        errors.append(FieldError("credit_code", ErrorCode.INVALID, _("个人客户没有统一社会信用代码")))
    return errors


def _tag_ids(customer_ids: Sequence[int]) -> dict[int, list[int]]:
    through = Customer.tags.through
    out: dict[int, list[int]] = {pk: [] for pk in customer_ids}
    for customer_id, tag_id in through.objects.filter(customer_id__in=list(customer_ids)).values_list(
            "customer_id", "tag_id").order_by("customer_id", "tag_id"):
        out[customer_id].append(tag_id)
    return out


def _tag_names(tag_ids: Iterable[int]) -> list[str]:
    return sorted(Tag.objects.filter(pk__in=list(tag_ids)).values_list("name", flat=True))


def _rebuild(customer_ids: Sequence[int]) -> None:
    customers = list(Customer.objects.filter(pk__in=list(customer_ids)).order_by("pk"))
    for rebuild in related_registry.rebuilds():
        rebuild(customers)


def _keep_one_primary_contact(survivor_id: int, moved_ids: Sequence[int]) -> None:
    """A survivor that had a primary contact keeps it; the moved primaries become ordinary."""
    has_own = Contact.objects.filter(customer_id=survivor_id, is_primary=True).exclude(pk__in=moved_ids).exists()
    moved_primaries = list(Contact.objects.filter(pk__in=moved_ids, is_primary=True).order_by("pk")
                           .values_list("pk", flat=True))
    demote = moved_primaries if has_own else moved_primaries[1:]
    if demote:
        Contact.objects.filter(pk__in=demote).update(is_primary=False)


def _marker(customers: Iterable[Customer]) -> list[str]:
    return [f"{c.name}（#{c.pk}）" for c in customers]


@transaction.atomic
def customers_merge(
    *,
    acting_user: Any,
    survivor_id: int,
    merged_ids: Sequence[Any],
    field_choices: Mapping[str, Any] | None = None,
    expected_versions: Mapping[Any, Any] | None = None,
) -> CustomerMerge:
    """Merge `merged_ids` into `survivor_id`. `field_choices` maps a field (or `custom.<key>`) to
    the customer whose value survives; unnamed fields take the preview's default. With
    `expected_versions` ({customer id: version} as previewed) a record saved in between raises
    VersionConflict, and so does a record another merge absorbed first: nothing is written."""
    survivor_id = int(survivor_id)
    ids = _ids(survivor_id, merged_ids)
    merged = [pk for pk in ids if pk != survivor_id]
    missing_kinds = related_registry.unregistered()
    if missing_kinds:
        raise KehuError(_("以下数据表引用了客户但未登记到合并注册表，合并会丢失数据：%(tables)s")
                        % {"tables": "、".join(missing_kinds)})
    require_operation(acting_user, "customer.merge")
    found = _locked_or_missing(acting_user, ids, lock=True)
    for raw_id, version in (expected_versions or {}).items():
        pk = int(raw_id)
        if pk in found and found[pk].version != int(version):
            raise VersionConflict(_("客户“%(name)s”已被他人修改（当前版本 %(current)s，你看到的是版本 %(yours)s），"
                                    "请刷新后再合并") % {"name": found[pk].name, "current": found[pk].version,
                                                     "yours": version})
    survivor = found[survivor_id]
    customers = survivor_first(found, survivor_id)
    choices = {**default_choices(customers, survivor),
               **check_choices(field_choices or {}, set(field_names(customers, CHOSEN_FIELDS)), set(ids),
                               label=_label,
                               outside=_("%(field)s 的取值必须来自参与合并的客户"))}

    before = {pk: rows.row_of(c) for pk, c in found.items()}
    shown_before = _shown(survivor)
    tags_before = _tag_ids(ids)
    _apply_choices(survivor, found, choices)
    survivor.phones, survivor.phones_e164 = _united_phones(customers)
    survivor.emails = _united_emails(customers)
    errors = _kind_errors(survivor)
    if errors:
        raise ValidationFailed(errors)
    activities = [c.last_activity_at for c in customers if c.last_activity_at]
    survivor.last_activity_at = max(activities) if activities else None

    related = move_rows(related_registry, merged, survivor_id)  # derived rows are recomputed below
    moved_contacts = [r["before"]["id"] for entry in related if entry["kind"] == "customers.contact.customer"
                      for r in entry["rows"]]
    _keep_one_primary_contact(survivor_id, moved_contacts)

    all_tags = sorted({tag for tag_ids in tags_before.values() for tag in tag_ids})
    Customer.objects.filter(pk__in=merged).delete()
    survivor.tags.add(*all_tags)

    survivor.version = F("version") + 1
    survivor.updated_at = timezone.now()
    survivor.updated_by = acting_user
    survivor.save()
    _rebuild([survivor_id])
    survivor.refresh_from_db()

    note_rows_after(related_registry, related)

    merge = CustomerMerge.objects.create(
        survivor_id=survivor_id,
        merged_ids=merged,
        created_by=acting_user,
        snapshot={
            "customers": {str(pk): row for pk, row in before.items()},
            "tags": {str(pk): tag_ids for pk, tag_ids in tags_before.items()},
            "survivor_after": rows.row_of(survivor),
            "survivor_tags_after": all_tags,
            "related": related,
        },
    )
    MergedCustomerId.objects.bulk_create([MergedCustomerId(customer_id=pk, merge=merge) for pk in merged])
    changes = [{"field": "_merged", "old": None, "new": _marker(found[pk] for pk in merged)},
               {"field": "_merge_id", "old": None, "new": merge.pk}]
    changes += audit.diff_values(shown_before, _shown(survivor), CUSTOMER_FIELDS)
    if sorted(tags_before[survivor_id]) != all_tags:
        changes.append({"field": "tags", "old": _tag_names(tags_before[survivor_id]), "new": _tag_names(all_tags)})
    audit.record_event(actor=acting_user, action="merge", obj=survivor, customer_id=survivor_id, changes=changes)
    for listener in merge_listeners:
        listener(merge)
    return merge


def _shown(customer: Customer) -> dict[str, Any]:
    """The fields as the audit shows them (an owner by name), like `customer_update` records them."""
    return {name: audit.audit_value(getattr(customer, name)) for name in CUSTOMER_FIELDS}


# Unmerge ------------------------------------------------------------------------------------------


def _report_name(column: str) -> str:
    return _COMPUTED_FROM.get(column, column).removesuffix("_id")


def _undo_conflicts(merge: CustomerMerge, survivor: Customer) -> list[FieldError]:
    snapshot = merge.snapshot
    before = snapshot["customers"][str(merge.survivor_id)]
    after = snapshot["survivor_after"]
    current = rows.row_of(survivor)
    conflicts: list[FieldError] = []
    reported: set[str] = set()
    for column, old in before.items():
        if column in _SURVIVOR_BOOKKEEPING or old == after.get(column) or current.get(column) == after.get(column):
            continue
        name = _report_name(column)
        if name in reported:
            continue
        reported.add(name)
        conflicts.append(FieldError(name, ErrorCode.VERSION_CONFLICT,
                                    _("合并后“%(field)s”又被修改过") % {"field": _label(name)}))
    tags_after = snapshot["survivor_tags_after"]
    if sorted(snapshot["tags"][str(merge.survivor_id)]) != tags_after \
            and sorted(_tag_ids([merge.survivor_id])[merge.survivor_id]) != tags_after:
        conflicts.append(FieldError("tags", ErrorCode.VERSION_CONFLICT, _("合并后“标签”又被修改过")))
    return conflicts + rows_conflicts(related_registry, snapshot["related"])


@dataclass
class UnmergeResult:
    merge: CustomerMerge
    survivor: Customer
    restored: list[Customer]


@transaction.atomic
def merge_undo(*, acting_user: Any, merge_id: int) -> UnmergeResult:
    """Undo a merge of the last 30 days: the merged customers come back with their ids, values,
    tags and related rows; the survivor gets back the values the merge replaced. Refused with
    UnmergeConflict, naming each field and record, when later edits touch any of those."""
    merge = CustomerMerge.objects.select_for_update().filter(pk=merge_id).first()
    if merge is None:
        raise NotFound(_("合并记录不存在"))
    survivor = restrict(Customer.objects.select_for_update(of=("self",)), acting_user).filter(
        pk=merge.survivor_id).first()
    if survivor is None:
        if MergedCustomerId.objects.filter(customer_id=merge.survivor_id).exists():
            raise KehuError(_("保留的客户之后又被合并到其他客户，请先撤销那次合并"))
        raise NotFound(_("合并记录不存在或无权查看"))
    if merge.undone_at is not None:
        raise VersionConflict(_("这次合并已经撤销过了"))
    if timezone.now() > undo_deadline(merge):
        raise KehuError(_("只能撤销 %(days)s 天内的合并") % {"days": UNDO_DAYS})
    if not may_undo(merge, acting_user):
        raise PermissionDenied(_("只有合并操作人、经理或管理员可以撤销这次合并"))
    if Customer.objects.filter(pk__in=merge.merged_ids).exists():
        raise VersionConflict(_("被合并的客户已经存在，无法恢复"))
    conflicts = _undo_conflicts(merge, survivor)
    if conflicts:
        raise UnmergeConflict(
            _("合并后有修改与撤销冲突，未做任何更改：%(items)s")
            % {"items": "；".join(str(c.message) for c in conflicts)},
            conflicts,
        )

    snapshot = merge.snapshot
    restored = [Customer(**rows.python_values(Customer, snapshot["customers"][str(pk)])) for pk in merge.merged_ids]
    Customer.objects.bulk_create(restored)
    existing_tags = set(Tag.objects.values_list("pk", flat=True))
    through = Customer.tags.through
    through.objects.bulk_create([through(customer_id=pk, tag_id=tag) for pk in merge.merged_ids
                                 for tag in snapshot["tags"][str(pk)] if tag in existing_tags])

    restore_moved_rows(related_registry, snapshot["related"])
    for entry in snapshot["related"]:
        kind = related_registry.get(entry["kind"])
        if kind is None or not entry["derived"]:
            continue
        # The merged record's values and contacts come back unchanged, so its derived rows are
        # still right: written back as they were (ids, an issue's assignee and date included).
        manager = kind.model._default_manager
        manager.filter(pk__in=[item["before"]["id"] for item in entry["rows"]]).delete()
        manager.bulk_create([kind.model(**rows.python_values(kind.model, item["before"])) for item in entry["rows"]])

    before = snapshot["customers"][str(merge.survivor_id)]
    after = snapshot["survivor_after"]
    current = rows.row_of(survivor)
    shown_before = _shown(survivor)
    restore = {column: old for column, old in before.items()
               if column not in _SURVIVOR_BOOKKEEPING and old != after.get(column)}
    if current.get("last_activity_at") == after.get("last_activity_at"):
        restore["last_activity_at"] = before.get("last_activity_at")
    values = rows.python_values(Customer, restore)
    Customer.objects.filter(pk=survivor.pk).update(
        **values, version=F("version") + 1, updated_at=timezone.now(), updated_by=acting_user)
    tags_before = sorted(snapshot["tags"][str(merge.survivor_id)])
    if tags_before != snapshot["survivor_tags_after"]:
        survivor.tags.set([tag for tag in tags_before if tag in existing_tags])

    # Only the survivor's derived rows are recomputed; that also drops the ones of contacts that went back.
    _rebuild([merge.survivor_id])
    MergedCustomerId.objects.filter(merge=merge).delete()
    CustomerMerge.objects.filter(pk=merge.pk).update(undone_at=timezone.now(), undone_by=acting_user)
    merge.refresh_from_db()
    survivor.refresh_from_db()
    restored = list(Customer.objects.filter(pk__in=merge.merged_ids).order_by("pk"))

    changes = [{"field": "_restored", "old": None, "new": _marker(restored)},
               {"field": "_merge_id", "old": None, "new": merge.pk}]
    changes += audit.diff_values(shown_before, _shown(survivor), CUSTOMER_FIELDS)
    audit.record_event(actor=acting_user, action="unmerge", obj=survivor, customer_id=survivor.pk, changes=changes)
    for customer in restored:
        audit.record_event(actor=acting_user, action="unmerge", obj=customer, customer_id=customer.pk,
                           changes=[{"field": "_split_from", "old": None, "new": _marker([survivor])},
                                    {"field": "_merge_id", "old": None, "new": merge.pk}])
    for listener in unmerge_listeners:
        listener(merge)
    return UnmergeResult(merge=merge, survivor=survivor, restored=restored)


# Not a duplicate ----------------------------------------------------------------------------------


@transaction.atomic
def pair_mark_distinct(*, acting_user: Any, a_id: int, b_id: int) -> DistinctPair:
    """Remember that two customers are not the same, so they are never suggested again."""
    a_id, b_id = int(a_id), int(b_id)
    if a_id == b_id:
        raise ValidationFailed([FieldError("ids", ErrorCode.INVALID, _("请选择两个不同的客户"))])
    found = _locked_or_missing(acting_user, [a_id, b_id], lock=False)
    low, high = sorted((a_id, b_id))
    pair, created = DistinctPair.objects.get_or_create(low_id=low, high_id=high,
                                                       defaults={"created_by": acting_user})
    if created:
        for this, other in ((a_id, b_id), (b_id, a_id)):
            audit.record_event(actor=acting_user, action="not_duplicate", obj=found[this], customer_id=this,
                               changes=[{"field": "_other", "old": None, "new": _marker([found[other]])}])
    return pair

