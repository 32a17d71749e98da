"""`kehu clean`: files in every flavour through the engine, exact output cells, summary, errors.

No database: these tests never use the `db` fixture, and one runs the real command in a
subprocess pointed at a database file that does not exist."""

from __future__ import annotations

import codecs
import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from kehu.dataquality.pipeline import OUTPUT_COLUMNS

HEADERS = ["客户名称", "联系人", "手机", "座机", "邮箱", "地址", "备注"]
ROWS = [
    ["北京分扬科技有限公司", "张先生", "+86 138-1234-5678", "(010)65529988转123", " Zhang.San@QQ.COM ",
     "BJ朝阳区建国路88号", "老客户"],
    ["华为技术（深圳）有限公司", "王 小明", "１３９００００１１１１", "", "wang@163.con", "广东深圳南山区科技园", ""],
    ["=HYPERLINK(\"http://evil\",\"点我\")", "单田芳", "12345", "", "not-an-email", "火星", "@SUM(A1)"],
]


def _write_csv(path: Path, rows: list[list[str]], *, encoding: str, delimiter: str = ",") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def _run(*args: str, **options: object) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("clean", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def _read_output(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)  # Chinese Excel needs the BOM to read UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


EXPECTED = [
    {
        "客户名称": "北京分扬科技有限公司", "联系人": "张先生", "手机": "+86 138-1234-5678",
        "座机": "(010)65529988转123", "邮箱": " Zhang.San@QQ.COM ", "地址": "BJ朝阳区建国路88号", "备注": "老客户",
        "phone_e164": "+8613812345678; +861065529988", "phone_valid": "true", "email_clean": "Zhang.San@qq.com",
        "province": "北京市", "city": "北京市", "district": "朝阳区", "address_detail": "建国路88号",
        "company_canonical": "北京分扬科技有限公司", "company_core": "分扬科技", "name_clean": "张",
        "salutation": "先生", "pinyin": "zhang", "pinyin_initials": "z", "problems": "",
    },
    {
        "客户名称": "华为技术（深圳）有限公司", "联系人": "王 小明", "手机": "１３９００００１１１１", "座机": "",
        "邮箱": "wang@163.con", "地址": "广东深圳南山区科技园", "备注": "",
        "phone_e164": "+8613900001111", "phone_valid": "true", "email_clean": "wang@163.con",
        "province": "广东省", "city": "深圳市", "district": "南山区", "address_detail": "科技园",
        "company_canonical": "华为技术（深圳）有限公司", "company_core": "华为技术", "name_clean": "王小明",
        "salutation": "", "pinyin": "wangxiaoming", "pinyin_initials": "wxm",
        "problems": "邮箱：邮箱域名可能拼错了（wang@163.con），建议 wang@163.com",
    },
]


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8", "utf-16"])
def test_csv_in_any_encoding_gives_the_same_output(tmp_path, encoding):
    source = _write_csv(tmp_path / "in.csv", [HEADERS, *ROWS], encoding=encoding)
    out, _err = _run(str(source), out=str(tmp_path / "out.csv"), workers=1)
    rows = _read_output(tmp_path / "out.csv")
    assert list(rows[0]) == HEADERS + list(OUTPUT_COLUMNS)
    assert rows[:2] == EXPECTED
    detected = {"gbk": "gb18030", "utf-8-sig": "utf-8-sig"}.get(encoding, encoding)
    assert f"in.csv: CSV, 编码 {detected}, 分隔符 ',', 7 列" in out
    assert "识别的列 columns: name=联系人, company=客户名称, phone=手机+座机, email=邮箱, address=地址" in out


def test_formula_cells_are_escaped_phones_are_not(tmp_path):
    source = _write_csv(tmp_path / "in.csv", [HEADERS, *ROWS], encoding="utf-8")
    _run(str(source), out=str(tmp_path / "out.csv"), workers=1)
    third = _read_output(tmp_path / "out.csv")[2]
    assert third["客户名称"] == "'=HYPERLINK(\"http://evil\",\"点我\")"
    assert third["company_canonical"].startswith("'=HYPERLINK")  # whatever the normaliser made of it
    assert third["备注"] == "'@SUM(A1)"
    assert third["手机"] == "12345"
    assert third["phone_valid"] == "false"
    assert third["problems"] == (
        "手机：无法识别的电话号码（12345）; 邮箱：邮箱地址格式不正确（not-an-email）; "
        "地址：无法识别地址中的省市区（火星）"
    )
    first = _read_output(tmp_path / "out.csv")[0]
    assert first["phone_e164"] == "+8613812345678; +861065529988"  # a phone is data: no apostrophe


def test_summary(tmp_path):
    source = _write_csv(tmp_path / "in.csv", [HEADERS, *ROWS], encoding="gbk")
    out, _err = _run(str(source), out=str(tmp_path / "out.csv"), workers=1, report=True)
    lines = out.splitlines()
    assert lines[2:13] == [
        f"输出 output: {tmp_path / 'out.csv'}",
        "行数 rows: 3",
        "有修正的行 rows changed: 3",
        "有问题的行 rows with problems: 2",
        "修正 fixed: 姓名 2，电话 2，地址 2，邮箱 1，公司 1",
        "问题 problems:",
        "  email.domain_typo            1  邮箱域名可能拼错了",
        "  phone.invalid                1  无法识别的电话号码",
        "  email.invalid                1  邮箱地址格式不正确",
        "  address.unrecognised         1  无法识别地址中的省市区",
        lines[12],
    ]
    assert lines[12].startswith("用时 ") and lines[12].endswith("行/秒，1 个进程")
    assert "phone.invalid" in out and "无法识别的电话号码" in out
    assert "第 3 行: 邮箱：邮箱域名可能拼错了" in out  # --report: file row numbers (the header is row 1)
    assert "第 4 行: 手机：无法识别的电话号码（12345）" in out


def test_semicolon_csv_and_column_overrides(tmp_path):
    headers = ["客户姓名", "单位", "手机1", "手机2", "其他"]
    rows = [["李四女士", "腾讯", "13700001111", "13700001111", "li@qq.com"]]
    source = _write_csv(tmp_path / "in.csv", [headers, *rows], encoding="utf-8", delimiter=";")
    out, _err = _run(str(source), out=str(tmp_path / "out.csv"), workers=1,
                     columns=["company=单位,phone=手机1", "email=其他"])
    assert "name=客户姓名, company=单位, phone=手机1, email=其他" in out
    row = _read_output(tmp_path / "out.csv")[0]
    assert (row["name_clean"], row["salutation"], row["phone_e164"], row["email_clean"]) == (
        "李四", "女士", "+8613700001111", "li@qq.com",
    )


def test_xlsx_with_sheet_choice_and_numbers(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.title = "说明"
    workbook.active.append(["这一页是说明"])
    sheet = workbook.create_sheet("客户")
    sheet.append(["Company Name", "Contact Name", "Mobile", "Email", "Address"])
    sheet.append(["Acme Co., Ltd.", "Lily Zhang", 13812345678, "lily@acme.com", "上海市浦东新区世纪大道100号"])
    path = tmp_path / "crm.xlsx"
    workbook.save(path)
    out, _err = _run(str(path), out=str(tmp_path / "out.csv"), sheet="客户", workers=1)
    assert "crm.xlsx: XLSX, 工作表 '客户'（共 2 个）, 5 列" in out
    row = _read_output(tmp_path / "out.csv")[0]
    assert row["Mobile"] == "13812345678"  # an Excel number, without ".0"
    assert (row["phone_e164"], row["email_clean"], row["province"], row["city"], row["district"]) == (
        "+8613812345678", "lily@acme.com", "上海市", "上海市", "浦东新区",
    )
    assert (row["company_canonical"], row["company_core"], row["name_clean"]) == (
        "Acme Co., Ltd.", "Acme", "Lily Zhang",
    )


def test_cleaning_a_cleaned_file_changes_nothing(tmp_path):
    source = _write_csv(tmp_path / "in.csv", [HEADERS, *ROWS[:2]], encoding="gbk")
    _run(str(source), out=str(tmp_path / "once.csv"), workers=1)
    _run(str(tmp_path / "once.csv"), out=str(tmp_path / "twice.csv"), workers=1)
    assert _read_output(tmp_path / "twice.csv") == _read_output(tmp_path / "once.csv")


def test_parallel_output_equals_single_process_output(tmp_path):
    rows = [[f"公司{i}有限公司", f"张{i}", f"138{i:08d}", "", f"u{i}@qq.com", "北京市朝阳区", ""]
            for i in range(5000)]
    source = _write_csv(tmp_path / "in.csv", [HEADERS, *rows], encoding="utf-8")
    _run(str(source), out=str(tmp_path / "one.csv"), workers=1)
    out, _err = _run(str(source), out=str(tmp_path / "two.csv"), workers=2)
    assert (tmp_path / "two.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()
    assert "行数 rows: 5,000" in out and "2 个进程" in out


def test_out_dash_writes_csv_to_stdout_and_the_summary_to_stderr(tmp_path):
    source = _write_csv(tmp_path / "in.csv", [HEADERS, ROWS[0]], encoding="utf-8")
    out, err = _run(str(source), out="-", workers=1)
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == HEADERS + list(OUTPUT_COLUMNS)
    assert rows[1][len(HEADERS)] == "+8613812345678; +861065529988"
    assert "行数 rows: 1" in err


@pytest.mark.parametrize(
    ("name", "content", "options", "message"),
    [
        ("empty.csv", b"", {}, "empty.csv：文件是空的"),
        ("photo.png", b"\x89PNG\r\n", {}, "photo.png：不支持的文件格式 .png"),
        ("bad.xlsx", b"not a zip", {}, "bad.xlsx：不是有效的 XLSX 文件"),
        ("x.csv", "备注,金额\n你好,1\n".encode(), {}, "x.csv：没有识别出任何可清洗的列"),
        ("y.csv", "姓名\n张三\n".encode(), {"columns": ["phone=电话"]}, "找不到列 '电话'，文件的列有：姓名"),
        ("z.csv", "姓名\n张三\n".encode(), {"columns": ["nam=姓名"]}, "未知的角色 'nam'"),
        ("w.csv", "姓名\n张三\n".encode(), {"encoding": "klingon"}, "w.csv：未知的编码 'klingon'"),
    ],
)
def test_bad_input_gives_a_clear_error(tmp_path, name, content, options, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        _run(str(path), out=str(tmp_path / "out.csv"), workers=1, **options)
    assert not (tmp_path / "out.csv").exists()


def test_missing_input_file(tmp_path):
    with pytest.raises(CommandError, match="nope.csv：文件不存在"):
        _run(str(tmp_path / "nope.csv"), out=str(tmp_path / "out.csv"))


def test_runs_without_any_database(tmp_path):
    """The real command in a fresh process, pointed at a database file that does not exist: it
    must neither need nor create it."""
    source = _write_csv(tmp_path / "in.csv", [HEADERS, ROWS[0]], encoding="gbk")
    missing = tmp_path / "no" / "such.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{missing}", "KEHU_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "kehu.cli", "clean", str(source), "--out", str(tmp_path / "out.csv")],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "行数 rows: 1" in done.stdout
    assert not missing.exists() and not missing.parent.exists()
    assert _read_output(tmp_path / "out.csv")[0]["phone_e164"] == "+8613812345678; +861065529988"
