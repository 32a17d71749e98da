from __future__ import annotations

import os

import pytest
from hypothesis import settings as hypothesis_settings

from tests.factories import AdminFactory, ManagerFactory, UserFactory

# Property tests explore at random while developing (HYPOTHESIS_PROFILE=dev); the suite that CI
# and `make test` run is derandomised, so a green run is reproducible and a red one is a real bug.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
hypothesis_settings.register_profile("dev", print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):  # type: ignore[no-untyped-def]
    """PBKDF2 at production strength costs ~0.3 s per user on this machine; tests create hundreds."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def default_language():  # type: ignore[no-untyped-def]
    """Each test starts in the default language, whatever an earlier test switched to."""
    from django.conf import settings
    from django.utils import translation

    with translation.override(settings.LANGUAGE_CODE):
        yield


@pytest.fixture(autouse=True, scope="session")
def huey_runs_tasks_inline():  # type: ignore[no-untyped-def]
    """Background tasks run at once, in the test's transaction: a test asserts their outcome, never waits."""
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = True
    yield


@pytest.fixture
def sales_user(db):  # type: ignore[no-untyped-def]
    return UserFactory()


@pytest.fixture
def admin_user(db):  # type: ignore[no-untyped-def]
    return AdminFactory()


@pytest.fixture
def manager_user(db):  # type: ignore[no-untyped-def]
    return ManagerFactory()
