from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone


class Clock:
    """Time travel for tests: everything that calls django.utils.timezone.now() sees `now`."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch):  # type: ignore[no-untyped-def]
    current = Clock()
    monkeypatch.setattr(timezone, "now", lambda: current.now)
    return current
