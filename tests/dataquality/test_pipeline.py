"""The row engine: header recognition, overrides, canonical columns, counts, output layout, pool order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kehu.dataquality.pipeline import (
    OUTPUT_COLUMNS,
    Cleaner,
    OutputLayout,
    clean_record,
    clean_rows,
    header_key,
    parse_column_overrides,
    recognise_columns,
    role_of_header,
)


@pytest.mark.parametrize(
    ("header", "role"),
    [
        # person names
        ("姓名", "name"), ("客户姓名", "name"), ("联系人", "name"), ("联系人姓名", "name"), ("Contact Name", "name"),
        ("Name", "name"), ("First Name", "first_name"), ("Last Name", "last_name"), ("姓", "last_name"),
        ("名", "first_name"),
        # companies, CRM exports included
        ("公司", "company"), ("公司名称", "company"), ("客户名称", "company"), ("单位", "company"),
        ("单位名称", "company"), ("工作单位", "company"), ("Company name", "company"), ("Company Name", "company"),
        ("Account Name", "company"), ("Associated Company", "company"), ("Organization", "company"),
        # phones
        ("手机", "phone"), ("手机1", "phone"), ("手机（1）", "phone"), ("手 机", "phone"), ("手机号码", "phone"),
        ("电话", "phone"), ("座机", "phone"), ("固话", "phone"), ("联系电话", "phone"), ("联系方式", "phone"),
        ("公司电话", "phone"), ("联系人电话", "phone"), ("工作电话", "phone"), ("Mobile", "phone"),
        ("Mobile Phone Number", "phone"), ("Phone Number", "phone"), ("Phone 2", "phone"), ("Phone", "phone"),
        ("TEL", "phone"), ("Tel.", "phone"), ("Business Phone", "phone"),
        # e-mail
        ("邮箱", "email"), ("电子邮件", "email"), ("电子邮箱", "email"), ("联系人邮箱", "email"), ("E-mail", "email"),
        ("EMAIL", "email"), ("ＥＭＡＩＬ", "email"), ("Email Address", "email"), ("mail", "email"),
        # addresses
        ("地址", "address"), ("详细地址", "address"), ("联系地址", "address"), ("公司地址", "address"),
        ("Address", "address"), ("Billing Street", "address"), ("Mailing Street", "address"),
        ("省", "province"), ("省份", "province"), ("State/Province", "province"),
        ("Billing State/Province", "province"), ("市", "city"), ("城市", "city"), ("Billing City", "city"),
        ("区", "district"), ("区县", "district"),
        # identifiers
        ("统一社会信用代码", "credit_code"), ("信用代码", "credit_code"), ("纳税人识别号", "credit_code"),
        ("身份证", "id_number"), ("身份证号", "id_number"), ("ID Number", "id_number"),
        ("网址", "website"), ("网站", "website"), ("Website", "website"), ("URL", "website"),
        ("Company Domain Name", "website"),
        # not data about the customer, or not ours to clean
        ("负责人", None), ("Account Owner", None), ("Contact owner", None), ("创建时间", None), ("Create Date", None),
        ("备注", None), ("Lead Source", None), ("邮编", None), ("金额", None), ("Record ID", None), ("", None),
        # Kehu's own output columns (a cleaned file cleaned again)
        ("phone_e164", None), ("email_clean", None), ("company_core", None), ("problems", None),
    ],
)
def test_role_of_header(header, role):
    assert role_of_header(header) == role


@pytest.mark.parametrize(
    ("header", "key"),
    [("Phone Number 2", "phonenumber"), ("手机（1）", "手机"), ("E-mail:", "email"), (" ＥＭＡＩＬ ", "email"),
     ("Billing State/Province", "billingstateprovince"), ("地址2", "地址"), ("123", "123")],
)
def test_header_key(header, key):
    assert header_key(header) == key


def test_recognise_columns_several_phones_and_emails_first_match_for_the_rest():
    headers = ["客户名称", "联系人", "手机", "座机", "邮箱", "备用邮箱", "地址", "公司", "负责人", "备注"]
    assert recognise_columns(headers) == {
        "name": [1], "company": [0], "phone": [2, 3], "email": [4, 5], "address": [6],
    }


def test_recognise_hubspot_and_salesforce_exports():
    hubspot = ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Mobile Phone Number",
               "Company Name", "Street Address", "City", "State/Region", "Contact owner"]
    assert recognise_columns(hubspot) == {
        "first_name": [1], "last_name": [2], "company": [6], "phone": [4, 5], "email": [3], "address": [7],
        "province": [9], "city": [8],
    }
    salesforce = ["Account Name", "Account Owner", "Billing Street", "Billing City", "Billing State/Province",
                  "Phone", "Website"]
    assert recognise_columns(salesforce) == {
        "company": [0], "phone": [5], "address": [2], "province": [4], "city": [3], "website": [6],
    }


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ("name=客户姓名", {"name": [0], "company": [1], "phone": [2, 3]}),
        ("company=客户姓名", {"company": [0], "phone": [2, 3]}),  # 客户名称 loses the role it was given
        ("phone=手机1", {"name": [0], "company": [1], "phone": [2]}),
        ("phone=手机1,phone=4", {"name": [0], "company": [1], "phone": [2, 3]}),
        ("phone=", {"name": [0], "company": [1]}),
        ("email=备注", {"name": [0], "company": [1], "phone": [2, 3], "email": [4]}),
        ("name=客户姓名，company=客户名称", {"name": [0], "company": [1], "phone": [2, 3]}),
        ({"address": ["备注"]}, {"name": [0], "company": [1], "phone": [2, 3], "address": [4]}),
    ],
)
def test_overrides(overrides, expected):
    headers = ["客户姓名", "客户名称", "手机1", "手机2", "备注"]
    assert recognise_columns(headers, overrides) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nam=客户姓名", "未知的角色 'nam'"),
        ("name", "应写成 角色=列名"),
        ("name=生日", "找不到列 '生日'，文件的列有：客户姓名、客户名称、手机1、手机2、备注"),
        ("name=客户姓名,name=备注", "角色 name 只能对应一列"),
        ("phone=9", "找不到列 '9'"),
    ],
)
def test_bad_overrides_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        recognise_columns(["客户姓名", "客户名称", "手机1", "手机2", "备注"], text)


def test_parse_column_overrides():
    assert parse_column_overrides("name=客户姓名, phone=手机1,phone=手机2,website=") == {
        "name": ["客户姓名"], "phone": ["手机1", "手机2"], "website": [],
    }
    assert parse_column_overrides("") == {}


RECORDS = [
    (
        {"name": "张先生", "company": "北京分扬科技有限公司", "phone": "+86 138-1234-5678",
         "email": " Zhang.San@QQ.COM ", "address": "BJ朝阳区建国路88号"},
        {"phone_e164": "+8613812345678", "phone_valid": "true", "email_clean": "Zhang.San@qq.com",
         "province": "北京市", "city": "北京市", "district": "朝阳区", "address_detail": "建国路88号",
         "company_canonical": "北京分扬科技有限公司", "company_core": "分扬科技", "name_clean": "张",
         "salutation": "先生", "pinyin": "zhang", "pinyin_initials": "z", "problems": ""},
    ),
    (
        {"name": "王 小明", "company": "华为技术（深圳）有限公司",
         "phone": ["(010)65529988转123", "１３９００００１１１１"], "email": "wang@163.con",
         "address": "广东深圳南山区科技园"},
        {"phone_e164": "+861065529988; +8613900001111", "phone_valid": "true", "email_clean": "wang@163.con",
         "province": "广东省", "city": "深圳市", "district": "南山区", "address_detail": "科技园",
         "company_canonical": "华为技术（深圳）有限公司", "company_core": "华为技术", "name_clean": "王小明",
         "salutation": "", "pinyin": "wangxiaoming", "pinyin_initials": "wxm",
         "problems": "email：邮箱域名可能拼错了（wang@163.con），建议 wang@163.com"},
    ),
    (
        {"name": "单田芳", "phone": "0086 13912345678 / 13912345678"},
        {**dict.fromkeys(OUTPUT_COLUMNS, ""), "phone_e164": "+8613912345678", "phone_valid": "true",
         "name_clean": "单田芳", "pinyin": "shantianfang", "pinyin_initials": "stf"},
    ),
    (
        {"phone": "12345", "email": "not-an-email", "address": "火星"},
        {**dict.fromkeys(OUTPUT_COLUMNS, ""), "phone_valid": "false", "address_detail": "火星",
         "problems": "phone：无法识别的电话号码（12345）; email：邮箱地址格式不正确（not-an-email）; "
                     "address：无法识别地址中的省市区（火星）"},
    ),
    (
        {"province": "广东", "city": "深圳", "district": "南山区", "address": "科技园1号"},
        {**dict.fromkeys(OUTPUT_COLUMNS, ""), "province": "广东省", "city": "深圳市", "district": "南山区",
         "address_detail": "科技园1号"},
    ),
    (
        {"first_name": "三", "last_name": "张"},
        {**dict.fromkeys(OUTPUT_COLUMNS, ""), "name_clean": "张三", "pinyin": "zhangsan", "pinyin_initials": "zs"},
    ),
    (
        {"phone": ["13812345678", "+86 138 1234 5678", ""], "email": ["a@qq.com", "A@QQ.com", "x@"]},
        {**dict.fromkeys(OUTPUT_COLUMNS, ""), "phone_e164": "+8613812345678", "phone_valid": "true",
         "email_clean": "a@qq.com; A@qq.com", "problems": "email：邮箱地址格式不正确（x@）"},
    ),
    ({"name": "   ", "phone": "\t"}, dict.fromkeys(OUTPUT_COLUMNS, "")),
]


@pytest.mark.parametrize(("record", "expected"), RECORDS)
def test_clean_record(record, expected):
    assert clean_record(record) == expected


def test_identifier_columns_are_appended_only_when_present():
    cleaned = clean_record(
        {"credit_code": "91350100M000100Y43", "id_number": "11010519491231002X", "website": "www.Example.com/"}
    )
    assert list(cleaned)[-4:] == ["credit_code_clean", "id_number_clean", "website_clean", "problems"]
    assert (cleaned["credit_code_clean"], cleaned["id_number_clean"], cleaned["website_clean"]) == (
        "91350100M000100Y43", "11010519491231002X", "https://www.example.com",
    )
    assert "credit_code_clean" not in clean_record({"name": "张三"})


HEADERS = ["客户名称", "联系人", "手机", "座机", "邮箱", "地址"]
ROWS = [
    ["北京分扬科技有限公司", "张先生", "138 1234 5678", "", "zhang@qq.com", "北京市朝阳区建国路88号"],
    ["北京分扬科技有限公司", "李四", "13912345678", "010-65529988", "li@qq.con", "北京市朝阳区建国路88号"],
    ["", "", "abc", "12345", "", ""],
    ["华为技术有限公司", "王五", "13700001111", "", "wang@huawei.com", "广东省深圳市龙岗区坂田华为基地"],
]


def test_summary_counts_rows_fixes_and_problems():
    cleaner = Cleaner(HEADERS, recognise_columns(HEADERS))
    out = cleaner.clean_many(ROWS)
    assert [len(r) for r in out] == [len(OUTPUT_COLUMNS)] * 4
    assert [r[-1] for r in out] == [
        "", "邮箱：邮箱域名可能拼错了（li@qq.con），建议 li@qq.com",
        "手机：无法识别的电话号码（abc）; 座机：无法识别的电话号码（12345）", "",
    ]
    summary = cleaner.summary.as_dict()
    assert summary["rows"] == 4
    assert summary["rows_with_problems"] == 2
    assert summary["problems"] == {"phone.invalid": 2, "email.domain_typo": 1}
    assert summary["fixed"]["phone"] == 1  # only "138 1234 5678" was rewritten
    assert summary["fixed"]["name"] == 1  # 张先生 -> 张 + 先生
    assert summary["rows_changed"] == 1


def test_clean_many_equals_row_by_row():
    columns = recognise_columns(HEADERS)
    together = Cleaner(HEADERS, columns)
    alone = Cleaner(HEADERS, columns)
    assert [list(r) for r in together.clean_many(ROWS * 3)] == [alone.clean(r) for r in ROWS * 3]
    assert together.summary.as_dict() == alone.summary.as_dict()


CELLS = st.sampled_from(
    ["", " ", "13812345678", "+86 138-1234-5678", "abc", "010-65529988 转 8", "zhang@qq.com", "x@", "A@QQ.CON",
     "张先生", "王 小明", "北京分扬科技有限公司", "BJ朝阳区建国路88号", "火星", "=1+2", "１３９００００１１１１"]
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(CELLS, min_size=6, max_size=6), min_size=1, max_size=12))
def test_chunked_cleaning_never_depends_on_the_neighbours(rows):
    columns = recognise_columns(HEADERS)
    together = Cleaner(HEADERS, columns).clean_many(rows)
    alone = [Cleaner(HEADERS, columns).clean(r) for r in rows]
    assert [list(r) for r in together] == alone


def test_output_layout_appends_and_replaces_in_place():
    headers = ["姓名", "手机", "phone_e164", "problems"]
    cleaner_columns = Cleaner.output_columns_for({"name": [0], "phone": [1]})
    layout = OutputLayout(headers, cleaner_columns)
    assert layout.headers == ["姓名", "手机", "phone_e164", "problems", *[c for c in OUTPUT_COLUMNS[1:-1]]]
    canonical = [f"v{i}" for i in range(len(OUTPUT_COLUMNS))]
    row = layout.assemble(["张三", "13812345678", "old", "old problems"], canonical)
    assert row[:4] == ["张三", "13812345678", "v0", f"v{len(OUTPUT_COLUMNS) - 1}"]
    assert row[4:] == canonical[1:-1]


def test_output_layout_keeps_cells_right_of_the_header_and_escapes_formulas():
    layout = OutputLayout(["姓名"], ("name_clean", "problems"))
    assert layout.headers == ["姓名", "name_clean", "problems"]
    assert layout.assemble(["=cmd|' /C calc'!A0", "extra", "@x"], ["=x", ""]) == [
        "'=cmd|' /C calc'!A0", "'=x", "", "extra", "'@x",
    ]
    assert layout.assemble(["+8613812345678"], ["-12.5", ""]) == ["+8613812345678", "-12.5", ""]


@pytest.mark.parametrize("workers", [1, 2])
def test_clean_rows_keeps_input_order(workers):
    rows = [[f"公司{i}", f"张{i}", f"138{i:08d}", "", f"u{i}@qq.com", "北京市朝阳区"] for i in range(2500)]
    columns = recognise_columns(HEADERS)
    from kehu.dataquality.pipeline import CleanSummary

    summary = CleanSummary()
    seen = []
    for chunk, out in clean_rows(rows, HEADERS, columns, workers=workers, chunk_rows=300, summary=summary):
        assert len(chunk) == len(out)
        seen.extend(r[0] for r in out)
    assert seen == [f"+86138{i:08d}" for i in range(2500)]
    assert summary.rows == 2500


def test_a_column_of_unique_values_stops_caching_and_gives_the_same_results(monkeypatch):
    from kehu.dataquality import pipeline

    monkeypatch.setattr(pipeline, "CACHE_TRIAL", 50)
    headers = ["手机", "公司"]
    rows = [[f"138{i:08d}", "北京分扬科技有限公司"] for i in range(120)]
    cleaner = Cleaner(headers, recognise_columns(headers))
    first = cleaner.clean_many(rows[:60])
    second = cleaner.clean_many(rows[60:])
    assert not hasattr(cleaner._phone_cells[0][1], "cache_info")  # unique phones: cache dropped
    assert hasattr(cleaner._company[1], "cache_info")  # one company repeated: cache kept
    fresh = Cleaner(headers, recognise_columns(headers))
    assert first + second == [tuple(fresh.clean(r)) for r in rows]


RAW_CELLS = st.text(alphabet=st.sampled_from("=+-@\t'0123456789 张三先生有限公司北京市朝阳区@qq.comＡ１（）"),
                    max_size=12)


@settings(max_examples=80, deadline=None)
@given(st.lists(RAW_CELLS, min_size=6, max_size=8))
def test_output_row_never_loses_an_input_cell(cells):
    from kehu.core.tabular import unescape_formula

    cleaner = Cleaner(HEADERS, recognise_columns(HEADERS))
    layout = OutputLayout(HEADERS, cleaner.output_columns)
    written = layout.assemble(cells, cleaner.clean(cells))
    kept = [unescape_formula(c) for c in written[: len(HEADERS)]] + [
        unescape_formula(c) for c in written[len(HEADERS) + len(cleaner.output_columns):]
    ]
    assert kept == cells  # input columns (and cells right of the header) come back exactly
    assert len(written) == len(cells) + len(cleaner.output_columns)


def test_workers_send_cells_column_by_column_and_callers_get_rows():
    import pickle

    from kehu.dataquality import pipeline

    rows = [["分扬科技有限公司", "张先生", "138 1234 5678", "010-6552998", "A@QQ.COM", "北京朝阳区建国路1号"],
            ["", "", "", "", "", ""], ["华为", "李四", "1381234", "", "x@", "科技园"]]
    columns = recognise_columns(HEADERS)
    expected = Cleaner(HEADERS, columns).clean_many(rows)
    pipeline._init_worker(list(HEADERS), columns, gc_tuning=False)
    out, _counts = pipeline._clean_chunk(rows)
    assert isinstance(out, pipeline.CellColumns)
    assert pickle.loads(pickle.dumps(out)).rows() == expected  # noqa: S301 - our own bytes, as a pool sends them
    for workers in (1, 2):
        got = [r for _chunk, out in clean_rows(rows * 2, HEADERS, columns, workers=workers, chunk_rows=3) for r in out]
        assert got == expected * 2
