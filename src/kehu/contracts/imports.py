"""Import kinds of the contracts app for the import registry (`kehu.imports.engine`): contracts and
payments received, so both load from CSV/XLSX with the same wizard, API, `kehu import --kind`, row
log, error file and undo as the other kinds, and the files of `kehu.contracts.exports` go back in
as they are (their headers are aliases of the targets below).

As the sales kinds do, rows are written **one by one through the contract services**
(`services.contract_create`: validation, the number rule for a row without a number, scope, owner
permission, audit, the customer's lifecycle; `services.payment_record`: the remaining amount,
matching to the payment plan, running totals, audit). Each row runs in a savepoint: a refused row
rolls back alone and is logged with its field and reason. A dry run writes the chunk's rows the
same way and rolls the whole chunk back at its end, so later rows see earlier ones (a second
payment on a contract, a number used twice) exactly as a real run would.

Customers are found like a contact's or a deal's (`ContactImport._link_customers`: credit code,
external id, normalised name, within the importer's scope), or by Kehu's customer id (the export's
`客户ID`), also within scope. Contracts for payments are found by number within scope.

Registered from `kehu.contracts.registration.register()` via `register_import_kinds()`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kehu.core.errors import KehuError, NotFound, ValidationFailed
from kehu.imports.engine import ChunkResult, ImportKind, ImportOptions, RowResult, register
from kehu.imports.mapping import TargetField

Rows = Sequence[tuple[int, list[str], dict[str, Any]]]


def _target(key: str, zh: str, en: str, kind: str = "text", *aliases: str, required: bool = False) -> TargetField:
    return TargetField(key=key, label_zh=zh, label_en=en, kind=kind, required_for_insert=required, multi=False,
                       aliases=(zh, en, key, *aliases), second_aliases=())


CONTRACT_TARGETS: list[TargetField] = [
    _target("number", "合同编号", "Contract number", "text", "合同号", "编号", "Contract No", "Number"),
    _target("title", "合同名称", "Contract title", "text", "合同标题", "名称", "Title", "Contract name",
            required=True),
    _target("customer_id", "客户ID", "Customer ID", "customer_link"),
    _target("customer_name", "客户名称", "Customer name", "customer_link", "客户", "公司名称", "所属客户",
            "Company", "Account", "Account name", "Company name"),
    _target("customer_credit_code", "客户统一社会信用代码", "Customer credit code", "customer_link",
            "统一社会信用代码", "信用代码", "Credit code"),
    _target("customer_external_id", "客户外部编号", "Customer external ID", "customer_link", "客户编号",
            "Account ID", "Company ID"),
    _target("opportunity", "商机名称", "Opportunity", "text", "商机", "Opportunity name", "Deal"),
    _target("amount", "合同金额", "Contract amount", "text", "金额", "Amount", "Value", required=True),
    _target("currency", "币种", "Currency", "text", "货币"),
    _target("signed_on", "签约日期", "Signed on", "date", "签订日期", "Signed date", "Signing date"),
    _target("starts_on", "开始日期", "Starts on", "date", "生效日期", "起始日期", "Start date"),
    _target("ends_on", "结束日期", "Ends on", "date", "到期日期", "终止日期", "End date"),
    _target("status", "合同状态", "Contract status", "text", "状态", "Status"),
    _target("owner", "负责人", "Owner", "user", "销售", "合同负责人", "Sales rep"),
    _target("notes", "备注", "Notes", "text", "说明", "Remarks", "Comments"),
]

PAYMENT_TARGETS: list[TargetField] = [
    _target("contract_number", "合同编号", "Contract number", "text", "合同号", "Contract No", "Contract",
            required=True),
    _target("received_on", "回款日期", "Received on", "date", "收款日期", "到账日期", "Date received", "Date",
            required=True),
    _target("amount", "回款金额", "Amount", "text", "收款金额", "到账金额", "金额", "Payment amount",
            required=True),
    _target("method", "回款方式", "Method", "text", "收款方式", "付款方式", "Payment method"),
    _target("reference", "流水号/备注", "Reference", "text", "流水号", "备注", "交易流水号", "Notes",
            "Transaction ID"),
    _target("plan_sequence", "对应期次", "Instalment", "text", "期次", "回款期次", "Installment"),
]


def _choices(model_choices: Any) -> dict[str, str]:
    """A choice by its value or its label in Chinese or English (casefolded) -> value."""
    from kehu.contracts.exports import _METHOD_LABELS, _STATUS_LABELS

    labels = {**_STATUS_LABELS, **_METHOD_LABELS}
    out: dict[str, str] = {}
    for value in model_choices.values:
        for name in (value, str(dict(model_choices.choices)[value]), *labels.get(value, ())):
            out[str(name).strip().casefold()] = value
    return out


def _text(data: Mapping[str, Any], name: str) -> str:
    return str(data.get(name) or "").strip()


def _problems(exc: KehuError) -> list[tuple[str, str]]:
    if isinstance(exc, ValidationFailed):
        return [(e.field, str(e.message)) for e in exc.errors]
    return [(exc.field or "", str(exc.message))]


class _RollBack(Exception):
    """Raised at the end of a dry run's chunk: its rows ran, their writes go."""


