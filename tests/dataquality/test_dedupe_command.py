"""`kehu dedupe`: a file in, clusters and reasoned pairs out, header recognition, errors, FEBRL.

No database: these tests never use the `db` fixture (pytest-django refuses any query), and one runs
the real command in a subprocess pointed at a database file that does not exist."""

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

from bench import dedupe_accuracy
from kehu.dataquality.matching.columns import recognise

HEADERS = ["编号", "客户名称", "联系人", "手机", "邮箱", "城市", "备注"]
ROWS = [
    # 客户名称 + 联系人: each row is a company customer, the contact a person to ask for there
    ["1", "北京分扬科技有限公司", "张先生", "+86 138-1234-5678", "", "北京", "老客户"],
    ["2", "分扬科技", "张伟", "13812345678", "zw@fenyang.com", "北京市", ""],
    ["3", "Beijing FenYang", "Zhang Wei", "", "ZW@fenyang.com", "Beijing", "=HYPERLINK(\"http://evil\")"],
    ["4", "上海远航物流有限公司", "王芳", "13900001111", "", "上海", ""],
    ["5", "远航物流", "李经理", "", "", "上海", "撞单"],
    # no company: the row is the contact person herself
    ["6", "", "王芳", "13700002222", "", "上海", ""],
    ["7", "", "王芳", "13600003333", "", "上海", ""],
]


