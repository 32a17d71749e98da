"""Customer.id_number encrypted at rest: the column and every copy (audit log, merge snapshots,
recycle bin, import undo log) hold "enc1:…", while Python code, the dedupe scan and outputs see
the plaintext (masked per field policy where a role says so)."""

from __future__ import annotations

import importlib
import json
from types import SimpleNamespace

import pytest
from django.db import connection

from kehu.core import crypto
from kehu.core.models import AuditEvent
from kehu.customers.models import Customer
from kehu.customers.services import customer_create, customer_delete, customer_update
from tests.factories import AdminFactory, CustomerFactory, UserFactory

ID = "110101199003071233"  # valid checksum (GB 11643)
ID_2 = "110101198001010010"
MIGRATION = importlib.import_module("kehu.customers.migrations.0007_encrypt_id_numbers")


def raw_id_number(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number FROM customers_customer WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def raw_column_text(table: str, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table}")
        return " ".join(str(row[0]) for row in cursor.fetchall())


@pytest.fixture
def admin(db):  # type: ignore[no-untyped-def]
    return AdminFactory()


@pytest.fixture
def person(admin):  # type: ignore[no-untyped-def]
    return customer_create(acting_user=admin, data={"kind": "person", "name": "张伟", "id_number": ID})


def test_the_column_holds_ciphertext_and_the_orm_reads_plaintext(person) -> None:
    stored = raw_id_number(person.pk)
    assert stored.startswith("enc1:") and ID not in stored
    assert crypto.decrypt(stored) == ID
    assert Customer.objects.get(pk=person.pk).id_number == ID
    assert Customer.objects.filter(pk=person.pk).values_list("id_number", flat=True).get() == ID


def test_empty_stays_empty_so_has_an_id_filters_work(admin, person) -> None:
    other = customer_create(acting_user=admin, data={"kind": "person", "name": "李娜"})
    assert raw_id_number(other.pk) == ""
    assert set(Customer.objects.exclude(id_number="").values_list("pk", flat=True)) == {person.pk}
    assert set(Customer.objects.filter(id_number="").values_list("pk", flat=True)) == {other.pk}


def test_resaving_does_not_encrypt_twice(person) -> None:
    person.save()
    person.refresh_from_db()
    assert person.id_number == ID
    # A sealed copy written back (snapshot restore) is stored once-encrypted, not wrapped again.
    person.id_number = crypto.seal(ID)
    person.save()
    assert crypto.decrypt(raw_id_number(person.pk)) == ID


def test_validation_applies_to_the_plaintext(admin) -> None:
    from kehu.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        customer_create(acting_user=admin, data={"kind": "company", "name": "分扬科技", "id_number": ID})
    field = Customer._meta.get_field("id_number")
    assert field.max_length == 30
    assert field.formfield().max_length == 30


def test_api_and_detail_never_show_ciphertext(admin, person) -> None:
    from tests.api_client import Api

    body = Api(admin).get(f"/customers/{person.pk}").json()
    assert not str(body.get("id_number") or "").startswith("enc1:")
    assert body.get("id_number") in (ID, "110101********1233")


# Migration ---------------------------------------------------------------------------------------


def test_the_migration_encrypts_existing_rows_and_reverses(db) -> None:
    plain = CustomerFactory(kind="person", name="王芳")
    empty = CustomerFactory(kind="person", name="赵强")
    with connection.cursor() as cursor:  # as the rows were before the migration
        cursor.execute("UPDATE customers_customer SET id_number = %s WHERE id = %s", [ID, plain.pk])
    assert raw_id_number(plain.pk) == ID
    assert Customer.objects.get(pk=plain.pk).id_number == ID  # legacy plaintext reads through

    editor = SimpleNamespace(connection=connection)
    MIGRATION.encrypt_existing(None, editor)
    first = raw_id_number(plain.pk)
    assert first.startswith("enc1:") and raw_id_number(empty.pk) == ""
    assert Customer.objects.get(pk=plain.pk).id_number == ID
    MIGRATION.encrypt_existing(None, editor)  # a rerun leaves encrypted values alone
    assert raw_id_number(plain.pk) == first

    MIGRATION.decrypt_existing(None, editor)
    assert raw_id_number(plain.pk) == ID and raw_id_number(empty.pk) == ""


def test_the_migration_pages_through_more_than_one_chunk(db, monkeypatch) -> None:
    monkeypatch.setattr(MIGRATION, "CHUNK", 2)
    customers = [CustomerFactory(kind="person", name=f"客户{i}") for i in range(5)]
    with connection.cursor() as cursor:
        cursor.executemany("UPDATE customers_customer SET id_number = %s WHERE id = %s",
                           [(f"1101011990030712{i:02d}", c.pk) for i, c in enumerate(customers)])
    MIGRATION.encrypt_existing(None, SimpleNamespace(connection=connection))
    assert all(raw_id_number(c.pk).startswith("enc1:") for c in customers)
    assert [Customer.objects.get(pk=c.pk).id_number for c in customers] == [
        f"1101011990030712{i:02d}" for i in range(5)]


# Dedupe scan -------------------------------------------------------------------------------------


def test_the_dedupe_scan_still_matches_equal_id_numbers(admin) -> None:
    from kehu.dataquality import scanning
    from kehu.dataquality.models import DuplicatePair

    a = CustomerFactory(kind="person", name="张伟", id_number=ID)
    b = CustomerFactory(kind="person", name="张伟", id_number=ID)
    CustomerFactory(kind="person", name="张伟", id_number=ID_2)
    assert raw_id_number(a.pk) != raw_id_number(b.pk)  # random nonces
    rows = [row for chunk in scanning._customer_chunks() for row in chunk]
    assert {row[0]: row[11] for row in rows}[a.pk] == ID
    scanning.duplicates_scan(full=True, workers=1)
    pair = DuplicatePair.objects.get(low_id=min(a.pk, b.pk), high_id=max(a.pk, b.pk))
    assert "id_number.same" in json.dumps(pair.reasons, ensure_ascii=False, default=str)


# Audit log ---------------------------------------------------------------------------------------


def test_audit_values_of_id_numbers_are_encrypted_and_shown_masked(admin, person) -> None:
    customer_update(acting_user=admin, customer=person, data={"id_number": ID_2, "birthday": "1980-01-01"})
    assert ID not in raw_column_text("core_auditevent", "changes")
    assert ID_2 not in raw_column_text("core_auditevent", "changes")
    event = AuditEvent.objects.filter(object_type="customer", object_id=person.pk, action="update").latest("pk")
    change = next(c for c in event.changes if c["field"] == "id_number")
    assert crypto.unseal(change["old"]) == ID and crypto.unseal(change["new"]) == ID_2

    from kehu.core.audit_api import audit_event_out

    shown = next(c for c in audit_event_out(event)["changes"] if c["field"] == "id_number")
    assert (shown["old"], shown["new"]) == ("110101********1233", "110101********0010")


def test_field_history_opens_the_sealed_values(admin, person) -> None:
    from kehu.customers.history import mask_timeline_changes

    customer_update(acting_user=admin, customer=person, data={"id_number": ID_2, "birthday": "1980-01-01"})
    event = AuditEvent.objects.filter(object_type="customer", object_id=person.pk, action="update").latest("pk")
    rep = UserFactory()
    for user in (admin, rep):
        change = next(c for c in mask_timeline_changes(user=user, object_type="customer", changes=event.changes)
                      if c["field"] == "id_number")
        assert not str(change["new"]).startswith("enc1:")
        assert change["new"] in (ID_2, "110101********0010")


# Recycle bin and merge snapshots -------------------------------------------------------------------


def test_recycle_bin_keeps_it_encrypted_and_restores_exactly(admin, person) -> None:
    from kehu.recyclebin import services as recyclebin
    from kehu.recyclebin.models import RecycleBinEntry

    pk = person.pk
    customer_delete(acting_user=admin, customer=person)
    entry = RecycleBinEntry.objects.get(object_type="customer", object_id=pk)
    assert ID not in json.dumps(entry.payload, ensure_ascii=False)
    assert ID not in raw_column_text("recyclebin_recyclebinentry", "payload")

    recyclebin.entry_restore(acting_user=admin, entry_id=entry.pk)
    assert Customer.objects.get(pk=pk).id_number == ID
    assert raw_id_number(pk).startswith("enc1:")


def test_merge_snapshot_keeps_it_encrypted_and_unmerge_restores_exactly(admin) -> None:
    from kehu.dataquality.merging.services import customers_merge, merge_undo
    from kehu.dataquality.models import CustomerMerge

    older = customer_create(acting_user=admin, data={"kind": "person", "name": "张伟", "id_number": ID})
    newer = customer_create(acting_user=admin, data={"kind": "person", "name": "张伟", "id_number": ID_2})
    merge = customers_merge(acting_user=admin, survivor_id=older.pk, merged_ids=[newer.pk])
    assert ID not in json.dumps(CustomerMerge.objects.get(pk=merge.pk).snapshot, ensure_ascii=False)
    assert ID_2 not in json.dumps(CustomerMerge.objects.get(pk=merge.pk).snapshot, ensure_ascii=False)

    merge_undo(acting_user=admin, merge_id=merge.pk)
    assert Customer.objects.get(pk=older.pk).id_number == ID
    assert Customer.objects.get(pk=newer.pk).id_number == ID_2
    assert raw_id_number(newer.pk).startswith("enc1:")


# Imports -----------------------------------------------------------------------------------------


def test_import_writes_ciphertext_and_its_undo_log_holds_no_plaintext(admin, tmp_path) -> None:
    from kehu.imports import services as imports
    from tests.imports.helpers import run_import, write_csv

    existing = customer_create(acting_user=admin, data={"kind": "person", "name": "张伟", "external_id": "P1",
                                                        "id_number": ID})
    path = write_csv(tmp_path / "people.csv", [
        ["编号", "类型", "名称", "身份证号", "生日"],
        ["P1", "person", "张伟", ID_2, "1980-01-01"],
        ["P2", "person", "李娜", ID, "1990-03-07"],
    ])
    batch = run_import(admin, path, mapping={0: "external_id", 1: "kind", 2: "name", 3: "id_number", 4: "birthday"},
                       mode="upsert", match_by=["external_id"])
    assert (batch.created, batch.updated) == (1, 1), batch.__dict__
    created = Customer.objects.get(external_id="P2")
    assert created.id_number == ID and raw_id_number(created.pk).startswith("enc1:")
    assert Customer.objects.get(pk=existing.pk).id_number == ID_2
    assert ID not in raw_column_text("imports_importrowlog", "before")
    assert ID not in raw_column_text("core_auditevent", "changes")
    assert ID_2 not in raw_column_text("core_auditevent", "changes")

    imports.import_undo(acting_user=admin, batch=batch)
    assert Customer.objects.get(pk=existing.pk).id_number == ID
    assert raw_id_number(existing.pk).startswith("enc1:")
