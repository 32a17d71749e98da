"""Who exports what: the user's scope (`restrict()`), the list's filters, contracts with their
payments and payment plans, and the audit event every export writes."""

from __future__ import annotations

from typing import Any

import pytest

from kehu.contracts import services as contract_services
from kehu.core import exporting
from kehu.core.models import AuditEvent
from kehu.customers.services import customer_create
from kehu.leads import services as lead_services
from kehu.sales import services as sales_services
from kehu.sales.models import Pipeline, Stage
from tests.exports.conftest import column, table_of

pytestmark = pytest.mark.django_db


def export(tmp_path, key: str, user: Any, params: dict | None = None, **kwargs: Any) -> tuple[list, list]:
    path = tmp_path / f"{key}-{len(list(tmp_path.iterdir()))}.csv"
    exporting.export_to_file(key, user=user, path=str(path), params=params, **kwargs)
    return table_of(path.read_bytes(), tmp_path)


def names(tmp_path, key: str, user: Any, params: dict | None = None, header: str = "商机名称") -> list[str]:
    headers, rows = export(tmp_path, key, user, params)
    return sorted(column(headers, rows, header))


@pytest.fixture
def sales(team):  # type: ignore[no-untyped-def]
    manager, rep, colleague, outsider = team
    mine = customer_create(acting_user=rep, data={"name": "甲公司"})
    theirs = customer_create(acting_user=colleague, data={"name": "乙公司"})
    far = customer_create(acting_user=outsider, data={"name": "丙公司"})
    negotiation = Stage.objects.get(pipeline__is_default=True, name_zh="商务谈判")
    won = Stage.objects.get(pipeline__is_default=True, name_zh="赢单")
    create = sales_services.opportunity_create
    create(acting_user=rep, data={"name": "甲-谈判", "customer": mine.pk, "amount": "100", "stage": negotiation.pk,
                                  "expected_close_date": "2026-12-01"})
    create(acting_user=rep, data={"name": "甲-赢单", "customer": mine.pk, "amount": "200", "stage": won.pk,
                                  "expected_close_date": "2026-10-01"})
    create(acting_user=colleague, data={"name": "乙-新", "customer": theirs.pk, "amount": "300"})
    create(acting_user=outsider, data={"name": "丙-新", "customer": far.pk, "amount": "400"})
    return team


def test_a_rep_exports_only_own_deals_a_manager_the_department_the_operator_all(sales, tmp_path) -> None:
    manager, rep, colleague, outsider = sales
    assert names(tmp_path, "opportunities", rep) == ["甲-谈判", "甲-赢单"]
    assert names(tmp_path, "opportunities", colleague) == ["乙-新"]
    assert names(tmp_path, "opportunities", manager) == ["乙-新", "甲-谈判", "甲-赢单"]
    assert names(tmp_path, "opportunities", None) == ["丙-新", "乙-新", "甲-谈判", "甲-赢单"]


def test_the_lists_filters_apply(sales, tmp_path) -> None:
    manager, rep, colleague, _outsider = sales
    won = Stage.objects.get(pipeline__is_default=True, name_zh="赢单")
    assert names(tmp_path, "opportunities", manager, {"status": "won"}) == ["甲-赢单"]
    assert names(tmp_path, "opportunities", manager, {"status": "open"}) == ["乙-新", "甲-谈判"]
    assert names(tmp_path, "opportunities", manager, {"owner": str(colleague.pk)}) == ["乙-新"]
    assert names(tmp_path, "opportunities", rep, {"owner": "me"}) == ["甲-谈判", "甲-赢单"]
    assert names(tmp_path, "opportunities", manager, {"q": "乙公司"}) == ["乙-新"]
    assert names(tmp_path, "opportunities", manager, {"close_from": "2026-11-01", "close_to": "2026-12-31"}) == [
        "甲-谈判"]
    assert names(tmp_path, "opportunities", manager, {"stage": str(won.pk)}) == ["甲-赢单"]
    other = Pipeline.objects.create(name_zh="续约", is_default=False)
    assert names(tmp_path, "opportunities", manager, {"pipeline": str(other.pk)}) == []
    assert names(tmp_path, "opportunities", manager, {"pipeline": str(won.pipeline_id), "q": "甲"}) == [
        "甲-谈判", "甲-赢单"]


def test_leads_scope_and_filters(team, tmp_path) -> None:
    manager, rep, colleague, outsider = team
    lead_services.lead_create(acting_user=rep, data={"name": "甲", "company": "甲厂", "campaign": "展会"})
    lead_services.lead_create(acting_user=colleague, data={"name": "乙", "company": "乙厂"})
    lead_services.lead_create(acting_user=outsider, data={"name": "丙", "company": "丙厂"})
    assert names(tmp_path, "leads", rep, header="姓名") == ["甲"]
    assert names(tmp_path, "leads", manager, header="姓名") == ["乙", "甲"]
    assert names(tmp_path, "leads", manager, {"campaign": "展会"}, header="姓名") == ["甲"]
    assert names(tmp_path, "leads", manager, {"q": "乙厂"}, header="姓名") == ["乙"]
    assert names(tmp_path, "leads", manager, {"status": "converted"}, header="姓名") == []
    assert names(tmp_path, "leads", None, {"owner": "me"}, header="姓名") == ["丙", "乙", "甲"]
    headers, rows = export(tmp_path, "leads", rep)
    assert column(headers, rows, "线索状态") == ["新线索"]


