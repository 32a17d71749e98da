"""The recycle bin's services: delete moves a snapshot into the bin, restore brings back exactly the
rows that were there, refusals change nothing, purge and erasure remove entries for good."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from kehu.accounts.models import Role
from kehu.accounts.permissions import DEFAULT_PERMISSIONS
from kehu.contracts import services as contracts
from kehu.contracts.models import Contract, ContractAttachment
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.models import AuditEvent
from kehu.customers import selectors as customer_selectors
from kehu.customers.models import Contact, Customer, PicklistKind, PicklistOption, SearchToken
from kehu.customers.services import contact_delete, customer_delete
from kehu.dataquality.models import MatchKey, QualityIssue
from kehu.leads import services as leads
from kehu.leads.models import Lead
from kehu.privacy import services as privacy
from kehu.privacy.models import Consent
from kehu.recyclebin import selectors, services
from kehu.recyclebin.models import RecycleBinEntry
from kehu.sales import selectors as sales_selectors
from kehu.sales import services as sales
from kehu.sales.models import Opportunity, OpportunityContact, OpportunityLine, Product, StageChange
from tests.factories import DepartmentFactory, ManagerFactory
from tests.recyclebin.conftest import dump


def _derived(customer_id: int) -> dict[str, list]:
    return {
        "tokens": sorted(SearchToken.objects.filter(customer_id=customer_id).values_list(
            "token", "contact_id", "owner_id")),
        "match_keys": sorted(MatchKey.objects.filter(customer_id=customer_id).values_list(
            "kind", "value", "contact_id")),
        "issues": sorted(QualityIssue.objects.filter(customer_id=customer_id).values_list("code", "contact_id")),
    }


def _without_check_time(tables: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The customer's `quality_checked_at` is derived: the restore re-runs the quality check."""
    for row in tables["customers.customer"]:
        row.pop("quality_checked_at")
    return tables


def _entry(obj: object) -> RecycleBinEntry:
    return RecycleBinEntry.objects.get(object_type=obj._meta.model_name, object_id=obj.pk)  # type: ignore[attr-defined]


# Delete → bin ------------------------------------------------------------------------------------


def test_customer_delete_moves_the_customer_and_its_rows_into_the_bin(rep, full_customer) -> None:
    pk = full_customer.pk
    customer_delete(acting_user=rep, customer=full_customer)

    assert not Customer.objects.filter(pk=pk).exists()
    assert not Contact.objects.filter(customer_id=pk).exists()
    assert Consent.objects.filter(customer_id=pk).count() == 2  # plain ids: kept, as before the bin
    assert not SearchToken.objects.filter(customer_id=pk).exists()
    assert not customer_selectors.customers_filtered(user=rep, filters=customer_selectors.CustomerFilter()
                                                     ).filter(pk=pk).exists()
    entry = _entry(Customer(pk=pk))
    assert entry.label == "北京回收测试科技有限公司"
    assert entry.customer_id == pk and entry.owner_id == rep.pk and entry.department_id == rep.department_id
    assert entry.deleted_by == rep and entry.deleted_by_name == "李销售"
    assert entry.purge_after - entry.deleted_at == dt.timedelta(days=30)
    counts = entry.payload["counts"]
    assert counts["customers.customer"] == 1 and counts["customers.contact"] == 2
    assert counts["customers.customer_tags"] == 2
    assert counts["activities.followupcontact"] == 2 and counts["activities.task"] == 1
    assert "customers.searchtoken" not in counts  # derived: rebuilt on restore, not stored
    # References the delete set to NULL are remembered, the rows themselves stay.
    assert Lead.objects.get(name="赵敏").converted_customer_id is None
    assert {link["model"] for link in entry.payload["relinks"]} >= {"leads.lead", "mailing.sentmail",
                                                                     "notifications.notification"}


def test_customer_with_deals_still_cannot_be_deleted(rep, customer) -> None:
    sales.opportunity_create(acting_user=rep, data={"name": "年度采购", "customer": customer.pk})
    with pytest.raises(ValidationFailed):
        customer_delete(acting_user=rep, customer=customer)
    assert Customer.objects.filter(pk=customer.pk).exists()
    assert not RecycleBinEntry.objects.exists()


