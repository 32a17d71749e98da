"""The permission model: data scopes per object type, record shares, named operations, and the
admin bypass (core/scoping.py, accounts/permissions.py, accounts/sharing.py)."""

from __future__ import annotations

from typing import Any

import pytest

from kehu.accounts.models import RecordShare, Role
from kehu.accounts.permissions import DEFAULT_PERMISSIONS, OPERATIONS, has_operation, require_operation
from kehu.core.errors import PermissionDenied
from kehu.core.scoping import restrict, scope_for
from kehu.customers.models import Contact, Customer
from kehu.customers.search import search
from kehu.leads.models import Lead
from kehu.sales.models import Opportunity
from tests.factories import AdminFactory, ContactFactory, CustomerFactory, DepartmentFactory, UserFactory, role

pytestmark = pytest.mark.django_db


def custom_role(scope: str = "own", **fields: Any) -> Role:
    code = fields.pop("code", f"r-{scope}-{Role.objects.count()}")
    return Role.objects.create(code=code, name_zh=code, name_en=code, data_scope=scope, **fields)


@pytest.fixture
def tree() -> dict[str, Any]:
    """总部 → 华北 → 北京一部 (three levels), plus a sibling 上海 under 总部, a person in each,
    and one customer owned by each person."""
    hq = DepartmentFactory(name="总部")
    north = DepartmentFactory(name="华北", parent=hq)
    beijing = DepartmentFactory(name="北京一部", parent=north)
    shanghai = DepartmentFactory(name="上海", parent=hq)
    people = {
        "boss": UserFactory(department=hq),
        "north_lead": UserFactory(department=north),
        "north_peer": UserFactory(department=north),
        "bj_rep": UserFactory(department=beijing),
        "sh_rep": UserFactory(department=shanghai),
    }
    hq.manager = people["boss"]
    hq.save()
    north.manager = people["north_lead"]
    north.save()
    customers = {name: CustomerFactory(owner=person, name=f"{name}的客户") for name, person in people.items()}
    return {"departments": {"hq": hq, "north": north, "beijing": beijing, "shanghai": shanghai},
            "people": people, "customers": customers}


def visible(user: Any, tree: dict[str, Any]) -> set[str]:
    ids = set(restrict(Customer.objects.all(), user).values_list("pk", flat=True))
    return {name for name, customer in tree["customers"].items() if customer.pk in ids}


def as_role(user: Any, new_role: Role) -> Any:
    user.role = new_role
    user.save(update_fields=["role"])
    return type(user).objects.select_related("role", "department").get(pk=user.pk)


# Scopes ----------------------------------------------------------------------------------------


def test_own_scope_sees_only_own_records(tree):
    user = as_role(tree["people"]["north_lead"], custom_role("own"))
    assert visible(user, tree) == {"north_lead"}


def test_subordinates_follow_the_managed_department_tree(tree):
    lead = as_role(tree["people"]["north_lead"], custom_role("subordinates"))
    # 华北's manager: own + 华北's other member + 北京一部 (a sub-department), not 上海 nor 总部.
    assert visible(lead, tree) == {"north_lead", "north_peer", "bj_rep"}
    boss = as_role(tree["people"]["boss"], custom_role("subordinates"))
    assert visible(boss, tree) == {"boss", "north_lead", "north_peer", "bj_rep", "sh_rep"}


def test_subordinates_without_a_managed_department_is_own(tree):
    peer = as_role(tree["people"]["north_peer"], custom_role("subordinates"))
    assert visible(peer, tree) == {"north_peer"}


def test_department_only_excludes_sub_departments(tree):
    peer = as_role(tree["people"]["north_peer"], custom_role("department_only"))
    assert visible(peer, tree) == {"north_lead", "north_peer"}


def test_department_includes_sub_departments(tree):
    peer = as_role(tree["people"]["north_peer"], custom_role("department"))
    assert visible(peer, tree) == {"north_lead", "north_peer", "bj_rep"}


def test_all_scope_sees_everything(tree):
    rep = as_role(tree["people"]["bj_rep"], custom_role("all"))
    assert visible(rep, tree) == set(tree["people"])


