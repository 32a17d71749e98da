from __future__ import annotations

import csv
import inspect
import io
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from kehu.core.tabular import open_table, unescape_formula
from kehu.customers import export, services
from kehu.customers.export import (
    CONTACT_EXPORT_COLUMNS,
    EXPORT_COLUMNS,
    export_csv,
    export_rows,
    export_spec,
    export_xlsx,
    safe_cell,
)
from kehu.customers.filters import CustomerFilter
from tests.api_client import Api
from tests.factories import ContactFactory, CustomerFactory, TagFactory, UserFactory

pytestmark = pytest.mark.django_db
HEADER = {key: zh for key, zh, _en in EXPORT_COLUMNS}


def _read_csv(user, params=None, **spec):  # type: ignore[no-untyped-def]
    data = b"".join(export_csv(user=user, filters=CustomerFilter.from_params(params or {}),
                               spec=export_spec(user=user, **spec) if spec else None))
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8")[1:])))


def _column(rows, key):  # type: ignore[no-untyped-def]
    index = rows[0].index(HEADER[key])
    return [row[index] for row in rows[1:]]


# Formula cells ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=1+1", "'=1+1"), ("@SUM(A1)", "'@SUM(A1)"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
     ("-2+3", "-2+3"), ("\t=x", "'\t=x"), ("'=x", "''=x"),
     # Phone numbers and plain numbers cannot run anything and stay data (core.tabular's rule).
     ("+86 138 0013 8000", "+86 138 0013 8000"), ("-5", "-5"), ("张伟", "张伟"), (3, 3)],
)
def test_safe_cell_follows_tabular_escape_formula(value, expected):  # type: ignore[no-untyped-def]
    assert safe_cell(value) == expected
    if isinstance(value, str):
        assert unescape_formula(safe_cell(value)) == value


def test_formula_cells_are_neutralised_in_csv_and_text_in_xlsx(tmp_path, admin_user):  # type: ignore[no-untyped-def]
    hostile = services.customer_create(acting_user=admin_user, data={
        "name": '=HYPERLINK("http://x","点我")', "address": "@SUM(A1)", "notes": "'=quoted",
    })
    rows = _read_csv(admin_user)
    assert _column(rows, "name") == ["'" + hostile.name]
    assert _column(rows, "address") == ["'@SUM(A1)"]
    assert _column(rows, "notes") == ["''=quoted"]

    out = tmp_path / "out.xlsx"
    assert export_xlsx(user=admin_user, filters=CustomerFilter(), path=str(out)) == 1
    sheet = load_workbook(out).active
    header = [c.value for c in sheet[1]]
    row = sheet[2]
    name_cell = row[header.index("名称")]
    assert (name_cell.value, name_cell.data_type) == (hostile.name, "s")  # text, not a formula
    assert row[header.index("详细地址")].value == "@SUM(A1)"
    assert unescape_formula(row[header.index("备注")].value) == "'=quoted"


def test_html_in_names_is_exported_as_text(admin_user):  # type: ignore[no-untyped-def]
    name = '<script>alert("x")</script>&amp; 公司'
    customer = CustomerFactory(name=name, owner=admin_user)
    rows = _read_csv(admin_user)
    assert _column(rows, "name") == [name]
    archive = json.loads(export.archive_json(export.customer_archive(user=admin_user, customer_id=customer.pk)))
    assert archive["customer"]["name"] == name


# Scope, filters, columns ---------------------------------------------------------------------------


def test_a_rep_exports_only_own_customers_and_admin_all(admin_user):  # type: ignore[no-untyped-def]
    rep, other = UserFactory(), UserFactory()
    CustomerFactory(owner=rep, name="我的客户")
    CustomerFactory(owner=other, name="别人的客户")
    ContactFactory(customer=CustomerFactory(owner=other, name="别人的第二个"), name="别人的联系人")
    assert _column(_read_csv(rep), "name") == ["我的客户"]
    assert sorted(_column(_read_csv(admin_user), "name")) == ["别人的客户", "别人的第二个", "我的客户"]
    contacts = _read_csv(rep, kind="contacts")
    assert len(contacts) == 1  # header only: the only contact belongs to someone else's customer