def test_retention_follows_the_setting(settings, rep, customer) -> None:
    settings.KEHU_RECYCLE_BIN_DAYS = 7
    customer_delete(acting_user=rep, customer=customer)
    entry = _entry(customer)
    assert entry.purge_after - entry.deleted_at == dt.timedelta(days=7)


# Restore ----------------------------------------------------------------------------------------


def test_restore_brings_back_every_row_exactly(rep, full_customer) -> None:
    pk = full_customer.pk
    before, derived = dump(), _derived(pk)
    customer_delete(acting_user=rep, customer=full_customer)
    assert dump() != before

    restored = services.entry_restore(acting_user=rep, entry_id=_entry(Customer(pk=pk)).pk)

    assert restored.pk == pk
    assert _without_check_time(dump()) == _without_check_time(before)
    assert _derived(pk) == derived
    entry = RecycleBinEntry.objects.get(object_type="customer", object_id=pk)
    assert entry.restored_at is not None and entry.restored_by == rep
    assert "rows" not in entry.payload  # no second copy of the data once it is live again
    assert not selectors.visible_entries(user=rep).exists()
    event = AuditEvent.objects.filter(action="restore").get()
    assert (event.object_type, event.object_id, event.customer_id, event.actor) == ("customer", pk, pk, rep)
    from kehu.customers.timeline import _audit_entries

    assert any("从回收站恢复了客户" in str(e.title) for e in _audit_entries(restored, rep, 20))
    # Found by search again.
    assert customer_selectors.customers_filtered(
        user=rep, filters=customer_selectors.CustomerFilter(q="回收测试")).filter(pk=pk).exists()


def test_contact_restore_brings_back_its_links(rep, full_customer) -> None:
    contact = Contact.objects.get(name="周芷若")
    before, derived = dump(), _derived(full_customer.pk)
    contact_delete(acting_user=rep, contact=contact)
    assert Consent.objects.filter(contact_id=contact.pk).exists()
    entry = _entry(contact)
    assert entry.customer_id == full_customer.pk and entry.owner_id == rep.pk

    services.entry_restore(acting_user=rep, entry_id=entry.pk)

    assert _without_check_time(dump()) == _without_check_time(before)
    assert _derived(full_customer.pk) == derived


def test_opportunity_restore_brings_back_lines_contacts_history_and_totals(rep, customer) -> None:
    from tests.sales.test_opportunities import assert_rollups_true

    contact = Contact.objects.create(customer=customer, name="张无忌")
    product = Product.objects.create(code="P-1", name="CRM 年费", list_price="9800")
    deal = sales.opportunity_create(acting_user=rep, data={
        "name": "年度采购", "customer": customer.pk, "amount": "50000", "contacts": [contact.pk],
        "lines": [{"product": product.pk, "quantity": 2}]})
    tables = ["sales.opportunity", "sales.opportunitycontact", "sales.opportunityline", "sales.stagechange"]
    before = dump(tables)
    board = sales_selectors.rollup_matches_data()
    assert OpportunityLine.objects.filter(opportunity=deal).exists()
    sales.opportunity_delete(acting_user=rep, opportunity_id=deal.pk)
    assert not Opportunity.objects.filter(pk=deal.pk).exists()
    assert not OpportunityContact.objects.exists() and not StageChange.objects.filter(opportunity_id=deal.pk).exists()
    assert_rollups_true()

    services.entry_restore(acting_user=rep, entry_id=_entry(deal).pk)

    assert dump(tables) == before
    assert_rollups_true()
    assert sales_selectors.rollup_matches_data()["kept"] == board["kept"]


def test_lead_delete_and_restore(rep) -> None:
    created = leads.lead_create(acting_user=rep, data={"name": "王五", "company": "王五商贸", "mobile": "13700001111"})
    lead = created.lead
    before = dump(["leads.lead"])
    leads.lead_delete(acting_user=rep, lead_id=lead.pk)
    assert not Lead.objects.filter(pk=lead.pk).exists()
    services.entry_restore(acting_user=rep, entry_id=_entry(lead).pk)
    assert dump(["leads.lead"]) == before


