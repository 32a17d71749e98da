"""The audit log's hash chain (seal, verify, `kehu audit`) and its append-only database guard."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from kehu import cli
from kehu.core import audit, audit_chain
from kehu.core.bulk import fast_insert
from kehu.core.models import AuditEvent
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

TABLE = AuditEvent._meta.db_table


def _events(count: int, *, actor=None) -> list[AuditEvent]:
    customer = CustomerFactory()
    return [audit.record_event(actor=actor, action="update", obj=customer, customer_id=customer.pk,
                               changes=[{"field": "name", "old": f"旧{i}", "new": f"新{i}"}])
            for i in range(count)]


def _sql(statement: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def _sealed(event: AuditEvent) -> AuditEvent:
    return AuditEvent.objects.get(pk=event.pk)


def test_rows_are_inserted_unsealed_and_sealed_in_id_order():
    events = _events(3, actor=UserFactory())
    assert AuditEvent.objects.filter(entry_hash__isnull=True).count() == 3
    assert audit_chain.seal(batch=2) == 3  # two chunks
    rows = list(AuditEvent.objects.order_by("seq"))
    assert [r.pk for r in rows] == [e.pk for e in events]
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == audit_chain.GENESIS
    assert rows[1].prev_hash == rows[0].entry_hash and rows[2].prev_hash == rows[1].entry_hash
    assert rows[2].entry_hash == audit_chain.entry_hash(rows[1].entry_hash, {
        "seq": 3, "at": rows[2].at, "actor_id": rows[2].actor_id, "actor_name": rows[2].actor_name,
        "ip": rows[2].ip, "action": "update", "object_type": "customer", "object_id": rows[2].object_id,
        "object_repr": rows[2].object_repr, "customer_id": rows[2].customer_id, "changes": rows[2].changes})
    assert audit_chain.seal() == 0
    assert audit_chain.head() == (3, rows[2].entry_hash)


def test_canonical_json_is_sorted_compact_utf8_with_utc_time():
    at = dt.datetime(2026, 1, 2, 11, 4, 5, 6, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    text = audit_chain.canonical({"seq": 1, "at": at, "actor_id": None, "actor_name": "张三", "ip": "10.0.0.1",
                                  "action": "update", "object_type": "customer", "object_id": 7,
                                  "object_repr": "甲", "customer_id": 7,
                                  "changes": [{"new": "b", "field": "name", "old": "a"}]})
    assert text == ('{"action":"update","actor_id":null,"actor_name":"张三","at":"2026-01-02T03:04:05.000006Z",'
                    '"changes":[{"field":"name","new":"b","old":"a"}],"customer_id":7,"ip":"10.0.0.1",'
                    '"object_id":7,"object_repr":"甲","object_type":"customer","seq":1}')


def test_bulk_inserted_rows_are_sealed_with_the_others():
    customer = CustomerFactory()
    _events(1)
    fast_insert(AuditEvent, [
        {"at": timezone.now(), "actor_id": None, "actor_name": "", "ip": None, "action": "import",
         "object_type": "customer", "object_id": customer.pk, "object_repr": "x", "customer_id": customer.pk,
         "changes": [{"field": "phone", "old": None, "new": "13800138000"}]} for _ in range(5)])
    result = audit_chain.verify()
    assert result.ok and result.sealed_now == 6 and result.checked == 6 and result.unsealed == 0


def test_verify_ok_reports_unsealed_rows_when_not_sealing_first():
    _events(2)
    audit_chain.seal()
    _events(1)
    result = audit_chain.verify(seal_first=False)
    assert result.ok and result.checked == 2 and result.unsealed == 1 and result.head_seq == 2
    assert result.guard_installed


def test_verify_finds_a_changed_row():
    events = _events(4)
    audit_chain.seal()
    with audit_chain.maintenance():
        _sql(f"UPDATE {TABLE} SET changes = %s WHERE id = %s",
             [json.dumps([{"field": "name", "old": "旧1", "new": "伪造"}]), events[1].pk])
    result = audit_chain.verify()
    assert not result.ok
    assert (result.broken_seq, result.reason) == (2, audit_chain.ROW_CHANGED)
    assert result.checked == 1


def test_verify_finds_a_changed_time_or_actor():
    events = _events(2)
    audit_chain.seal()
    with audit_chain.maintenance():
        AuditEvent.objects.filter(pk=events[0].pk).update(at=events[0].at - dt.timedelta(seconds=1))
    assert (audit_chain.verify().broken_seq, audit_chain.verify().reason) == (1, audit_chain.ROW_CHANGED)


def test_verify_finds_a_deleted_row():
    events = _events(4)
    audit_chain.seal()
    with audit_chain.maintenance():
        _sql(f"DELETE FROM {TABLE} WHERE id = %s", [events[2].pk])
    result = audit_chain.verify()
    assert (result.ok, result.broken_seq, result.reason) == (False, 3, audit_chain.ROW_MISSING)


def test_verify_finds_the_first_row_deleted():
    events = _events(2)
    audit_chain.seal()
    with audit_chain.maintenance():
        _sql(f"DELETE FROM {TABLE} WHERE id = %s", [events[0].pk])
    result = audit_chain.verify()
    assert (result.broken_seq, result.reason) == (1, audit_chain.ROW_MISSING)


def test_verify_finds_a_row_rewritten_with_a_fresh_hash():
    """Someone who recomputes the changed row's own hash still breaks the next row's link."""
    events = _events(3)
    audit_chain.seal()
    row = AuditEvent.objects.values(*audit_chain.CONTENT, "prev_hash").get(pk=events[1].pk)
    row["object_repr"] = "伪造"
    forged = audit_chain.entry_hash(row["prev_hash"], row)
    with audit_chain.maintenance():
        AuditEvent.objects.filter(pk=events[1].pk).update(object_repr="伪造", entry_hash=forged)
    result = audit_chain.verify()
    assert (result.broken_seq, result.reason) == (3, audit_chain.CHAIN_BROKEN)


def test_new_rows_after_a_verified_chain_continue_it():
    _events(2)
    assert audit_chain.verify().ok
    _events(2)
    result = audit_chain.verify()
    assert result.ok and result.checked == 4 and result.head_seq == 4


# The database guard ----------------------------------------------------------------------------


def test_guard_refuses_update_of_a_sealed_row():
    event = _events(1)[0]
    audit_chain.seal()
    with pytest.raises(IntegrityError), transaction.atomic():
        _sql(f"UPDATE {TABLE} SET object_repr = 'x' WHERE id = %s", [event.pk])
    with pytest.raises(IntegrityError), transaction.atomic():
        _sql(f"UPDATE {TABLE} SET entry_hash = %s WHERE id = %s", ["f" * 64, event.pk])
    assert _sealed(event).object_repr == event.object_repr


def test_guard_refuses_content_update_of_an_unsealed_row_but_lets_the_sealer_in():
    event = _events(1)[0]
    with pytest.raises(IntegrityError), transaction.atomic():
        _sql(f"UPDATE {TABLE} SET changes = '[]' WHERE id = %s", [event.pk])
    with pytest.raises(IntegrityError), transaction.atomic():
        _sql(f"UPDATE {TABLE} SET seq = 1, entry_hash = %s, actor_name = 'x' WHERE id = %s", ["a" * 64, event.pk])
    assert audit_chain.seal() == 1
    assert _sealed(event).seq == 1


def test_guard_refuses_delete_sealed_or_not():
    sealed = _events(1)[0]
    audit_chain.seal()
    fresh = _events(1)[0]
    for event in (sealed, fresh):
        with pytest.raises(IntegrityError), transaction.atomic():
            _sql(f"DELETE FROM {TABLE} WHERE id = %s", [event.pk])
        with pytest.raises(IntegrityError), transaction.atomic():
            AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.count() == 2


def test_maintenance_lifts_the_guard_only_inside():
    events = _events(2)
    with audit_chain.maintenance():
        _sql(f"DELETE FROM {TABLE} WHERE id = %s", [events[0].pk])
    with pytest.raises(IntegrityError), transaction.atomic():
        _sql(f"DELETE FROM {TABLE} WHERE id = %s", [events[1].pk])
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == [events[1].pk]


def test_maintenance_is_rolled_back_with_a_failure():
    event = _events(1)[0]
    with pytest.raises(RuntimeError), audit_chain.maintenance():
        _sql(f"DELETE FROM {TABLE} WHERE id = %s", [event.pk])
        raise RuntimeError("boom")
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        _sql(f"DELETE FROM {TABLE} WHERE id = %s", [event.pk])


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_guard_refuses_truncate_on_postgresql():
    _events(1)
    _sql("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses to run with this test's deferred FK checks pending
    with pytest.raises(IntegrityError), transaction.atomic():
        _sql(f"TRUNCATE {TABLE}")
    assert AuditEvent.objects.count() == 1


def test_a_user_with_history_cannot_be_deleted():
    from django.db.models import ProtectedError

    user = UserFactory()
    _events(1, actor=user)
    with pytest.raises(ProtectedError):
        user.delete()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_guard_works_in_a_transaction_test_and_flush_still_empties_the_table():
    """Transaction tests end with `flush` (DELETE on SQLite, TRUNCATE on PostgreSQL): kehu's flush
    lifts the guard for it, so this test's rows go away and the next test starts clean."""
    event = _events(1)[0]
    audit_chain.seal()
    with pytest.raises(IntegrityError), transaction.atomic():
        _sql(f"DELETE FROM {TABLE} WHERE id = %s", [event.pk])
    call_command("flush", interactive=False, verbosity=0)
    assert AuditEvent.objects.count() == 0
    assert audit_chain.guard_installed()
    with connection.cursor() as cursor:  # the guard is back on after the flush
        if connection.vendor == "sqlite":
            cursor.execute(f"SELECT count(*) FROM {audit_chain.MAINTENANCE_TABLE}")
            assert cursor.fetchone()[0] == 0
        else:
            cursor.execute("SELECT coalesce(current_setting(%s, true), '')", [audit_chain.PG_SETTING])
            assert cursor.fetchone()[0] in ("", "off")
    AuditEvent.objects.create(action="create", object_type="customer", object_id=1)  # for the runner's own flush