def test_contacts_follow_their_customer(tree):
    contact = ContactFactory(customer=tree["customers"]["bj_rep"])
    other = ContactFactory(customer=tree["customers"]["sh_rep"])
    lead = as_role(tree["people"]["north_lead"], custom_role("subordinates"))
    ids = set(restrict(Contact.objects.all(), lead).values_list("pk", flat=True))
    assert contact.pk in ids and other.pk not in ids


def test_per_object_scope_overrides_the_default(tree):
    override = custom_role("own", scopes={"customer": "department", "lead": "bogus"})
    peer = as_role(tree["people"]["north_peer"], override)
    assert scope_for(peer, "customer") == "department"
    assert scope_for(peer, "lead") == "own"  # an unknown value falls back to the default
    assert scope_for(peer, "opportunity") == "own"
    assert visible(peer, tree) == {"north_lead", "north_peer", "bj_rep"}
    lead_row = Lead.objects.create(name="线索", owner=tree["people"]["north_lead"],
                                   department=tree["departments"]["north"])
    assert not restrict(Lead.objects.filter(pk=lead_row.pk), peer).exists()


def test_admin_bypasses_scopes_even_with_an_override(tree):
    admin = AdminFactory()
    admin.role.scopes = {"customer": "own"}
    assert scope_for(admin, "customer") == "all"
    assert visible(admin, tree) == set(tree["people"])


def test_inactive_user_sees_nothing(tree):
    rep = as_role(tree["people"]["bj_rep"], custom_role("all"))
    rep.is_active = False
    assert visible(rep, tree) == set()


# Shares ----------------------------------------------------------------------------------------


def test_share_to_a_user_shows_the_record_and_its_contacts(tree):
    rep = tree["people"]["bj_rep"]
    target = tree["customers"]["sh_rep"]
    contact = ContactFactory(customer=target)
    RecordShare.objects.create(object_type="customers.customer", object_id=target.pk, user=rep)
    rep = type(rep).objects.get(pk=rep.pk)
    assert visible(rep, tree) == {"bj_rep", "sh_rep"}
    assert restrict(Contact.objects.filter(pk=contact.pk), rep).exists()
    # The search finds it too (the rep's own-scope fast path steps aside once something is shared).
    assert target.pk in {hit.customer.pk for hit in search(user=rep, query="sh_rep的客户")}


def test_share_to_a_department_reaches_its_sub_departments_only(tree):
    target = tree["customers"]["sh_rep"]
    RecordShare.objects.create(object_type="customers.customer", object_id=target.pk,
                               department=tree["departments"]["north"])
    people = {name: type(p).objects.get(pk=p.pk) for name, p in tree["people"].items()}
    assert "sh_rep" in visible(people["bj_rep"], tree)  # 北京一部 is under 华北
    assert "sh_rep" in visible(people["north_peer"], tree)
    assert "sh_rep" not in visible(people["boss"], tree)  # 总部 is above 华北: not reached


def test_a_share_of_one_kind_does_not_leak_to_another(tree):
    rep = tree["people"]["bj_rep"]
    target = tree["customers"]["sh_rep"]
    RecordShare.objects.create(object_type="leads.lead", object_id=target.pk, user=rep)
    assert visible(type(rep).objects.get(pk=rep.pk), tree) == {"bj_rep"}


def test_read_share_does_not_allow_writes_and_edit_share_does(tree):
    from kehu.core.errors import NotFound
    from kehu.customers.services import customer_update

    rep = tree["people"]["bj_rep"]
    target = tree["customers"]["sh_rep"]
    share = RecordShare.objects.create(object_type="customers.customer", object_id=target.pk, user=rep)
    with pytest.raises(NotFound):
        customer_update(acting_user=rep, customer=target, data={"notes": "改一下"})
    assert Customer.objects.get(pk=target.pk).notes == ""
    share.can_edit = True
    share.save()
    customer_update(acting_user=type(rep).objects.get(pk=rep.pk), customer=target, data={"notes": "改一下"})
    assert Customer.objects.get(pk=target.pk).notes == "改一下"