def test_contract_attachment_files_stay_until_the_purge(rep, admin, customer, media,
                                                       django_capture_on_commit_callbacks) -> None:
    contract = contracts.contract_create(acting_user=rep, data={"title": "服务合同", "customer": customer.pk,
                                                                 "amount": "1000"})
    upload = SimpleUploadedFile("a.pdf", b"%PDF-1.4", content_type="application/pdf")
    attachment = contracts.attachment_add(acting_user=rep, contract_id=contract.pk, upload=upload)
    path = media / attachment.file.name
    before = dump(["contracts.contract", "contracts.contractattachment"])
    with django_capture_on_commit_callbacks(execute=True):
        contracts.contract_delete(acting_user=rep, contract_id=contract.pk)
    assert not Contract.objects.filter(pk=contract.pk).exists() and path.exists()

    entry = _entry(contract)
    services.entry_restore(acting_user=rep, entry_id=entry.pk)
    assert dump(["contracts.contract", "contracts.contractattachment"]) == before
    assert ContractAttachment.objects.get().file.read() == b"%PDF-1.4"

    with django_capture_on_commit_callbacks(execute=True):
        contracts.contract_delete(acting_user=rep, contract_id=contract.pk)
    entry = RecycleBinEntry.objects.get(object_type="contract", restored_at__isnull=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.entry_purge(acting_user=admin, entry_id=entry.pk)
    assert not path.exists()


# Refusals -----------------------------------------------------------------------------------------


def test_restore_refused_while_its_customer_is_gone(rep, full_customer) -> None:
    contact = Contact.objects.get(name="赵敏")
    contact_delete(acting_user=rep, contact=contact)
    contact_entry = _entry(contact)
    customer_delete(acting_user=rep, customer=full_customer)
    state = dump()

    with pytest.raises(ValidationFailed) as refused:
        services.entry_restore(acting_user=rep, entry_id=contact_entry.pk)
    message = " ".join(str(e.message) for e in refused.value.errors)
    assert f"#{full_customer.pk}" in message and "回收站" in message
    assert dump() == state
    assert RecycleBinEntry.objects.filter(restored_at__isnull=True).count() == 2
    assert not AuditEvent.objects.filter(action="restore").exists()

    # In order: the customer first, then its contact.
    services.entry_restore(acting_user=rep, entry_id=_entry(full_customer).pk)
    services.entry_restore(acting_user=rep, entry_id=contact_entry.pk)
    assert Contact.objects.filter(pk=contact.pk, customer_id=full_customer.pk).exists()


def test_restore_refused_when_a_picklist_option_was_deleted(rep, admin) -> None:
    from kehu.customers.services import customer_create

    option = PicklistOption.objects.create(kind=PicklistKind.SOURCE, code="fair", label_zh="展会", label_en="Fair")
    customer = customer_create(acting_user=rep, data={"kind": "company", "name": "展会客户有限公司",
                                                      "source": option.pk})
    assert customer.source_id == option.pk
    customer_delete(acting_user=rep, customer=customer)
    option.delete()
    with pytest.raises(ValidationFailed) as refused:
        services.entry_restore(acting_user=rep, entry_id=_entry(customer).pk)
    assert refused.value.errors[0].field == "source"
    assert not Customer.objects.filter(pk=customer.pk).exists()


def test_a_deleted_tag_is_dropped_not_a_reason_to_refuse(rep, customer) -> None:
    from kehu.customers.models import Tag

    customer_delete(acting_user=rep, customer=customer)
    Tag.objects.filter(name="华北").delete()
    services.entry_restore(acting_user=rep, entry_id=_entry(customer).pk)
    assert sorted(Customer.objects.get(pk=customer.pk).tags.values_list("name", flat=True)) == ["重点"]


# Permissions --------------------------------------------------------------------------------------


def test_another_rep_neither_sees_nor_restores(rep, other_rep, customer) -> None:
    customer_delete(acting_user=rep, customer=customer)
    entry = _entry(customer)
    assert list(selectors.visible_entries(user=rep)) == [entry]
    assert not selectors.visible_entries(user=other_rep).exists()
    with pytest.raises(NotFound):
        services.entry_restore(acting_user=other_rep, entry_id=entry.pk)
    assert not Customer.objects.filter(pk=customer.pk).exists()
    assert RecycleBinEntry.objects.get(pk=entry.pk).restored_at is None


def test_the_manager_of_the_department_sees_the_entry(rep, customer) -> None:
    manager = ManagerFactory(department=rep.department)
    outsider = ManagerFactory(department=DepartmentFactory())
    customer_delete(acting_user=rep, customer=customer)
    assert selectors.visible_entries(user=manager).count() == 1
    assert not selectors.visible_entries(user=outsider).exists()


def test_restore_needs_the_restore_operation(rep, customer) -> None:
    role = Role.objects.create(code="no-restore", name_zh="无恢复", name_en="No restore", data_scope="own",
                               permissions=sorted(DEFAULT_PERMISSIONS["sales"] - {"customer.restore"}))
    rep.role = role
    rep.save()
    customer_delete(acting_user=rep, customer=customer)
    entry = _entry(customer)
    state = dump()
    with pytest.raises(PermissionDenied):
        services.entry_restore(acting_user=rep, entry_id=entry.pk)
    assert dump() == state
    assert RecycleBinEntry.objects.get(pk=entry.pk).payload["rows"]


def test_purge_needs_an_administrator(rep, admin, customer) -> None:
    customer_delete(acting_user=rep, customer=customer)
    entry = _entry(customer)
    with pytest.raises(PermissionDenied):
        services.entry_purge(acting_user=rep, entry_id=entry.pk)
    assert RecycleBinEntry.objects.filter(pk=entry.pk).exists()
    services.entry_purge(acting_user=admin, entry_id=entry.pk)
    assert not RecycleBinEntry.objects.exists()
    event = AuditEvent.objects.get(action="purge")
    assert (event.object_type, event.object_id, event.actor) == ("customer", customer.pk, admin)
    assert "回收测试" not in event.object_repr  # no personal data left behind in the append-only log


# Purge and erasure --------------------------------------------------------------------------------


def test_the_scheduled_purge_removes_old_entries_only(rep, customer) -> None:
    from kehu.customers.services import customer_create
    from kehu.recyclebin.tasks import recycle_bin_purge

    young = customer_create(acting_user=rep, data={"kind": "company", "name": "新删除有限公司"})
    customer_delete(acting_user=rep, customer=customer)
    customer_delete(acting_user=rep, customer=young)
    RecycleBinEntry.objects.filter(object_id=customer.pk).update(
        purge_after=timezone.now() - dt.timedelta(minutes=1))

    recycle_bin_purge.call_local()

    assert list(RecycleBinEntry.objects.values_list("object_id", flat=True)) == [young.pk]
    assert AuditEvent.objects.filter(action="purge", object_id=customer.pk).count() == 1


def test_the_purge_command(rep, customer, capsys) -> None:
    customer_delete(acting_user=rep, customer=customer)
    RecycleBinEntry.objects.update(purge_after=timezone.now() - dt.timedelta(days=1))
    call_command("bin", "purge")
    assert "purged 1" in capsys.readouterr().out
    assert not RecycleBinEntry.objects.exists()


def test_erasure_bypasses_the_bin(rep, admin, full_customer) -> None:
    contact = Contact.objects.get(name="赵敏")
    contact_delete(acting_user=rep, contact=contact)
    deal = sales.opportunity_create(acting_user=rep, data={"name": "采购", "customer": full_customer.pk})
    sales.opportunity_delete(acting_user=rep, opportunity_id=deal.pk)
    from kehu.customers.services import customer_create

    unrelated = customer_create(acting_user=rep, data={"kind": "company", "name": "无关有限公司"})
    customer_delete(acting_user=rep, customer=unrelated)
    assert RecycleBinEntry.objects.count() == 3

    erasure = privacy.customer_erase(acting_user=admin, customer_id=full_customer.pk,
                                     confirmation=full_customer.name)

    assert erasure.counts["recycle_bin"] == 2
    assert list(RecycleBinEntry.objects.values_list("object_id", flat=True)) == [unrelated.pk]


def test_restore_refused_when_the_id_is_taken(rep) -> None:
    lead = leads.lead_create(acting_user=rep, data={"name": "王五", "mobile": "13700001111"}).lead
    leads.lead_delete(acting_user=rep, lead_id=lead.pk)
    Lead.objects.create(pk=lead.pk, name="占位", owner=rep)
    with pytest.raises(ValidationFailed) as refused:
        services.entry_restore(acting_user=rep, entry_id=_entry(lead).pk)
    assert refused.value.errors[0].code == "unique"
    assert Lead.objects.get(pk=lead.pk).name == "占位"
    assert RecycleBinEntry.objects.get(object_id=lead.pk).restored_at is None
