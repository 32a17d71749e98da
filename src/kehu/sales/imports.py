"""Import kinds of the sales app for the import registry (`kehu.imports.engine`): products and
opportunities, so both can be loaded from CSV/XLSX with the same wizard, API, row log, error file
and undo as customers and contacts.

Unlike the customer kinds, which re-implement the service's cleaning with cached tables and write a
chunk with bulk inserts, these kinds write **row by row through the sales services**
(`services.product_save`, `services.opportunity_create`): every rule (amounts as people type them,
scope, owner permissions, required fields per stage, lost reasons, running totals, audit) is the
service's own, at the cost of speed (a few queries per row). That is deliberate: correctness over
speed for tables that are thousands of rows, not millions. Each row runs in a savepoint; a refused
row rolls back alone and is logged with its field and reason. A dry run does the same writes and
rolls each one back, so it reports exactly what a real run would.

Registered from `kehu.sales.registration.register()` via `register_import_kinds()`, which also adds
the kinds' target fields to `kehu.imports.mapping.TARGETS` (header suggestion and mapping checks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.errors import KehuError, ValidationFailed
from kehu.imports.engine import ChunkResult, ImportKind, ImportOptions, RowResult, json_value, register
from kehu.imports.mapping import TargetField

# Product fields an import may change and undo restores (attnames).
_PRODUCT_RESTORABLE = ["code", "name", "category_id", "unit", "list_price", "description", "is_active"]
_YES = {"1", "true", "yes", "y", "是", "在售", "启用", "有效", "on"}
_NO = {"0", "false", "no", "n", "否", "停售", "停用", "无效", "off"}


def _target(key: str, zh: str, en: str, kind: str = "text", *aliases: str, required: bool = False,
            second: tuple[str, ...] = ()) -> TargetField:
    return TargetField(key=key, label_zh=zh, label_en=en, kind=kind, required_for_insert=required, multi=False,
                       aliases=(zh, en, key, *aliases), second_aliases=second)


PRODUCT_TARGETS: list[TargetField] = [
    _target("code", "产品编号", "Product code", "text", "编号", "产品编码", "物料编号", "货号", "SKU", "Code",
            required=True),
    _target("name", "产品名称", "Product name", "text", "名称", "品名", "Name", required=True),
    _target("category", "产品分类", "Category", "text", "分类", "类别", "Product category"),
    _target("unit", "单位", "Unit", "text", "计量单位", "Unit of measure", "UOM"),
    _target("list_price", "标准价", "List price", "text", "价格", "单价", "标价", "售价", "Price", "Unit price"),
    _target("description", "说明", "Description", "text", "产品说明", "描述", "备注"),
    _target("is_active", "在售", "Active", "text", "是否在售", "状态", "Is active"),
]

OPPORTUNITY_TARGETS: list[TargetField] = [
    _target("name", "商机名称", "Opportunity name", "text", "商机", "机会名称", "项目名称", "Deal name",
            "Opportunity", "Name", required=True),
    # The customer link, as for contacts (same keys, so ContactImport's linking applies).
    _target("customer_name", "客户名称", "Customer name", "customer_link", "客户", "公司名称", "所属客户",
            "Company", "Account", "Account name", "Company name"),
    _target("customer_credit_code", "客户统一社会信用代码", "Customer credit code", "customer_link",
            "统一社会信用代码", "信用代码", "Credit code"),
    _target("customer_external_id", "客户外部编号", "Customer external ID", "customer_link", "客户编号",
            "Account ID", "Company ID", second=("客户ID", "Customer ID")),
    _target("amount", "金额", "Amount", "text", "商机金额", "预计金额", "合同金额", "Deal amount", "Value"),
    _target("stage", "阶段", "Stage", "text", "销售阶段", "商机阶段", "Deal stage"),
    _target("owner", "负责人", "Owner", "user", "销售", "跟进人", "Deal owner", "Sales rep"),
    _target("expected_close_date", "预计成交日期", "Expected close date", "date", "预计成交", "成交日期",
            "预计签约日期", "Close date"),
    _target("next_step", "下一步", "Next step", "text", "下一步计划", "Next steps"),
    _target("description", "说明", "Description", "text", "描述", "备注", "商机说明"),
    _target("lost_reason", "输单原因", "Lost reason", "text", "丢单原因", "Reason lost"),
    _target("external_id", "外部编号", "External ID", "text", "原系统编号", "商机编号", "Deal ID", "Record ID"),
]


def _date_text(value: Any) -> Any:
    """A spreadsheet date cell read as "2026-12-15 00:00:00" → "2026-12-15" (the service wants a date)."""
    text = str(value or "").strip()
    if len(text) > 10 and text[10] in " T" and text[:10].count("-") + text[:10].count("/") == 2:
        return text[:10]
    return text


def _problems(exc: KehuError) -> list[tuple[str, str]]:
    if isinstance(exc, ValidationFailed):
        return [(e.field, str(e.message)) for e in exc.errors]
    return [(exc.field or "", str(exc.message))]


class _DryRun(Exception):
    """Raised inside a row's savepoint in a dry run: the service ran, its writes are rolled back."""


