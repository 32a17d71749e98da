from __future__ import annotations

import pytest

from kehu.core.errors import ErrorCode, NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.models import AppendOnlyError, AuditEvent
from kehu.customers import services
from kehu.customers.models import Contact, Customer, CustomFieldDefinition, PicklistKind
from tests.factories import CustomerFactory, DepartmentFactory, ManagerFactory, TagFactory, UserFactory, option


def _codes(excinfo: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    return {e.field: str(e.code) for e in excinfo.value.errors}


@pytest.fixture
def custom_fields(admin_user):
    def define(key: str, field_type: str, **kwargs) -> CustomFieldDefinition:
        return services.custom_field_save(
            acting_user=admin_user, target="customer", key=key, label_zh=key, field_type=field_type, **kwargs
        )

    choices = [{"value": "s", "label_zh": "小"}, {"value": "m", "label_zh": "中"}, {"value": "l", "label_zh": "大"}]
    return {
        "seats": define("seats", "number"),
        "budget": define("budget", "money"),
        "signed_on": define("signed_on", "date"),
        "size": define("size", "choice", choices=choices),
        "products": define("products", "multi_choice", choices=choices),
        "vip": define("vip", "boolean"),
        "account_manager": define("account_manager", "user"),
        "contract_no": define("contract_no", "text", required=True),
    }


# Custom fields -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_custom_values_are_normalised_by_type(sales_user, custom_fields):
    customer = services.customer_create(acting_user=sales_user, data={
        "name": "北京分扬科技有限公司",
        "custom": {
            "seats": "1,200", "budget": "30000", "signed_on": "2025/03/08", "size": "m",
            "products": "s，l", "vip": "是", "account_manager": str(sales_user.pk), "contract_no": " HT-001 ",
        },
    })
    assert Customer.objects.get(pk=customer.pk).custom == {
        "seats": "1200", "budget": "30000.00", "signed_on": "2025-03-08", "size": "m", "products": ["s", "l"],
        "vip": True, "account_manager": sales_user.pk, "contract_no": "HT-001",
    }


@pytest.mark.django_db
def test_every_bad_custom_value_is_reported_and_nothing_is_written(sales_user, custom_fields):
    with pytest.raises(ValidationFailed) as excinfo:
        services.customer_create(acting_user=sales_user, data={
            "name": "上海某某贸易有限公司",
            "custom": {
                "seats": "很多", "budget": "NaN", "signed_on": "2025-13-40", "size": "xl", "products": ["s", "xxl"],
                "vip": "也许", "account_manager": "999999", "undefined_key": "1",
            },
        })
    assert _codes(excinfo) == {
        "custom.seats": ErrorCode.INVALID, "custom.budget": ErrorCode.INVALID, "custom.signed_on": ErrorCode.INVALID,
        "custom.size": ErrorCode.UNKNOWN_CHOICE, "custom.products": ErrorCode.UNKNOWN_CHOICE,
        "custom.vip": ErrorCode.INVALID, "custom.account_manager": ErrorCode.INVALID,
        "custom.undefined_key": ErrorCode.INVALID, "custom.contract_no": ErrorCode.REQUIRED,
    }
    assert Customer.objects.count() == 0
    assert AuditEvent.objects.count() == 0


@pytest.mark.django_db
def test_only_admins_define_custom_fields(sales_user):
    with pytest.raises(PermissionDenied):
        services.custom_field_save(acting_user=sales_user, target="customer", key="x", label_zh="X", field_type="text")
    assert CustomFieldDefinition.objects.count() == 0


# Picklists -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_picklist_values_accept_code_label_or_id(sales_user):
    stage = option("stage", "opportunity")
    by_code = services.customer_create(acting_user=sales_user, data={"name": "甲公司", "stage": "opportunity"})
    by_label = services.customer_create(acting_user=sales_user, data={"name": "乙公司", "stage": "商机"})
    by_id = services.customer_create(acting_user=sales_user, data={"name": "丙公司", "stage": str(stage.pk)})
    assert by_code.stage == by_label.stage == by_id.stage == stage


@pytest.mark.django_db
def test_unknown_or_wrong_kind_picklist_values_are_rejected(sales_user):
    with pytest.raises(ValidationFailed) as excinfo:
        services.customer_create(acting_user=sales_user, data={
            "name": "丁公司", "stage": "no-such-stage", "level": option(PicklistKind.SOURCE, "referral"),
        })
    assert _codes(excinfo) == {"stage": ErrorCode.UNKNOWN_CHOICE, "level": ErrorCode.UNKNOWN_CHOICE}
    assert Customer.objects.count() == 0


# Tags in bulk --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_bulk_tag_adds_and_removes_on_visible_customers_only(sales_user):
    old = TagFactory(name="需回访")
    mine = [CustomerFactory(owner=sales_user) for _ in range(2)]
    mine[0].tags.add(old)
    someone_elses = CustomerFactory()

    changed = services.customers_bulk_tag(
        acting_user=sales_user, customer_ids=[c.pk for c in [*mine, someone_elses]],
        add=["重点跟进"], remove=["需回访"],
    )
    assert changed == 2
    for customer in mine:
        customer.refresh_from_db()
        assert list(customer.tags.values_list("name", flat=True)) == ["重点跟进"]
        assert customer.version == 2
    assert list(someone_elses.tags.all()) == []
    first = AuditEvent.objects.get(object_id=mine[0].pk, action="update")
    assert first.changes == [{"field": "tags", "old": ["需回访"], "new": ["重点跟进"]}]

    # Nothing to change: no version bump, no audit row.
    assert services.customers_bulk_tag(acting_user=sales_user, customer_ids=[mine[1].pk], add=["重点跟进"]) == 0
    assert AuditEvent.objects.filter(object_id=mine[1].pk).count() == 1


# Bulk owner change ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_sales_rep_may_not_change_owners_in_bulk(sales_user):
    customer = CustomerFactory(owner=sales_user)
    other = UserFactory()
    with pytest.raises(PermissionDenied):
        services.customers_bulk_change_owner(acting_user=sales_user, customer_ids=[customer.pk], owner=other)
    customer.refresh_from_db()
    assert customer.owner == sales_user and customer.version == 1
    assert AuditEvent.objects.count() == 0


@pytest.mark.django_db
def test_manager_moves_customers_of_the_team_to_another_rep():
    manager = ManagerFactory()
    team = DepartmentFactory(name="北京一部", parent=manager.department)
    rep, successor = UserFactory(department=team), UserFactory(department=team)
    customers = [CustomerFactory(owner=rep) for _ in range(2)]
    outside = CustomerFactory()  # another department: out of the manager's scope

    changed = services.customers_bulk_change_owner(
        acting_user=manager, customer_ids=[c.pk for c in [*customers, outside]], owner=successor
    )
    assert changed == 2
    assert set(Customer.objects.filter(owner=successor).values_list("pk", flat=True)) == {c.pk for c in customers}
    assert Customer.objects.get(pk=outside.pk).owner != successor
    assert AuditEvent.objects.filter(action="update", customer_id__in=[c.pk for c in customers]).count() == 2


# Contacts ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_one_primary_contact_per_customer(sales_user):
    customer = CustomerFactory(owner=sales_user)
    first = services.contact_create(acting_user=sales_user, customer=customer, data={"name": "张伟"})
    second = services.contact_create(acting_user=sales_user, customer=customer, data={"name": "李娜"})
    assert first.is_primary and not second.is_primary

    third = services.contact_create(
        acting_user=sales_user, customer=customer, data={"name": "王芳", "is_primary": True}
    )
    assert list(Contact.objects.filter(customer=customer, is_primary=True)) == [third]

    services.contact_update(acting_user=sales_user, contact=second, data={"is_primary": "1"})
    assert list(Contact.objects.filter(customer=customer, is_primary=True).values_list("name", flat=True)) == ["李娜"]
    assert list(customer.contacts.values_list("name", flat=True))[0] == "李娜"


@pytest.mark.django_db
def test_contact_fields_are_validated(sales_user):
    customer = CustomerFactory(owner=sales_user)
    with pytest.raises(ValidationFailed) as excinfo:
        services.contact_create(acting_user=sales_user, customer=customer, data={
            "name": "", "mobile": "abc", "email": "not-mail", "decision_role": "boss",
        })
    # Invalid mobile/e-mail are warnings by default (kept and flagged); admins can make them errors.
    assert _codes(excinfo) == {"name": ErrorCode.REQUIRED, "decision_role": ErrorCode.UNKNOWN_CHOICE}
    assert Contact.objects.count() == 0


@pytest.mark.django_db
def test_contact_format_rules_block_when_the_admin_makes_them_errors(sales_user):
    from kehu.dataquality.models import ValidationRule

    ValidationRule.objects.filter(target="contact", rule_type="valid").update(severity="error")
    customer = CustomerFactory(owner=sales_user)
    with pytest.raises(ValidationFailed) as excinfo:
        services.contact_create(acting_user=sales_user, customer=customer, data={
            "name": "张三", "mobile": "abc", "email": "not-mail",
        })
    assert _codes(excinfo) == {"mobile": ErrorCode.INVALID, "email": ErrorCode.INVALID}
    assert Contact.objects.count() == 0


# Versions and scope on writes ----------------------------------------------------------------


@pytest.mark.django_db
def test_stale_version_is_a_conflict_and_changes_nothing(sales_user):
    customer = services.customer_create(acting_user=sales_user, data={"name": "广州康嘉医药有限公司"})
    services.customer_update(acting_user=sales_user, customer=customer, data={"city": "广州市"}, expected_version=1)
    with pytest.raises(VersionConflict):
        services.customer_update(acting_user=sales_user, customer=customer, data={"city": "深圳市"}, expected_version=1)
    customer.refresh_from_db()
    assert (customer.city, customer.version) == ("广州市", 2)
    assert AuditEvent.objects.filter(object_id=customer.pk, object_type="customer").count() == 2


@pytest.mark.django_db
def test_stale_contact_version_is_a_conflict(sales_user):
    customer = CustomerFactory(owner=sales_user)
    contact = services.contact_create(acting_user=sales_user, customer=customer, data={"name": "刘洋"})
    services.contact_update(acting_user=sales_user, contact=contact, data={"title": "采购经理"}, expected_version=1)
    with pytest.raises(VersionConflict):
        services.contact_update(acting_user=sales_user, contact=contact, data={"title": "总经理"}, expected_version=1)
    contact.refresh_from_db()
    assert (contact.title, contact.version) == ("采购经理", 2)


@pytest.mark.django_db
def test_update_without_changes_keeps_the_version(sales_user):
    customer = services.customer_create(acting_user=sales_user, data={"name": "成都锦程物流有限公司", "city": "成都市"})
    same = services.customer_update(acting_user=sales_user, customer=customer, data={"city": "成都市"})
    assert same.version == 1
    assert AuditEvent.objects.filter(object_id=customer.pk).count() == 1


@pytest.mark.django_db
def test_sales_rep_cannot_touch_someone_elses_customer(sales_user):
    customer = CustomerFactory(name="武汉江城贸易有限公司")
    with pytest.raises(NotFound):
        services.customer_update(acting_user=sales_user, customer=customer, data={"name": "改名"})
    with pytest.raises(NotFound):
        services.customer_delete(acting_user=sales_user, customer=customer)
    with pytest.raises(NotFound):
        services.contact_create(acting_user=sales_user, customer=customer, data={"name": "赵敏"})
    customer.refresh_from_db()
    assert customer.name == "武汉江城贸易有限公司" and customer.version == 1
    assert AuditEvent.objects.count() == 0


@pytest.mark.django_db
def test_delete_keeps_an_audit_row_with_the_old_values(sales_user):
    customer = services.customer_create(acting_user=sales_user, data={"name": "西安秦川机械制造有限公司"})
    services.customer_delete(acting_user=sales_user, customer=customer)
    assert not Customer.objects.filter(pk=customer.pk).exists()
    event = AuditEvent.objects.get(object_id=customer.pk, action="delete")
    assert {"field": "name", "old": "西安秦川机械制造有限公司", "new": None} in event.changes


# Audit ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_audit_events_are_append_only(sales_user):
    customer = services.customer_create(acting_user=sales_user, data={"name": "苏州吴越电子有限公司"})
    event = AuditEvent.objects.get(object_id=customer.pk)
    assert (event.action, event.actor, event.customer_id) == ("create", sales_user, customer.pk)
    event.action = "update"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "create"
