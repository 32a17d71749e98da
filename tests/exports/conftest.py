"""Shared fixtures of the export tests: a team (manager, rep, colleague in one department, an
outsider), a data folder for the import round trips, and reading a download back as a table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kehu.core.tabular import open_table
from tests.factories import DepartmentFactory, ManagerFactory, UserFactory


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    return settings.DATA_DIR


@pytest.fixture
def team(db):  # type: ignore[no-untyped-def]
    department = DepartmentFactory(name="华北")
    manager = ManagerFactory(department=department, username="boss", display_name="老板")
    rep = UserFactory(department=department, username="zhang", display_name="张三")
    colleague = UserFactory(department=department, username="wang", display_name="王五")
    outsider = UserFactory(username="li", display_name="李四")
    return manager, rep, colleague, outsider


def body_of(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def table_of(data: bytes, tmp_path: Path, suffix: str = ".csv") -> tuple[list[str], list[list[str]]]:
    """A download read back the way the importer reads files: (headers, rows of text cells)."""
    path = tmp_path / f"download-{len(list(tmp_path.iterdir()))}{suffix}"
    path.write_bytes(data)
    table = open_table(path)
    return table.headers, list(table.rows())


def column(headers: list[str], rows: list[list[str]], header: str) -> list[str]:
    index = headers.index(header)
    return [row[index] for row in rows]