# The command -----------------------------------------------------------------------------------


def test_audit_verify_command_ok():
    _events(2)
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    text = out.getvalue()
    assert "OK" in text and "checked: 2 sealed rows; unsealed: 0" in text
    seq, digest = audit_chain.head()
    call_command("audit", "verify", "--expect-head", f"{seq}:{digest}", stdout=StringIO())


def test_audit_verify_command_fails_when_broken():
    events = _events(3)
    call_command("audit", "seal", stdout=StringIO())
    with audit_chain.maintenance():
        _sql(f"DELETE FROM {TABLE} WHERE id = %s", [events[1].pk])
    out = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("audit", "verify", stdout=out)
    assert failure.value.returncode == 1
    assert "BROKEN at seq 2" in out.getvalue()


def test_audit_verify_json_output():
    _events(1)
    out = StringIO()
    call_command("audit", "verify", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["ok"] is True and data["head_seq"] == 1 and data["broken_seq"] is None


def test_expect_head_finds_removed_newest_rows():
    events = _events(3)
    audit_chain.seal()
    seq, digest = audit_chain.head()
    with audit_chain.maintenance():
        _sql(f"DELETE FROM {TABLE} WHERE id = %s", [events[2].pk])
    assert audit_chain.verify().ok  # a shorter chain is still a valid chain …
    with pytest.raises(CommandError):  # … the saved head says otherwise
        call_command("audit", "verify", "--expect-head", f"{seq}:{digest}", stdout=StringIO())


def test_kehu_audit_cli_exit_codes(capsys, monkeypatch):
    from django.db import connections

    monkeypatch.setattr(connections, "close_all", lambda: None)  # run_from_argv closes them: keep the test's
    events = _events(2)
    assert cli.main(["audit", "verify"]) == 0
    assert "OK" in capsys.readouterr().out
    with audit_chain.maintenance():
        AuditEvent.objects.filter(pk=events[0].pk).update(actor_name="伪造")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["audit", "verify"])
    assert exit_.value.code == 1
    assert cli.main(["audit", "seal"]) == 0


def test_seal_task_seals():
    from kehu.core import tasks

    _events(2)
    tasks.audit_seal.call_local()
    assert not AuditEvent.objects.filter(entry_hash__isnull=True).exists()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_writers_and_sealers_leave_a_verifiable_chain_on_postgresql():
    """Two threads (two connections) write events and seal at the same time: one gap-free chain."""
    import threading

    from django.db import connections

    customer = CustomerFactory()
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(15):
                with transaction.atomic():
                    audit.record_event(actor=None, action="update", obj=customer, customer_id=customer.pk,
                                       changes=[{"field": "n", "old": n, "new": i}])
                audit_chain.seal(batch=4)
        except BaseException as exc:  # noqa: BLE001 — reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    result = audit_chain.verify()
    assert result.ok and result.checked == 30 and result.unsealed == 0
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 31))
