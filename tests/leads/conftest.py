from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def fresh_cache():  # type: ignore[no-untyped-def]
    """The public form's rate limit counts in the cache; each test starts from zero."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