def test_filters_and_columns_and_custom_fields(admin_user):  # type: ignore[no-untyped-def]
    services.custom_field_save(acting_user=admin_user, target="customer", key="budget", label_zh="预算",
                               field_type="money")
    services.customer_create(acting_user=admin_user, data={
        "name": "北京甲公司", "city": "北京", "phones": ["010 6552 9988"], "custom": {"budget": "12.5"},
        "tags": ["重点"],
    })
    services.customer_create(acting_user=admin_user, data={"name": "上海乙公司", "city": "上海市"})
    rows = _read_csv(admin_user, {"city": "北京市"})
    assert _column(rows, "name") == ["北京甲公司"]
    assert (_column(rows, "province"), _column(rows, "city")) == (["北京市"], ["北京市"])
    assert _column(rows, "phones") == ["010-65529988"]  # the display form
    assert _column(rows, "tags") == ["重点"]
    assert rows[0][-1] == "预算" and rows[1][-1] == "12.50"
    assert HEADER["phones_e164"] not in rows[0]  # optional
    assert HEADER["quality_score"] in rows[0]

    chosen = _read_csv(admin_user, {"city": "北京市"}, columns=["id", "name", "phones", "cf_budget"], e164=True)
    assert chosen[0] == ["ID", "名称", "电话", "电话（E.164）", "预算"]
    assert chosen[1][1:] == ["北京甲公司", "010-65529988", "+861065529988", "12.50"]


def test_headers_follow_the_language(admin_user):  # type: ignore[no-untyped-def]
    CustomerFactory(owner=admin_user)
    english = _read_csv(admin_user, language="en")[0]
    assert english[:3] == ["ID", "External ID", "Type"]
    assert english == [en for key, _zh, en in EXPORT_COLUMNS if key not in export.OPTIONAL_KEYS]


def test_column_lists_have_unique_keys_and_headers():  # type: ignore[no-untyped-def]
    for columns in (EXPORT_COLUMNS, CONTACT_EXPORT_COLUMNS):
        for position in range(3):
            values = [c[position] for c in columns]
            assert len(values) == len(set(values))


# Streaming --------------------------------------------------------------------------------------


def _queries(user, chunk_size):  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        rows = list(export_rows(user=user, filters=CustomerFilter(), chunk_size=chunk_size))
    return len(captured), len(rows) - 1


def test_rows_stream_in_chunks_queries_scale_with_chunks_not_rows(admin_user):  # type: ignore[no-untyped-def]
    tag = TagFactory()
    for customer in CustomerFactory.create_batch(12, owner=admin_user):
        customer.tags.add(tag)
    stream = export_csv(user=admin_user, filters=CustomerFilter())
    assert inspect.isgenerator(stream)
    with CaptureQueriesContext(connection) as captured:
        generator = export_rows(user=admin_user, filters=CustomerFilter())
        assert len(captured) == 0  # nothing read before rows are asked for
        next(generator)  # the header
    setup, rows_12_by_100 = _queries(admin_user, 100)
    # 12 rows in chunks of 100: one chunk (rows + tags) after the setup; in chunks of 5: three.
    chunks_of_5, rows = _queries(admin_user, 5)
    assert (rows_12_by_100, rows) == (12, 12)
    assert chunks_of_5 - setup == 2 * 2  # two more chunks, two statements each
    CustomerFactory.create_batch(60, owner=admin_user)
    assert _queries(admin_user, 100) == (setup, 72)  # 6x the rows, same statements


def test_chunks_are_keyset_ranges_in_id_order(admin_user):  # type: ignore[no-untyped-def]
    customers = CustomerFactory.create_batch(7, owner=admin_user)
    from kehu.customers.models import Customer

    chunks = list(export.iter_chunks(Customer.objects.all(), ("id",), chunk_size=3))
    assert [len(c) for c in chunks] == [3, 3, 1]
    assert [row["id"] for c in chunks for row in c] == sorted(c.pk for c in customers)


# Round trip -------------------------------------------------------------------------------------


def test_round_trip_csv_export_open_table_unescape_gives_the_stored_values(tmp_path, admin_user):  # type: ignore[no-untyped-def]
    values = ['=cmd|"/c calc"!A1', "+SUM(1)", "-x", "@x", "\t=tab", "'=already", "'plain", "普通, \"引号\"\n换行",
              "+86 138 0013 8000"]
    created = [
        services.customer_create(acting_user=admin_user, data={"name": f"客户{i}", "notes": value})
        for i, value in enumerate(values)
    ]
    stored = [c.notes for c in created]
    out = tmp_path / "out.csv"
    call_command("export", "customers", "--out", str(out), stdout=io.StringIO())
    table = open_table(str(out))
    notes_at = table.headers.index("备注")
    names_at = table.headers.index("名称")
    read = {unescape_formula(row[names_at]): unescape_formula(row[notes_at]) for row in table.rows()}
    assert read == {c.name: n for c, n in zip(created, stored, strict=True)}


# Archive ----------------------------------------------------------------------------------------