def _run(ctx: Any, rows: Rows, decide: Callable[[int, list[str], dict[str, Any]], RowResult | Callable[[], Any]]
         ) -> ChunkResult:
    """Each row: `decide` returns a refused/skipped RowResult, or the service call writing it, run
    in the row's savepoint (a refusal rejects the row alone). A dry run rolls the chunk back."""
    results: list[RowResult] = []

    def go() -> None:
        for row, cells, data in rows:
            decision = decide(row, cells, data)
            if isinstance(decision, RowResult):
                results.append(decision)
                continue
            result = RowResult(row=row, action="created", cells=cells)
            try:
                with transaction.atomic():
                    result.obj = decision()
            except KehuError as exc:
                result.action, result.problems = "rejected", _problems(exc)
            results.append(result)

    if ctx.dry_run:
        try:
            with transaction.atomic():
                go()
                raise _RollBack
        except _RollBack:
            for result in results:
                result.obj = None
    else:
        go()
    return ChunkResult(results=results, consumed=len(rows))


def _refused(row: int, cells: list[str], problems: list[tuple[str, str]]) -> RowResult:
    return RowResult(row=row, action="rejected", cells=cells, problems=problems)


class _ContractsKind(ImportKind):
    targets_list: list[TargetField] = []

    def targets(self) -> list[str]:
        return [t.key for t in self.targets_list]

    def extractor(self, mapping: Mapping[int, str]) -> Any:
        from kehu.imports.mapping import row_extractor

        return row_extractor(mapping, self.targets_list)


# Contracts ---------------------------------------------------------------------------------------


@dataclass
class ContractContext:
    acting_user: Any
    options: ImportOptions
    dry_run: bool
    owners: Any  # kehu.imports.mapping.OwnerResolver
    statuses: dict[str, str]
    # The customers the rows link to (filled by ContactImport's linking, which this kind reuses).
    customers: dict[int, Any] = field(default_factory=dict)


