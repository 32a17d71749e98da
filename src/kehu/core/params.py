"""Lenient readers of query-string values shared by list views and exports: a value that does not
parse is treated as absent (a hand-edited URL shows an unfiltered list, never an error page)."""

from __future__ import annotations

import datetime as dt
from typing import Any


def query_int(value: Any) -> int | None:
    """A non-negative whole number (ids, page sizes), else None."""
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def query_date(value: Any) -> dt.date | None:
    """An ISO date (YYYY-MM-DD), else None."""
    try:
        return dt.date.fromisoformat(str(value or "").strip())
    except ValueError:
        return None
