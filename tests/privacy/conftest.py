"""Fixtures of the privacy tests: a rep's person customer full of personal data, an admin."""

from __future__ import annotations

import pytest

from kehu.customers.services import contact_create, customer_create, note_create
from tests.factories import AdminFactory, UserFactory


@pytest.fixture
def rep(db):  # type: ignore[no-untyped-def]
    return UserFactory(display_name="李销售")


@pytest.fixture
def admin(db):  # type: ignore[no-untyped-def]
    return AdminFactory(display_name="王管理")


@pytest.fixture
def customer(rep):  # type: ignore[no-untyped-def]
    return customer_create(acting_user=rep, data={
        "kind": "person", "name": "张三丰", "phones": ["13812345678"], "emails": ["zhangsan@example.com"],
        "address": "北京市海淀区中关村大街1号", "id_number": "11010519491231002X", "birthday": "1949-12-31",
    })


@pytest.fixture
def contact(rep, customer):  # type: ignore[no-untyped-def]
    return contact_create(acting_user=rep, customer=customer, data={
        "name": "赵敏", "mobile": "13987654321", "email": "zhaomin@example.com", "wechat": "zhaomin_wx",
    })


@pytest.fixture
def note(rep, customer):  # type: ignore[no-untyped-def]
    return note_create(acting_user=rep, customer=customer, body="客户说家里电话是 010-12345678")


@pytest.fixture
def media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"
