"""The "contracts" and "payments" import kinds: the export files go back in as they are (CSV and
XLSX, headers recognised, Chinese and English), refused rows name their row and field and take
nothing else with them, a dry run writes nothing, the importer's scope holds, and undo."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kehu.contracts import services
from kehu.contracts.models import Contract, ContractNumberCounter, Payment, PaymentAllocation
from kehu.core import exporting
from kehu.core.errors import PermissionDenied
from kehu.customers.services import customer_create
from kehu.imports import services as import_services
from kehu.imports.mapping import suggest_mapping, targets_for
from kehu.imports.models import ImportBatch, ImportRowLog
from kehu.sales import services as sales_services
from tests.factories import DepartmentFactory, ManagerFactory, UserFactory
from tests.imports.helpers import credit_code, error_rows, write_csv

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    return settings.DATA_DIR


@pytest.fixture
def team(db):  # type: ignore[no-untyped-def]
    department = DepartmentFactory(name="华北")
    manager = ManagerFactory(department=department, username="boss", display_name="老板")
    rep = UserFactory(department=department, username="zhang", display_name="张三")
    outsider = UserFactory(username="li", display_name="李四")
    return manager, rep, outsider


@pytest.fixture
def book(team):  # type: ignore[no-untyped-def]
    """Two customers of the department with contracts (one with a deal, a plan and payments) and
    one customer outside it."""
    manager, rep, outsider = team
    fenyang = customer_create(acting_user=manager, data={"name": "北京分扬科技有限公司", "credit_code": credit_code(1)})
    jiayi = customer_create(acting_user=manager, data={"name": "上海甲乙有限公司", "external_id": "C-2"})
    other = customer_create(acting_user=outsider, data={"name": "别人的客户有限公司"})
    deal = sales_services.opportunity_create(acting_user=manager, data={
        "name": "年度采购", "customer": fenyang.pk, "amount": "12800.50", "owner": rep.pk})
    first = services.contract_create(acting_user=manager, data={
        "number": "HT-001", "title": "年度服务合同", "customer": fenyang.pk, "opportunity": deal.pk,
        "owner": rep.pk, "amount": "12800.50", "currency": "CNY", "signed_on": "2026-01-05",
        "starts_on": "2026-02-01", "ends_on": "2027-01-31", "status": "active", "notes": "=含公式样子的备注"})
    services.contract_create(acting_user=manager, data={
        "number": "HT-002", "title": "@实施合同", "customer": jiayi.pk, "amount": "5000", "currency": "USD",
        "status": "draft", "owner": manager.pk})
    services.contract_create(acting_user=outsider, data={
        "number": "HT-X", "title": "外人的合同", "customer": other.pk, "amount": "1"})
    services.plan_set(acting_user=manager, contract_id=first.pk, items=[
        {"due_date": "2026-03-01", "amount": "6000"}, {"due_date": "2026-06-01", "amount": "6800.50"}])
    services.payment_record(acting_user=manager, contract_id=first.pk, received_on="2026-03-02", amount="6000",
                            method="wechat", reference="+流水 001")
    services.payment_record(acting_user=manager, contract_id=first.pk, received_on="2026-05-20", amount="800.25",
                            method="bank", reference="", plan_item=first.plan_items.get(sequence=2).pk)
    return team


def run_import(user: Any, path: Path, kind: str, *, dry_run: bool = False) -> ImportBatch:
    stored = import_services.store_upload(path, original_name=path.name)
    batch = import_services.import_batch_create(acting_user=user, kind=kind, path=stored, original_name=path.name,
                                                dry_run=dry_run)
    return import_services.import_run(batch)


def problems(batch: ImportBatch) -> dict[int, list[list[str]]]:
    return dict(ImportRowLog.objects.filter(batch=batch, action="rejected").values_list("row_number", "problems"))


def contracts() -> list[tuple]:
    return sorted(Contract.objects.exclude(number="HT-X").values_list(
        "number", "title", "customer__name", "opportunity__name", "owner__username", "department__name", "amount",
        "currency", "signed_on", "starts_on", "ends_on", "status", "notes"))


def payments() -> list[tuple]:
    return sorted(Payment.objects.values_list("contract__number", "received_on", "amount", "method", "reference",
                                              "plan_item__sequence"))


def allocations() -> list[tuple]:
    return sorted(PaymentAllocation.objects.values_list("payment__received_on", "plan_item__sequence", "amount"))


def delete_payments(user: Any) -> None:
    for payment in Payment.objects.all():
        services.payment_delete(acting_user=user, contract_id=payment.contract_id, payment_id=payment.pk)


def test_the_export_headers_are_what_the_importers_recognise() -> None:
    expected = {
        "contracts": {"number", "title", "customer_id", "customer_name", "customer_credit_code", "opportunity",
                      "owner", "amount", "currency", "signed_on", "starts_on", "ends_on", "status", "notes"},
        "payments": {"contract_number", "received_on", "amount", "method", "reference", "plan_sequence"},
    }
    columns = {"contracts": {"customer_name": "customer"}, "payments": {}}
    for key, wanted in expected.items():
        kind = exporting.export_kind(key)
        for english in (False, True):
            headers = kind.headers(kind.column_keys(), english)
            mapping = suggest_mapping(key, headers, targets=targets_for(key))
            column_of = {t: kind.column_keys().index(columns[key].get(t, t)) for t in wanted}
            assert {headers[c]: t for c, t in mapping.items()} == {headers[c]: t for t, c in column_of.items()}, (
                key, english)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_contracts_export_then_import_gives_the_same_contracts(book, tmp_path, fmt) -> None:
    manager = book[0]
    before = contracts()
    assert len(before) == 2
    path = tmp_path / f"contracts.{fmt}"
    assert exporting.export_to_file("contracts", user=manager, path=str(path)) == 2
    delete_payments(manager)
    Contract.objects.exclude(number="HT-X").delete()
    assert contracts() == []

    batch = run_import(manager, path, "contracts")
    assert (batch.created, batch.rejected, batch.skipped) == (2, 0, 0), problems(batch)
    assert contracts() == before


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_payments_export_then_import_gives_the_same_payments_and_plan_matching(book, tmp_path, fmt) -> None:
    manager = book[0]
    before, matched = payments(), allocations()
    assert len(before) == 2 and matched[1][1:] == (2, Decimal("800.25"))  # the instalment it named
    path = tmp_path / f"payments.{fmt}"
    assert exporting.export_to_file("payments", user=manager, path=str(path)) == 2
    delete_payments(manager)
    assert Contract.objects.get(number="HT-001").received_amount == 0

    batch = run_import(manager, path, "payments")
    assert (batch.created, batch.rejected) == (2, 0), problems(batch)
    assert payments() == before
    assert allocations() == matched
    assert Contract.objects.get(number="HT-001").received_amount == Decimal("6800.25")


def test_english_export_goes_back_in_too(book, tmp_path) -> None:
    manager = book[0]
    before, paid = contracts(), payments()
    contracts_file, payments_file = tmp_path / "c.csv", tmp_path / "p.csv"
    exporting.export_to_file("contracts", user=manager, path=str(contracts_file), language="en")
    exporting.export_to_file("payments", user=manager, path=str(payments_file), language="en")
    delete_payments(manager)
    Contract.objects.exclude(number="HT-X").delete()
    assert run_import(manager, contracts_file, "contracts").created == 2
    assert contracts() == before
    services.plan_set(acting_user=manager, contract_id=Contract.objects.get(number="HT-001").pk, items=[
        {"due_date": "2026-03-01", "amount": "6000"}, {"due_date": "2026-06-01", "amount": "6800.50"}])
    assert run_import(manager, payments_file, "payments").created == 2
    assert payments() == paid


def test_bad_rows_name_row_and_field_and_the_good_rows_go_in(book, tmp_path) -> None:
    manager, rep, _outsider = book
    path = write_csv(tmp_path / "c.csv", [
        ["合同编号", "合同名称", "客户名称", "合同金额", "签约日期", "合同状态", "负责人", "商机名称"],
        ["", "新合同甲", "北京分扬科技有限公司", "1.5万", "2026-11-01", "执行中", "张三", "年度采购"],  # 2: numbered
        ["HT-001", "重号", "北京分扬科技有限公司", "100", "", "", "", ""],  # 3: number exists
        ["HT-010", "坏金额", "上海甲乙有限公司", "十块", "", "", "", ""],  # 4
        ["HT-011", "没客户", "不存在的公司", "100", "", "", "", ""],  # 5
        ["HT-012", "坏日期", "上海甲乙有限公司", "100", "2026-13-45", "", "", ""],  # 6
        ["HT-013", "坏状态", "上海甲乙有限公司", "100", "", "作废", "", ""],  # 7
        ["HT-014", "", "上海甲乙有限公司", "100", "", "", "没这个人", ""],  # 8: unknown owner (checked first)
        ["HT-015", "别人的商机", "上海甲乙有限公司", "100", "", "", "", "年度采购"],  # 9
        ["HT-016", "新合同乙", "C-2", "200", "", "draft", "", ""],  # 10: name column, no such name
        ["HT-016", "新合同乙", "上海甲乙有限公司", "200", "", "draft", "", ""],  # 11
        ["HT-016", "同号第二行", "上海甲乙有限公司", "300", "", "", "", ""],  # 12: number of row 11
    ])
    count_before = Contract.objects.count()
    batch = run_import(manager, path, "contracts")
    assert (batch.created, batch.rejected) == (2, 9)
    fields = {row: sorted(field for field, _reason in found) for row, found in problems(batch).items()}
    assert fields == {3: ["number"], 4: ["amount"], 5: ["customer"], 6: ["signed_on"], 7: ["status"],
                      8: ["owner"], 9: ["opportunity"], 10: ["customer"], 12: ["number"]}
    assert "HT-001" in problems(batch)[3][0][1]
    assert Contract.objects.count() == count_before + 2
    numbered = Contract.objects.get(title="新合同甲")
    assert numbered.number.startswith("HT2") and numbered.status == "active"
    assert (numbered.owner, numbered.amount, numbered.opportunity.name) == (rep, Decimal("15000.00"), "年度采购")
    assert Contract.objects.get(number="HT-016").title == "新合同乙"
    assert Contract.objects.get(number="HT-001").title == "年度服务合同"  # untouched
    errors = error_rows(batch)  # the error file: the row's cells, then row number, field, reason
    assert errors[0][-3:] == ["行号", "字段", "原因"]
    assert [row[-3] for row in errors[1:]] == ["3", "4", "5", "6", "7", "8", "9", "10", "12"]
    assert errors[1][:2] == ["HT-001", "重号"]


def test_bad_payment_rows(book, tmp_path) -> None:
    manager = book[0]
    before = payments()
    path = write_csv(tmp_path / "p.csv", [
        ["合同编号", "回款日期", "回款金额", "回款方式", "对应期次", "流水号/备注"],
        ["HT-002", "2026-07-01", "1000", "现金", "", "好的"],  # 2
        ["HT-404", "2026-07-01", "1000", "", "", ""],  # 3: unknown contract
        ["HT-002", "2026-07-01", "abc", "", "", ""],  # 4: bad amount
        ["HT-002", "2026-07-01", "4001", "", "", ""],  # 5: more than the rest (5000 - 1000)
        ["HT-002", "", "10", "刷卡", "", ""],  # 6: no date, unknown method
        ["HT-001", "2026-07-01", "10", "", "9", ""],  # 7: no instalment 9
        ["HT-X", "2026-07-01", "1", "", "", ""],  # 8: outside the manager's scope
    ])
    batch = run_import(manager, path, "payments")
    assert (batch.created, batch.rejected) == (1, 6)
    fields = {row: sorted(field for field, _reason in found) for row, found in problems(batch).items()}
    assert fields == {3: ["contract_number"], 4: ["amount"], 5: ["amount"], 6: ["method"],
                      7: ["plan_sequence"], 8: ["contract_number"]}
    assert sorted(payments()) == sorted([*before, ("HT-002", _date("2026-07-01"), Decimal("1000.00"), "cash",
                                                   "好的", None)])
    assert Contract.objects.get(number="HT-002").received_amount == Decimal("1000.00")


def _date(text: str) -> Any:
    import datetime as dt

    return dt.date.fromisoformat(text)


def test_dry_run_writes_nothing_and_reports_what_a_run_would(book, tmp_path) -> None:
    manager = book[0]
    path = write_csv(tmp_path / "c.csv", [
        ["合同名称", "客户名称", "合同金额"],
        ["甲", "北京分扬科技有限公司", "100"],
        ["乙", "上海甲乙有限公司", "-5"],
    ])
    before, counters = contracts(), list(ContractNumberCounter.objects.values_list("period", "last"))
    batch = run_import(manager, path, "contracts", dry_run=True)
    assert (batch.created, batch.rejected) == (1, 1)
    assert contracts() == before
    assert list(ContractNumberCounter.objects.values_list("period", "last")) == counters
    assert not ImportRowLog.objects.filter(batch=batch, action="created").exists()

    pay = write_csv(tmp_path / "p.csv", [
        ["合同编号", "回款日期", "回款金额"],
        ["HT-002", "2026-07-01", "3000"],
        ["HT-002", "2026-07-02", "3000"],  # over the rest once the first is in: the dry run sees that too
    ])
    paid = payments()
    batch = run_import(manager, pay, "payments", dry_run=True)
    assert (batch.created, batch.rejected) == (1, 1)
    assert [f for f, _r in problems(batch)[3]] == ["amount"]
    assert payments() == paid
    assert Contract.objects.get(number="HT-002").received_amount == 0


def test_scope_customers_outside_are_not_found_and_reps_may_not_import(book, tmp_path) -> None:
    manager, rep, _outsider = book
    other = Contract.objects.get(number="HT-X").customer
    path = write_csv(tmp_path / "c.csv", [
        ["合同名称", "客户ID", "客户名称", "合同金额"],
        ["越权", str(other.pk), "", "100"],
        ["越权2", "", "别人的客户有限公司", "100"],
        ["外部ID撞号", str(Contract.objects.get(number="HT-002").customer_id), "北京分扬科技有限公司", "100"],
    ])
    batch = run_import(manager, path, "contracts")
    assert (batch.created, batch.rejected) == (0, 3)
    assert {row: [f for f, _r in found] for row, found in problems(batch).items()} == {
        2: ["customer_id"], 3: ["customer"], 4: ["customer_id"]}
    assert not Contract.objects.filter(title__startswith="越权").exists()
    stored = import_services.store_upload(path, original_name="c.csv")
    with pytest.raises(PermissionDenied):
        import_services.import_batch_create(acting_user=rep, kind="contracts", path=stored, original_name="c.csv")


def test_undo_removes_the_contracts_unless_paid_since(book, tmp_path) -> None:
    manager = book[0]
    before = contracts()
    path = write_csv(tmp_path / "c.csv", [
        ["合同编号", "合同名称", "客户名称", "合同金额", "合同状态"],
        ["HT-100", "草稿的", "北京分扬科技有限公司", "100", "草稿"],
        ["HT-101", "执行中的", "北京分扬科技有限公司", "100", "执行中"],
    ])
    batch = run_import(manager, path, "contracts")
    assert batch.created == 2
    assert import_services.import_undo(acting_user=manager, batch=batch) == {"removed": 2, "restored": 0}
    assert contracts() == before

    batch = run_import(manager, path, "contracts")
    services.payment_record(acting_user=manager, contract_id=Contract.objects.get(number="HT-101").pk,
                            received_on="2026-07-01", amount="10")
    with pytest.raises(import_services.UndoRefused) as refused:
        import_services.import_undo(acting_user=manager, batch=batch)
    assert [number for _pk, number in refused.value.changed] == ["HT-101"]
    assert Contract.objects.filter(number__in=["HT-100", "HT-101"]).count() == 2


def test_undo_removes_the_payments_and_the_totals_follow(book, tmp_path) -> None:
    manager = book[0]
    before, matched = payments(), allocations()
    path = write_csv(tmp_path / "p.csv", [
        ["合同编号", "回款日期", "回款金额"],
        ["HT-001", "2026-07-01", "6000.25"],
        ["HT-002", "2026-07-01", "1000"],
    ])
    batch = run_import(manager, path, "payments")
    assert batch.created == 2
    assert Contract.objects.get(number="HT-001").received_amount == Decimal("12800.50")
    assert import_services.import_undo(acting_user=manager, batch=batch) == {"removed": 2, "restored": 0}
    assert (payments(), allocations()) == (before, matched)
    assert Contract.objects.get(number="HT-001").received_amount == Decimal("6800.25")
    assert Contract.objects.get(number="HT-002").received_amount == 0
