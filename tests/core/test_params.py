import datetime as dt

from kehu.core.params import query_date, query_int


def test_query_int_reads_plain_whole_numbers_only():
    assert query_int(" 42 ") == 42
    assert [query_int(v) for v in (None, "", "-3", "4.5", "abc", "1e3")] == [None] * 6


def test_query_date_reads_iso_dates_only():
    assert query_date("2026-11-28") == dt.date(2026, 11, 28)
    assert [query_date(v) for v in (None, "", "28/11/2026", "2026-13-01")] == [None] * 4
