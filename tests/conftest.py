from __future__ import annotations

import pytest

from tests.factories import AdminFactory, ManagerFactory, UserFactory


@pytest.fixture
def sales_user(db):  # type: ignore[no-untyped-def]
    return UserFactory()


@pytest.fixture
def admin_user(db):  # type: ignore[no-untyped-def]
    return AdminFactory()


@pytest.fixture
def manager_user(db):  # type: ignore[no-untyped-def]
    return ManagerFactory()
