"""Pinyin forms of names for search: full ("zhangwei") and initials ("zw").

Surnames are read as surnames (单 shan, 曾 zeng, 解 xie, 仇 qiu, 区 ou, 朴 piao, 查 zha): pypinyin
reads heteronyms by their common reading, so a person's leading surname is looked up first."""

from __future__ import annotations

import re

from pypinyin import lazy_pinyin

_HAN = re.compile(r"[\u3400-\u9fff]")
_KEEP = re.compile(r"[^0-9a-z]")

# Heteronyms whose surname reading differs from the common one.
SURNAME_READINGS = {
    "单": "shan",
    "曾": "zeng",
    "解": "xie",
    "仇": "qiu",
    "区": "ou",
    "朴": "piao",
    "查": "zha",
    "盖": "ge",
    "尉": "yu",
    "乐": "yue",
    "万俟": "moqi",
    "尉迟": "yuchi",
    "翟": "zhai",
    "覃": "qin",
    "缪": "miao",
    "繁": "po",
    "褚": "chu",
    "华": "hua",
    "任": "ren",
    "纪": "ji",
    "燕": "yan",
    "蕃": "pi",
}


def has_han(text: str) -> bool:
    return bool(_HAN.search(text))


def _syllables(text: str, *, is_person: bool) -> list[str]:
    text = text.strip()
    if not text:
        return []
    if is_person:
        for surname in sorted(SURNAME_READINGS, key=len, reverse=True):
            if text.startswith(surname):
                rest = lazy_pinyin(text[len(surname) :], errors="ignore")
                return [SURNAME_READINGS[surname], *rest]
    return lazy_pinyin(text, errors="ignore")


def pinyin_forms(text: str, *, is_person: bool = False) -> tuple[str, str]:
    """(full, initials), lower-case ASCII; ('', '') when the text has no Chinese characters."""
    if not has_han(text):
        return "", ""
    syllables = [_KEEP.sub("", s.lower()) for s in _syllables(text, is_person=is_person)]
    syllables = [s for s in syllables if s]
    full = "".join(syllables)
    initials = "".join(s[0] for s in syllables)
    return full, initials


def syllables_of(text: str, *, is_person: bool = False) -> list[str]:
    return [s for s in (_KEEP.sub("", x.lower()) for x in _syllables(text, is_person=is_person)) if s]
