"""The built-in importable kinds: customers (and contacts, linked to their customer).

The field cleaning here mirrors `customers.services._apply_customer_data` step for step (the same
normalisers, messages, error codes and rule checks) with every table it would query per record read
once per import; tests/imports/test_engine.py compares the two on the same input, so a change to
the service's rules that is not made here fails a test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Model
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit, crypto
from kehu.core.bulk import fast_create
from kehu.core.errors import ErrorCode, FieldError
from kehu.core.scoping import restrict
from kehu.dataquality import quality, rules
from kehu.dataquality.cleaning import (
    city_aliases,
    clean_contact_fields,
    clean_customer_fields,
    picklist_tables,
)
from kehu.dataquality.contact_duplicates import contact_duplicates_refresh
from kehu.dataquality.models import MatchKey, RuleSeverity, RuleType
from kehu.dataquality.normalize.emails import normalize_emails
from kehu.dataquality.normalize.identifiers import normalize_credit_code
from kehu.dataquality.normalize.phones import normalize_phones
from kehu.dataquality.picklists import match_picklist
from kehu.imports.engine import (
    ChunkResult,
    ImportKind,
    ImportOptions,
    RowResult,
    audit_events,
    insert_search_tokens,
    json_value,
    register,
)

_PICKLIST_FIELDS = {"industry": "industry", "level": "level", "stage": "stage", "source": "source"}
_TEXT_FIELDS = (("short_name", 100), ("website", 200), ("province", 50), ("city", 50), ("district", 50),
                ("address", 300), ("id_number", 30), ("salutation", 20))
# Values people type for the two choice fields, on top of the stored codes.
_KIND_WORDS = {"company": "company", "企业": "company", "公司": "company", "单位": "company", "organization": "company",
               "person": "person", "个人": "person", "individual": "person"}
_GENDER_WORDS = {"male": "male", "男": "male", "m": "male", "先生": "male",
                 "female": "female", "女": "female", "f": "female", "女士": "female"}
# Stored fields an import may change and undo restores (attnames; derived fields included).
_RESTORABLE = [
    "kind", "name", "short_name", "name_pinyin", "name_initials", "name_core", "salutation", "industry_id",
    "level_id", "stage_id", "source_id", "owner_id", "department_id", "phones", "phones_e164", "emails",
    "website", "province", "city", "district", "address", "birthday", "credit_code", "id_number", "gender",
    "notes", "custom", "external_id",
]


def _clean_text(value: Any, *, max_length: int) -> str:
    from kehu.customers.validation import clean_text

    return clean_text(value, max_length=max_length)


def _as_list(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v not in (None, "")]


def _joined(value: Any) -> str:
    """Several columns feeding one text field (notes) as lines."""
    return "\n".join(_as_list(value)) if isinstance(value, list) else ("" if value is None else str(value))


def _parse_moment(value: Any, errors: Any) -> dt.datetime | None:
    text = str(value).strip().replace("/", "-").replace("T", " ")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        errors.add("created_at", ErrorCode.INVALID, _("时间格式不正确（应为 YYYY-MM-DD HH:MM）：%(value)s") % {
            "value": value})
        return None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _split_names(value: Any) -> list[str]:
    from kehu.customers.validation import clean_list

    return [n[:50] for n in clean_list("\n".join(_as_list(value)))]


@dataclass
class CustomerContext:
    acting_user: Any
    options: ImportOptions
    dry_run: bool
    aliases: dict[str, str]
    picklists: dict[str, tuple[dict[str, tuple[int, str]], dict[str, tuple[int, str]]]]
    option_by_id: dict[int, Any]
    definitions: list[Any]
    check_rules: list[Any]  # every active customer rule except uniqueness (checked per chunk here)
    unique_error_rules: list[Any]
    warning_unique_rules: list[Any]
    users_by_key: dict[str, Any]
    users_by_id: dict[int, Any]
    departments: dict[int, Any]
    round_robin: list[Any]
    owners: Any
    departments_by_name: dict[str, Any]
    quality_settings: Any
    tags: dict[str, Any] = field(default_factory=dict)
    # Keys claimed by rows not yet committed: (match key, value) -> row; (MatchKey kind, value) -> row.
    pending_match: dict[tuple[str, str], int] = field(default_factory=dict)
    pending_unique: dict[tuple[str, str], int] = field(default_factory=dict)


def _user_keys(user: Any) -> list[str]:
    keys = [str(user.pk), user.username.casefold()]
    if user.display_name:
        keys.append(user.display_name.strip().casefold())
    if user.email:
        keys.append(user.email.strip().casefold())
    return keys


class CustomerImport(ImportKind):
    key = "customers"
    object_type = "customer"

    @property
    def label(self) -> str:  # type: ignore[override]
        return _("客户")

    def targets(self) -> list[str]:
        from kehu.imports.mapping import targets_for

        return [t.key for t in targets_for(self.key)]

    def extractor(self, mapping: Mapping[int, str]) -> Any:
        from kehu.imports.mapping import row_extractor, targets_for

        return row_extractor(mapping, targets_for(self.key))

    def context(self, *, acting_user: Any, options: ImportOptions, dry_run: bool) -> CustomerContext:
        from kehu.accounts.models import Department, User
        from kehu.customers.models import CustomFieldDefinition, PicklistOption, Tag

        active = rules.active_rules("customer")
        users = list(User.objects.filter(is_active=True).select_related("department"))
        by_key: dict[str, Any] = {}
        for user in sorted(users, key=lambda u: u.pk, reverse=True):  # the oldest account wins a shared name
            for key in _user_keys(user):
                by_key[key] = user
        by_id = {u.pk: u for u in users}
        if acting_user is not None:
            by_id.setdefault(acting_user.pk, acting_user)
        round_robin = [by_id[pk] for pk in options.owner_users if pk in by_id]
        from kehu.imports.mapping import OwnerResolver

        # An empty owner cell means the importer (as customer_create) unless a rotation was chosen.
        resolver = OwnerResolver(options.owner_policy, users=users, importer=acting_user,
                                 rotation=round_robin or ([acting_user] if acting_user is not None else []))
        return CustomerContext(
            acting_user=acting_user,
            options=options,
            dry_run=dry_run,
            aliases=city_aliases(),
            picklists={name: picklist_tables(kind) for name, kind in _PICKLIST_FIELDS.items()},
            option_by_id={o.pk: o for o in PicklistOption.objects.all()},
            definitions=list(CustomFieldDefinition.objects.filter(target="customer", is_active=True)),
            check_rules=[r for r in active if r.rule_type != RuleType.UNIQUE],
            unique_error_rules=[r for r in active if r.rule_type == RuleType.UNIQUE
                                and r.severity == RuleSeverity.ERROR],
            warning_unique_rules=quality._warning_unique_rules(),
            users_by_key=by_key,
            users_by_id=by_id,
            departments={d.pk: d for d in Department.objects.all()},
            round_robin=round_robin,
            owners=resolver,
            departments_by_name={d.name.strip().casefold(): d for d in Department.objects.all()},
            quality_settings=quality.quality_settings(),
            tags={t.name: t for t in Tag.objects.all()},
        )

    def end_chunk(self, ctx: CustomerContext) -> None:
        ctx.pending_match.clear()
        ctx.pending_unique.clear()

    # Cleaning: the service's steps with cached tables --------------------------------------------------

    def apply(self, ctx: CustomerContext, customer: Any, data: Mapping[str, Any], *, creating: bool,
              row: int) -> list[FieldError]:
        """Set the cleaned values of `data` on `customer`; returns the field errors (empty: valid)."""
        from kehu.customers.models import CustomerKind, Gender
        from kehu.customers.pinyin import pinyin_forms
        from kehu.customers.services import normalise_customer
        from kehu.customers.validation import Collector, clean_custom_values, clean_date

        errors = Collector()
        if "kind" in data or creating:
            raw_kind = str(data.get("kind") or CustomerKind.COMPANY)
            kind = _KIND_WORDS.get(raw_kind.strip().casefold(), raw_kind)
            if kind not in CustomerKind.values:
                errors.add("kind", ErrorCode.UNKNOWN_CHOICE, _("未知的客户类型：%(value)s") % {"value": raw_kind})
            else:
                customer.kind = kind
        if "name" in data or creating:
            customer.name = _clean_text(data.get("name"), max_length=200)
            if not customer.name:
                errors.add("name", ErrorCode.REQUIRED, _("名称为必填项"))
        for name, max_length in _TEXT_FIELDS:
            if name in data:
                setattr(customer, name, _clean_text(data[name], max_length=max_length))
        if "notes" in data:
            customer.notes = _clean_text(_joined(data["notes"]), max_length=20000)
        if "external_id" in data:
            customer.external_id = _clean_text(data["external_id"], max_length=100)
        if "gender" in data:
            raw_gender = _clean_text(data["gender"], max_length=10)
            gender = _GENDER_WORDS.get(raw_gender.casefold(), raw_gender)
            if gender and gender not in Gender.values:
                errors.add("gender", ErrorCode.UNKNOWN_CHOICE, _("未知的性别：%(value)s") % {"value": raw_gender})
            else:
                customer.gender = gender
        for name in _PICKLIST_FIELDS:
            if name in data:
                setattr(customer, name, self._picklist(ctx, name, data[name], errors))
        if "phones" in data:
            customer.phones = _as_list(data["phones"])
        if "emails" in data:
            customer.emails = _as_list(data["emails"])
        if "birthday" in data:
            customer.birthday = clean_date(data["birthday"], "birthday", errors)
        if "credit_code" in data:
            customer.credit_code = _clean_text(data["credit_code"], max_length=30)

        problems = normalise_customer(customer, data, creating=creating, aliases=ctx.aliases)
        if customer.kind == CustomerKind.COMPANY and customer.birthday:
            errors.add("birthday", ErrorCode.INVALID, _("企业客户没有生日字段"))
        if customer.kind == CustomerKind.PERSON and customer.credit_code:
            errors.add("credit_code", ErrorCode.INVALID, _("个人客户没有统一社会信用代码"))
        if customer.kind == CustomerKind.COMPANY and customer.id_number:
            errors.add("id_number", ErrorCode.INVALID, _("企业客户没有身份证号"))

        owner_changed = self._owner(ctx, customer, data, creating=creating, row=row, errors=errors)
        if data.get("department"):
            self._department(ctx, customer, data["department"], errors)
        elif owner_changed:
            department_id = customer.owner.department_id if customer.owner else None
            customer.department = ctx.departments.get(department_id) if department_id else None
        if creating and data.get("created_at"):
            # The original creation time from the old system (history keeps its real age).
            moment = _parse_moment(data["created_at"], errors)
            if moment is not None:
                customer.created_at = moment
                customer._created_at_given = True

        custom = {k.removeprefix("custom."): v for k, v in data.items() if k.startswith("custom.")}
        if custom or creating:
            customer.custom = clean_custom_values(
                definitions=ctx.definitions, values=custom, existing=customer.custom, errors=errors,
                user_exists=lambda pk: pk in ctx.users_by_id,
            )
        outcome = rules.check_rules(
            target="customer", record=customer, customer_kind=customer.kind, stage_id=customer.stage_id,
            problems=problems, customer_id=customer.pk, user=ctx.acting_user, rules=ctx.check_rules,
        )
        errors.errors.extend(outcome.errors)
        if not errors.errors and ("name" in data or "kind" in data or creating):
            customer.name_pinyin, customer.name_initials = pinyin_forms(
                customer.name, is_person=customer.kind == CustomerKind.PERSON
            )
        return errors.errors

    def _picklist(self, ctx: CustomerContext, name: str, value: Any, errors: Any) -> Any:
        if value in (None, ""):
            return None
        text = str(value).strip()
        option = None
        if text.isdigit():
            candidate = ctx.option_by_id.get(int(text))
            option = candidate if candidate is not None and candidate.kind == _PICKLIST_FIELDS[name] else None
        if option is None:
            table, synonyms = ctx.picklists[name]
            match = match_picklist(text, table=table, synonyms=synonyms)
            option = ctx.option_by_id.get(match.option_id) if match.option_id else None
        if option is None:
            errors.add(name, ErrorCode.UNKNOWN_CHOICE, _("未知的选项：%(value)s") % {"value": value})
        return option

    def _owner(self, ctx: CustomerContext, customer: Any, data: Mapping[str, Any], *, creating: bool, row: int,
               errors: Any) -> bool:
        """Set the owner from the policy (imports.mapping.OwnerResolver); True when it was (re)set.
        An update changes the owner only when the row names one."""
        raw = data.get("owner")
        if not creating and (ctx.options.owner_policy != "column" or raw in (None, "")):
            return False
        user, message = ctx.owners.resolve(str(raw) if raw not in (None, "") else None)
        if message:
            errors.add("owner", ErrorCode.INVALID, message)
            return False
        customer.owner = ctx.users_by_id.get(user.pk, user) if user is not None else None
        return True

    def _department(self, ctx: CustomerContext, customer: Any, raw: Any, errors: Any) -> None:
        text = str(raw).strip()
        department = ctx.departments.get(int(text)) if text.isdigit() else None
        department = department or ctx.departments_by_name.get(text.casefold())
        if department is None:
            errors.add("department", ErrorCode.INVALID, _("未知的部门：%(value)s") % {"value": raw})
        else:
            customer.department = department

    # Matching ---------------------------------------------------------------------------------------------

    @staticmethod
    def match_values(data: Mapping[str, Any]) -> dict[str, list[str]]:
        """Normalised values of the match keys a row carries, as stored for lookups."""
        out: dict[str, list[str]] = {}
        if data.get("external_id"):
            out["external_id"] = [_clean_text(data["external_id"], max_length=100)]
        if data.get("credit_code"):
            code = normalize_credit_code(str(data["credit_code"]))
            if code.valid:
                out["credit_code"] = [code.value]
        if data.get("phones"):
            out["mobile"] = [p.e164 for p in normalize_phones(_as_list(data["phones"])) if p.e164]
        if data.get("emails"):
            out["email"] = [e.value.lower() for e in normalize_emails(_as_list(data["emails"])) if e.valid]
        return out

    @staticmethod
    def lookup_matches(wanted: Mapping[str, set[str]]) -> dict[tuple[str, str], set[int]]:
        from kehu.customers.models import Customer

        hits: dict[tuple[str, str], set[int]] = {}
        for key, values in wanted.items():
            if not values:
                continue
            values_list = list(values)
            for start in range(0, len(values_list), 900):  # SQLite's bound-variable limit
                part = values_list[start:start + 900]
                if key in ("external_id", "credit_code"):
                    pairs = Customer.objects.filter(**{f"{key}__in": part}).values_list(key, "pk")
                else:
                    kind = "phone" if key == "mobile" else "email"
                    pairs = MatchKey.objects.filter(kind=kind, value__in=part).values_list("value", "customer_id")
                for value, pk in pairs:
                    hits.setdefault((key, value), set()).add(pk)
        return hits

    # The chunk ----------------------------------------------------------------------------------------------

    def run_chunk(self, ctx: CustomerContext, rows: Sequence[tuple[int, list[str], dict[str, Any]]]) -> ChunkResult:
        from kehu.customers.models import Customer

        options = ctx.options
        keyed = [self.match_values(data) for _row, _cells, data in rows]
        wanted: dict[str, set[str]] = {key: set() for key in options.match_by}
        for values in keyed:
            for key in options.match_by:
                wanted[key].update(values.get(key, ()))
        hits = self.lookup_matches(wanted)
        matched_ids = {pk for ids in hits.values() for pk in ids}
        locked: dict[int, Any] = {}
        if matched_ids:
            # Only records the importer may see can be updated (a manager: their department's subtree).
            queryset = restrict(Customer.objects.all(), ctx.acting_user).select_related(
                "industry", "level", "stage", "source", "owner", "department")
            if not ctx.dry_run:
                queryset = queryset.select_for_update(of=("self",))
            ids = sorted(matched_ids)
            for start in range(0, len(ids), 900):
                locked.update((c.pk, c) for c in queryset.filter(pk__in=ids[start:start + 900]))
        tags_of = self._tags_of(list(locked)) if locked else {}

        results: list[RowResult] = []
        touched: set[int] = set()
        consumed = len(rows)
        for index, (row, cells, data) in enumerate(rows):
            target_id, target_row, decision, reason = self._decide(ctx, keyed[index], hits)
            if not ctx.dry_run and index > 0 and (target_row is not None or (target_id is not None
                                                                              and target_id in touched)):
                consumed = index  # an earlier row of this chunk made the record: decide after it commits
                break
            result = RowResult(row=row, action=decision, cells=cells)
            if reason:
                result.problems.append(reason)
            if decision in ("skipped", "rejected"):
                results.append(result)
                continue
            if target_id is not None:
                touched.add(target_id)
            if decision == "updated" and target_id is not None and target_id not in locked:
                result.action = "rejected"
                result.problems = [("", _("匹配到的客户不在你的数据范围内，不能更新"))]
                results.append(result)
                continue
            if decision == "updated" and target_id is not None:
                customer = locked[target_id]
                before = {name: json_value(getattr(customer, name)) for name in _RESTORABLE}
                snapshot = self._audit_snapshot(customer)
                errors = self.apply(ctx, customer, data, creating=False, row=row)
                result.obj = customer
                result.before = before
                result.changes = audit.diff_values(snapshot, self._audit_snapshot(customer), _audit_fields())
                if "tags" in data:
                    old_tags = tags_of.get(customer.pk, [])
                    new_tags = sorted(set(_split_names(data["tags"])))
                    if new_tags != old_tags:
                        result.tags = new_tags
                        result.before["__tags__"] = old_tags
                        result.changes.append({"field": "tags", "old": old_tags, "new": new_tags})
            else:
                customer = Customer(created_by=ctx.acting_user, updated_by=ctx.acting_user)
                errors = self.apply(ctx, customer, data, creating=True, row=row)
                result.obj = customer
                names = sorted(set(_split_names(data.get("tags"))))
                result.tags = names or None
                if target_row is not None:  # dry run: the record an earlier row would create
                    decision = result.action = "updated" if decision == "updated" else decision
            self._settle(ctx, result, errors, decision=decision, target_row=target_row, keys=keyed[index],
                         row=row)
            results.append(result)
        self._check_unique(ctx, results)
        if not ctx.dry_run:
            self._write(ctx, results)
        return ChunkResult(results=results, consumed=consumed)

    @staticmethod
    def _flag_likely_duplicate(ctx: CustomerContext, result: RowResult) -> None:
        """"Import and flag for review": beyond exact keys, the matching engine's likely duplicates
        (a company name variant, the same person spelt in pinyin) flag the row, with the reasons,
        masked as on a form for customers the importer may not see."""
        from kehu.dataquality.duplicates import customer_values, likely_duplicates

        warnings = likely_duplicates(customer_values(result.obj), user=ctx.acting_user, limit=1)
        if not warnings:
            return
        first = warnings[0]
        who = f"#{first.customer_id} {first.name}" if first.visible else _("负责人 %(owner)s 的客户") % {
            "owner": first.owner_name}
        result.action = "flagged"
        result.problems.append(("", _("可能与已有客户重复（%(who)s）：%(reasons)s") % {
            "who": who, "reasons": first.reasons}))

    def _settle(self, ctx: CustomerContext, result: RowResult, errors: Any, *, decision: str,
                target_row: int | None, keys: Mapping[str, list[str]], row: int) -> None:
        """A decided row's outcome: rejected with its errors, skipped when an update changes
        nothing, otherwise its match keys reserved so later rows of the file see it."""
        if errors:
            result.action = "rejected"
            result.problems = [(e.field, str(e.message)) for e in errors]
            result.obj = None
        elif decision == "updated" and not result.changes and target_row is None:
            result.action = "skipped"
            result.problems = [("", _("与已有%(noun)s相同，无需更新") % {"noun": self.noun()})]
        elif result.action in ("created", "flagged"):
            for key, values in keys.items():
                for value in values:
                    ctx.pending_match.setdefault((key, value), row)
            if result.action == "created" and ctx.options.duplicates == "flag" and ctx.options.mode == "insert":
                self._flag_likely_duplicate(ctx, result)

    def _decide(self, ctx: CustomerContext, keyed: Mapping[str, list[str]], hits: Mapping[tuple[str, str], set[int]]
                ) -> tuple[int | None, int | None, str, tuple[str, str] | None]:
        """(existing id, pending row, action, reason) from the mode and the first match key that hits."""
        options = ctx.options
        target_id: int | None = None
        target_row: int | None = None
        for key in options.match_by:
            ids: set[int] = set()
            rows_hit: set[int] = set()
            for value in keyed.get(key, ()):
                ids |= hits.get((key, value), set())
                if (key, value) in ctx.pending_match:
                    rows_hit.add(ctx.pending_match[(key, value)])
            if len(ids) + len(rows_hit) > 1:
                return None, None, "rejected", (key, _("按%(key)s匹配到多个已有%(noun)s，无法确定更新哪一个") % {
                    "key": match_label(key), "noun": self.noun()})
            if ids:
                target_id = next(iter(ids))
                break
            if rows_hit:
                target_row = next(iter(rows_hit))
                break
        matched = target_id is not None or target_row is not None
        if options.mode == "update":
            if not matched:
                return None, None, "skipped", ("", _("未找到匹配的%(noun)s") % {"noun": self.noun()})
            return target_id, target_row, "updated", None
        if options.mode == "upsert":
            return target_id, target_row, ("updated" if matched else "created"), None
        if not matched:
            return None, None, "created", None
        where = (_("第 %(row)s 行") % {"row": target_row}) if target_row is not None else f"#{target_id}"
        if options.duplicates == "update":
            return target_id, target_row, "updated", None
        words = {"where": where, "noun": self.noun()}
        if options.duplicates == "flag":
            return None, target_row, "flagged", ("", _("可能与已有%(noun)s重复（%(where)s）") % words)
        return None, None, "skipped", ("", _("已有相同%(noun)s（%(where)s），已跳过") % words)

    @staticmethod
    def customer_of(obj: Any) -> Any:
        return obj

    def noun(self) -> str:
        return _("客户")

    @staticmethod
    def _audit_snapshot(customer: Any) -> dict[str, Any]:
        values = {}
        for name in _audit_fields():
            value = getattr(customer, name)
            values[name] = dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) \
                else value
        return values

    @staticmethod
    def _tags_of(customer_ids: list[int]) -> dict[int, list[str]]:
        from kehu.customers.models import Customer

        through = Customer.tags.through
        out: dict[int, list[str]] = {}
        for customer_id, name in through.objects.filter(customer_id__in=customer_ids).values_list(
                "customer_id", "tag__name"):
            out.setdefault(customer_id, []).append(name)
        return {pk: sorted(names) for pk, names in out.items()}

    def _check_unique(self, ctx: CustomerContext, results: list[RowResult]) -> None:
        """Error-level uniqueness rules for the chunk: one query per key kind, plus the rows before."""
        if not ctx.unique_error_rules:
            return
        checks: list[tuple[RowResult, Any, str, str]] = []  # (result, rule, kind, value)
        wanted: dict[str, set[str]] = {}
        for result in results:
            if result.obj is None:
                continue
            customer = self.customer_of(result.obj)
            for rule in ctx.unique_error_rules:
                if not rules._applies(rule, customer_kind=customer.kind, stage_id=customer.stage_id):
                    continue
                for kind, value in rules.unique_values(result.obj, rule.field):
                    if kind.startswith("field:"):
                        continue
                    checks.append((result, rule, kind, value))
                    wanted.setdefault(kind, set()).add(value)
        holders: dict[tuple[str, str], list[int]] = {}
        for kind, values in wanted.items():
            values_list = list(values)
            for start in range(0, len(values_list), 900):
                for value, customer_id in MatchKey.objects.filter(
                        kind=kind, value__in=values_list[start:start + 900]).values_list("value", "customer_id"):
                    holders.setdefault((kind, value), []).append(customer_id)
        rejected: set[int] = set()
        claimed: dict[tuple[str, str], int] = {}
        for result, rule, kind, value in checks:
            if id(result) in rejected:
                continue
            own = self.customer_of(result.obj).pk  # a customer's own keys (or its contacts') are no clash
            others = sorted(pk for pk in holders.get((kind, value), []) if pk != own)
            message = None
            if others:
                message = rules._clash_message(field=rule.field, value=value, other_customer_id=others[0],
                                               user=ctx.acting_user)
            else:
                earlier = claimed.get((kind, value), ctx.pending_unique.get((kind, value)))
                if earlier is not None and earlier != result.row:
                    message = _("%(field)s %(value)s 与第 %(row)s 行重复") % {
                        "field": field_label(rule.field), "value": value, "row": earlier}
            if message is None:
                claimed.setdefault((kind, value), result.row)
                continue
            rejected.add(id(result))
            result.action = "rejected"
            result.problems = [(rule.field, rule.message or message)]
            result.obj = None
        for key, row in claimed.items():
            ctx.pending_unique.setdefault(key, row)

    # Writes ---------------------------------------------------------------------------------------------------

    def _write(self, ctx: CustomerContext, results: list[RowResult]) -> None:
        from kehu.customers.models import Customer, SearchToken

        now = timezone.now()
        created = [r for r in results if r.action in ("created", "flagged") and r.obj is not None]
        updated = [r for r in results if r.action == "updated" and r.obj is not None]
        for result in created:
            result.obj.updated_at = now
            if not getattr(result.obj, "_created_at_given", False):
                result.obj.created_at = now
        if created:
            fast_create(Customer, [r.obj for r in created])
        if updated:
            fields = {"version", "updated_at", "updated_by"}
            for result in updated:
                customer = result.obj
                changed = [name for name in _RESTORABLE if json_value(getattr(customer, name)) != result.before[name]]
                # The undo log keeps ID numbers encrypted (to_python opens them on undo).
                result.before = {name: crypto.seal(result.before[name]) if crypto.is_sensitive("customer", name)
                                 else result.before[name] for name in changed} | (
                    {"__tags__": result.before["__tags__"]} if "__tags__" in result.before else {})
                fields.update(changed)
                customer.version = customer.version + 1
                customer.updated_at = now
                customer.updated_by = ctx.acting_user
            Customer.objects.bulk_update([r.obj for r in updated], sorted(fields), batch_size=500)
        self._write_tags(ctx, created + [r for r in updated if r.tags is not None])
        fields, shown = _audit_fields(), {}
        audit_events(actor=ctx.acting_user, items=[
            ("create", r.obj, r.obj.pk, _created_changes(r.obj, fields, shown)
             + ([{"field": "tags", "old": [], "new": r.tags}] if r.tags else []))
            for r in created
        ] + [("update", r.obj, r.obj.pk, r.changes or []) for r in updated])
        if updated:
            ids = [r.obj.pk for r in updated]
            SearchToken.objects.filter(customer_id__in=ids, contact__isnull=True).delete()
            for result in updated:
                if "owner_id" in (result.before or {}):
                    SearchToken.objects.filter(customer_id=result.obj.pk, contact__isnull=False).update(
                        owner_id=result.obj.owner_id)
        insert_search_tokens([r.obj for r in created + updated])
        quality.customers_quality_refresh([r.obj for r in created + updated], settings=ctx.quality_settings,
                                          unique_rules=ctx.warning_unique_rules, now=now,
                                          fresh={r.obj.pk for r in created})

    def _write_tags(self, ctx: CustomerContext, results: list[RowResult]) -> None:
        from kehu.customers.models import Customer, Tag

        with_tags = [r for r in results if r.tags is not None]
        if not with_tags:
            return
        missing = {n for r in with_tags for n in r.tags or [] if n not in ctx.tags}
        if missing:
            Tag.objects.bulk_create([Tag(name=n) for n in sorted(missing)], ignore_conflicts=True)
            ctx.tags.update((t.name, t) for t in Tag.objects.filter(name__in=missing))
        through = Customer.tags.through
        replaced = [r.obj.pk for r in with_tags if r.action == "updated"]
        if replaced:
            through.objects.filter(customer_id__in=replaced).delete()
        through.objects.bulk_create(
            [through(customer_id=r.obj.pk, tag_id=ctx.tags[n].pk) for r in with_tags for n in r.tags or []],
            batch_size=1000, ignore_conflicts=True,
        )

    # Undo -------------------------------------------------------------------------------------------------

    def undo(self, *, acting_user: Any, logs: Sequence[Any]) -> None:
        from kehu.customers.models import Customer, SearchToken, Tag

        created_ids = [log.object_id for log in logs if log.action in ("created", "flagged")]
        updated = [log for log in logs if log.action == "updated"]
        items: list[tuple[str, Any, int | None, list[dict]]] = []
        for start in range(0, len(created_ids), 900):
            part = created_ids[start:start + 900]
            for customer in Customer.objects.filter(pk__in=part):
                items.append(("delete", customer, customer.pk, [{"field": "import_undo", "old": None, "new": None}]))
        audit_events(actor=acting_user, items=items)
        for start in range(0, len(created_ids), 900):
            Customer.objects.filter(pk__in=created_ids[start:start + 900]).delete()
        restored: list[Any] = []
        audit_items: list[tuple[str, Any, int | None, list[dict]]] = []
        now = timezone.now()
        field_of = {f.attname: f for f in Customer._meta.concrete_fields}
        for log in sorted(updated, key=lambda entry: -entry.row_number):  # latest change first
            customer = Customer.objects.filter(pk=log.object_id).first()
            if customer is None:
                continue
            before = dict(log.before or {})
            old_tags = before.pop("__tags__", None)
            changes = []
            for name, value in before.items():
                current = json_value(getattr(customer, name))
                restored_value = field_of[name].to_python(value) if value is not None else None
                setattr(customer, name, restored_value)
                changes.append({"field": name.removesuffix("_id"), "old": current, "new": value})
            if old_tags is not None:
                tags = [t for t in (Tag.objects.filter(name__in=old_tags))]
                changes.append({"field": "tags", "old": sorted(customer.tags.values_list("name", flat=True)),
                                "new": sorted(old_tags)})
                customer.tags.set(tags)
            customer.updated_at = now
            customer.updated_by = acting_user
            Customer.objects.filter(pk=customer.pk).update(
                version=F("version") + 1, updated_at=now, updated_by=acting_user,
                **{name: getattr(customer, name) for name in before},
            )
            customer.refresh_from_db()
            restored.append(customer)
            audit_items.append(("update", customer, customer.pk, changes))
        audit_events(actor=acting_user, items=audit_items)
        if restored:
            SearchToken.objects.filter(customer_id__in=[c.pk for c in restored], contact__isnull=True).delete()
            for customer in restored:
                SearchToken.objects.filter(customer_id=customer.pk, contact__isnull=False).update(
                    owner_id=customer.owner_id)
            insert_search_tokens(restored)
            quality.customers_quality_refresh(restored)

    def undo_blockers(self, logs: Sequence[Any]) -> list[tuple[int, str]]:
        """Created customers that gained contacts or notes since: deleting them would lose those."""
        from kehu.customers.models import Contact, Customer, Note

        created = [log.object_id for log in logs if log.action in ("created", "flagged")]
        blocked: set[int] = set()
        for start in range(0, len(created), 900):
            part = created[start:start + 900]
            blocked |= set(Contact.objects.filter(customer_id__in=part).values_list("customer_id", flat=True))
            blocked |= set(Note.objects.filter(customer_id__in=part).values_list("customer_id", flat=True))
        return sorted(Customer.objects.filter(pk__in=blocked).values_list("pk", "name"))

    def current_versions(self, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
        from kehu.customers.models import Customer

        out: dict[int, tuple[int, str]] = {}
        for start in range(0, len(ids), 900):
            for pk, version, name in Customer.objects.filter(pk__in=ids[start:start + 900]).values_list(
                    "pk", "version", "name"):
                out[pk] = (version, name)
        return out


def _created_changes(obj: Any, fields: Sequence[str], shown: dict[tuple[type, Any], str]) -> list[dict]:
    """`audit.diff_values({}, snapshot, fields)` of a new record, with each related record's text
    computed once per chunk (`shown`) instead of once per row."""
    changes = []
    for name in fields:
        value = getattr(obj, name)
        if value is None:
            continue  # None before and after: no change
        kind = type(value)
        if kind is str or kind is int or kind is bool:
            new = value
        elif isinstance(value, Model):
            key = (kind, value.pk)
            new = shown.get(key) if value.pk is not None else None
            if new is None:
                new = str(value)
                if value.pk is not None:
                    shown[key] = new
        else:
            new = audit.audit_value(value)
        if new is not None:
            changes.append({"field": name, "old": None, "new": new})
    return changes


def _audit_fields() -> list[str]:
    from kehu.customers.services import CUSTOMER_FIELDS

    return [*CUSTOMER_FIELDS, "external_id"]


def field_label(name: str) -> str:
    from kehu.dataquality.messages import field_label as label

    return label(name)


def match_label(key: str) -> str:
    return {"external_id": _("外部编号"), "mobile": _("手机/电话"), "email": _("邮箱"),
            "credit_code": _("统一社会信用代码")}.get(key, key)


register(CustomerImport())


# Contacts -------------------------------------------------------------------------------------------------------

_CONTACT_RESTORABLE = [
    "name", "name_pinyin", "name_initials", "salutation", "title", "decision_role_id", "mobile", "phone",
    "mobile_e164", "phone_e164", "email", "wechat", "birthday", "notes", "custom", "external_id",
]
_CONTACT_AUDIT = ["name", "salutation", "title", "decision_role", "mobile", "phone", "email", "wechat", "birthday",
                  "is_primary", "notes", "custom", "external_id"]


@dataclass
class ContactContext(CustomerContext):
    role_tables: Any = None
    # customer id -> Customer of the chunk (the owners of the chunk's contacts)
    customers: dict[int, Any] = field(default_factory=dict)


class ContactImport(CustomerImport):
    """Contacts, each linked to its customer by the customer's credit code, external id or name
    (normalised as the customer form stores it). Cleaning mirrors `_apply_contact_data`."""

    key = "contacts"
    object_type = "contact"

    @property
    def label(self) -> str:  # type: ignore[override]
        return _("联系人")

    def noun(self) -> str:
        return _("联系人")

    @staticmethod
    def customer_of(obj: Any) -> Any:
        return obj.customer

    def context(self, *, acting_user: Any, options: ImportOptions, dry_run: bool) -> ContactContext:
        from kehu.customers.models import CustomFieldDefinition

        base = super().context(acting_user=acting_user, options=options, dry_run=dry_run)
        active = rules.active_rules("contact")
        values = {name: getattr(base, name) for name in base.__dataclass_fields__}
        values.update(
            definitions=list(CustomFieldDefinition.objects.filter(target="contact", is_active=True)),
            check_rules=[r for r in active if r.rule_type != RuleType.UNIQUE],
            unique_error_rules=[r for r in active if r.rule_type == RuleType.UNIQUE
                                and r.severity == RuleSeverity.ERROR],
            role_tables=picklist_tables("contact_role"),
        )
        return ContactContext(**values)

    def apply(self, ctx: CustomerContext, contact: Any, data: Mapping[str, Any], *, creating: bool,
              row: int) -> list[FieldError]:
        from kehu.customers.pinyin import pinyin_forms
        from kehu.customers.validation import Collector, clean_custom_values, clean_date

        assert isinstance(ctx, ContactContext)
        errors = Collector()
        if "name" in data or creating:
            contact.name = _clean_text(data.get("name"), max_length=100)
            if not contact.name:
                errors.add("name", ErrorCode.REQUIRED, _("姓名为必填项"))
        for name in ("title", "wechat"):
            if name in data:
                setattr(contact, name, _clean_text(data[name], max_length=100))
        if "notes" in data:
            contact.notes = _clean_text(_joined(data["notes"]), max_length=20000)
        if "salutation" in data:
            contact.salutation = _clean_text(data["salutation"], max_length=20)
        if "external_id" in data:
            contact.external_id = _clean_text(data["external_id"], max_length=100)
        given = {name: _clean_text(data[name], max_length=254) for name in ("name", "mobile", "phone", "email")
                 if name in data}
        cleaned = clean_contact_fields(given)
        if data.get("salutation"):
            cleaned.values.pop("salutation", None)
        for name, value in cleaned.values.items():
            setattr(contact, name, value[:100] if name == "name" else value)
        if "birthday" in data:
            contact.birthday = clean_date(data["birthday"], "birthday", errors)
        if data.get("decision_role"):
            text = str(data["decision_role"]).strip()
            table, synonyms = ctx.role_tables
            match = match_picklist(text, table=table, synonyms=synonyms)
            option = ctx.option_by_id.get(match.option_id) if match.option_id else None
            if option is None:
                errors.add("decision_role", ErrorCode.UNKNOWN_CHOICE, _("未知的选项：%(value)s") % {"value": text})
            contact.decision_role = option
        custom = {k.removeprefix("custom."): v for k, v in data.items() if k.startswith("custom.")}
        if custom or creating:
            contact.custom = clean_custom_values(
                definitions=ctx.definitions, values=custom, existing=contact.custom, errors=errors,
                user_exists=lambda pk: pk in ctx.users_by_id,
            )
        customer = contact.customer
        outcome = rules.check_rules(
            target="contact", record=contact, customer_kind=customer.kind, stage_id=customer.stage_id,
            problems=cleaned.problems, customer_id=customer.pk, user=ctx.acting_user, rules=ctx.check_rules,
        )
        errors.errors.extend(outcome.errors)
        if not errors.errors:
            contact.name_pinyin, contact.name_initials = pinyin_forms(contact.name, is_person=True)
        return errors.errors

    @staticmethod
    def match_values(data: Mapping[str, Any]) -> dict[str, list[str]]:
        from kehu.dataquality.normalize.emails import normalize_email
        from kehu.dataquality.normalize.phones import normalize_phone

        out: dict[str, list[str]] = {}
        if data.get("external_id"):
            out["external_id"] = [_clean_text(data["external_id"], max_length=100)]
        phones = [normalize_phone(str(data[n]).strip()).e164 for n in ("mobile", "phone") if data.get(n)]
        if any(phones):
            out["mobile"] = [p for p in phones if p]
        if data.get("email"):
            email = normalize_email(str(data["email"]).strip())
            if email.valid:
                out["email"] = [email.value.lower()]
        return out

    @staticmethod
    def lookup_matches(wanted: Mapping[str, set[str]]) -> dict[tuple[str, str], set[int]]:
        from django.db.models import Q

        from kehu.customers.models import Contact

        hits: dict[tuple[str, str], set[int]] = {}
        for key, values in wanted.items():
            values_list = sorted(values)
            for start in range(0, len(values_list), 400):
                part = values_list[start:start + 400]
                if key == "external_id":
                    rows = [(v, pk) for v, pk in Contact.objects.filter(external_id__in=part)
                            .values_list("external_id", "pk")]
                elif key == "mobile":
                    rows = []
                    for mobile, phone, pk in Contact.objects.filter(
                            Q(mobile_e164__in=part) | Q(phone_e164__in=part)).values_list("mobile_e164", "phone_e164",
                                                                                          "pk"):
                        rows += [(v, pk) for v in (mobile, phone) if v in part]
                elif key == "email":
                    lowered = Contact.objects.filter(email__in=part).values_list("email", "pk")
                    rows = [(v.lower(), pk) for v, pk in lowered]
                else:
                    continue
                for value, pk in rows:
                    hits.setdefault((key, value), set()).add(pk)
        return hits

    def _link_customers(self, ctx: ContactContext, rows: Sequence[tuple[int, list[str], dict[str, Any]]]
                        ) -> list[tuple[Any, str | None]]:
        """The customer of each row (credit code, then external id, then normalised name), in the
        importer's scope; (None, reason) when none or several match."""
        from kehu.customers.models import Customer

        keys: list[tuple[str, str] | None] = []
        wanted: dict[str, set[str]] = {"credit_code": set(), "external_id": set(), "name": set()}
        for _row, _cells, data in rows:
            key = None
            if data.get("customer_credit_code"):
                code = normalize_credit_code(str(data["customer_credit_code"]))
                key = ("credit_code", code.value if code.valid else str(data["customer_credit_code"]).strip())
            elif data.get("customer_external_id"):
                key = ("external_id", _clean_text(data["customer_external_id"], max_length=100))
            elif data.get("customer_name"):
                raw = _clean_text(data["customer_name"], max_length=200)
                company = clean_customer_fields({"name": raw}, kind="company").values.get("name", raw)
                key = ("name", company)
                wanted["name"].add(raw)
            keys.append(key)
            if key is not None:
                wanted[key[0]].add(key[1])
        found: dict[tuple[str, str], list[Any]] = {}
        scoped = restrict(Customer.objects.all(), ctx.acting_user).select_related("owner")
        for field_name, values in wanted.items():
            values_list = sorted(values)
            for start in range(0, len(values_list), 900):
                for customer in scoped.filter(**{f"{field_name}__in": values_list[start:start + 900]}):
                    found.setdefault((field_name, getattr(customer, field_name)), []).append(customer)
        out: list[tuple[Any, str | None]] = []
        for key in keys:
            if key is None:
                out.append((None, _("需要所属客户：客户名称、统一社会信用代码或客户编号")))
                continue
            matches = found.get(key, [])
            if len(matches) == 1:
                ctx.customers[matches[0].pk] = matches[0]
                out.append((matches[0], None))
            elif matches:
                out.append((None, _("“%(value)s”对应多个客户，请改用统一社会信用代码或客户编号") % {"value": key[1]}))
            else:
                out.append((None, _("找不到所属客户“%(value)s”（或不在你的数据范围内）") % {"value": key[1]}))
        return out

    def run_chunk(self, ctx: CustomerContext, rows: Sequence[tuple[int, list[str], dict[str, Any]]]) -> ChunkResult:
        from kehu.customers.models import Contact

        assert isinstance(ctx, ContactContext)
        links = self._link_customers(ctx, rows)
        options = ctx.options
        keyed = [self.match_values(data) for _row, _cells, data in rows]
        wanted: dict[str, set[str]] = {key: set() for key in options.match_by}
        for values in keyed:
            for key in options.match_by:
                wanted[key].update(values.get(key, ()))
        hits = self.lookup_matches(wanted)
        matched_ids = sorted({pk for ids in hits.values() for pk in ids})
        locked: dict[int, Any] = {}
        queryset = restrict(Contact.objects.all(), ctx.acting_user).select_related("customer", "decision_role")
        if not ctx.dry_run:
            queryset = queryset.select_for_update(of=("self",))
        for start in range(0, len(matched_ids), 900):
            locked.update((c.pk, c) for c in queryset.filter(pk__in=matched_ids[start:start + 900]))
        customer_ids = {c.pk for c, _reason in links if c is not None}
        with_contacts = set(Contact.objects.filter(customer_id__in=customer_ids).values_list("customer_id", flat=True)
                            .distinct()) if customer_ids else set()
        results: list[RowResult] = []
        touched: set[int] = set()
        consumed = len(rows)
        for index, (row, cells, data) in enumerate(rows):
            target_id, target_row, decision, reason = self._decide(ctx, keyed[index], hits)
            if not ctx.dry_run and index > 0 and (target_row is not None or (target_id is not None
                                                                              and target_id in touched)):
                consumed = index
                break
            result = RowResult(row=row, action=decision, cells=cells)
            if reason:
                result.problems.append(reason)
            customer, link_problem = links[index]
            if decision in ("skipped", "rejected"):
                results.append(result)
                continue
            if decision == "updated" and target_id is not None and target_id not in locked:
                result.action = "rejected"
                result.problems = [("", _("匹配到的联系人不在你的数据范围内，不能更新"))]
                results.append(result)
                continue
            if target_id is not None:
                touched.add(target_id)
            if decision == "updated" and target_id is not None:
                contact = locked[target_id]
                before = {name: json_value(getattr(contact, name)) for name in _CONTACT_RESTORABLE}
                snapshot = {name: json_value(getattr(contact, name)) for name in _CONTACT_AUDIT}
                errors = self.apply(ctx, contact, data, creating=False, row=row)
                result.obj, result.before = contact, before
                result.changes = audit.diff_values(
                    snapshot, {name: json_value(getattr(contact, name)) for name in _CONTACT_AUDIT}, _CONTACT_AUDIT)
            else:
                if customer is None:
                    result.action = "rejected"
                    result.problems = [("customer", link_problem or "")]
                    results.append(result)
                    continue
                contact = Contact(customer=customer, created_by=ctx.acting_user, updated_by=ctx.acting_user)
                if customer.pk not in with_contacts:
                    contact.is_primary = True  # a customer's first contact is its primary one
                    with_contacts.add(customer.pk)
                errors = self.apply(ctx, contact, data, creating=True, row=row)
                result.obj = contact
            self._settle(ctx, result, errors, decision=decision, target_row=target_row, keys=keyed[index],
                         row=row)
            results.append(result)
        self._check_unique(ctx, results)
        if not ctx.dry_run:
            self._write(ctx, results)
        return ChunkResult(results=results, consumed=consumed)

    @staticmethod
    def _flag_likely_duplicate(ctx: CustomerContext, result: RowResult) -> None:
        """As for customers, for the person a contact row describes: flagged when the same person is
        already known under another customer (as the contact form warns), reasons masked alike."""
        from kehu.dataquality.contact_duplicates import likely_contact_duplicates
        from kehu.dataquality.duplicates import likely_duplicates

        contact = result.obj
        same_customer = likely_contact_duplicates(
            contact.customer_id, {"name": contact.name, "mobile": contact.mobile, "phone": contact.phone,
                                  "email": contact.email, "birthday": contact.birthday},
            exclude_id=contact.pk, limit=1)
        if same_customer:
            twin = same_customer[0]
            result.action = "flagged"
            message = _("这个联系人可能与本客户已有的联系人“%(name)s”（#%(id)s）是同一人：%(reasons)s")
            result.problems.append(("", message % {"name": twin.name, "id": twin.contact_id,
                                                   "reasons": twin.reasons}))
            return
        warnings = likely_duplicates(
            {"kind": "person", "name": contact.name, "phones": [contact.mobile, contact.phone],
             "emails": [contact.email]}, user=ctx.acting_user, exclude_id=contact.customer_id, limit=1)
        if not warnings:
            return
        first = warnings[0]
        who = f"#{first.customer_id} {first.name}" if first.visible else _("负责人 %(owner)s 的客户") % {
            "owner": first.owner_name}
        result.action = "flagged"
        result.problems.append(("", _("这个联系人可能已在其他客户下登记（%(who)s）：%(reasons)s") % {
            "who": who, "reasons": first.reasons}))

    def _write(self, ctx: CustomerContext, results: list[RowResult]) -> None:
        from kehu.customers.models import Contact, SearchToken

        now = timezone.now()
        created = [r for r in results if r.action in ("created", "flagged") and r.obj is not None]
        updated = [r for r in results if r.action == "updated" and r.obj is not None]
        for result in created:
            result.obj.created_at = result.obj.updated_at = now
        if created:
            Contact.objects.bulk_create([r.obj for r in created], batch_size=500)
        if updated:
            fields = {"version", "updated_at", "updated_by"}
            for result in updated:
                contact = result.obj
                changed = [n for n in _CONTACT_RESTORABLE if json_value(getattr(contact, n)) != result.before[n]]
                result.before = {n: result.before[n] for n in changed}
                fields.update(changed)
                contact.version += 1
                contact.updated_at = now
                contact.updated_by = ctx.acting_user
            Contact.objects.bulk_update([r.obj for r in updated], sorted(fields), batch_size=500)
            SearchToken.objects.filter(contact_id__in=[r.obj.pk for r in updated]).delete()
        audit_events(actor=ctx.acting_user, items=[
            ("create", r.obj, r.obj.customer_id, audit.diff_values(
                {}, {n: json_value(getattr(r.obj, n)) for n in _CONTACT_AUDIT}, _CONTACT_AUDIT))
            for r in created
        ] + [("update", r.obj, r.obj.customer_id, r.changes or []) for r in updated])
        contacts = [r.obj for r in created + updated]
        for contact in contacts:
            contact.owner_id_for_index = contact.customer.owner_id
        insert_search_tokens([], contacts)
        customers = {c.customer_id: c.customer for c in contacts}
        if customers:
            # As contact_create: the customer's quality (contacts count, their numbers) is refreshed.
            quality.customers_quality_refresh(list(customers.values()), settings=ctx.quality_settings,
                                              unique_rules=ctx.warning_unique_rules, now=now)
            contact_duplicates_refresh(list(customers))

    def undo(self, *, acting_user: Any, logs: Sequence[Any]) -> None:
        from kehu.customers.models import Contact, SearchToken

        field_of = {f.attname: f for f in Contact._meta.concrete_fields}
        created_ids = [log.object_id for log in logs if log.action in ("created", "flagged")]
        created = list(Contact.objects.filter(pk__in=created_ids).select_related("customer"))
        customers = {c.customer_id: c.customer for c in created}
        audit_events(actor=acting_user, items=[("delete", c, c.customer_id, []) for c in created])
        Contact.objects.filter(pk__in=[c.pk for c in created]).delete()
        restored = []
        now = timezone.now()
        for log in sorted((entry for entry in logs if entry.action == "updated"), key=lambda e: -e.row_number):
            contact = Contact.objects.filter(pk=log.object_id).select_related("customer").first()
            if contact is None:
                continue
            values = {n: field_of[n].to_python(v) if v is not None else None for n, v in (log.before or {}).items()}
            changes = [{"field": n.removesuffix("_id"), "old": json_value(getattr(contact, n)), "new": v}
                       for n, v in (log.before or {}).items()]
            Contact.objects.filter(pk=contact.pk).update(version=F("version") + 1, updated_at=now,
                                                         updated_by=acting_user, **values)
            contact.refresh_from_db()
            restored.append(contact)
            customers[contact.customer_id] = contact.customer
            audit_events(actor=acting_user, items=[("update", contact, contact.customer_id, changes)])
        if restored:
            SearchToken.objects.filter(contact_id__in=[c.pk for c in restored]).delete()
            for contact in restored:
                contact.owner_id_for_index = contact.customer.owner_id
            insert_search_tokens([], restored)
        if customers:
            quality.customers_quality_refresh([c for c in customers.values()])
            contact_duplicates_refresh(list(customers))

    def undo_blockers(self, logs: Sequence[Any]) -> list[tuple[int, str]]:
        return []

    def current_versions(self, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
        from kehu.customers.models import Contact

        out: dict[int, tuple[int, str]] = {}
        for start in range(0, len(ids), 900):
            for pk, version, name in Contact.objects.filter(pk__in=ids[start:start + 900]).values_list(
                    "pk", "version", "name"):
                out[pk] = (version, name)
        return out


register(ContactImport())



# Follow-up notes --------------------------------------------------------------------------------------------------


class NoteImport(ContactImport):
    """Follow-up notes with their original author and date, linked to their customer like contacts.
    Notes have no keys to match on: every valid row is a new note (insert only)."""

    key = "notes"
    object_type = "note"

    @property
    def label(self) -> str:  # type: ignore[override]
        return _("跟进记录")

    def noun(self) -> str:
        return _("跟进记录")

    def context(self, *, acting_user: Any, options: ImportOptions, dry_run: bool) -> ContactContext:
        from kehu.imports.mapping import OwnerResolver

        ctx = super().context(acting_user=acting_user, options=ImportOptions(owner_users=[]), dry_run=dry_run)
        # The author cell names a user; an empty one means the importer (as note_create).
        ctx.owners = OwnerResolver("column", users=list(ctx.users_by_id.values()), importer=acting_user,
                                   rotation=[acting_user] if acting_user is not None else [])
        ctx.check_rules, ctx.unique_error_rules = [], []
        return ctx

    def run_chunk(self, ctx: CustomerContext, rows: Sequence[tuple[int, list[str], dict[str, Any]]]) -> ChunkResult:
        from kehu.customers.models import Note
        from kehu.customers.validation import Collector

        assert isinstance(ctx, ContactContext)
        links = self._link_customers(ctx, rows)
        results: list[RowResult] = []
        for (row, cells, data), (customer, link_problem) in zip(rows, links, strict=True):
            result = RowResult(row=row, action="created", cells=cells)
            errors = Collector()
            body = _clean_text(_joined(data.get("body")), max_length=20000)
            if not body:
                errors.add("body", ErrorCode.REQUIRED, _("备注内容不能为空"))
            author, message = ctx.owners.resolve(str(data["author"]) if data.get("author") else None)
            if message:
                errors.add("author", ErrorCode.INVALID, message)
            moment = _parse_moment(data["created_at"], errors) if data.get("created_at") else None
            if customer is None:
                errors.errors.insert(0, FieldError("customer", ErrorCode.INVALID, link_problem or ""))
            if errors.errors:
                result.action = "rejected"
                result.problems = [(e.field, str(e.message)) for e in errors.errors]
            else:
                note = Note(customer=customer, body=body, author=author)
                note.imported_at = moment or timezone.now()
                result.obj = note
            results.append(result)
        if not ctx.dry_run:
            self._write(ctx, results)
        return ChunkResult(results=results, consumed=len(rows))

    def _write(self, ctx: CustomerContext, results: list[RowResult]) -> None:
        from kehu.customers.models import Customer, Note

        created = [r for r in results if r.action == "created" and r.obj is not None]
        if not created:
            return
        notes = Note.objects.bulk_create([r.obj for r in created], batch_size=500)
        # created_at is auto_now_add: the original date goes in after the insert.
        for note in notes:
            note.created_at = note.imported_at
        Note.objects.bulk_update(notes, ["created_at"], batch_size=500)
        latest: dict[int, Any] = {}
        for note in notes:
            if note.created_at > latest.get(note.customer_id, note.created_at - dt.timedelta(seconds=1)):
                latest[note.customer_id] = note.created_at
        current = dict(Customer.objects.filter(pk__in=list(latest)).values_list("pk", "last_activity_at"))
        for customer_id, moment in latest.items():
            if current.get(customer_id) is None or current[customer_id] < moment:
                Customer.objects.filter(pk=customer_id).update(last_activity_at=moment)

    def undo(self, *, acting_user: Any, logs: Sequence[Any]) -> None:
        from django.db.models import Max

        from kehu.customers.models import Customer, Note

        ids = [log.object_id for log in logs if log.action == "created"]
        customer_ids = set(Note.objects.filter(pk__in=ids).values_list("customer_id", flat=True))
        Note.objects.filter(pk__in=ids).delete()
        # The last follow-up is the newest note left (or the stored value when none is left).
        for customer_id, newest in Note.objects.filter(customer_id__in=customer_ids).values_list(
                "customer_id").annotate(newest=Max("created_at")):
            Customer.objects.filter(pk=customer_id).update(last_activity_at=newest)

    def undo_blockers(self, logs: Sequence[Any]) -> list[tuple[int, str]]:
        return []

    def current_versions(self, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
        from kehu.customers.models import Note

        # Notes are not edited after the fact: each still present counts as unchanged.
        return {pk: (None, body[:30]) for pk, body in Note.objects.filter(pk__in=list(ids)).values_list("pk", "body")}


register(NoteImport())
