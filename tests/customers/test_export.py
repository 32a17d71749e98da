from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from openpyxl import load_workbook

from kehu.customers import services
from kehu.customers.export import export_csv, safe_cell
from kehu.customers.filters import CustomerFilter
from tests.factories import CustomerFactory, UserFactory


def _read_csv(user, params=None):  # type: ignore[no-untyped-def]
    text = "".join(export_csv(user=user, filters=CustomerFilter.from_params(params or {})))
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=1+1", "'=1+1"), ("+86 138", "'+86 138"), ("-5", "'-5"), ("@SUM(A1)", "'@SUM(A1)"), ("张伟", "张伟"), (3, 3)],
)
def test_safe_cell_neutralises_formula_triggers(value, expected):  # type: ignore[no-untyped-def]
    assert safe_cell(value) == expected


@pytest.mark.django_db
def test_export_includes_custom_fields_and_only_visible_customers(admin_user):
    services.custom_field_save(
        acting_user=admin_user, target="customer", key="budget", label_zh="预算", field_type="money"
    )
    rep, other = UserFactory(), UserFactory()
    hostile = services.customer_create(
        acting_user=rep, data={"name": '=HYPERLINK("http://x")', "custom": {"budget": "12.5"}}
    )
    assert hostile.name.startswith("=HYPERLINK")  # stored as typed (canonical spacing), escaped on export
    CustomerFactory(owner=other, name="别人的客户")

    rows = _read_csv(rep)
    header, data = rows[0], rows[1:]
    assert header[-1] == "预算"
    assert len(data) == 1
    assert data[0][header.index("名称")] == "'" + hostile.name
    assert data[0][-1] == "12.50"
    assert len(_read_csv(admin_user)) == 3  # header + both customers


@pytest.mark.django_db
def test_export_command_writes_xlsx_with_filters(tmp_path, admin_user):
    services.customer_create(acting_user=admin_user, data={"name": "北京甲公司", "city": "北京市"})
    services.customer_create(acting_user=admin_user, data={"name": "上海乙公司", "city": "上海市"})
    out = tmp_path / "out.xlsx"
    call_command("export", str(out), "--user", admin_user.username, "--filter", "city=北京市")
    sheet = load_workbook(out).active
    names = [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert names == ["北京甲公司"]