@pytest.fixture
def contracts(team):  # type: ignore[no-untyped-def]
    manager, rep, colleague, outsider = team
    mine = customer_create(acting_user=rep, data={"name": "甲公司"})
    far = customer_create(acting_user=outsider, data={"name": "丙公司"})
    contract = contract_services.contract_create(acting_user=rep, data={
        "title": "年度服务", "customer": mine.pk, "amount": "10000", "number": "HT-1", "signed_on": "2026-01-05"})
    contract_services.plan_set(acting_user=rep, contract_id=contract.pk, items=[
        {"due_date": "2026-01-10", "amount": "4000"}, {"due_date": "2099-02-10", "amount": "6000", "note": "=尾款"}])
    contract_services.payment_record(acting_user=rep, contract_id=contract.pk, received_on="2026-01-09",
                                     amount="2500.5", reference="银行流水 001")
    other = contract_services.contract_create(acting_user=outsider, data={
        "title": "别人的", "customer": far.pk, "amount": "1", "number": "HT-2"})
    contract_services.payment_record(acting_user=outsider, contract_id=other.pk, received_on="2026-01-09",
                                     amount="1")
    return team


def test_contracts_payments_and_plans_follow_the_contracts_scope(contracts, tmp_path) -> None:
    manager, rep, _colleague, outsider = contracts
    headers, rows = export(tmp_path, "contracts", rep)
    assert column(headers, rows, "合同编号") == ["HT-1"]
    row = dict(zip(headers, rows[0], strict=True))
    assert (row["客户名称"], row["合同金额"], row["已回款"], row["未回款"], row["签约日期"], row["合同状态"],
            row["负责人"]) == ("甲公司", "10000.00", "2500.50", "7499.50", "2026-01-05", "草稿", "张三")

    headers, rows = export(tmp_path, "payments", rep)
    assert [dict(zip(headers, r, strict=True)) for r in rows] == [{
        "ID": rows[0][0], "合同编号": "HT-1", "合同名称": "年度服务", "客户名称": "甲公司", "负责人": "张三",
        "回款日期": "2026-01-09", "回款金额": "2500.50", "币种": "CNY", "回款方式": "银行转账",
        "流水号/备注": "银行流水 001", "对应期次": "", "登记人": "张三", "登记时间": rows[0][-1]}]
    assert names(tmp_path, "payments", None, header="合同编号") == ["HT-1", "HT-2"]
    assert names(tmp_path, "payments", outsider, header="合同编号") == ["HT-2"]

    headers, rows = export(tmp_path, "payment_plans", manager)
    plan = [dict(zip(headers, r, strict=True)) for r in rows]
    assert [(p["合同编号"], p["期次"], p["计划回款日期"], p["计划金额"], p["已回款"], p["未回款"], p["是否逾期"],
             p["说明"]) for p in plan] == [
        ("HT-1", "1", "2026-01-10", "4000.00", "2500.50", "1499.50", "是", ""),
        ("HT-1", "2", "2099-02-10", "6000.00", "0.00", "6000.00", "否", "'=尾款"),
    ]


def test_contract_filters_apply_to_contracts_and_payments(contracts, tmp_path) -> None:
    manager = contracts[0]
    assert names(tmp_path, "contracts", None, {"q": "别人"}, header="合同编号") == ["HT-2"]
    assert names(tmp_path, "payments", None, {"q": "年度"}, header="合同编号") == ["HT-1"]
    assert names(tmp_path, "contracts", None, {"signed_from": "2026-01-01"}, header="合同编号") == ["HT-1"]
    assert names(tmp_path, "payments", None, {"received_from": "2026-02-01"}, header="合同编号") == []
    assert names(tmp_path, "payments", None, {"method": "cash"}, header="合同编号") == []
    assert names(tmp_path, "contracts", manager, {"overdue": "1"}, header="合同编号") == ["HT-1"]
    assert names(tmp_path, "payment_plans", manager, {"due_from": "2050-01-01"}, header="计划回款日期") == [
        "2099-02-10"]


def test_every_export_is_audited_with_kind_format_filters_and_rows(sales, tmp_path) -> None:
    manager = sales[0]
    export(tmp_path, "opportunities", manager, {"status": "open", "q": "", "format": "csv"})
    event = AuditEvent.objects.get(action="export")
    assert (event.actor, event.object_type, event.object_id, event.customer_id) == (manager, "opportunity", 0, None)
    assert event.changes == [
        {"field": "kind", "old": None, "new": "opportunities"},
        {"field": "format", "old": None, "new": "csv"},
        {"field": "filters", "old": None, "new": {"status": "open"}},
        {"field": "rows", "old": None, "new": 2},
    ]