# Operations ------------------------------------------------------------------------------------


def test_default_operations_of_the_built_in_roles():
    rep, manager = UserFactory(), UserFactory(role=role("manager"))
    marketing = UserFactory(role=role("marketing"))
    assert has_operation(rep, "customer.export") and has_operation(rep, "customer.merge")
    assert not has_operation(rep, "customer.import") and not has_operation(rep, "customer.assign")
    assert has_operation(manager, "customer.import") and has_operation(manager, "opportunity.assign")
    for user in (rep, manager, marketing):
        for code in ("automation.manage", "automation.view", "audit.view", "pool.manage", "settings.manage"):
            assert not has_operation(user, code), (user.role.code, code)
    assert DEFAULT_PERMISSIONS["sales"] <= set(OPERATIONS)


def test_explicit_permissions_replace_the_defaults():
    user = UserFactory(role=custom_role("own", permissions=["customer.view", "customer.import", "nonsense"]))
    assert has_operation(user, "customer.import")
    assert not has_operation(user, "customer.export")
    with pytest.raises(PermissionDenied):
        require_operation(user, "customer.export")
    empty = UserFactory(role=custom_role("own", permissions=[]))
    assert not has_operation(empty, "customer.view")


def test_admin_and_superuser_hold_every_operation():
    admin = AdminFactory()
    superuser = UserFactory(role=None, is_superuser=True)
    assert all(has_operation(admin, code) and has_operation(superuser, code) for code in OPERATIONS)


def test_unknown_operation_is_a_programming_error():
    with pytest.raises(ValueError):
        has_operation(UserFactory(), "customer.fly")


def test_import_needs_the_import_operation_and_export_the_export_operation(client):
    from kehu.imports.selectors import can_import

    allowed = UserFactory(role=custom_role("all", permissions=["customer.import"]))
    denied = UserFactory(role=custom_role("all", permissions=["customer.view"]))
    assert can_import(allowed) and not can_import(denied)
    client.force_login(denied)
    assert client.get("/customers/export/").status_code == 403


def test_export_api_refused_without_the_export_operation():
    from tests.api_client import Api

    denied = UserFactory(role=custom_role("all", permissions=["customer.view"]))
    CustomerFactory(owner=denied)
    response = Api(denied).get("/customers/export")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_merge_refused_without_the_merge_operation(tree):
    from kehu.dataquality.merging.services import customers_merge

    rep = as_role(tree["people"]["bj_rep"], custom_role("own", permissions=["customer.view", "customer.edit"]))
    second = CustomerFactory(owner=rep, name="bj_rep的客户二")
    with pytest.raises(PermissionDenied):
        customers_merge(acting_user=rep, survivor_id=tree["customers"]["bj_rep"].pk, merged_ids=[second.pk])
    assert Customer.objects.filter(pk=second.pk).exists()


def test_assigning_an_opportunity_to_someone_else_needs_assign_and_scope(tree):
    from kehu.accounts.permissions import may_assign_to

    people = tree["people"]
    lead = as_role(people["north_lead"], custom_role("subordinates", permissions=["opportunity.assign"]))
    assert may_assign_to(lead, people["bj_rep"], "opportunity")
    assert not may_assign_to(lead, people["sh_rep"], "opportunity")
    no_assign = as_role(people["north_peer"], custom_role("all", permissions=["opportunity.view"]))
    assert not may_assign_to(no_assign, people["bj_rep"], "opportunity")
    assert may_assign_to(no_assign, no_assign, "opportunity")


def test_opportunity_scope_uses_its_own_override(tree):
    from kehu.sales.services import opportunity_create

    people = tree["people"]
    deal = opportunity_create(acting_user=people["bj_rep"],
                              data={"name": "商机", "customer": tree["customers"]["bj_rep"].pk})
    viewer = as_role(people["north_peer"], custom_role("own", scopes={"opportunity": "department"}))
    assert restrict(Opportunity.objects.filter(pk=deal.pk), viewer).exists()
    assert visible(viewer, tree) == {"north_peer"}
