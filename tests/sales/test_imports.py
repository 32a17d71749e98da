"""Products and opportunities through the import registry: header mapping, a row per problem naming
row, field and reason, the writes through the sales services (running totals included), dry runs
and undo."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kehu.customers.services import customer_create
from kehu.imports import engine, services
from kehu.imports.models import ImportBatch, ImportRowLog
from kehu.sales import selectors
from kehu.sales import services as sales_services
from kehu.sales.models import Opportunity, OpportunityRollup, Product, ProductCategory, Stage, StageChange
from tests.factories import DepartmentFactory, ManagerFactory, UserFactory
from tests.imports.helpers import credit_code, write_csv

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    return settings.DATA_DIR


def run(user: Any, path: Path, kind: str, *, dry_run: bool = False, **options: Any) -> ImportBatch:
    stored = services.store_upload(path, original_name=path.name)
    batch = services.import_batch_create(acting_user=user, kind=kind, path=stored, original_name=path.name,
                                         options=options, dry_run=dry_run)
    return services.import_run(batch)


def problems_of(batch: ImportBatch) -> dict[int, list[list[str]]]:
    return dict(ImportRowLog.objects.filter(batch=batch, action="rejected").values_list("row_number", "problems"))


def test_the_kinds_are_registered_with_their_targets() -> None:
    kinds = engine.import_kinds()
    assert {"products", "opportunities"} <= set(kinds)
    assert {"code", "name", "category", "unit", "list_price"} <= set(kinds["products"].targets())
    assert {"name", "customer_name", "customer_credit_code", "customer_external_id", "amount", "stage", "owner",
            "expected_close_date", "next_step"} <= set(kinds["opportunities"].targets())


# Products ------------------------------------------------------------------------------------------


def test_products_import_with_an_error_per_bad_row_and_undo(admin_user, tmp_path) -> None:
    ProductCategory.objects.create(name="软件")
    path = write_csv(tmp_path / "p.csv", [
        ["产品编号", "产品名称", "分类", "单位", "标准价"],
        ["P-1", "CRM 年费", "软件", "套", "9,800"],
        ["P-2", "实施服务", "", "人天", "1.5k"],
        ["P-3", "", "软件", "套", "100"],
        ["P-4", "硬件", "硬件类", "台", "100"],
        ["P-5", "坏价格", "", "个", "十元"],
    ])
    batch = run(admin_user, path, "products")
    assert (batch.created, batch.rejected) == (2, 3)
    assert sorted(Product.objects.values_list("code", "name", "unit", "list_price")) == [
        ("P-1", "CRM 年费", "套", Decimal("9800.00")), ("P-2", "实施服务", "人天", Decimal("1500.00"))]
    assert Product.objects.get(code="P-1").category.name == "软件"
    problems = problems_of(batch)
    # Rows are numbered as in the file (the header is row 1).
    assert problems[4] == [["name", "请填写产品名称"]]
    assert problems[5] == [["category", "未知的产品分类：硬件类"]]
    assert problems[6][0][0] == "list_price" and "十元" in problems[6][0][1]
    assert not ProductCategory.objects.filter(name="硬件类").exists()

    services.import_undo(acting_user=admin_user, batch=batch)
    assert not Product.objects.exists()


def test_existing_codes_are_skipped_or_updated_and_undo_restores_them(admin_user, tmp_path) -> None:
    sales_services.product_save(acting_user=admin_user, data={"code": "P-1", "name": "旧名", "list_price": "100",
                                                              "unit": "套"})
    path = write_csv(tmp_path / "p.csv", [["编号", "名称", "价格"], ["P-1", "新名", "200"], ["P-9", "新品", "5"]])
    skipped = run(admin_user, path, "products")
    assert (skipped.created, skipped.skipped) == (1, 1)
    assert Product.objects.get(code="P-1").name == "旧名"

    updated = run(admin_user, path, "products", mode="upsert")
    assert (updated.created, updated.updated) == (0, 2)  # both codes exist by now
    product = Product.objects.get(code="P-1")
    assert (product.name, product.list_price, product.unit) == ("新名", Decimal("200.00"), "套")
    services.import_undo(acting_user=admin_user, batch=updated)
    product.refresh_from_db()
    assert (product.name, product.list_price, product.unit) == ("旧名", Decimal("100.00"), "套")
    assert Product.objects.filter(code="P-9").exists()  # created by the first import, which is not undone


def test_update_mode_skips_unknown_codes(admin_user, tmp_path) -> None:
    path = write_csv(tmp_path / "p.csv", [["编号", "名称"], ["P-1", "新名"]])
    batch = run(admin_user, path, "products", mode="update", match_by=["external_id"])
    assert (batch.created, batch.skipped) == (0, 1)
    assert not Product.objects.exists()


def test_only_admins_write_products(tmp_path) -> None:
    manager = ManagerFactory()
    path = write_csv(tmp_path / "p.csv", [["产品编号", "产品名称"], ["P-1", "CRM"]])
    batch = run(manager, path, "products")
    assert (batch.created, batch.rejected) == (0, 1)
    assert problems_of(batch)[2] == [["", "你的角色没有“产品·新建”权限"]]
    assert not Product.objects.exists()


# Opportunities -------------------------------------------------------------------------------------


@pytest.fixture
def team():  # type: ignore[no-untyped-def]
    department = DepartmentFactory(name="华北")
    manager = ManagerFactory(department=department, username="boss", display_name="老板")
    rep = UserFactory(department=department, username="zhang", display_name="张三", email="zhang@example.com")
    outsider = UserFactory(username="li", display_name="李四")
    return manager, rep, outsider


def test_opportunities_import_with_an_error_per_bad_row_and_undo(team, tmp_path) -> None:
    manager, rep, outsider = team
    code = credit_code(1)
    fenyang = customer_create(acting_user=rep, data={"name": "北京分扬科技有限公司", "credit_code": code})
    customer_create(acting_user=manager, data={"name": "上海甲乙有限公司", "external_id": "C-2"})
    customer_create(acting_user=outsider, data={"name": "别人的客户有限公司"})
    path = write_csv(tmp_path / "o.csv", [
        ["商机名称", "客户名称", "客户统一社会信用代码", "客户外部编号", "金额", "阶段", "负责人", "预计成交日期",
         "下一步"],
        ["年度采购", "", code, "", "1.28万", "方案报价", "张三", "2026-12-15", "发报价"],
        ["二期", "北京分扬科技有限公司", "", "", "30000", "", "zhang@example.com", "", ""],
        ["续约", "", "", "C-2", "5000", "", "", "2026/11/30 00:00:00", ""],
        ["坏金额", "", "", "C-2", "十万", "", "", "", ""],
        ["无客户", "不存在的公司", "", "", "100", "", "", "", ""],
        ["别人的", "别人的客户有限公司", "", "", "100", "", "", "", ""],
        ["坏阶段", "", "", "C-2", "100", "签约", "", "", ""],
        ["谈判缺日期", "", "", "C-2", "100", "商务谈判", "", "", ""],
        ["外人", "", "", "C-2", "100", "", "李四", "", ""],
        ["", "", "", "C-2", "100", "", "", "", ""],
    ])
    batch = run(manager, path, "opportunities")
    assert (batch.created, batch.rejected) == (3, 7), problems_of(batch)

    first = Opportunity.objects.get(name="年度采购")
    assert (first.customer, first.owner, first.amount) == (fenyang, rep, Decimal("12800.00"))
    assert first.stage.name_zh == "方案报价" and str(first.expected_close_date) == "2026-12-15"
    assert first.next_step == "发报价"
    assert Opportunity.objects.get(name="二期").owner == rep
    renewal = Opportunity.objects.get(name="续约")
    assert renewal.owner == manager and str(renewal.expected_close_date) == "2026-11-30"
    assert renewal.stage.name_zh == "初步接洽"
    assert StageChange.objects.count() == 3
    assert selectors.rollup_matches_data()["equal"]

    problems = problems_of(batch)
    assert problems[5][0][0] == "amount" and "十万" in problems[5][0][1]
    assert problems[6][0][0] == "customer" and "找不到所属客户" in problems[6][0][1]
    assert problems[7][0][0] == "customer"  # outside the manager's scope: not found
    assert problems[8] == [["stage", "默认销售流程中没有阶段“签约”"]]
    assert problems[9] == [["expected_close_date", "进入阶段“商务谈判”前必须填写预计成交日期"]]
    assert problems[10][0][0] == "owner"  # a manager assigns only within the department
    assert problems[11][0][0] == "name"
    # The error file has the row, the field and the reason of each.
    assert batch.error_file

    services.import_undo(acting_user=manager, batch=batch)
    assert not Opportunity.objects.exists() and not StageChange.objects.exists()
    assert not OpportunityRollup.objects.filter(count__gt=0).exists()
    assert selectors.rollup_matches_data()["equal"]


def test_a_dry_run_reports_without_writing(team, tmp_path) -> None:
    manager, _rep, _outsider = team
    customer_create(acting_user=manager, data={"name": "上海甲乙有限公司", "external_id": "C-2"})
    path = write_csv(tmp_path / "o.csv", [["商机名称", "客户外部编号", "金额"], ["续约", "C-2", "5000"],
                                          ["坏", "C-2", "abc"]])
    batch = run(manager, path, "opportunities", dry_run=True)
    assert (batch.created, batch.rejected) == (1, 1)
    assert not Opportunity.objects.exists() and not OpportunityRollup.objects.filter(count__gt=0).exists()


def test_a_known_external_id_is_skipped(team, tmp_path) -> None:
    manager, _rep, _outsider = team
    customer_create(acting_user=manager, data={"name": "上海甲乙有限公司", "external_id": "C-2"})
    path = write_csv(tmp_path / "o.csv", [["商机名称", "客户外部编号", "外部编号"], ["续约", "C-2", "D-1"]])
    assert run(manager, path, "opportunities").created == 1
    again = run(manager, path, "opportunities")
    assert (again.created, again.skipped) == (0, 1)
    assert Opportunity.objects.get().external_id == "D-1"


def test_undo_is_refused_once_a_deal_moved(team, tmp_path) -> None:
    manager, _rep, _outsider = team
    customer_create(acting_user=manager, data={"name": "上海甲乙有限公司", "external_id": "C-2"})
    path = write_csv(tmp_path / "o.csv", [["商机名称", "客户外部编号"], ["续约", "C-2"]])
    batch = run(manager, path, "opportunities")
    deal = Opportunity.objects.get()
    sales_services.opportunity_move(acting_user=manager, opportunity_id=deal.pk,
                                    stage_id=Stage.objects.get(pipeline__is_default=True, name_zh="需求确认").pk)
    with pytest.raises(services.UndoRefused):
        services.import_undo(acting_user=manager, batch=batch)
    assert Opportunity.objects.filter(pk=deal.pk).exists()
