"""Raw picklist values (百度, baidu, 百度 推广) onto picklist entries, through the entry's code, its
labels and the synonyms admins keep. Pure: the caller passes the lookup table."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from kehu.dataquality.normalize.base import Normalized, Problem

_NOISE = re.compile(r"[\s\-_.·/\\()（）【】\[\]]+")

MESSAGES = {
    "picklist.unknown": "未知的选项值，未能对应到任何选项（可在同义词表中添加）",
    "picklist.synonym": "按同义词对应到标准选项",
}


def fold(text: str) -> str:
    """The lookup key of a value: width-, case- and spacing-insensitive (ＶＩＰ, vip, V I P → vip)."""
    return _NOISE.sub("", unicodedata.normalize("NFKC", text)).casefold()


@dataclass(frozen=True, slots=True)
class PicklistMatch(Normalized):
    """`value` is the matched option code ("" when unknown)."""

    option_id: int | None = None


def match_picklist(raw: str, *, table: Mapping[str, tuple[int, str]], synonyms: Mapping[str, tuple[int, str]]
                   ) -> PicklistMatch:
    """`table` maps folded code/labels to (option id, code); `synonyms` folded synonym → (id, code).
    Unknown values are reported, never invented."""
    key = fold(raw)
    if not key:
        return PicklistMatch(raw=raw, value="")
    if key in table:
        option_id, code = table[key]
        return PicklistMatch(raw=raw, value=code, option_id=option_id)
    if key in synonyms:
        option_id, code = synonyms[key]
        return PicklistMatch(raw=raw, value=code, option_id=option_id, changes=("picklist.synonym",))
    return PicklistMatch(raw=raw, value="", problems=(Problem("picklist.unknown", raw.strip()),))
