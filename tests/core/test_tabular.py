"""The table reader: every CSV flavour Chinese Excel and CRMs produce, and XLSX with several sheets."""

from __future__ import annotations

import codecs
import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kehu.core import tabular
from kehu.core.errors import KehuError
from kehu.core.tabular import TableError, cell_text, detect_encoding, open_table

ROWS = [
    ["姓名", "手机", "地址"],
    ["张三", "138 1234 5678", "北京市朝阳区建国路88号"],
    ["李四", "+86 139-0000-1111", "上海"],
]


def _csv(tmp_path: Path, name: str, text: str, encoding: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("encoding", "written", "detected"),
    [
        ("utf-8", "utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig", "utf-8-sig"),
        ("gbk", "gbk", "gb18030"),
        ("gb18030", "gb18030", "gb18030"),
        ("utf-16", "utf-16", "utf-16"),
    ],
)
def test_csv_encodings_are_detected(tmp_path, encoding, written, detected):
    text = "\r\n".join(",".join(r) for r in ROWS) + "\r\n"
    table = open_table(_csv(tmp_path, f"{encoding}.csv", text, written))
    assert table.format == "csv"
    assert table.encoding == detected
    assert table.delimiter == ","
    assert table.headers == ["姓名", "手机", "地址"]
    assert list(table.rows()) == ROWS[1:]
    assert table.row_count is None


@pytest.mark.parametrize(("delimiter"), [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path, delimiter):
    text = "\n".join(delimiter.join(r) for r in ROWS) + "\n"
    table = open_table(_csv(tmp_path, "d.csv", text, "utf-8"))
    assert table.delimiter == delimiter
    assert list(table.rows()) == ROWS[1:]


def test_semicolon_csv_with_commas_inside_cells(tmp_path):
    text = "公司;地址;备注\n分扬科技;北京市朝阳区, 建国路88号;a,b,c\n华为;深圳;x\n"
    table = open_table(_csv(tmp_path, "s.csv", text, "utf-8"))
    assert table.delimiter == ";"
    assert list(table.rows()) == [["分扬科技", "北京市朝阳区, 建国路88号", "a,b,c"], ["华为", "深圳", "x"]]


def test_quoted_newlines_blank_rows_and_short_rows(tmp_path):
    text = '\n\n姓名,备注,电话\n"张三","第一行\n第二行",138\n,,\n李四\n'
    table = open_table(_csv(tmp_path, "q.csv", text, "utf-8"))
    assert table.headers == ["姓名", "备注", "电话"]
    assert table.header_row == 3
    assert list(table.numbered_rows()) == [(5, ["张三", "第一行\n第二行", "138"]), (7, ["李四", "", ""])]
    assert list(table.rows()) == list(table.rows())  # re-iterable


def test_headers_are_stripped_and_bom_never_leaks(tmp_path):
    path = tmp_path / "b.csv"
    path.write_bytes(codecs.BOM_UTF8 + " 姓名 ,\t手机\t,\n张三,1,\n".encode())
    table = open_table(path)
    assert table.headers == ["姓名", "手机"]
    assert list(table.rows()) == [["张三", "1"]]  # the empty cell right of the header is dropped


def test_encoding_and_delimiter_overrides(tmp_path):
    path = _csv(tmp_path, "o.txt", "a|b\n1|2\n", "utf-8")
    table = open_table(path, encoding="utf-8", delimiter="|")
    assert (table.encoding, table.delimiter, table.headers) == ("utf-8", "|", ["a", "b"])
    assert open_table(path, delimiter="tab").headers == ["a|b"]
    with pytest.raises(TableError, match="未知的编码"):
        open_table(path, encoding="klingon")


def test_utf8_detection_tolerates_a_character_cut_at_the_sample_end():
    data = "张".encode() * 10
    assert detect_encoding(data[:-1]) == "utf-8"
    assert detect_encoding(data[:-1], complete=True) == "gb18030"
    assert detect_encoding("张三".encode("gbk")) == "gb18030"


def test_gbk_file_larger_than_the_sample(tmp_path, monkeypatch):
    monkeypatch.setattr(tabular, "SAMPLE_BYTES", 64)
    lines = ["姓名,城市"] + [f"张{i},北京" for i in range(100)]
    table = open_table(_csv(tmp_path, "big.csv", "\n".join(lines), "gbk"))
    assert table.encoding == "gb18030"
    assert sum(1 for _ in table.rows()) == 100


def test_utf8_file_with_gbk_bytes_after_the_sample_fails_with_the_row(tmp_path, monkeypatch):
    monkeypatch.setattr(tabular, "SAMPLE_BYTES", 64)
    path = tmp_path / "mixed.csv"
    path.write_bytes(("a,b\n" + "x,y\n" * 40).encode() + "张,三\n".encode("gbk"))
    assert tabular.detect_encoding(path.read_bytes()[:64]) == "utf-8"
    with pytest.raises(TableError, match=r"mixed.csv 第 42 行：无法按 utf-8 解码") as info:
        list(open_table(path).rows())  # the text reader decodes ahead, so this may fail at open already
    assert info.value.row == 42


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "empty.csv：文件是空的"),
        ("blank.csv", b"\r\n \r\n", "blank.csv：文件是空的"),
        ("bom-only.csv", codecs.BOM_UTF8, "bom-only.csv：文件是空的"),
        ("bad.xlsx", b"this is not a zip", "bad.xlsx：不是有效的 XLSX 文件"),
        ("broken.xlsx", b"PK\x03\x04garbage", "broken.xlsx：不是有效的 Excel 文件"),
        ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "photo.png：不支持的文件格式 .png"),
        ("binary.csv", b"a,b\n\x81\x30\xff\xff,x\n", "binary.csv 第 2 行：无法按 gb18030 解码，既不是 UTF-8"),
    ],
)
def test_bad_files_raise_clear_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(TableError) as info:
        open_table(path)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, KehuError)


