"""Character-level helpers shared by every normaliser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kehu.dataquality.normalize.text import clean_text, collapse_spaces, strip_invisible, to_halfwidth


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("１３８１２３４５６７８", "13812345678"),
        ("ＡＢＣ　ａｂｃ", "ABC abc"),
        ("ｚｈａｎｇ＠ｑｑ．ｃｏｍ", "zhang@qq.com"),
        ("（北京）", "(北京)"),
        ("华为技术有限公司（深圳）", "华为技术有限公司(深圳)"),
        ("＋８６－１０", "+86-10"),
        ("！＂＃＄％＆＇＊，－．／：；＜＝＞？［＼］＾＿｀｛｜｝～", "!\"#$%&'*,-./:;<=>?[\\]^_`{|}~"),
        ("中文，句号。顿号、", "中文,句号。顿号、"),
        ("plain ascii", "plain ascii"),
        ("", ""),
    ],
)
def test_to_halfwidth(raw: str, expected: str) -> None:
    assert to_halfwidth(raw) == expected


def test_to_halfwidth_keeps_what_the_caller_asks_for() -> None:
    assert to_halfwidth("ＡＢＣ（北京）１２３", keep="（）") == "ABC（北京）123"
    assert to_halfwidth("（北京）", keep="（") == "（北京)"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\ufeff张三", "张三"),
        ("张\u200b三", "张三"),
        ("张\u200c\u200d三", "张三"),
        ("a\u00adb", "ab"),
        ("a\x00b\x07c\x1bd", "abcd"),
        ("a\x85b", "ab"),
        ("John\xa0Smith", "John Smith"),
        ("a\u2003b\u202fc", "a b c"),
        ("\u202e反向\u202c", "反向"),
        ("tab\tand\nnewline\r\n", "tab\tand\nnewline\r\n"),
        ("no change", "no change"),
    ],
)
def test_strip_invisible(raw: str, expected: str) -> None:
    assert strip_invisible(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  John   Smith ", "John Smith"),
        ("a\t\nb", "a b"),
        ("   ", ""),
        ("x", "x"),
        ("北京  朝阳", "北京 朝阳"),
    ],
)
def test_collapse_spaces(raw: str, expected: str) -> None:
    assert collapse_spaces(raw) == expected


def test_clean_text_runs_all_three() -> None:
    assert clean_text("\ufeff ＡＢＣ\u200b　有限公司\xa0 ") == "ABC 有限公司"


@given(st.text())
def test_idempotent(text: str) -> None:
    for fn in (to_halfwidth, strip_invisible, collapse_spaces, clean_text):
        assert fn(fn(text)) == fn(text)


@given(st.text())
def test_halfwidth_keeps_length_and_only_touches_fullwidth(text: str) -> None:
    out = to_halfwidth(text)
    assert len(out) == len(text)
    for a, b in zip(text, out, strict=True):
        assert a == b or 0xFF01 <= ord(a) <= 0xFF5E or a == "\u3000"
