"""Pinyin forms of names for search: full ("zhangwei") and initials ("zw").

The implementation lives with the other normalisers (`kehu.dataquality.normalize.names`): surnames
read as surnames (单 shan, 曾 zeng, 解 xie, 仇 qiu, 区 ou, 朴 piao, 查 zha, 万俟 moqi), a person's
name read per character from a lazily filled cache, other text through pypinyin's phrase dictionary
once per distinct string. This module keeps the names the search index imports."""

from __future__ import annotations

from kehu.dataquality.normalize.names import SURNAME_READINGS, has_han, pinyin_forms, syllables_of

__all__ = ["SURNAME_READINGS", "has_han", "pinyin_forms", "syllables_of"]