def test_missing_file(tmp_path):
    with pytest.raises(TableError, match="nope.csv：文件不存在"):
        open_table(tmp_path / "nope.csv")


def _workbook(tmp_path: Path) -> Path:
    workbook = openpyxl.Workbook()
    empty = workbook.active
    empty.title = "说明"
    customers = workbook.create_sheet("客户")
    customers.append(["姓名", "手机", "金额", "签约日期", "最后联系", "VIP", "身份证"])
    customers.append(["张三", 13812345678, 12.5, dt.date(2024, 1, 2), dt.datetime(2024, 1, 2, 3, 4, 5), True,
                      "11010519491231002X"])
    customers.append([None, None, None, None, None, None, None])
    customers.append(["李四", "010-65529988", 3, dt.datetime(2023, 12, 31), None, False, 4403])
    other = workbook.create_sheet("联系人")
    other.append(["name", "email"])
    other.append(["Wang", "wang@qq.com"])
    path = tmp_path / "crm.xlsx"
    workbook.save(path)
    return path


def test_xlsx_first_non_empty_sheet_and_cell_text(tmp_path):
    table = open_table(_workbook(tmp_path))
    assert table.format == "xlsx"
    assert table.sheet_names == ["说明", "客户", "联系人"]
    assert table.sheet == "客户"
    assert table.headers == ["姓名", "手机", "金额", "签约日期", "最后联系", "VIP", "身份证"]
    assert table.row_count == 3  # the blank row counts: known without reading
    assert list(table.numbered_rows()) == [
        (2, ["张三", "13812345678", "12.5", "2024-01-02", "2024-01-02 03:04:05", "TRUE", "11010519491231002X"]),
        (4, ["李四", "010-65529988", "3", "2023-12-31", "", "FALSE", "4403"]),
    ]