def _write_row(ctx: Any, result: RowResult, write: Any) -> None:
    """Run `write()` (a service call) for one row in its own savepoint; a refusal rejects the row."""
    try:
        with transaction.atomic():
            obj = write()
            if ctx.dry_run:
                raise _DryRun
    except _DryRun:
        obj = None  # valid; nothing written
    except KehuError as exc:
        result.action = "rejected"
        result.problems = _problems(exc)
        return
    result.obj = obj


class _SalesImport(ImportKind):
    targets_list: list[TargetField] = []

    def targets(self) -> list[str]:
        return [t.key for t in self.targets_list]

    def extractor(self, mapping: Mapping[int, str]) -> Any:
        from kehu.imports.mapping import row_extractor

        return row_extractor(mapping, self.targets_list)

    def undo_blockers(self, logs: Sequence[Any]) -> list[tuple[int, str]]:
        return []


# Products ----------------------------------------------------------------------------------------


@dataclass
class ProductContext:
    acting_user: Any
    options: ImportOptions
    dry_run: bool
    categories: dict[str, int]  # name (casefolded) -> id


class ProductImport(_SalesImport):
    """Products by code. A code that exists already is updated in update/upsert mode (or with the
    "update" duplicate policy), skipped otherwise. The category is named and must exist (categories
    are settings: an import never invents one). Only admins may write products (per row, 403 → reason)."""

    key = "products"
    object_type = "product"
    targets_list = PRODUCT_TARGETS

    @property
    def label(self) -> str:  # type: ignore[override]
        return _("产品")

    def context(self, *, acting_user: Any, options: ImportOptions, dry_run: bool) -> ProductContext:
        from kehu.sales.models import ProductCategory

        categories = {c.name.strip().casefold(): c.pk for c in ProductCategory.objects.all()}
        return ProductContext(acting_user=acting_user, options=options, dry_run=dry_run, categories=categories)

    def run_chunk(self, ctx: ProductContext, rows: Sequence[tuple[int, list[str], dict[str, Any]]]) -> ChunkResult:
        from kehu.sales import services
        from kehu.sales.models import Product

        codes = {str(data.get("code") or "").strip() for _row, _cells, data in rows} - {""}
        existing = {p.code: p for p in Product.objects.filter(code__in=codes)}
        updating = ctx.options.mode in ("update", "upsert") or ctx.options.duplicates == "update"
        results: list[RowResult] = []
        consumed = len(rows)
        seen: set[str] = set()
        for index, (row, cells, data) in enumerate(rows):
            code = str(data.get("code") or "").strip()
            if not ctx.dry_run and index > 0 and code in seen:
                consumed = index  # an earlier row of this chunk wrote this code: decide after it commits
                break
            seen.add(code)
            result = RowResult(row=row, action="created", cells=cells)
            current = existing.get(code) if code else None
            if current is not None and not updating:
                result.action = "skipped"
                result.problems = [("code", _("已有相同产品（编号 %(code)s），已跳过") % {"code": code})]
                results.append(result)
                continue
            if current is None and ctx.options.mode == "update":
                result.action = "skipped"
                result.problems = [("code", _("没有编号为 %(code)s 的产品，已跳过") % {"code": code})]
                results.append(result)
                continue
            values = self._values(ctx, data, current)
            if isinstance(values, tuple):
                result.action, result.problems = "rejected", [values]
                results.append(result)
                continue
            if current is not None:
                result.action = "updated"
                result.before = {n: json_value(getattr(current, n)) for n in _PRODUCT_RESTORABLE}
                result.before["list_price"] = str(current.list_price)  # JSON: exact as a string
            _write_row(ctx, result, lambda values=values, current=current: services.product_save(
                acting_user=ctx.acting_user, data=values, product_id=current.pk if current else None))
            results.append(result)
        return ChunkResult(results=results, consumed=consumed)

    @staticmethod
    def _values(ctx: ProductContext, data: Mapping[str, Any], current: Any) -> dict[str, Any] | tuple[str, str]:
        """The service's data for a row (an update keeps the fields the row leaves out), or the
        (field, reason) that refuses it."""
        values: dict[str, Any] = {}
        if current is not None:
            values = {"code": current.code, "name": current.name, "category": current.category_id,
                      "unit": current.unit, "list_price": current.list_price, "description": current.description,
                      "is_active": current.is_active}
        for name in ("code", "name", "unit", "list_price", "description"):
            if name in data:
                values[name] = data[name]
        if data.get("category"):
            category = ctx.categories.get(str(data["category"]).strip().casefold())
            if category is None:
                return "category", _("未知的产品分类：%(value)s") % {"value": data["category"]}
            values["category"] = category
        if "is_active" in data:
            flag = str(data["is_active"]).strip().casefold()
            if flag not in _YES | _NO:
                return "is_active", _("无法识别的是/否：%(value)s") % {"value": data["is_active"]}
            values["is_active"] = flag in _YES
        return values

    def undo(self, *, acting_user: Any, logs: Sequence[Any]) -> None:
        from kehu.sales.models import Product

        created = [log.object_id for log in logs if log.action in ("created", "flagged")]
        Product.objects.filter(pk__in=created).delete()
        now = timezone.now()
        field_of = {f.attname: f for f in Product._meta.concrete_fields}
        for log in sorted((entry for entry in logs if entry.action == "updated"), key=lambda e: -e.row_number):
            values = {n: field_of[n].to_python(v) if v is not None else None for n, v in (log.before or {}).items()}
            Product.objects.filter(pk=log.object_id).update(version=F("version") + 1, updated_at=now,
                                                            updated_by=acting_user, **values)

    def undo_blockers(self, logs: Sequence[Any]) -> list[tuple[int, str]]:
        """Created products that deals use since: deleting them would break those deals' lines."""
        from kehu.sales.models import OpportunityLine, Product

        created = [log.object_id for log in logs if log.action in ("created", "flagged")]
        used = OpportunityLine.objects.filter(product_id__in=created).values("product_id")
        return sorted(Product.objects.filter(pk__in=used).values_list("pk", "code"))

    def current_versions(self, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
        from kehu.sales.models import Product

        return {pk: (version, code) for pk, version, code in Product.objects.filter(pk__in=list(ids)).values_list(
            "pk", "version", "code")}


# Opportunities -----------------------------------------------------------------------------------


@dataclass
class OpportunityContext:
    acting_user: Any
    options: ImportOptions
    dry_run: bool
    owners: Any  # kehu.imports.mapping.OwnerResolver
    stages: dict[str, int]  # default pipeline's stage names (zh/en, casefolded) -> id
    lost_reasons: dict[str, int]
    # The customers the rows link to (filled by ContactImport's linking, which this kind reuses).
    customers: dict[int, Any] = field(default_factory=dict)


class OpportunityImport(_SalesImport):
    """Opportunities, each linked to its customer exactly as contacts are (credit code, then
    external id, then the normalised company name, within the importer's scope). The stage is named
    (Chinese or English) in the default pipeline; empty means its first open stage. The owner is
    named by display name, username or e-mail (empty: the import's owner policy, the importer by
    default). Insert only: a row whose external id an existing deal has is skipped."""

    key = "opportunities"
    object_type = "opportunity"
    targets_list = OPPORTUNITY_TARGETS

    @property
    def label(self) -> str:  # type: ignore[override]
        return _("商机")

    def context(self, *, acting_user: Any, options: ImportOptions, dry_run: bool) -> OpportunityContext:
        from kehu.accounts.models import User
        from kehu.imports.mapping import OwnerResolver
        from kehu.sales.models import LostReason, Pipeline

        users = list(User.objects.filter(is_active=True))
        by_id = {u.pk: u for u in users}
        rotation = [by_id[pk] for pk in options.owner_users if pk in by_id]
        resolver = OwnerResolver(options.owner_policy, users=users, importer=acting_user,
                                 rotation=rotation or ([acting_user] if acting_user is not None else []))
        pipeline = Pipeline.objects.filter(is_active=True).order_by("-is_default", "position", "id").first()
        stages: dict[str, int] = {}
        if pipeline is not None:
            for stage in pipeline.stages.filter(is_active=True).order_by("-position"):  # the first wins a shared name
                for name in (stage.name_zh, stage.name_en):
                    if name:
                        stages[name.strip().casefold()] = stage.pk
        reasons: dict[str, int] = {}
        for reason in LostReason.objects.filter(is_active=True).order_by("-position", "-id"):
            for name in (reason.label_zh, reason.label_en):
                if name:
                    reasons[name.strip().casefold()] = reason.pk
        return OpportunityContext(acting_user=acting_user, options=options, dry_run=dry_run, owners=resolver,
                                  stages=stages, lost_reasons=reasons)

    def run_chunk(self, ctx: OpportunityContext, rows: Sequence[tuple[int, list[str], dict[str, Any]]]
                  ) -> ChunkResult:
        from kehu.imports.kinds import ContactImport
        from kehu.sales import services
        from kehu.sales.models import Opportunity

        # ContactImport's linking reads only `acting_user` and `customers` of the context.
        links = ContactImport()._link_customers(ctx, rows)  # type: ignore[arg-type]
        external = {str(data.get("external_id") or "").strip() for _row, _cells, data in rows} - {""}
        known = set(Opportunity.objects.filter(external_id__in=external).values_list("external_id", flat=True))
        results: list[RowResult] = []
        consumed = len(rows)
        seen: set[str] = set()
        for index, ((row, cells, data), (customer, link_problem)) in enumerate(zip(rows, links, strict=True)):
            external_id = str(data.get("external_id") or "").strip()
            if external_id and not ctx.dry_run and index > 0 and external_id in seen:
                consumed = index  # an earlier row of this chunk created this deal: decide after it commits
                break
            if external_id:
                seen.add(external_id)
            result = RowResult(row=row, action="created", cells=cells)
            if external_id in known:
                result.action = "skipped"
                result.problems = [("external_id", _("已有相同商机（外部编号 %(value)s），已跳过") % {
                    "value": external_id})]
                results.append(result)
                continue
            values, problems = self._values(ctx, data, customer, link_problem)
            if problems:
                result.action, result.problems = "rejected", problems
                results.append(result)
                continue
            _write_row(ctx, result, lambda values=values: services.opportunity_create(
                acting_user=ctx.acting_user, data=values))
            results.append(result)
        return ChunkResult(results=results, consumed=consumed)

    @staticmethod
    def _values(ctx: OpportunityContext, data: Mapping[str, Any], customer: Any, link_problem: str | None
                ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """The service's data for a row and the problems found before calling it (the names that
        resolve to nothing); the service finds the rest."""
        problems: list[tuple[str, str]] = []
        if customer is None:
            problems.append(("customer", link_problem or ""))
        values: dict[str, Any] = {"customer": customer.pk if customer is not None else None}
        for name in ("name", "amount", "next_step", "description", "external_id"):
            if name in data:
                values[name] = data[name]
        if data.get("expected_close_date"):
            values["expected_close_date"] = _date_text(data["expected_close_date"])
        if data.get("stage"):
            stage = ctx.stages.get(str(data["stage"]).strip().casefold())
            if stage is None:
                problems.append(("stage", _("默认销售流程中没有阶段“%(value)s”") % {"value": data["stage"]}))
            values["stage"] = stage
        if data.get("lost_reason"):
            reason = ctx.lost_reasons.get(str(data["lost_reason"]).strip().casefold())
            if reason is None:
                problems.append(("lost_reason", _("未知的输单原因：%(value)s") % {"value": data["lost_reason"]}))
            values["lost_reason"] = reason
        owner, message = ctx.owners.resolve(str(data["owner"]) if data.get("owner") else None)
        if message:
            problems.append(("owner", message))
        values["owner"] = owner.pk if owner is not None else None
        return values, problems

    def undo(self, *, acting_user: Any, logs: Sequence[Any]) -> None:
        """Delete the created deals through the service (running totals and audit stay right); as
        the importer when the undoing user may not see a deal."""
        from kehu.core.errors import NotFound
        from kehu.sales import services

        for log in logs:
            if log.action not in ("created", "flagged"):
                continue
            try:
                services.opportunity_delete(acting_user=acting_user, opportunity_id=log.object_id)
            except NotFound:
                services.opportunity_delete(acting_user=log.batch.created_by, opportunity_id=log.object_id)

    def current_versions(self, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
        from kehu.sales.models import Opportunity

        return {pk: (version, name) for pk, version, name in Opportunity.objects.filter(
            pk__in=list(ids)).values_list("pk", "version", "name")}


def register_import_kinds() -> None:
    """Called from `kehu.sales.registration.register()` (SalesConfig.ready)."""
    from kehu.imports import mapping

    mapping.TARGETS.setdefault(ProductImport.key, list(PRODUCT_TARGETS))
    mapping.TARGETS.setdefault(OpportunityImport.key, list(OPPORTUNITY_TARGETS))
    register(ProductImport())
    register(OpportunityImport())
