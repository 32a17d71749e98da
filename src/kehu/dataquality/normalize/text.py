"""Cheap character-level helpers every normaliser runs first.

All three are one `str.translate` (or `str.split`) over a table built once at import, so they cost
well under a microsecond on a typical cell and can run on every value of every row.
"""

from __future__ import annotations

from functools import lru_cache

# Full-width ASCII block U+FF01..U+FF5E maps onto U+0021..U+007E; the ideographic space onto " ".
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20

# Characters nobody means to store: zero-width marks, BOM, soft hyphen, bidi marks, C0/C1 controls.
# Tab, newline and carriage return stay (they separate values inside one cell); odd spaces become " ".
_INVISIBLE: dict[int, int | None] = {cp: None for cp in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))}
_INVISIBLE.update({cp: None for cp in range(0x7F, 0xA0)})
_INVISIBLE.update(
    {cp: None for cp in (0x00AD, 0x180E, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0x2061, 0x2062, 0x2063)}
)
_INVISIBLE.update({cp: None for cp in (0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069)})
_INVISIBLE[0xFEFF] = None
_INVISIBLE.update({cp: 0x20 for cp in (0x00A0, *range(0x2000, 0x200B), 0x202F, 0x205F)})

MESSAGES: dict[str, str] = {}


def to_halfwidth(text: str, *, keep: str = "") -> str:
    """Full-width letters, digits, punctuation and the ideographic space as their ASCII forms.

    `keep` lists full-width characters to leave alone, e.g. ``keep="（）"`` for company names whose
    standard form writes Chinese brackets."""
    if text.isascii():
        return text
    return text.translate(_table(keep) if keep else _FULLWIDTH)


@lru_cache(maxsize=32)
def _table(keep: str) -> dict[int, int]:
    table = dict(_FULLWIDTH)
    for ch in keep:
        table.pop(ord(ch), None)
    return table


def strip_invisible(text: str) -> str:
    """Drop zero-width characters, BOM, soft hyphens, bidi marks and control characters (keeping tab
    and newlines); NBSP and the typographic spaces become a plain space."""
    return text.translate(_INVISIBLE)


def collapse_spaces(text: str) -> str:
    """Runs of whitespace (including newlines) as one space, no leading or trailing space."""
    return " ".join(text.split())


def clean_text(text: str) -> str:
    """The usual first step: invisible characters out, full-width to half-width, spaces collapsed."""
    return " ".join(to_halfwidth(text.translate(_INVISIBLE)).split())