class ContractImport(_ContractsKind):
    """Contracts. A row names its customer by Kehu's customer id, credit code, external id or name
    (within the importer's scope); its deal by name among that customer's deals; its owner by
    display name, username or e-mail (empty: the import's owner policy); its status by value or
    label (empty: draft). Without a number the rule numbers it. A number that exists is a row error.
    Insert only."""

    key = "contracts"
    object_type = "contract"
    targets_list = CONTRACT_TARGETS

    @property
    def label(self) -> str:  # type: ignore[override]
        return _("合同")

    def context(self, *, acting_user: Any, options: ImportOptions, dry_run: bool) -> ContractContext:
        from kehu.accounts.models import User
        from kehu.contracts.models import ContractStatus
        from kehu.imports.mapping import OwnerResolver

        users = list(User.objects.filter(is_active=True))
        by_id = {u.pk: u for u in users}
        rotation = [by_id[pk] for pk in options.owner_users if pk in by_id]
        resolver = OwnerResolver(options.owner_policy, users=users, importer=acting_user,
                                 rotation=rotation or ([acting_user] if acting_user is not None else []))
        return ContractContext(acting_user=acting_user, options=options, dry_run=dry_run, owners=resolver,
                               statuses=_choices(ContractStatus))

    def run_chunk(self, ctx: ContractContext, rows: Rows) -> ChunkResult:
        from kehu.contracts import services
        from kehu.core.scoping import restrict
        from kehu.customers.models import Customer
        from kehu.imports.kinds import ContactImport

        # ContactImport's linking reads only `acting_user` and `customers` of the context.
        linked = ContactImport()._link_customers(ctx, rows)  # type: ignore[arg-type]
        links = dict(zip((row for row, _c, _d in rows), linked, strict=True))
        ids = {int(_text(d, "customer_id")) for _r, _c, d in rows if _text(d, "customer_id").isdigit()}
        by_id = {c.pk: c for c in restrict(Customer.objects.filter(pk__in=ids), ctx.acting_user)} if ids else {}

        def decide(row: int, cells: list[str], data: dict[str, Any]) -> RowResult | Callable[[], Any]:
            customer, problem = self._customer(data, links[row], by_id)
            problems: list[tuple[str, str]] = []
            if customer is None:
                problems.append(problem)
            values, more = self._values(ctx, data, customer)
            problems += more
            if problems:
                return _refused(row, cells, problems)
            return lambda: services.contract_create(acting_user=ctx.acting_user, data=values)

        return _run(ctx, rows, decide)

    @staticmethod
    def _customer(data: Mapping[str, Any], link: tuple[Any, str | None], by_id: dict[int, Any]
                  ) -> tuple[Any, tuple[str, str]]:
        raw = _text(data, "customer_id")
        if not raw:
            return link[0], ("customer", link[1] or "")
        customer = by_id.get(int(raw)) if raw.isdigit() else None
        if customer is None:
            return None, ("customer_id", _("找不到客户 ID %(value)s（或不在你的数据范围内）") % {"value": raw})
        name = _text(data, "customer_name")
        if name and name != customer.name.strip():  # another system's id that happens to be one of ours
            return None, ("customer_id", _("客户 ID %(value)s 是“%(found)s”，与客户名称“%(name)s”不符")
                          % {"value": raw, "found": customer.name, "name": name})
        return customer, ("", "")

    @staticmethod
    def _values(ctx: ContractContext, data: Mapping[str, Any], customer: Any
                ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """The service's data for a row and the problems found before calling it (names that resolve
        to nothing); the service finds the rest."""
        from kehu.core.scoping import restrict
        from kehu.sales.imports import _date_text
        from kehu.sales.models import Opportunity

        problems: list[tuple[str, str]] = []
        values: dict[str, Any] = {"customer": customer.pk if customer is not None else None}
        for name in ("number", "title", "amount", "currency", "notes"):
            if name in data:
                values[name] = data[name]
        for name in ("signed_on", "starts_on", "ends_on"):
            if data.get(name):
                values[name] = _date_text(data[name])
        status = _text(data, "status")
        if status:
            values["status"] = ctx.statuses.get(status.casefold())
            if values["status"] is None:
                problems.append(("status", _("未知的合同状态：%(value)s") % {"value": status}))
        deal = _text(data, "opportunity")
        if deal and customer is not None:
            found = list(restrict(Opportunity.objects.filter(customer_id=customer.pk, name=deal), ctx.acting_user)
                         .values_list("pk", flat=True)[:2])
            if not found and deal.isdigit():
                found = [int(deal)]  # an id: the service checks it is this customer's and in scope
            if len(found) == 1:
                values["opportunity"] = found[0]
            else:
                problems.append(("opportunity", (_("客户“%(customer)s”有多个名为“%(value)s”的商机") if found else
                                                 _("客户“%(customer)s”没有名为“%(value)s”的商机（或无权查看）"))
                                 % {"customer": customer.name, "value": deal}))
        owner, message = ctx.owners.resolve(_text(data, "owner") or None)
        if message:
            problems.append(("owner", message))
        values["owner"] = owner.pk if owner is not None else None
        return values, problems

    def undo(self, *, acting_user: Any, logs: Sequence[Any]) -> None:
        """Delete the created contracts through the service, which deletes drafts only: one the
        import created in force is set back to draft first (both audited). As the importer when the
        undoing user may not see a contract."""
        from kehu.contracts import services
        from kehu.contracts.models import Contract, ContractStatus

        for log in logs:
            if log.action not in ("created", "flagged"):
                continue
            status = Contract.objects.filter(pk=log.object_id).values_list("status", flat=True).first()
            for user in (acting_user, log.batch.created_by):
                try:
                    if status != ContractStatus.DRAFT:
                        services.contract_set_status(acting_user=user, contract_id=log.object_id,
                                                     status=ContractStatus.DRAFT)
                    services.contract_delete(acting_user=user, contract_id=log.object_id)
                    break
                except NotFound:
                    if user is log.batch.created_by:
                        raise

    def undo_blockers(self, logs: Sequence[Any]) -> list[tuple[int, str]]:
        """Created contracts that got payments, a payment plan or attachments since."""
        from django.db.models import Q

        from kehu.contracts.models import Contract

        created = [log.object_id for log in logs if log.action in ("created", "flagged")]
        used = Q(payments__isnull=False) | Q(plan_items__isnull=False) | Q(attachments__isnull=False)
        return sorted(set(Contract.objects.filter(used, pk__in=created).values_list("pk", "number")))

    def current_versions(self, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
        from kehu.contracts.models import Contract

        return {pk: (version, number) for pk, version, number in Contract.objects.filter(
            pk__in=list(ids)).values_list("pk", "version", "number")}


# Payments ----------------------------------------------------------------------------------------


@dataclass
class PaymentContext:
    acting_user: Any
    options: ImportOptions
    dry_run: bool
    methods: dict[str, str]


class PaymentImport(_ContractsKind):
    """Payments received. A row names its contract by number (within the importer's scope) and may
    name the instalment it pays (`对应期次`, the plan's sequence); the service matches the money to
    the plan. Each valid row is a new payment (there is nothing to match payments on)."""

    key = "payments"
    object_type = "payment"
    targets_list = PAYMENT_TARGETS

    @property
    def label(self) -> str:  # type: ignore[override]
        return _("回款")

    def context(self, *, acting_user: Any, options: ImportOptions, dry_run: bool) -> PaymentContext:
        from kehu.contracts.models import PaymentMethod

        return PaymentContext(acting_user=acting_user, options=options, dry_run=dry_run,
                              methods=_choices(PaymentMethod))

    def run_chunk(self, ctx: PaymentContext, rows: Rows) -> ChunkResult:
        from kehu.contracts import services
        from kehu.contracts.models import Contract, PaymentPlanItem
        from kehu.core.scoping import restrict
        from kehu.sales.imports import _date_text

        numbers = {_text(d, "contract_number") for _r, _c, d in rows} - {""}
        contracts = dict(restrict(Contract.objects.filter(number__in=numbers), ctx.acting_user)
                         .values_list("number", "pk")) if numbers else {}
        plan = {(c, s): pk for pk, c, s in PaymentPlanItem.objects.filter(
            contract_id__in=contracts.values()).values_list("pk", "contract_id", "sequence")}

        def decide(row: int, cells: list[str], data: dict[str, Any]) -> RowResult | Callable[[], Any]:
            problems: list[tuple[str, str]] = []
            number = _text(data, "contract_number")
            contract_id = contracts.get(number)
            if not number:
                problems.append(("contract_number", _("请填写合同编号")))
            elif contract_id is None:
                problems.append(("contract_number", _("找不到合同“%(value)s”（或不在你的数据范围内）")
                                 % {"value": number}))
            method = _text(data, "method")
            method_value = ctx.methods.get(method.casefold()) if method else None
            if method and method_value is None:
                problems.append(("method", _("未知的回款方式：%(value)s") % {"value": method}))
            sequence = _text(data, "plan_sequence")
            item = None
            if sequence and contract_id is not None:
                item = plan.get((contract_id, int(sequence))) if sequence.isdigit() else None
                if item is None:
                    problems.append(("plan_sequence", _("合同“%(number)s”没有第 %(value)s 期回款计划")
                                     % {"number": number, "value": sequence}))
            if problems:
                return _refused(row, cells, problems)
            return lambda: services.payment_record(
                acting_user=ctx.acting_user, contract_id=contract_id, received_on=_date_text(data.get("received_on")),
                amount=data.get("amount"), method=method_value or "bank", reference=_text(data, "reference"),
                plan_item=item)

        return _run(ctx, rows, decide)

    def undo(self, *, acting_user: Any, logs: Sequence[Any]) -> None:
        """Delete the created payments through the service (the plan is matched again, the totals
        follow); as the importer when the undoing user may not see the contract."""
        from kehu.contracts import services
        from kehu.contracts.models import Payment

        created = [log for log in logs if log.action in ("created", "flagged")]
        contract_of = dict(Payment.objects.filter(pk__in=[log.object_id for log in created]).values_list(
            "pk", "contract_id"))
        for log in created:
            if log.object_id not in contract_of:
                continue
            try:
                services.payment_delete(acting_user=acting_user, contract_id=contract_of[log.object_id],
                                        payment_id=log.object_id)
            except NotFound:
                services.payment_delete(acting_user=log.batch.created_by, contract_id=contract_of[log.object_id],
                                        payment_id=log.object_id)

    def undo_blockers(self, logs: Sequence[Any]) -> list[tuple[int, str]]:
        return []

    def current_versions(self, ids: Sequence[int]) -> dict[int, tuple[Any, str]]:
        """Payments have no version (they are never edited, only deleted): what the log holds (None)."""
        from kehu.contracts.models import Payment

        return {pk: (None, f"{number} {received_on} {amount}") for pk, number, received_on, amount in
                Payment.objects.filter(pk__in=list(ids)).values_list("pk", "contract__number", "received_on",
                                                                     "amount")}


def register_import_kinds() -> None:
    """Called from `kehu.contracts.registration.register()` (ContractsConfig.ready)."""
    from kehu.imports import mapping

    mapping.TARGETS.setdefault(ContractImport.key, list(CONTRACT_TARGETS))
    mapping.TARGETS.setdefault(PaymentImport.key, list(PAYMENT_TARGETS))
    register(ContractImport())
    register(PaymentImport())
