from __future__ import annotations

import pytest

from kehu.core.errors import KehuError, PermissionDenied
from kehu.core.models import AuditEvent
from kehu.customers import search
from kehu.customers.models import Customer, SearchToken
from kehu.customers.services import customer_update
from kehu.dataquality.models import MatchKey
from kehu.dataquality.quality import customers_quality_refresh
from kehu.imports import services
from kehu.imports.models import ImportBatch
from tests.factories import CustomerFactory, TagFactory
from tests.imports.helpers import run_import, write_csv

pytestmark = pytest.mark.django_db


def _arrange(admin_user, tmp_path):  # type: ignore[no-untyped-def]
    existing = CustomerFactory(name="老客户有限公司", external_id="E1", website="", phones=["13812345678"],
                               phones_e164=["+8613812345678"])
    existing.tags.add(TagFactory(name="老标签"))
    customers_quality_refresh([existing])
    path = write_csv(tmp_path / "c.csv", [
        ["编号", "名称", "网站", "电话", "标签"],
        ["E1", "老客户新名有限公司", "www.old.com", "13912345678", "新标签"],
        ["E2", "新客户有限公司", "", "13712345678", "甲,乙"],
    ])
    batch = run_import(admin_user, path, mapping={0: "external_id", 1: "name", 2: "website", 3: "phones", 4: "tags"},
                       mode="upsert", match_by=["external_id"])
    assert (batch.created, batch.updated) == (1, 1)
    return existing, batch


def test_undo_removes_created_and_restores_updated_records(admin_user, tmp_path):
    existing, batch = _arrange(admin_user, tmp_path)
    created = Customer.objects.get(external_id="E2")
    assert [h.customer.pk for h in search.search(user=admin_user, query="新名")] == [existing.pk]

    assert services.import_undo(acting_user=admin_user, batch=batch) == {"removed": 1, "restored": 1}

    assert not Customer.objects.filter(pk=created.pk).exists()
    assert not SearchToken.objects.filter(customer_id=created.pk).exists()
    existing.refresh_from_db()
    assert existing.name == "老客户有限公司" and existing.website == "" and existing.phones == ["13812345678"]
    assert existing.phones_e164 == ["+8613812345678"]
    assert sorted(existing.tags.values_list("name", flat=True)) == ["老标签"]
    assert existing.version == 3  # import + undo, so open edit forms reload
    assert search.search(user=admin_user, query="新名") == []
    assert [h.customer.pk for h in search.search(user=admin_user, query="老客户")] == [existing.pk]
    assert set(MatchKey.objects.filter(customer=existing).values_list("value", flat=True)) == {"+8613812345678"}
    assert AuditEvent.objects.filter(object_id=created.pk, action="delete").count() == 1
    restore = AuditEvent.objects.filter(object_id=existing.pk, action="update").order_by("-id").first()
    assert {c["field"] for c in restore.changes} >= {"name", "website", "phones", "tags"}
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.UNDONE and batch.undone_by == admin_user
    with pytest.raises(KehuError):
        services.import_undo(acting_user=admin_user, batch=batch)


def test_undo_is_refused_when_a_record_was_edited_afterwards(admin_user, tmp_path):
    existing, batch = _arrange(admin_user, tmp_path)
    created = Customer.objects.get(external_id="E2")
    customer_update(acting_user=admin_user, customer=created, data={"notes": "导入后又改了"})
    with pytest.raises(services.UndoRefused) as refused:
        services.import_undo(acting_user=admin_user, batch=batch)
    assert refused.value.changed == [(created.pk, "新客户有限公司")]
    assert "新客户有限公司" in refused.value.message
    # Nothing changed.
    assert Customer.objects.filter(pk=created.pk).exists()
    existing.refresh_from_db()
    assert existing.name == "老客户新名有限公司"
    batch.refresh_from_db()
    assert batch.undone_at is None


def test_undo_needs_an_importer_and_a_real_run(admin_user, sales_user, tmp_path):
    _existing, batch = _arrange(admin_user, tmp_path)
    with pytest.raises(PermissionDenied):
        services.import_undo(acting_user=sales_user, batch=batch)
    dry = run_import(admin_user, write_csv(tmp_path / "d.csv", [["名称"], ["甲有限公司"]]), mapping={0: "name"},
                     dry_run=True)
    with pytest.raises(KehuError):
        services.import_undo(acting_user=admin_user, batch=dry)


def test_undo_of_a_record_updated_twice_restores_the_first_state(admin_user, tmp_path):
    existing = CustomerFactory(name="甲有限公司", external_id="E1", notes="原始")
    path = write_csv(tmp_path / "c.csv", [["编号", "备注"], ["E1", "一"], ["E1", "二"]])
    batch = run_import(admin_user, path, mapping={0: "external_id", 1: "notes"}, mode="update",
                       match_by=["external_id"])
    assert batch.updated == 2
    existing.refresh_from_db()
    assert existing.notes == "二" and existing.version == 3
    services.import_undo(acting_user=admin_user, batch=batch)
    existing.refresh_from_db()
    assert existing.notes == "原始"


def test_undo_is_refused_when_a_created_customer_got_a_contact_since(admin_user, tmp_path):
    from kehu.customers.services import contact_create

    _existing, batch = _arrange(admin_user, tmp_path)
    created = Customer.objects.get(external_id="E2")
    contact_create(acting_user=admin_user, customer=created, data={"name": "张三"})
    with pytest.raises(services.UndoRefused) as refused:
        services.import_undo(acting_user=admin_user, batch=batch)
    assert refused.value.changed == [(created.pk, "新客户有限公司")]
    assert Customer.objects.filter(pk=created.pk).exists()