@pytest.mark.parametrize("sheet", ["联系人", 2, "2", " 联系人 "])
def test_xlsx_sheet_by_name_or_index(tmp_path, sheet):
    table = open_table(_workbook(tmp_path), sheet=sheet)
    assert table.sheet == "联系人"
    assert list(table.rows()) == [["Wang", "wang@qq.com"]]


@pytest.mark.parametrize(("sheet", "message"), [("订单", "没有名为 '订单' 的工作表，可选：说明、客户、联系人"),
                                                (7, "没有第 7 个工作表"), (0, "工作表 '说明' 是空的")])
def test_xlsx_bad_sheet(tmp_path, sheet, message):
    with pytest.raises(TableError, match=message):
        open_table(_workbook(tmp_path), sheet=sheet)


def test_xlsx_renamed_as_csv_is_still_read_as_excel(tmp_path):
    path = _workbook(tmp_path).rename(tmp_path / "export.csv")
    assert open_table(path).format == "xlsx"


def test_xlsx_with_every_sheet_empty(tmp_path):
    path = tmp_path / "e.xlsx"
    openpyxl.Workbook().save(path)
    with pytest.raises(TableError, match="所有工作表都是空的"):
        open_table(path)


def test_xlsx_zip_bomb_is_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(tabular, "MAX_UNCOMPRESSED_BYTES", 1000)
    with pytest.raises(TableError, match="超过上限"):
        open_table(_workbook(tmp_path))


def test_openpyxl_fallback_reads_the_same(tmp_path):
    path = _workbook(tmp_path)
    fallback = tabular._open_openpyxl(path, sheet=None)
    fast = open_table(path)
    assert (fallback.sheet, fallback.headers) == (fast.sheet, fast.headers)
    assert list(fallback.rows()) == list(fast.rows())


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""), ("x", "x"), (13812345678.0, "13812345678"), (12.5, "12.5"), (0.1, "0.1"), (-3.0, "-3"),
        (7, "7"), (True, "TRUE"), (False, "FALSE"), (dt.date(2024, 2, 29), "2024-02-29"),
        (dt.datetime(2024, 2, 29), "2024-02-29"), (dt.datetime(2024, 2, 29, 8, 30), "2024-02-29 08:30:00"),
        (dt.time(8, 30), "08:30:00"), (dt.timedelta(hours=1), "1:00:00"),
    ],
)
def test_cell_text(value, text):
    assert cell_text(value) == text


@pytest.mark.parametrize(
    ("cell", "escaped"),
    [
        ("=1+2", "'=1+2"), ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("@SUM(A1)", "'@SUM(A1)"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("-2+3+cmd|x", "'-2+3+cmd|x"), ("\t=x", "'\t=x"),
        ("\rx", "'\rx"), ("+", "'+"), ("-", "'-"),
        # numbers and phones are data, not formulas
        ("+8613812345678", "+8613812345678"), ("-12.5", "-12.5"), ("+86 10 6552 9988", "+86 10 6552 9988"),
        ("+8613812345678; +861065529988", "+8613812345678; +861065529988"), ("+1 (650) 253-0000", "+1 (650) 253-0000"),
        # apostrophes a writer put there stay distinguishable
        ("'=x", "''=x"), ("'abc", "'abc"), ("'+8613812345678", "'+8613812345678"),
        ("", ""), ("张三", "张三"), ("a=b", "a=b"),
    ],
)
def test_escape_formula(cell, escaped):
    assert tabular.escape_formula(cell) == escaped
    assert tabular.unescape_formula(escaped) == cell
    assert tabular.escape_row([cell, "x"]) == [escaped, "x"]


@given(st.text(alphabet=st.sampled_from("=+-@\t\r'0123456789 ;().a张"), max_size=8))
def test_escape_round_trips_exactly(cell):
    assert tabular.unescape_formula(tabular.escape_formula(cell)) == cell
    escaped = tabular.escape_formula(cell)
    assert escaped[:1] not in tabular.FORMULA_START or tabular._HARMLESS.fullmatch(escaped)
