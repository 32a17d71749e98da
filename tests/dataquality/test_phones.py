"""Phone normalisation: how numbers really arrive in Chinese CRM exports, and what is stored."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kehu.dataquality.normalize.phones import MESSAGES, normalize_phone, normalize_phones, quick_phone, split_phones
from kehu.dataquality.normalize.text import strip_invisible

M = "+8613812345678"
BJ = "+861065529988"

# raw, display (== value), e164, kind, extension, region, area code
CASES = [
    # Chinese mobiles with every separator people type
    ("13812345678", "13812345678", M, "mobile", "", "CN", ""),
    ("138 1234 5678", "13812345678", M, "mobile", "", "CN", ""),
    ("138-1234-5678", "13812345678", M, "mobile", "", "CN", ""),
    ("138.1234.5678", "13812345678", M, "mobile", "", "CN", ""),
    ("1381234 5678", "13812345678", M, "mobile", "", "CN", ""),
    ("(138)12345678", "13812345678", M, "mobile", "", "CN", ""),
    ("  13812345678  ", "13812345678", M, "mobile", "", "CN", ""),
    ("13812345678\n", "13812345678", M, "mobile", "", "CN", ""),
    ("138\u200b1234\u200b5678", "13812345678", M, "mobile", "", "CN", ""),
    ("\ufeff13812345678", "13812345678", M, "mobile", "", "CN", ""),
    ("138\xa01234\xa05678", "13812345678", M, "mobile", "", "CN", ""),
    ("１３８１２３４５６７８", "13812345678", M, "mobile", "", "CN", ""),
    ("１３８　１２３４　５６７８", "13812345678", M, "mobile", "", "CN", ""),
    ("１３８－１２３４－５６７８", "13812345678", M, "mobile", "", "CN", ""),
    ("138—1234—5678", "13812345678", M, "mobile", "", "CN", ""),
    ("+8613812345678", "13812345678", M, "mobile", "", "CN", ""),
    ("+86 13812345678", "13812345678", M, "mobile", "", "CN", ""),
    ("+86-138-1234-5678", "13812345678", M, "mobile", "", "CN", ""),
    ("+86 138 1234 5678", "13812345678", M, "mobile", "", "CN", ""),
    ("(+86)13812345678", "13812345678", M, "mobile", "", "CN", ""),
    ("(+86) 138 1234 5678", "13812345678", M, "mobile", "", "CN", ""),
    ("（+86）13812345678", "13812345678", M, "mobile", "", "CN", ""),
    ("＋８６ １３８１２３４５６７８", "13812345678", M, "mobile", "", "CN", ""),
    ("8613812345678", "13812345678", M, "mobile", "", "CN", ""),
    ("86 13812345678", "13812345678", M, "mobile", "", "CN", ""),
    ("86-138-1234-5678", "13812345678", M, "mobile", "", "CN", ""),
    ("008613812345678", "13812345678", M, "mobile", "", "CN", ""),
    ("0086 138 1234 5678", "13812345678", M, "mobile", "", "CN", ""),
    ("00 86 13812345678", "13812345678", M, "mobile", "", "CN", ""),
    ("+ 86 13812345678", "13812345678", M, "mobile", "", "CN", ""),
    ("手机：13812345678", "13812345678", M, "mobile", "", "CN", ""),
    ("手机号: 138 1234 5678", "13812345678", M, "mobile", "", "CN", ""),
    ("Mobile: +86 138 1234 5678", "13812345678", M, "mobile", "", "CN", ""),
    ("M: 13812345678", "13812345678", M, "mobile", "", "CN", ""),
    ("15900001111", "15900001111", "+8615900001111", "mobile", "", "CN", ""),
    ("19912345678", "19912345678", "+8619912345678", "mobile", "", "CN", ""),
    ("166 0000 1234", "16600001234", "+8616600001234", "mobile", "", "CN", ""),
    ("17712345678", "17712345678", "+8617712345678", "mobile", "", "CN", ""),
    ("13812345678转1", "13812345678 转 1", M, "mobile", "1", "CN", ""),
    # Landlines: 3- and 4-digit area codes, brackets, spaces, dashes
    ("010-65529988", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("01065529988", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("010 6552 9988", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("010-6552-9988", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("(010)65529988", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("(010) 6552 9988", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("（０１０）６５５２９９８８", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("０１０－６５５２９９８８", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("010.6552.9988", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("电话：010-65529988", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("Tel: 010-65529988", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("TEL:(010)65529988", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("座机 010-65529988", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("021-54321234", "021-54321234", "+862154321234", "landline", "", "CN", "021"),
    ("021 5432 1234", "021-54321234", "+862154321234", "landline", "", "CN", "021"),
    ("020-87654321", "020-87654321", "+862087654321", "landline", "", "CN", "020"),
    ("022-23456789", "022-23456789", "+862223456789", "landline", "", "CN", "022"),
    ("023-63456789", "023-63456789", "+862363456789", "landline", "", "CN", "023"),
    ("027-87654321", "027-87654321", "+862787654321", "landline", "", "CN", "027"),
    ("028-85551234", "028-85551234", "+862885551234", "landline", "", "CN", "028"),
    ("029-88881234", "029-88881234", "+862988881234", "landline", "", "CN", "029"),
    ("025-84561234", "025-84561234", "+862584561234", "landline", "", "CN", "025"),
    ("0755-88888888", "0755-88888888", "+8675588888888", "landline", "", "CN", "0755"),
    ("0755 8888 8888", "0755-88888888", "+8675588888888", "landline", "", "CN", "0755"),
    ("(0755)88888888", "0755-88888888", "+8675588888888", "landline", "", "CN", "0755"),
    ("0755-8888-8888", "0755-88888888", "+8675588888888", "landline", "", "CN", "0755"),
    ("0571-86881234", "0571-86881234", "+8657186881234", "landline", "", "CN", "0571"),
    ("0571 8688 1234", "0571-86881234", "+8657186881234", "landline", "", "CN", "0571"),
    ("0512-62581234", "0512-62581234", "+8651262581234", "landline", "", "CN", "0512"),
    ("0769-22123456", "0769-22123456", "+8676922123456", "landline", "", "CN", "0769"),
    ("0898-66123456", "0898-66123456", "+8689866123456", "landline", "", "CN", "0898"),
    ("0311-85123456", "0311-85123456", "+8631185123456", "landline", "", "CN", "0311"),
    ("0999-8123456", "0999-8123456", "+869998123456", "landline", "", "CN", "0999"),
    # +86 with the area code, with and without its 0, and the "(0)" trunk prefix
    ("+86 10 6552 9988", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("+86-10-65529988", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("+861065529988", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("+86 (0)10 6552 9988", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("+86 010 6552 9988", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("(+86)010-65529988", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("0086-10-65529988", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("86-10-65529988", "010-65529988", BJ, "landline", "", "CN", "010"),
    ("+86 755 8888 8888", "0755-88888888", "+8675588888888", "landline", "", "CN", "0755"),
    ("+86 21 5432 1234", "021-54321234", "+862154321234", "landline", "", "CN", "021"),
    # Extensions
    ("010-65529988 转 123", "010-65529988 转 123", BJ, "landline", "123", "CN", "010"),
    ("010-65529988转123", "010-65529988 转 123", BJ, "landline", "123", "CN", "010"),
    ("010-65529988 转123", "010-65529988 转 123", BJ, "landline", "123", "CN", "010"),
    ("010-65529988（转123）", "010-65529988 转 123", BJ, "landline", "123", "CN", "010"),
    ("010-65529988-123", "010-65529988 转 123", BJ, "landline", "123", "CN", "010"),
    ("010-6552 9988-8001", "010-65529988 转 8001", BJ, "landline", "8001", "CN", "010"),
    ("010-65529988 ext 123", "010-65529988 转 123", BJ, "landline", "123", "CN", "010"),
    ("010-65529988 ext.123", "010-65529988 转 123", BJ, "landline", "123", "CN", "010"),
    ("010-65529988 EXT: 123", "010-65529988 转 123", BJ, "landline", "123", "CN", "010"),
    ("010-65529988 x123", "010-65529988 转 123", BJ, "landline", "123", "CN", "010"),
    ("010-65529988 X 123", "010-65529988 转 123", BJ, "landline", "123", "CN", "010"),
    ("010-65529988#123", "010-65529988 转 123", BJ, "landline", "123", "CN", "010"),
    ("010-65529988 分机123", "010-65529988 转 123", BJ, "landline", "123", "CN", "010"),
    ("010-65529988 分机号：123", "010-65529988 转 123", BJ, "landline", "123", "CN", "010"),
    ("0755-88888888-8001", "0755-88888888 转 8001", "+8675588888888", "landline", "8001", "CN", "0755"),
    ("+86 10 65529988 ext 5", "010-65529988 转 5", BJ, "landline", "5", "CN", "010"),
    ("０１０－６５５２９９８８转１２３", "010-65529988 转 123", BJ, "landline", "123", "CN", "010"),
    # 400 / 800 numbers
    ("400-810-8888", "400-810-8888", "+864008108888", "toll_free", "", "CN", ""),
    ("4008108888", "400-810-8888", "+864008108888", "toll_free", "", "CN", ""),
    ("400 810 8888", "400-810-8888", "+864008108888", "toll_free", "", "CN", ""),
    ("400-8108-888", "400-810-8888", "+864008108888", "toll_free", "", "CN", ""),
    ("800-810-8888", "800-810-8888", "+868008108888", "toll_free", "", "CN", ""),
    ("400-810-8888 转 2", "400-810-8888 转 2", "+864008108888", "toll_free", "2", "CN", ""),
    ("400-810-8888-2", "400-810-8888 转 2", "+864008108888", "toll_free", "2", "CN", ""),
    ("＋８６ ４００ ８１０ ８８８８", "400-810-8888", "+864008108888", "toll_free", "", "CN", ""),
    # Foreign numbers
    ("+1 650 253 0000", "+1 650-253-0000", "+16502530000", "unknown", "", "US", ""),
    ("+1 (650) 253-0000", "+1 650-253-0000", "+16502530000", "unknown", "", "US", ""),
    ("+1-650-253-0000", "+1 650-253-0000", "+16502530000", "unknown", "", "US", ""),
    ("001 650 253 0000", "+1 650-253-0000", "+16502530000", "unknown", "", "US", ""),
    ("+1 650 253 0000 ext 12", "+1 650-253-0000 转 12", "+16502530000", "unknown", "12", "US", ""),
    ("+852 2345 6789", "+852 2345 6789", "+85223456789", "landline", "", "HK", ""),
    ("+852 9123 4567", "+852 9123 4567", "+85291234567", "mobile", "", "HK", ""),
    ("(852) 2345 6789", "+852 2345 6789", "+85223456789", "landline", "", "HK", ""),
    ("00852-23456789", "+852 2345 6789", "+85223456789", "landline", "", "HK", ""),
    ("+886 2 2345 6789", "+886 2 2345 6789", "+886223456789", "landline", "", "TW", ""),
    ("+886 912 345 678", "+886 912 345 678", "+886912345678", "mobile", "", "TW", ""),
    ("+65 6123 4567", "+65 6123 4567", "+6561234567", "landline", "", "SG", ""),
    ("+65 9123 4567", "+65 9123 4567", "+6591234567", "mobile", "", "SG", ""),
    ("+44 20 7946 0958", "+44 20 7946 0958", "+442079460958", "landline", "", "GB", ""),
    ("+81 3-1234-5678", "+81 3-1234-5678", "+81312345678", "landline", "", "JP", ""),
    ("+49 30 12345678", "+49 30 12345678", "+493012345678", "landline", "", "DE", ""),
    ("+853 2888 1234", "+853 2888 1234", "+85328881234", "landline", "", "MO", ""),
]

INVALID = [
    ("12345", "phone.invalid"),
    ("1381234567", "phone.invalid"),
    ("138123456789", "phone.invalid"),
    ("12812345678", "phone.invalid"),
    ("0123-4567890", "phone.invalid"),
    ("010-1234567", "phone.invalid"),
    ("010-0552998", "phone.invalid"),
    ("abc", "phone.invalid"),
    ("无", "phone.invalid"),
    ("见备注", "phone.invalid"),
    ("138****5678", "phone.invalid"),
    ("+86 1234", "phone.invalid"),
    ("+999 123456", "phone.invalid"),
    ("  张三 138  ", "phone.invalid"),
    ("1（13812345678761", "phone.invalid"),  # libphonenumber would read junk like this as a CN number
    ("１２8138123456788转9", "phone.invalid"),
    ("65529988", "phone.missing_area_code"),
    ("6552 9988", "phone.missing_area_code"),
    ("6552-9988", "phone.missing_area_code"),
    ("8888888", "phone.missing_area_code"),
    ("８８８８８８８８", "phone.missing_area_code"),
]


@pytest.mark.parametrize(("raw", "display", "e164", "kind", "extension", "region", "area"), CASES)
def test_valid_numbers(raw: str, display: str, e164: str, kind: str, extension: str, region: str, area: str) -> None:
    phone = normalize_phone(raw)
    assert (phone.value, phone.display, phone.e164, phone.kind, phone.extension, phone.region, phone.area_code) == (
        display,
        display,
        e164,
        kind,
        extension,
        region,
        area,
    )
    assert phone.valid and phone.ok
    assert phone.changed == (raw != display)
    again = normalize_phone(phone.value)
    assert (again.value, again.e164, again.kind, again.extension, again.changes) == (display, e164, kind, extension, ())


@pytest.mark.parametrize(("raw", "code"), INVALID)
def test_invalid_numbers_are_kept_verbatim_and_flagged(raw: str, code: str) -> None:
    phone = normalize_phone(raw)
    assert phone.value == phone.display == raw.strip()
    assert not phone.valid
    assert [p.code for p in phone.problems] == [code]
    assert phone.problems[0].value == raw.strip()


def test_change_codes_say_what_happened() -> None:
    assert normalize_phone("13812345678").changes == ()
    assert normalize_phone("138 1234 5678").changes == ("phone.reformatted",)
    assert normalize_phone("+86 138 1234 5678").changes == ("phone.prefix_removed", "phone.reformatted")
    assert normalize_phone("１３８１２３４５６７８").changes == ("phone.halfwidth", "phone.reformatted")
    assert normalize_phone("+86 10 6552 9988").changes == (
        "phone.prefix_removed",
        "phone.area_code_zero_added",
        "phone.reformatted",
    )
    assert normalize_phone("010-65529988-123").changes == ("phone.extension", "phone.reformatted")
    assert normalize_phone("Tel: 010-65529988").changes == ("phone.label_removed", "phone.reformatted")
    assert normalize_phone("010-65529988").changes == ()


def test_empty_is_empty_not_a_problem() -> None:
    for raw in ("", "   ", "\u200b"):
        phone = normalize_phone(raw)
        assert (phone.value, phone.valid, phone.problems) == ("", False, ())


def test_default_region_reads_national_numbers_of_another_country() -> None:
    phone = normalize_phone("(650) 253-0000", default_region="US")
    assert (phone.value, phone.e164, phone.region) == ("+1 650-253-0000", "+16502530000", "US")


@pytest.mark.parametrize(
    ("raw", "pieces"),
    [
        ("13812345678/13987654321", ["13812345678", "13987654321"]),
        ("13812345678 / 13987654321", ["13812345678", "13987654321"]),
        ("13812345678,13987654321", ["13812345678", "13987654321"]),
        ("13812345678，13987654321", ["13812345678", "13987654321"]),
        ("13812345678;13987654321", ["13812345678", "13987654321"]),
        ("13812345678；13987654321", ["13812345678", "13987654321"]),
        ("13812345678、13987654321", ["13812345678", "13987654321"]),
        ("13812345678\n13987654321", ["13812345678", "13987654321"]),
        ("13812345678\r\n010-65529988", ["13812345678", "010-65529988"]),
        ("13812345678 或 13987654321", ["13812345678", "13987654321"]),
        ("13812345678或010-65529988", ["13812345678", "010-65529988"]),
        ("13812345678 13987654321", ["13812345678", "13987654321"]),
        ("138 1234 5678", ["138 1234 5678"]),
        ("010-65529988", ["010-65529988"]),
        ("010-65529988-123", ["010-65529988-123"]),
        ("010 6552 9988 转 123, 13812345678", ["010 6552 9988 转 123", "13812345678"]),
        ("0755-8888888|13812345678", ["0755-8888888", "13812345678"]),
        ("010-65529988/89", ["010-65529988", "010-65529989"]),
        ("010-6552 9988/9989/9990", ["010-6552 9988", "010-6552 9989", "010-6552 9990"]),
        ("010-65529988 转 801/802", ["010-65529988 转 801", "010-65529988 转 802"]),
        ("13812345678/9", ["13812345678", "13812345679"]),
        ("12/34", ["12", "34"]),
        (" , ;", []),
        ("", []),
    ],
)
def test_split_phones(raw: str, pieces: list[str]) -> None:
    assert split_phones(raw) == pieces


def test_pieces_of_a_cell_are_kept_as_typed_when_invalid() -> None:
    assert [p.value for p in normalize_phones("１２３，无／13812345678")] == ["１２３", "无", "13812345678"]
    assert [p.value for p in normalize_phones(["１２３"])] == ["１２３"]


def test_normalize_phones_dedupes_by_number() -> None:
    phones = normalize_phones("13812345678 / +86 138-1234-5678，010-65529988；（010）6552 9988 转 1、无")
    assert [p.value for p in phones] == ["13812345678", "010-65529988", "010-65529988 转 1", "无"]
    assert [p.value for p in normalize_phones(["13812345678", "138 1234 5678", "4008108888"])] == [
        "13812345678",
        "400-810-8888",
    ]


def test_every_code_has_a_message() -> None:
    codes = {c for raw, *_ in CASES for c in normalize_phone(raw).changes}
    codes |= {code for _, code in INVALID}
    assert codes <= MESSAGES.keys()


_PHONEISH = st.text(alphabet="0123456789０１２３ +-()（）.转#x/，、\u200b\xa0", max_size=24)


@given(st.one_of(_PHONEISH, st.text(max_size=20), st.sampled_from([c[0] for c in CASES])))
def test_idempotent(raw: str) -> None:
    first = normalize_phone(raw)
    second = normalize_phone(first.value)
    assert (second.value, second.e164, second.kind, second.extension, second.area_code) == (
        first.value,
        first.e164,
        first.kind,
        first.extension,
        first.area_code,
    )
    assert [p.code for p in second.problems] == [p.code for p in first.problems]


@given(st.one_of(_PHONEISH, st.text(max_size=20)))
def test_never_loses_the_input(raw: str) -> None:
    phone = normalize_phone(raw)
    if phone.valid:
        national = re.sub(r"\D", "", phone.e164)
        raw_digits = re.sub(r"\D", "", raw.translate({cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF1A)}))
        assert national[-7:] in raw_digits
        assert phone.extension in raw_digits
    else:
        assert phone.value == strip_invisible(raw).strip()


_CELLS = st.one_of(
    _PHONEISH,
    st.sampled_from([c[0] for c in CASES]),
    st.builds(lambda a, b, c: a + b + c, st.sampled_from(["", " ", "+86", "0086-", "86", "(010)", "０", "\u200b"]),
              st.sampled_from(["13812345678", "010-65529988", "0755 8888 888", "65529988", "０１０６５５２９９８８",
                               "400-810-8888", "800 810 8888"]),
              st.sampled_from(["", " ", "/9", "/13987654321", " 转 8", "\u3000", ",", "或"])),
)


@given(_CELLS)
@settings(max_examples=500)
def test_the_quick_path_gives_what_normalize_phones_gives(cell: str) -> None:
    quick = quick_phone(cell)
    if quick is not None:
        [phone] = normalize_phones(cell)
        assert (phone.value, phone.e164, phone.ok) == (*quick, True)


@pytest.mark.parametrize(
    ("cell", "quick"),
    [
        ("13812345678", ("13812345678", "+8613812345678")),
        ("+86 138 1234 5678", ("13812345678", "+8613812345678")),
        ("０１０-６５５２９９８８", ("010-65529988", "+861065529988")),
        ("(0755)8888888", ("0755-8888888", "+867558888888")),
        ("400-810-8888", ("400-810-8888", "+864008108888")),
        ("(400) 8108888", ("400-810-8888", "+864008108888")),
        ("４００８１０８８８８", ("400-810-8888", "+864008108888")),
        ("010/65529988", None),
        ("010-65529988 转 8", None),
        ("65529988", None),
        ("", None),
    ],
)
def test_quick_phone(cell: str, quick: tuple[str, str] | None) -> None:
    assert quick_phone(cell) == quick


@pytest.mark.parametrize(
    ("cell", "first_raw"),
    [
        ("１３８１２３４５６７８/13987654321", "１３８１２３４５６７８"),
        ("138\u200b1234\u200b5678/13987654321", "138\u200b1234\u200b5678"),
        ("\ufeff13812345678，13987654321", "\ufeff13812345678"),
        ("１３８１２３４５６７８\u300013987654321", "１３８１２３４５６７８"),
    ],
)
def test_each_piece_of_a_cell_is_kept_as_typed_so_its_fix_shows(cell: str, first_raw: str) -> None:
    first, second = normalize_phones(cell)
    assert (first.raw, first.value, first.changed) == (first_raw, "13812345678", True)
    assert (second.raw, second.value, second.changed) == ("13987654321", "13987654321", False)