def _archive_customer(admin_user):  # type: ignore[no-untyped-def]
    rep = UserFactory()
    customer = services.customer_create(acting_user=admin_user, data={"name": "档案公司", "owner": rep.pk})
    services.contact_create(acting_user=admin_user, customer=customer, data={"name": "王伟", "mobile": "13800138000"})
    services.note_create(acting_user=admin_user, customer=customer, body="第一次拜访")
    return rep, customer


def test_archive_json_holds_customer_contacts_notes_timeline_and_audit(admin_user):  # type: ignore[no-untyped-def]
    rep, customer = _archive_customer(admin_user)
    client = Client()
    client.force_login(rep)
    response = client.get(reverse("customers:archive", args=[customer.pk, "json"]))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    body = json.loads(response.content)
    assert body["customer"]["name"] == "档案公司"
    assert body["customer"]["owner"] == str(rep)
    assert [c["name"] for c in body["contacts"]] == ["王伟"]
    assert body["contacts"][0]["mobile_e164"] == "+8613800138000"
    assert [(n["body"], n["author"]) for n in body["notes"]] == [("第一次拜访", str(admin_user))]
    assert {e["kind"] for e in body["timeline"]} >= {"note", "audit.create"}
    assert [(e["action"], e["object_type"]) for e in body["audit"]] == [("create", "customer"), ("create", "contact")]


def test_archive_xlsx_has_one_sheet_per_section(admin_user):  # type: ignore[no-untyped-def]
    _rep, customer = _archive_customer(admin_user)
    client = Client()
    client.force_login(admin_user)
    response = client.get(reverse("customers:archive", args=[customer.pk, "xlsx"]))
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["客户", "联系人", "备注", "时间线", "审计"]
    assert book["客户"]["D2"].value == "档案公司"
    assert [c.value for c in book["备注"][2]][2:] == [str(admin_user), "第一次拜访"]
    assert book["联系人"].max_row == 2


def test_archive_outside_scope_is_404_web_and_api(admin_user):  # type: ignore[no-untyped-def]
    _rep, customer = _archive_customer(admin_user)
    stranger = UserFactory()
    client = Client()
    client.force_login(stranger)
    for fmt in ("json", "xlsx"):
        assert client.get(reverse("customers:archive", args=[customer.pk, fmt])).status_code == 404
        assert Api(stranger).get(f"/customers/{customer.pk}/archive", {"format": fmt}).status_code == 404
    assert Api(admin_user).get(f"/customers/{customer.pk}/archive", {"format": "xlsx"}).status_code == 200
    # Only the export that happened is audited, on the customer's timeline; refusals leave no trace.
    from kehu.core.models import AuditEvent

    event = AuditEvent.objects.get(action="export", customer_id=customer.pk)
    assert (event.actor_id, event.changes) == (admin_user.pk, [{"field": "format", "old": None, "new": "xlsx"}])


def test_detail_page_links_the_archive(admin_user):  # type: ignore[no-untyped-def]
    customer = CustomerFactory(owner=admin_user)
    client = Client()
    client.force_login(admin_user)
    page = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert reverse("customers:archive", args=[customer.pk, "xlsx"]) in page


# Web and API ------------------------------------------------------------------------------------


def test_web_export_keeps_filters_and_visible_columns_and_scope(admin_user):  # type: ignore[no-untyped-def]
    rep = UserFactory()
    CustomerFactory(owner=rep, name="北京的", city="北京市")
    CustomerFactory(owner=rep, name="上海的", city="上海市")
    CustomerFactory(owner=admin_user, name="管理员的", city="北京市")
    client = Client()
    client.force_login(rep)
    client.post(reverse("customers:columns"), {"columns": ["city", "owner"]})
    response = client.get(reverse("customers:export"), {"city": "北京市", "format": "csv"})
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["ID", "名称", "负责人", "省份", "城市", "区县"]
    assert rows[1:] == [[rows[1][0], "北京的", str(rep), "", "北京市", ""]]

    response = client.get(reverse("customers:export"), {"format": "xlsx", "columns": "all"})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert sorted(r[3] for r in sheet.iter_rows(min_row=2, values_only=True)) == ["上海的", "北京的"]
    list_page = client.get(reverse("customers:list"), {"city": "北京市"}).content.decode()
    assert "/customers/export/?city=" in list_page


