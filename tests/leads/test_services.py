"""Lead services: normalisation on create, duplicate warnings (leads, customers, contacts), scope,
status rules, conversion to customer + contact + opportunity, history on the customer's timeline,
and the merge registry covering the lead's foreign keys."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kehu.core.errors import NotFound, ValidationFailed, VersionConflict
from kehu.core.models import AuditEvent
from kehu.customers import selectors as customer_selectors
from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer, PicklistKind
from kehu.leads import selectors, services
from kehu.leads.models import Lead, LeadStatus
from kehu.sales.models import Opportunity
from tests.factories import DepartmentFactory, ManagerFactory, UserFactory, option

pytestmark = pytest.mark.django_db


def new_lead(user, **data):  # type: ignore[no-untyped-def]
    return services.lead_create(acting_user=user, data={"name": "张伟", "company": "北京分扬科技有限公司", **data}).lead


def test_create_normalises_phones_emails_and_name(sales_user) -> None:
    created = services.lead_create(acting_user=sales_user, data={
        "name": "张先生", "company": "分扬科技", "mobile": "+86 138-1234-5678", "phone": "(010) 6552 9988",
        "email": " Zhang@FenYang.CN ", "source": "百度推广", "campaign": "2026 春季展会"})
    lead = Lead.objects.get(pk=created.lead.pk)
    assert (lead.name, lead.salutation) == ("张", "先生")
    assert (lead.mobile, lead.mobile_e164) == ("13812345678", "+8613812345678")
    assert lead.phone_e164 == "+861065529988"
    assert lead.email == "Zhang@fenyang.cn"
    assert lead.source == option(PicklistKind.SOURCE, "baidu_ads")
    assert (lead.status, lead.owner, lead.department) == (LeadStatus.NEW, sales_user, sales_user.department)
    assert lead.version == 1
    event = AuditEvent.objects.get(object_type="lead", object_id=lead.pk)
    assert event.action == "create" and event.actor == sales_user and event.customer_id is None


def test_create_reports_every_field_error_at_once(sales_user) -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.lead_create(acting_user=sales_user, data={"name": "", "mobile": "12", "email": "nope",
                                                           "source": "no-such-source", "status": "converted"})
    assert {e.field for e in caught.value.errors} >= {"name", "mobile", "email", "source", "status"}
    assert not Lead.objects.exists()


def test_a_rep_cannot_give_a_lead_to_someone_else(sales_user) -> None:
    other = UserFactory()
    with pytest.raises(ValidationFailed) as caught:
        new_lead(sales_user, owner=other.pk)
    assert caught.value.errors[0].code == "permission_denied"


def test_duplicate_warnings_lead_vs_lead_by_mobile_and_email(sales_user) -> None:
    first = new_lead(sales_user, mobile="13812345678")
    created = services.lead_create(acting_user=sales_user, data={"name": "王芳", "mobile": "+86 138 1234 5678"})
    assert [w.lead_id for w in created.duplicates.leads] == [first.pk]
    assert created.duplicates.leads[0].verdict == "certain"
    assert Lead.objects.count() == 2  # warnings, not errors
    by_email = services.lead_create(acting_user=sales_user, data={"name": "李雷", "email": "zw@FenYang.cn"})
    assert not by_email.duplicates.leads
    new_lead(sales_user, email="zw@fenyang.cn", mobile="")
    again = services.lead_create(acting_user=sales_user, data={"name": "李雷2", "email": "ZW@fenyang.cn"})
    assert len(again.duplicates.leads) == 2


def test_duplicate_warning_names_an_invisible_lead_by_owner_only(sales_user) -> None:
    other = UserFactory(display_name="王经理")
    new_lead(other, mobile="13812345678")
    created = services.lead_create(acting_user=sales_user, data={"name": "某人", "mobile": "13812345678"})
    warning = created.duplicates.leads[0]
    assert (warning.visible, warning.name, warning.owner_name) == (False, "", "王经理")
    assert warning.as_dict()["lead_id"] is None


def test_duplicate_warnings_lead_vs_customer_and_contact(sales_user) -> None:
    customer = customer_services.customer_create(acting_user=sales_user, data={
        "name": "北京分扬科技有限公司", "phones": ["010-65529988"]})
    contact = customer_services.contact_create(acting_user=sales_user, customer=customer,
                                               data={"name": "刘洋", "mobile": "13900001111"})
    created = services.lead_create(acting_user=sales_user, data={
        "name": "刘洋", "company": "分扬科技", "mobile": "139 0000 1111", "phone": "010 6552 9988"})
    assert customer.pk in [w.customer_id for w in created.duplicates.customers]
    assert [h.contact_id for h in created.duplicates.contacts] == [contact.pk]
    assert created.duplicates.contacts[0].visible


def test_scope_own_department_all(sales_user) -> None:
    mine = new_lead(sales_user)
    colleague = UserFactory(department=sales_user.department)
    theirs = new_lead(colleague, name="王五")
    assert list(selectors.leads_visible(user=sales_user)) == [mine]
    with pytest.raises(NotFound):
        selectors.lead_get(user=sales_user, lead_id=theirs.pk)
    with pytest.raises(NotFound):
        services.lead_update(acting_user=sales_user, lead_id=theirs.pk, data={"name": "改名"})
    manager = ManagerFactory(department=sales_user.department)
    assert set(selectors.leads_visible(user=manager)) == {mine, theirs}
    outsider = ManagerFactory(department=DepartmentFactory())
    assert not selectors.leads_visible(user=outsider).exists()


def test_update_is_versioned_and_audited(sales_user) -> None:
    lead = new_lead(sales_user)
    updated = services.lead_update(acting_user=sales_user, lead_id=lead.pk, data={"title": "采购经理"},
                                   expected_version=1)
    assert updated.version == 2
    with pytest.raises(VersionConflict):
        services.lead_update(acting_user=sales_user, lead_id=lead.pk, data={"title": "总监"}, expected_version=1)
    assert Lead.objects.get(pk=lead.pk).title == "采购经理"
    event = AuditEvent.objects.filter(object_type="lead", action="update").get()
    assert event.changes == [{"field": "title", "old": "", "new": "采购经理"}]


def test_disqualify_requires_a_reason(sales_user) -> None:
    lead = new_lead(sales_user)
    with pytest.raises(ValidationFailed) as caught:
        services.lead_set_status(acting_user=sales_user, lead_id=lead.pk, status="disqualified")
    assert caught.value.errors[0].field == "disqualify_reason"
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.NEW
    services.lead_set_status(acting_user=sales_user, lead_id=lead.pk, status="disqualified", reason="预算不足")
    lead.refresh_from_db()
    assert (lead.status, lead.disqualify_reason) == ("disqualified", "预算不足")
    services.lead_set_status(acting_user=sales_user, lead_id=lead.pk, status="contacted")
    lead.refresh_from_db()
    assert (lead.status, lead.disqualify_reason) == ("contacted", "")
    with pytest.raises(ValidationFailed):
        services.lead_set_status(acting_user=sales_user, lead_id=lead.pk, status="converted")


def test_delete_is_audited(sales_user) -> None:
    lead = new_lead(sales_user)
    services.lead_delete(acting_user=sales_user, lead_id=lead.pk)
    assert not Lead.objects.exists()
    assert AuditEvent.objects.filter(object_type="lead", object_id=lead.pk, action="delete").exists()


# Conversion ------------------------------------------------------------------------------------


def test_convert_creates_customer_contact_and_opportunity(sales_user) -> None:
    lead = new_lead(sales_user, mobile="13812345678", email="zw@fenyang.cn", title="CTO", source="官网")
    result = services.lead_convert(acting_user=sales_user, lead_id=lead.pk, opportunity_name="CRM 采购",
                                   amount="5万")
    customer = Customer.objects.get(pk=result.customer.pk)
    assert result.customer_created
    assert (customer.name, customer.kind, customer.owner) == ("北京分扬科技有限公司", "company", sales_user)
    assert customer.source == option(PicklistKind.SOURCE, "website")
    assert customer.phones_e164 == ["+8613812345678"] and customer.emails == ["zw@fenyang.cn"]
    contact = Contact.objects.get(customer=customer)
    assert (contact.name, contact.mobile, contact.email, contact.title) == ("张伟", "13812345678", "zw@fenyang.cn",
                                                                           "CTO")
    deal = Opportunity.objects.get(customer=customer)
    assert (deal.name, deal.amount, deal.owner) == ("CRM 采购", Decimal("50000.00"), sales_user)
    assert list(deal.contacts.all()) == [contact]
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONVERTED and lead.converted_at is not None
    assert (lead.converted_customer, lead.converted_contact, lead.converted_opportunity) == (customer, contact, deal)
    assert lead.version == 2
    assert AuditEvent.objects.filter(action="convert", object_type="customer", customer_id=customer.pk).exists()
    with pytest.raises(ValidationFailed):
        services.lead_convert(acting_user=sales_user, lead_id=lead.pk)


def test_convert_person_without_company_and_without_opportunity(sales_user) -> None:
    lead = services.lead_create(acting_user=sales_user, data={"name": "赵敏", "mobile": "13700001234"}).lead
    result = services.lead_convert(acting_user=sales_user, lead_id=lead.pk, create_opportunity=False)
    assert (result.customer.kind, result.customer.name) == ("person", "赵敏")
    assert result.opportunity is None and not Opportunity.objects.exists()


def test_convert_reuses_the_customer_asked_for(sales_user) -> None:
    existing = customer_services.customer_create(acting_user=sales_user, data={"name": "上海某某贸易有限公司"})
    lead = new_lead(sales_user)
    result = services.lead_convert(acting_user=sales_user, lead_id=lead.pk, customer_id=existing.pk)
    assert result.customer == existing and not result.customer_created
    assert Customer.objects.count() == 1
    assert Contact.objects.get().customer == existing


def test_convert_refuses_a_customer_the_user_cannot_see(sales_user) -> None:
    hidden = customer_services.customer_create(acting_user=UserFactory(), data={"name": "别人的客户有限公司"})
    lead = new_lead(sales_user)
    with pytest.raises(NotFound):
        services.lead_convert(acting_user=sales_user, lead_id=lead.pk, customer_id=hidden.pk)
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW and not Opportunity.objects.exists()


def test_convert_reuses_a_certain_match_and_its_contact(sales_user) -> None:
    existing = customer_services.customer_create(acting_user=sales_user, data={
        "name": "北京分扬科技有限公司", "phones": ["13812345678"]})
    contact = customer_services.contact_create(acting_user=sales_user, customer=existing,
                                               data={"name": "张伟", "mobile": "13812345678"})
    lead = new_lead(sales_user, mobile="13812345678")
    result = services.lead_convert(acting_user=sales_user, lead_id=lead.pk)
    assert result.customer == existing and not result.customer_created
    assert result.contact == contact and not result.contact_created
    assert Customer.objects.count() == 1 and Contact.objects.count() == 1


def test_convert_rolls_back_everything_when_a_step_fails(sales_user) -> None:
    lead = new_lead(sales_user)
    with pytest.raises(ValidationFailed):
        services.lead_convert(acting_user=sales_user, lead_id=lead.pk, amount="很多钱")
    assert not Customer.objects.exists() and not Contact.objects.exists()
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.NEW


def test_disqualified_lead_cannot_be_converted(sales_user) -> None:
    lead = new_lead(sales_user)
    services.lead_set_status(acting_user=sales_user, lead_id=lead.pk, status="disqualified", reason="同行")
    with pytest.raises(ValidationFailed):
        services.lead_convert(acting_user=sales_user, lead_id=lead.pk)


def test_lead_history_is_on_the_customer_timeline(sales_user) -> None:
    lead = new_lead(sales_user, notes="展会上留的名片，想了解报价")
    services.lead_set_status(acting_user=sales_user, lead_id=lead.pk, status="qualified")
    result = services.lead_convert(acting_user=sales_user, lead_id=lead.pk, create_opportunity=False)
    entries = customer_selectors.customer_timeline(user=sales_user, customer=result.customer)
    kinds = [e.kind for e in entries]
    assert "lead.create" in kinds and "lead.update" in kinds and "lead.note" in kinds
    assert any(e.kind == "lead.create" and "张伟" in e.title for e in entries)
    assert any("展会上留的名片" in e.body for e in entries)
    convert = [e for e in entries if e.kind == "audit.convert"]
    assert len(convert) == 1 and convert[0].changes[0]["field"] == "由线索转化"
    # Not shown twice: the lead's conversion update appears once, from the lead provider.
    assert kinds.count("lead.update") == 2


def test_merge_registry_covers_lead_foreign_keys() -> None:
    from kehu.dataquality.merging.registry import contact_registry, related_registry

    assert related_registry.unregistered() == []
    assert contact_registry.unregistered() == []
    assert related_registry.get("leads.lead.converted_customer") is not None
    assert contact_registry.get("leads.lead.converted_contact") is not None


def test_customer_merge_and_undo_move_the_converted_lead(sales_user) -> None:
    from kehu.dataquality.merging.services import customers_merge, merge_undo

    lead = new_lead(sales_user, company="分扬科技（北京）")
    converted = services.lead_convert(acting_user=sales_user, lead_id=lead.pk, create_opportunity=False)
    survivor = customer_services.customer_create(acting_user=sales_user, data={"name": "分扬科技集团"})
    merge = customers_merge(acting_user=sales_user, survivor_id=survivor.pk, merged_ids=[converted.customer.pk])
    assert Lead.objects.get(pk=lead.pk).converted_customer_id == survivor.pk
    # The survivor's timeline still shows the lead's history.
    kinds = [e.kind for e in customer_selectors.customer_timeline(user=sales_user, customer=survivor)]
    assert "lead.create" in kinds
    merge_undo(acting_user=sales_user, merge_id=merge.pk)
    assert Lead.objects.get(pk=lead.pk).converted_customer_id == converted.customer.pk
