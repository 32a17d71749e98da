"""Exports that go back in: opportunities, products and leads exported to CSV and XLSX, the records
deleted, the file imported with the matching import kind as it is (headers recognised, no mapping
given) → the same values, formula-looking texts included. And the formula safety of the files."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from kehu.core import exporting
from kehu.customers.services import customer_create
from kehu.imports import services as import_services
from kehu.imports.mapping import suggest_mapping, targets_for
from kehu.imports.models import ImportBatch, ImportRowLog
from kehu.leads import services as lead_services
from kehu.leads.models import Lead
from kehu.sales import selectors as sales_selectors
from kehu.sales import services as sales_services
from kehu.sales.models import LostReason, Opportunity, Product, ProductCategory, Stage
from tests.exports.conftest import column, table_of
from tests.imports.helpers import credit_code

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example","点我")'


def run_import(user: Any, path: Path, kind: str) -> ImportBatch:
    stored = import_services.store_upload(path, original_name=path.name)
    batch = import_services.import_batch_create(acting_user=user, kind=kind, path=stored, original_name=path.name)
    return import_services.import_run(batch)


def rejected(batch: ImportBatch) -> dict[int, Any]:
    return dict(ImportRowLog.objects.filter(batch=batch, action="rejected").values_list("row_number", "problems"))


def stage(name: str) -> Stage:
    return Stage.objects.get(pipeline__is_default=True, name_zh=name)


@pytest.fixture
def deals(team):  # type: ignore[no-untyped-def]
    manager, rep, colleague, outsider = team
    fenyang = customer_create(acting_user=manager, data={"name": "北京分扬科技有限公司", "credit_code": credit_code(1)})
    jiayi = customer_create(acting_user=manager, data={"name": "上海甲乙有限公司", "external_id": "C-2"})
    other = customer_create(acting_user=outsider, data={"name": "别人的客户有限公司"})
    create = sales_services.opportunity_create
    create(acting_user=manager, data={
        "name": "年度采购", "customer": fenyang.pk, "amount": "12800.50", "stage": stage("商务谈判").pk,
        "owner": rep.pk, "expected_close_date": "2026-12-15", "next_step": FORMULA,
        "description": "+ 第一行\n第二行, 含逗号", "external_id": "D-1"})
    create(acting_user=manager, data={
        "name": "@续约", "customer": jiayi.pk, "amount": "5000", "owner": colleague.pk,
        "description": "'=已有撇号", "next_step": "-12.5"})
    create(acting_user=manager, data={
        "name": "丢了的单", "customer": jiayi.pk, "amount": "300", "stage": stage("输单").pk, "owner": manager.pk,
        "lost_reason": LostReason.objects.get(label_zh="价格太高").pk})
    create(acting_user=outsider, data={"name": "外人的单", "customer": other.pk, "amount": "1"})
    return team


def snapshot() -> list[tuple]:
    return sorted(
        (o.name, o.customer.name, o.amount, o.stage.name_zh, o.owner.username if o.owner else None,
         o.expected_close_date, o.next_step, o.description, o.lost_reason.label_zh if o.lost_reason else None,
         o.external_id)
        for o in Opportunity.objects.exclude(name="外人的单").select_related("customer", "stage", "owner",
                                                                           "lost_reason"))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_opportunities_export_then_import_gives_the_same_deals(deals, tmp_path, fmt) -> None:
    manager = deals[0]
    before = snapshot()
    assert len(before) == 3
    path = tmp_path / f"deals.{fmt}"
    assert exporting.export_to_file("opportunities", user=manager, path=str(path)) == 3

    for deal in Opportunity.objects.exclude(name="外人的单"):
        sales_services.opportunity_delete(acting_user=manager, opportunity_id=deal.pk)
    assert snapshot() == []

    batch = run_import(manager, path, "opportunities")
    assert (batch.created, batch.rejected, batch.skipped) == (3, 0, 0), rejected(batch)
    assert snapshot() == before
    assert sales_selectors.rollup_matches_data()["equal"]


def test_the_export_headers_are_what_the_importers_recognise() -> None:
    """Every column an import kind can read maps to its field by header, in Chinese and in English;
    the other columns (ids, pipeline, probability, times) map to nothing."""
    expected = {
        "opportunities": {"name", "customer_name", "customer_credit_code", "customer_external_id", "stage", "amount",
                          "owner", "expected_close_date", "next_step", "description", "lost_reason", "external_id"},
        "products": {"code", "name", "category", "unit", "list_price", "description", "is_active"},
        "leads": {"name", "company", "title", "mobile", "phone", "email", "wechat", "province", "city", "source",
                  "campaign", "owner", "notes", "external_id"},
    }
    for key, targets in expected.items():
        kind = exporting.export_kind(key)
        for english in (False, True):
            headers = kind.headers(kind.column_keys(), english)
            mapping = suggest_mapping(key, headers, targets=targets_for(key))
            assert {headers[c]: t for c, t in mapping.items()} == {
                headers[kind.column_keys().index(t)]: t for t in targets}, (key, english)


def test_csv_cells_that_a_spreadsheet_would_run_are_escaped(deals, tmp_path) -> None:
    path = tmp_path / "deals.csv"
    exporting.export_to_file("opportunities", user=deals[0], path=str(path))
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    headers, rows = table_of(data, tmp_path)
    by_name = {row[headers.index("商机名称")]: row for row in rows}
    assert set(by_name) == {"年度采购", "'@续约", "丢了的单"}
    assert by_name["年度采购"][headers.index("下一步")] == "'" + FORMULA
    assert by_name["年度采购"][headers.index("说明")] == "'+ 第一行\n第二行, 含逗号"
    assert by_name["'@续约"][headers.index("说明")] == "''=已有撇号"
    assert by_name["'@续约"][headers.index("下一步")] == "-12.5"  # a number stays a number
    assert by_name["年度采购"][headers.index("金额")] == "12800.50"
    assert by_name["年度采购"][headers.index("预计成交日期")] == "2026-12-15"
    assert by_name["年度采购"][headers.index("阶段")] == "商务谈判"
    assert by_name["年度采购"][headers.index("负责人")] == "张三"
    assert by_name["年度采购"][headers.index("加权金额")] == "8960.35"
    assert by_name["丢了的单"][headers.index("输单原因")] == "价格太高"
    assert by_name["丢了的单"][headers.index("商机状态")] == "输单"


def test_xlsx_cells_are_text_never_formulas(deals, tmp_path) -> None:
    from openpyxl import load_workbook

    path = tmp_path / "deals.xlsx"
    exporting.export_to_file("opportunities", user=deals[0], path=str(path))
    with zipfile.ZipFile(path) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in sheet and "<f " not in sheet
    book = load_workbook(path)
    rows = list(book.active.iter_rows())
    headers = [c.value for c in rows[0]]
    deal = next(r for r in rows[1:] if r[headers.index("商机名称")].value == "年度采购")
    step = deal[headers.index("下一步")]
    assert (step.value, step.data_type) == (FORMULA, "s")
    assert deal[headers.index("金额")].value == 12800.5  # amounts are numbers
    assert book.active.title == "商机"
    renewal = next(r for r in rows[1:] if r[headers.index("商机名称")].value == "@续约")
    # An apostrophe before a formula character is doubled, so the importer's unescape gives it back.
    assert renewal[headers.index("说明")].value == "''=已有撇号"


def test_products_export_then_import_gives_the_same_catalogue(admin_user, tmp_path) -> None:
    ProductCategory.objects.create(name="软件")
    sales_services.product_save(acting_user=admin_user, data={
        "code": "P-1", "name": "CRM 年费", "category": ProductCategory.objects.get().pk, "unit": "套",
        "list_price": "9800.99", "description": "=1+1"})
    sales_services.product_save(acting_user=admin_user, data={
        "code": "P-2", "name": "停售的", "list_price": "1", "is_active": False})

    def catalogue() -> list[tuple]:
        return sorted(Product.objects.values_list("code", "name", "category__name", "unit", "list_price",
                                                  "description", "is_active"))

    before = catalogue()
    for fmt in ("csv", "xlsx"):
        path = tmp_path / f"products.{fmt}"
        count = exporting.export_to_file("products", user=admin_user, path=str(path),
                                         params={"include_inactive": "1"})
        assert count == 2
        Product.objects.all().delete()
        batch = run_import(admin_user, path, "products")
        assert (batch.created, batch.rejected) == (2, 0), rejected(batch)
        assert catalogue() == before
    # Without include_inactive only the products on sale (as the API's product list).
    path = tmp_path / "active.csv"
    assert exporting.export_to_file("products", user=admin_user, path=str(path)) == 1


def test_leads_export_then_import_gives_the_same_leads(team, tmp_path) -> None:
    manager, rep, _colleague, _outsider = team
    lead_services.lead_create(acting_user=manager, data={
        "name": "赵六", "company": "=cmd|' /C calc'!A0", "title": "经理", "mobile": "13812345678",
        "email": "zhao@example.com", "wechat": "zhao6", "province": "北京市", "city": "北京市",
        "source": "官网", "campaign": "双十一", "owner": rep, "notes": "+想要报价", "external_id": "L-1"})
    lead_services.lead_create(acting_user=manager, data={"name": "孙七", "phone": "010-65529988",
                                                         "owner": manager})

    def leads() -> list[tuple]:
        return sorted(Lead.objects.values_list("name", "company", "title", "mobile", "phone", "email", "wechat",
                                               "province", "city", "source__label_zh", "campaign",
                                               "owner__username", "notes", "external_id"))

    before = leads()
    assert before[1][1] == "=cmd|' /C calc'!A0"
    for fmt in ("csv", "xlsx"):
        path = tmp_path / f"leads.{fmt}"
        assert exporting.export_to_file("leads", user=manager, path=str(path)) == 2
        Lead.objects.all().delete()
        batch = run_import(manager, path, "leads")
        assert (batch.created, batch.rejected) == (2, 0), rejected(batch)
        assert leads() == before


def test_english_headers_and_labels(deals, tmp_path) -> None:
    path = tmp_path / "deals.csv"
    exporting.export_to_file("opportunities", user=deals[0], path=str(path), language="en")
    headers, rows = table_of(path.read_bytes(), tmp_path)
    assert headers[:3] == ["ID", "Opportunity name", "Customer ID"]
    lost = next(r for r in rows if r[headers.index("Opportunity name")] == "丢了的单")
    assert (lost[headers.index("Stage")], lost[headers.index("Deal status")], lost[headers.index("Lost reason")]) == (
        "Lost", "Lost", "Price too high")
    assert column(headers, rows, "Pipeline") == ["New business"] * 3


def test_only_the_asked_columns_in_the_kinds_order(deals, tmp_path) -> None:
    path = tmp_path / "deals.csv"
    exporting.export_to_file("opportunities", user=deals[0], path=str(path), columns=["amount", "name", "nope"])
    headers, rows = table_of(path.read_bytes(), tmp_path)
    assert headers == ["商机名称", "金额"]
    assert sorted(r[1] for r in rows) == ["12800.50", "300.00", "5000.00"]



def test_rows_are_read_in_keyset_chunks_with_lookups_loaded_once(deals, django_assert_num_queries) -> None:
    """Pipelines, stages, lost reasons, users and departments once, and the deals shared with the
    user once (scoping inlines their ids); then one statement per chunk (`id > last ORDER BY id
    LIMIT n`), whatever the number of rows."""
    manager = deals[0]
    kind = exporting.export_kind("opportunities")
    with django_assert_num_queries(5 + 1 + 2):
        rows = list(exporting.export_rows(kind, user=manager, chunk_size=2))
    assert len(rows) == 1 + 3
    ids = [row[0] for row in rows[1:]]
    assert ids == sorted(ids)