def _write_csv(path: Path, rows: list[list[str]], *, encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def _read(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)  # Chinese Excel needs the BOM to read UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("dedupe", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_out_has_every_column_plus_cluster_and_score_and_pairs_have_reasons(tmp_path: Path) -> None:
    source = _write_csv(tmp_path / "in.csv", [HEADERS, *ROWS], encoding="gb18030")
    printed = _run(str(source), "--out", str(tmp_path / "out.csv"), "--pairs", str(tmp_path / "pairs.csv"))
    out = _read(tmp_path / "out.csv")
    assert list(out[0]) == [*HEADERS, "cluster_id", "match_score"]
    assert [row["编号"] for row in out] == ["1", "2", "3", "4", "5", "6", "7"]
    assert [row["cluster_id"] for row in out] == ["1", "1", "1", "2", "2", "3", "4"]
    assert out[5]["match_score"] == "" and out[6]["match_score"] == ""
    assert float(out[0]["match_score"]) >= 15
    assert out[2]["备注"] == "'=HYPERLINK(\"http://evil\")"  # formula-safe
    assert out[3]["客户名称"] == "上海远航物流有限公司"  # input cells kept as typed

    pairs = _read(tmp_path / "pairs.csv")
    assert list(pairs[0]) == ["row_a", "row_b", "cluster_id", "score", "verdict", "reasons"]
    first = pairs[0]
    assert (first["row_a"], first["row_b"]) in {("2", "3"), ("3", "4")}  # file rows: the header is row 1
    mobile = next(p for p in pairs if (p["row_a"], p["row_b"]) == ("2", "3"))
    assert mobile["verdict"] == "certain" and mobile["cluster_id"] == "1"
    assert mobile["reasons"].startswith("同一手机号 138****5678；公司名去掉“有限公司”和地区“北京”后相同（分扬科技）")
    assert all("13812345678" not in p["reasons"] for p in pairs)
    same_company = next(p for p in pairs if (p["row_a"], p["row_b"]) == ("5", "6"))
    assert same_company["verdict"] == "certain" and same_company["cluster_id"] == "2"
    assert same_company["reasons"] == (
        "公司名去掉“有限公司”和地区“上海”后相同（远航物流）；同在上海市；联系人不同（王芳 / 李经理）"
    )
    namesakes = next(p for p in pairs if (p["row_a"], p["row_b"]) == ("7", "8"))
    assert namesakes["verdict"] == "review" and namesakes["cluster_id"] == ""
    assert "2 组重复共 5 行" in printed and "contact=联系人" in printed


def test_reasons_in_english(tmp_path: Path) -> None:
    source = _write_csv(tmp_path / "in.csv", [HEADERS, *ROWS])
    _run(str(source), "--out", str(tmp_path / "out.csv"), "--pairs", str(tmp_path / "p.csv"), "--language", "en")
    reasons = [p["reasons"] for p in _read(tmp_path / "p.csv")]
    assert any(r.startswith("same mobile 138****5678; company names equal after removing") for r in reasons)


def test_threshold_option(tmp_path: Path) -> None:
    source = _write_csv(tmp_path / "in.csv", [HEADERS, *ROWS])
    _run(str(source), "--out", str(tmp_path / "out.csv"), "--threshold", "8")
    assert [row["cluster_id"] for row in _read(tmp_path / "out.csv")] == ["1", "1", "1", "2", "2", "3", "3"]


def test_xlsx_input(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["姓名", "手机号码", "电子邮箱"])
    sheet.append(["李娜", 13812345678, "lina@qq.com"])  # a phone typed as a number
    sheet.append(["李娜女士", "138 1234 5678", "LiNa@QQ.com"])
    book.save(tmp_path / "in.xlsx")
    _run(str(tmp_path / "in.xlsx"), "--out", str(tmp_path / "out.csv"))
    assert [row["cluster_id"] for row in _read(tmp_path / "out.csv")] == ["1", "1"]


@pytest.mark.parametrize(("headers", "expected"), [
    (["姓名", "客户名称", "手机", "电话", "邮箱", "地址", "城市", "省份", "邮编", "生日", "身份证号",
      "统一社会信用代码"],
     {"name": [0], "company": [1], "phone": [2, 3], "email": [4], "address": [5], "city": [6], "province": [7],
      "postcode": [8], "birth_date": [9], "id_number": [10], "credit_code": [11]}),
    (["rec_id", "given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state",
      "date_of_birth", "soc_sec_id"],
     {"given_name": [1], "family_name": [2], "street": [3, 4, 5], "city": [6], "province": [8], "postcode": [7],
      "birth_date": [9], "id_number": [10]}),
    (["First Name", "Last Name", "Company", "Mobile Phone", "E-mail", "Date of Birth", "Zip"],
     {"given_name": [0], "family_name": [1], "company": [2], "phone": [3], "email": [4], "birth_date": [5],
      "postcode": [6]}),
    (["联系人", "手机1", "手机2", "备注", "负责人", "cluster_id"], {"name": [0], "phone": [1, 2]}),
    (["客户名称", "联系人", "座机"], {"contact": [1], "company": [0], "phone": [2]}),
])  # fmt: skip
def test_headers_are_recognised(headers: list[str], expected: dict[str, list[int]]) -> None:
    assert recognise(headers) == expected


def test_columns_override(tmp_path: Path) -> None:
    source = _write_csv(tmp_path / "in.csv", [["客户姓名", "号码", "备注"], ["王芳", "13812345678", "a"],
                                              ["王芳", "+8613812345678", "b"]])
    printed = _run(str(source), "--out", str(tmp_path / "out.csv"), "--columns", "name=客户姓名,phone=号码")
    assert "name=客户姓名, phone=号码" in printed
    assert [row["cluster_id"] for row in _read(tmp_path / "out.csv")] == ["1", "1"]
    assert recognise(["姓名", "手机"], "phone=") == {"name": [0]}  # "role=" switches a role off
    # The issue's own order, header=role, gives the same result.
    again = _run(str(source), "--out", str(tmp_path / "again.csv"), "--columns", "客户姓名=name,号码=phone")
    assert "name=客户姓名, phone=号码" in again
    assert [row["cluster_id"] for row in _read(tmp_path / "again.csv")] == ["1", "1"]
    assert recognise(["name", "公司"], "name=company") == {"company": [0]}  # both sides roles: header=role


@pytest.mark.parametrize(("columns", "message"), [
    ("colour=手机", "未知的角色 'colour'"), ("name=不存在", "找不到列 '不存在'"), ("name", "列名=角色"),
    ("name=手机,name=备注", "只能对应一列"),
])  # fmt: skip
def test_bad_columns_are_clear_errors(tmp_path: Path, columns: str, message: str) -> None:
    source = _write_csv(tmp_path / "in.csv", [["手机", "备注"], ["13812345678", ""]])
    with pytest.raises(CommandError, match=message):
        _run(str(source), "--out", str(tmp_path / "out.csv"), "--columns", columns)
    assert not (tmp_path / "out.csv").exists()


def test_missing_file_and_no_usable_column(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="文件不存在"):
        _run(str(tmp_path / "nope.csv"), "--out", str(tmp_path / "out.csv"))
    source = _write_csv(tmp_path / "in.csv", [["备注", "金额"], ["x", "1"]])
    with pytest.raises(CommandError, match="没有识别出可用于查重的列.*备注、金额"):
        _run(str(source), "--out", str(tmp_path / "out.csv"))


def test_runs_without_a_database(tmp_path: Path) -> None:
    source = _write_csv(tmp_path / "in.csv", [HEADERS, *ROWS])
    missing = tmp_path / "no" / "such.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{missing}", "KEHU_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "kehu.cli", "dedupe", str(source), "--out", str(tmp_path / "out.csv")],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert not missing.exists() and not missing.parent.exists()
    assert [row["cluster_id"] for row in _read(tmp_path / "out.csv")] == ["1", "1", "1", "2", "2", "3", "4"]


def test_febrl1_through_the_command_path(tmp_path: Path) -> None:
    result = dedupe_accuracy.evaluate("febrl1", workdir=tmp_path, log=lambda _message: None)
    assert result["records"] == 1000 and result["true_pairs"] == 500
    assert result["f1"] >= 0.98 and result["precision"] >= 0.98
    assert result["pairs_per_record"] < 5  # blocking: a handful of comparisons per record, not 500
    table = dedupe_accuracy.format_table({"threshold": 15.0, "datasets": {"febrl1": result}, "within_target": True})
    assert "febrl1" in table and f"{result['f1']:.4f}" in table