def test_api_export_csv_and_xlsx_with_filters(admin_user):  # type: ignore[no-untyped-def]
    rep = UserFactory()
    CustomerFactory(owner=rep, name="甲", city="北京市")
    CustomerFactory(owner=rep, name="乙", city="上海市")
    CustomerFactory(owner=admin_user, name="丙", city="北京市")
    response = Api(rep).get("/customers/export", {"format": "csv", "city": "北京市", "columns": "id,name"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [r[1] for r in rows] == ["名称", "甲"]
    response = Api(admin_user).get("/customers/export", {"format": "xlsx", "city": "北京市"})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert sorted(r[3] for r in sheet.iter_rows(min_row=2, values_only=True)) == ["丙", "甲"]
    assert Api(rep).get("/customers/export", {"format": "pdf"}).status_code == 422


# Command ----------------------------------------------------------------------------------------


def test_export_command_writes_xlsx_and_csv_with_filters_and_user_scope(tmp_path, admin_user):  # type: ignore[no-untyped-def]
    rep = UserFactory()
    services.customer_create(acting_user=admin_user, data={"name": "北京甲公司", "city": "北京市", "owner": rep.pk})
    services.customer_create(acting_user=admin_user, data={"name": "北京丙公司", "city": "北京市"})
    services.customer_create(acting_user=admin_user, data={"name": "上海乙公司", "city": "上海市"})
    out = tmp_path / "out.xlsx"
    stdout = io.StringIO()
    call_command("export", "customers", "--format", "xlsx", "--out", str(out), "--filter", "city=北京市",
                 stdout=stdout)
    assert stdout.getvalue().startswith("exported 2 customers")
    names = [row[3] for row in load_workbook(out).active.iter_rows(min_row=2, values_only=True)]
    assert names == ["北京甲公司", "北京丙公司"]

    out = tmp_path / "mine.csv"
    call_command("export", "customers", "--out", str(out), "--user", rep.username, stdout=io.StringIO())
    assert [row[3] for row in list(csv.reader(out.open(encoding="utf-8-sig")))[1:]] == ["北京甲公司"]

    contacts = tmp_path / "contacts.csv"
    customer = services.customer_create(acting_user=admin_user, data={"name": "联系人公司", "credit_code": ""})
    services.contact_create(acting_user=admin_user, customer=customer, data={"name": "李雷", "mobile": "13800138000"})
    call_command("export", "contacts", "--out", str(contacts), "--e164", "--lang", "en", stdout=io.StringIO())
    rows = list(csv.reader(contacts.open(encoding="utf-8-sig")))
    record = dict(zip(rows[0], rows[1], strict=True))
    assert (record["Customer name"], record["Name"], record["Mobile (E.164)"]) == ("联系人公司", "李雷",
                                                                                    "+8613800138000")


def test_xlsx_round_trip_through_open_table_gives_the_stored_values(tmp_path, admin_user):  # type: ignore[no-untyped-def]
    values = ["=1+1", "'=already", "<b>粗体</b> & 公司", "换行\n第二行", "@x", "  空格  ", "+86 138 0013 8000"]
    created = [
        services.customer_create(acting_user=admin_user, data={"name": f"客户{i}", "notes": value})
        for i, value in enumerate(values)
    ]
    out = tmp_path / "out.xlsx"
    call_command("export", "customers", "--out", str(out), stdout=io.StringIO())
    table = open_table(str(out))
    assert table.headers[:4] == ["ID", "外部编号", "类型", "名称"]
    notes_at, names_at = table.headers.index("备注"), table.headers.index("名称")
    read = {unescape_formula(row[names_at]): unescape_formula(row[notes_at]) for row in table.rows()}
    assert read == {c.name: c.notes for c in created}


def test_xlsx_stream_writes_numbers_text_and_strips_xml_illegal_characters(tmp_path):  # type: ignore[no-untyped-def]
    out = tmp_path / "book.xlsx"
    with export.XlsxStream(str(out)) as book:
        book.sheet("第一页 & <二>")
        book.append(["a\x01b", 12, 1.5, None, "", "=SUM(A1)", "x<y&z"])
        book.sheet("second")
        book.append(["only"])
    workbook = load_workbook(out)
    assert workbook.sheetnames == ["第一页 & <二>", "second"]
    cells = list(workbook.worksheets[0].iter_rows(values_only=True))[0]
    assert cells == ("ab", 12, 1.5, None, None, "=SUM(A1)", "x<y&z")
    assert workbook.worksheets[0]["F1"].data_type == "s"


def test_resident_id_is_masked_for_everyone_but_admins(admin_user):  # type: ignore[no-untyped-def]
    rep = UserFactory()
    CustomerFactory(owner=rep, kind="person", name="张三", id_number="11010519491231002X")
    assert _column(_read_csv(rep), "id_number") == ["110105********002X"]
    assert _column(_read_csv(admin_user), "id_number") == ["11010519491231002X"]
