from __future__ import annotations

import pytest

from kehu.core.errors import ValidationFailed, VersionConflict
from kehu.core.models import AuditEvent
from kehu.customers import services


@pytest.mark.django_db
def test_customer_create_records_audit_and_update_bumps_version(sales_user):
    customer = services.customer_create(acting_user=sales_user, data={"name": "北京分扬科技有限公司"})
    assert customer.owner == sales_user
    assert customer.department == sales_user.department
    assert AuditEvent.objects.filter(object_id=customer.pk, action="create").count() == 1

    updated = services.customer_update(
        acting_user=sales_user, customer=customer, data={"city": "北京市"}, expected_version=1
    )
    assert updated.version == 2
    event = AuditEvent.objects.get(object_id=customer.pk, action="update")
    assert event.changes == [
        {"field": "province", "old": "", "new": "北京市"}, {"field": "city", "old": "", "new": "北京市"},
    ]

    with pytest.raises(VersionConflict):
        services.customer_update(acting_user=sales_user, customer=customer, data={"city": "上海"}, expected_version=1)


@pytest.mark.django_db
def test_customer_create_rejects_blank_name_and_writes_nothing(sales_user):
    with pytest.raises(ValidationFailed) as excinfo:
        services.customer_create(acting_user=sales_user, data={"name": "  ", "credit_code": "123"})
    assert {e.field for e in excinfo.value.errors} == {"name", "credit_code"}
    assert AuditEvent.objects.count() == 0


@pytest.mark.django_db
def test_department_scoped_manager_can_update_a_subordinates_customer(manager_user):
    from tests.factories import DepartmentFactory, UserFactory

    team = DepartmentFactory(name="北京一部", parent=manager_user.department)
    rep = UserFactory(department=team)
    customer = services.customer_create(acting_user=rep, data={"name": "上海某某贸易有限公司"})
    updated = services.customer_update(acting_user=manager_user, customer=customer, data={"city": "上海市"})
    assert updated.city == "上海市"


@pytest.mark.django_db
def test_own_scope_rep_cannot_clear_owner_or_move_department(sales_user):
    from tests.factories import DepartmentFactory

    customer = services.customer_create(acting_user=sales_user, data={"name": "杭州某某科技有限公司"})
    for data in ({"owner": None}, {"department": DepartmentFactory().pk}):
        with pytest.raises(ValidationFailed) as excinfo:
            services.customer_update(acting_user=sales_user, customer=customer, data=data)
        assert excinfo.value.errors[0].code == "permission_denied"
    customer.refresh_from_db()
    assert customer.owner == sales_user and customer.version == 1
