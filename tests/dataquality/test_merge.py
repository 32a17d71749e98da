"""Merging duplicate customers and undoing it: the survivor's values, united phones/e-mails/tags,
every related row re-pointed and put back exactly, conflicts, scope, concurrency, redirects of
merged ids, "not a duplicate" decisions and the timeline."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from kehu.core.errors import KehuError, NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.models import AuditEvent
from kehu.customers import selectors as customer_selectors
from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer, Note, SearchToken
from kehu.customers.search import rank_of, reindex_all, search
from kehu.dataquality import quality
from kehu.dataquality.merging import registry, selectors
from kehu.dataquality.merging import services as merge_services
from kehu.dataquality.merging.registry import related_registry
from kehu.dataquality.merging.services import (
    UnmergeConflict,
    customers_merge,
    merge_preview,
    merge_undo,
    pair_mark_distinct,
)
from kehu.dataquality.models import CustomerMerge, MatchKey, MergedCustomerId, QualityIssue
from tests.factories import CustomerFactory, ManagerFactory, UserFactory

pytestmark = pytest.mark.django_db

# Columns an unmerge sets anew on the survivor, because the unmerge is itself an edit of it.
SURVIVOR_STAMPS = {"version", "updated_at", "updated_by_id", "quality_checked_at"}


def dump(customer_id: int, *, stamps: bool = True) -> dict[str, Any]:
    """Everything stored about one customer, read straight from the tables."""
    row = Customer.objects.filter(pk=customer_id).values().first()
    if row is None:
        return {}
    if not stamps:
        row = {k: v for k, v in row.items() if k not in SURVIVOR_STAMPS}
    updated_rank = rank_of(Customer.objects.get(pk=customer_id).updated_at)
    tokens = SearchToken.objects.filter(customer_id=customer_id)
    return {
        "row": row,
        "tags": sorted(Customer.objects.get(pk=customer_id).tags.values_list("name", flat=True)),
        "contacts": list(Contact.objects.filter(customer_id=customer_id).order_by("pk").values()),
        "notes": list(Note.objects.filter(customer_id=customer_id).order_by("pk").values()),
        # A customer's own tokens carry its updated_at as rank: compared as "is the current one".
        "tokens": sorted((t.token, t.contact_id, t.owner_id,
                          t.rank if (t.contact_id or stamps) else t.rank == updated_rank) for t in tokens),
        "match_keys": sorted(MatchKey.objects.filter(customer_id=customer_id)
                             .values_list("kind", "value", "contact_id")),
        "issues": sorted(QualityIssue.objects.filter(customer_id=customer_id)
                         .values_list("code", "field", "value", "hint", "contact_id", "assigned_to_id"),
                         key=repr),
    }


def assert_same(after: dict[str, Any], before: dict[str, Any]) -> None:
    """Section by section (and column by column for the record) so a failure names what differs."""
    assert after.keys() == before.keys()
    for column in before.get("row", {}):
        assert (column, after["row"][column]) == (column, before["row"][column])
    for section in before:
        if section != "row":
            extra = [item for item in after[section] if item not in before[section]]
            missing = [item for item in before[section] if item not in after[section]]
            assert (section, extra, missing) == (section, [], [])
        assert after[section] == before[section]


@pytest.fixture
def rep(db):  # type: ignore[no-untyped-def]
    return UserFactory()


@pytest.fixture
def pair(rep, admin_user):  # type: ignore[no-untyped-def]
    """Two records of one company entered by the same rep, each with contacts, notes and tags."""
    customer_services.custom_field_save(acting_user=admin_user, target="customer", key="seats", label_zh="席位",
                                        field_type="number")
    older = customer_services.customer_create(acting_user=rep, data={
        "name": "北京分扬科技有限公司", "phones": ["13812345678", "010-65529988"], "emails": ["info@fenyang.cn"],
        "city": "北京", "tags": ["重点", "华北"], "custom": {"seats": "10"}, "notes": "老记录",
    })
    newer = customer_services.customer_create(acting_user=rep, data={
        "name": "分扬科技", "phones": ["+86 138 1234 5678", "13900001111"],
        "emails": ["INFO@fenyang.cn", "bd@fenyang.cn"], "website": "fenyang.cn",
        "credit_code": "91110108MA01ABCD1E", "tags": ["重点", "新客"],
        "custom": {"seats": "25"},
    })
    for customer, people in ((older, {"张伟": "13700001111"}), (newer, {"李娜": "13700002222", "王芳": "13700001111"})):
        for name, mobile in people.items():
            customer_services.contact_create(acting_user=rep, customer=customer, data={"name": name, "mobile": mobile})
        customer_services.note_create(acting_user=rep, customer=customer, body=f"{customer.name} 的备注")
    # A deal of the newer record, with one of its contacts: a kind a later app registered.
    from kehu.sales.services import opportunity_create

    opportunity_create(acting_user=rep, data={"name": "年度采购", "customer": newer.pk, "amount": "5万",
                                              "contacts": [Contact.objects.get(customer=newer, name="李娜").pk]})
    from kehu.contracts.services import contract_create

    contract_create(acting_user=rep, data={"title": "年度服务合同", "customer": newer.pk, "amount": "5万"})
    from kehu.leads.models import Lead

    Lead.objects.create(name="李娜", company="临时线索公司", status="converted", owner=rep, converted_customer=newer)
    # A follow-up with a contact and a next step (its task), a logged mail, a notification.
    from kehu.activities.services import followup_create
    from kehu.mailing.models import SentMail
    from kehu.notifications.services import notify

    followup_create(acting_user=rep, customer_id=newer.pk, kind="call", content="电话沟通了采购计划",
                    contact_ids=[Contact.objects.get(customer=newer, name="李娜").pk], next_step="回访",
                    next_followup_at=timezone.now() + dt.timedelta(days=2))
    SentMail.objects.create(to="bd@fenyang.cn", subject="欢迎", customer=newer, status="sent")
    notify(user=rep, title="提醒", customer_id=newer.pk)
    from kehu.privacy.models import Consent

    Consent.objects.create(customer_id=newer.pk, purpose="marketing_mail", granted=True, source="form",
                           recorded_by=rep)
    # The nightly check and reindex have run since (a save re-checks only the record saved, a note
    # moves updated_at without reindexing), and an issue someone is working on must come back with
    # its assignee.
    both = list(Customer.objects.filter(pk__in=[older.pk, newer.pk]))
    quality.customers_quality_refresh(both)
    reindex_all(both)
    QualityIssue.objects.filter(customer_id=newer.pk).update(assigned_to=rep)
    return Customer.objects.get(pk=older.pk), Customer.objects.get(pk=newer.pk)


def test_every_foreign_key_to_customers_is_registered() -> None:
    assert related_registry.unregistered() == []
    keys = {kind.key for kind in related_registry.kinds()}
    assert {"customers.contact.customer", "customers.note.customer", "customers.searchtoken.customer",
            "dataquality.matchkey.customer", "dataquality.qualityissue.customer"} <= keys


def test_preview_defaults_to_own_older_record_and_most_recent_valid_values(rep, pair) -> None:
    older, newer = pair
    preview = merge_preview(acting_user=rep, ids=[newer.pk, older.pk])
    assert preview.survivor_id == older.pk
    assert [c.pk for c in preview.customers] == [older.pk, newer.pk]
    rows = {row.name: row for row in preview.fields}
    assert rows["name"].default == newer.pk  # most recently updated, non-empty
    assert rows["website"].default == newer.pk  # the only non-empty one
    assert rows["city"].default == older.pk
    assert rows["kind"].default == older.pk and not rows["kind"].differs
    assert rows["custom.seats"].default == newer.pk
    assert preview.phones == ["13812345678", "010-65529988", "13900001111"]
    assert preview.emails == ["info@fenyang.cn", "bd@fenyang.cn"]
    assert preview.tags == ["华北", "新客", "重点"]
    assert preview.versions == {older.pk: older.version, newer.pk: newer.version}
    assert dict(preview.related_counts[newer.pk])["联系人"] == 2


def test_preview_prefers_the_record_the_acting_user_owns(rep, pair) -> None:
    older, newer = pair
    Customer.objects.filter(pk=older.pk).update(owner=UserFactory())
    manager = ManagerFactory(department=rep.department)
    Customer.objects.filter(pk=older.pk).update(department=rep.department)
    Customer.objects.filter(pk=newer.pk).update(owner=manager)
    assert merge_preview(acting_user=manager, ids=[older.pk, newer.pk]).survivor_id == newer.pk


def test_an_invalid_value_does_not_win_over_an_older_valid_one(rep) -> None:
    good = CustomerFactory(owner=rep, credit_code="91110108MA01ABCD1E")
    bad = CustomerFactory(owner=rep, credit_code="91110108MA01ABCD1X")  # wrong check character
    Customer.objects.filter(pk=bad.pk).update(updated_at=timezone.now() + dt.timedelta(minutes=1))
    rows = {row.name: row for row in merge_preview(acting_user=rep, ids=[good.pk, bad.pk]).fields}
    assert rows["credit_code"].default == good.pk


def test_merge_keeps_chosen_values_unites_lists_and_moves_related_rows(rep, pair) -> None:
    older, newer = pair
    moved_contacts = set(Contact.objects.filter(customer=newer).values_list("pk", flat=True))
    merge = customers_merge(acting_user=rep, survivor_id=older.pk, merged_ids=[newer.pk],
                            field_choices={"name": older.pk, "notes": newer.pk},
                            expected_versions={older.pk: older.version, newer.pk: newer.version})
    survivor = Customer.objects.get(pk=older.pk)
    assert survivor.name == "北京分扬科技有限公司"
    assert survivor.notes == ""  # the newer record's empty notes were chosen
    assert survivor.website == "https://fenyang.cn" and survivor.credit_code == "91110108MA01ABCD1E"
    assert survivor.custom == {"seats": "25"}
    assert survivor.phones == ["13812345678", "010-65529988", "13900001111"]
    assert survivor.phones_e164 == ["+8613812345678", "+861065529988", "+8613900001111"]
    assert survivor.emails == ["info@fenyang.cn", "bd@fenyang.cn"]
    assert sorted(survivor.tags.values_list("name", flat=True)) == ["华北", "新客", "重点"]
    assert survivor.version == older.version + 1
    assert not Customer.objects.filter(pk=newer.pk).exists()
    assert moved_contacts <= set(Contact.objects.filter(customer=survivor).values_list("pk", flat=True))
    assert Contact.objects.filter(customer=survivor, is_primary=True).count() == 1
    assert Note.objects.filter(customer=survivor).count() == 2
    # Derived rows were rebuilt for the survivor: its search finds the moved contact, match keys hold
    # the united phones, nothing points at the merged id any more.
    assert [hit.customer.pk for hit in search(user=rep, query="李娜")] == [survivor.pk]
    assert set(MatchKey.objects.filter(customer=survivor, contact=None, kind="phone").values_list("value", flat=True)) \
        == {"+8613812345678", "+861065529988", "+8613900001111"}
    for kind in related_registry.kinds():
        assert not kind.model.objects.filter(**{kind.fk_attname: newer.pk}).exists(), kind.key
    assert merge.merged_ids == [newer.pk]
    assert selectors.survivor_for(newer.pk) == older.pk
    event = AuditEvent.objects.get(action="merge")
    assert event.customer_id == older.pk and event.actor == rep
    assert {"field": "emails", "old": ["info@fenyang.cn"], "new": ["info@fenyang.cn", "bd@fenyang.cn"]} \
        in event.changes


def test_unmerge_restores_both_records_and_every_related_row_exactly(rep, pair) -> None:
    older, newer = pair
    before_survivor, before_merged = dump(older.pk, stamps=False), dump(newer.pk)
    before_rows = {kind.key: set(kind.model.objects.filter(**{kind.fk_attname: newer.pk}).values_list("pk", flat=True))
                   for kind in related_registry.kinds() if not kind.derived}
    assert all(before_rows.values()), "the fixture has rows of every moved kind"
    derived_before = {kind.key: list(kind.model.objects.filter(**{kind.fk_attname: newer.pk}).order_by("pk").values())
                      for kind in related_registry.kinds() if kind.derived}
    merge = customers_merge(acting_user=rep, survivor_id=older.pk, merged_ids=[newer.pk])
    for key, pks in before_rows.items():
        kind = related_registry.get(key)
        assert set(kind.model.objects.filter(pk__in=pks).values_list(kind.fk_attname, flat=True)) == {older.pk}

    result = merge_undo(acting_user=rep, merge_id=merge.pk)

    assert [c.pk for c in result.restored] == [newer.pk]
    assert_same(dump(newer.pk), before_merged)
    assert_same(dump(older.pk, stamps=False), before_survivor)
    survivor = Customer.objects.get(pk=older.pk)
    assert survivor.version == older.version + 2 and survivor.updated_by == rep
    for key, pks in before_rows.items():
        kind = related_registry.get(key)
        assert set(kind.model.objects.filter(pk__in=pks).values_list(kind.fk_attname, flat=True)) == {newer.pk}
    # Derived rows of every registered kind came back as they were, ids included.
    for key, values in derived_before.items():
        kind = related_registry.get(key)
        assert list(kind.model.objects.filter(**{kind.fk_attname: newer.pk}).order_by("pk").values()) == values, key
    assert selectors.survivor_for(newer.pk) is None
    assert not MergedCustomerId.objects.exists()
    assert CustomerMerge.objects.get(pk=merge.pk).undone_by == rep
    assert [hit.customer.pk for hit in search(user=rep, query="李娜")] == [newer.pk]


def test_merging_three_records_and_undoing_restores_all(rep, pair) -> None:
    older, newer = pair
    third = customer_services.customer_create(acting_user=rep, data={"name": "分扬", "phones": ["13900001111"]})
    before = {pk: dump(pk) for pk in (newer.pk, third.pk)}
    merge = customers_merge(acting_user=rep, survivor_id=older.pk, merged_ids=[third.pk, newer.pk])
    assert Customer.objects.filter(pk__in=[newer.pk, third.pk]).count() == 0
    assert Customer.objects.get(pk=older.pk).phones == ["13812345678", "010-65529988", "13900001111"]
    merge_undo(acting_user=rep, merge_id=merge.pk)
    for pk in (newer.pk, third.pk):
        assert_same(dump(pk), before[pk])


def test_unmerge_keeps_later_edits_that_do_not_conflict(rep, pair) -> None:
    older, newer = pair
    merge = customers_merge(acting_user=rep, survivor_id=older.pk, merged_ids=[newer.pk])
    survivor = Customer.objects.get(pk=older.pk)
    customer_services.customer_update(acting_user=rep, customer=survivor, data={"address": "中关村大街1号"})
    customer_services.note_create(acting_user=rep, customer=survivor, body="合并后写的备注")
    merge_undo(acting_user=rep, merge_id=merge.pk)
    survivor.refresh_from_db()
    assert survivor.address == "中关村大街1号"
    assert survivor.name == "北京分扬科技有限公司" and survivor.website == ""
    assert list(Note.objects.filter(customer=survivor).values_list("body", flat=True)) == [
        "合并后写的备注", "北京分扬科技有限公司 的备注"]


def test_unmerge_refuses_and_names_conflicting_fields_and_records(rep, pair) -> None:
    older, newer = pair
    merge = customers_merge(acting_user=rep, survivor_id=older.pk, merged_ids=[newer.pk])
    survivor = Customer.objects.get(pk=older.pk)
    customer_services.customer_update(acting_user=rep, customer=survivor, data={"website": "www.fy.cn"})
    moved = Contact.objects.filter(name="李娜").get()
    customer_services.contact_update(acting_user=rep, contact=moved, data={"title": "总经理"})
    customer_services.contact_delete(acting_user=rep, contact=Contact.objects.get(name="王芳"))
    state = dump(older.pk)

    with pytest.raises(UnmergeConflict) as excinfo:
        merge_undo(acting_user=rep, merge_id=merge.pk)

    fields = [c.field for c in excinfo.value.conflicts]
    assert fields == ["website", "customers.contact.customer", "customers.contact.customer"]
    assert "网站" in excinfo.value.message and "李娜" in excinfo.value.message and "王芳" in excinfo.value.message
    assert "errors" in excinfo.value.as_dict() and len(excinfo.value.as_dict()["errors"]) == 3
    assert dump(older.pk) == state  # nothing written
    assert not Customer.objects.filter(pk=newer.pk).exists()
    assert CustomerMerge.objects.get(pk=merge.pk).undone_at is None


def test_unmerge_after_thirty_days_or_twice_is_refused(rep, pair) -> None:
    older, newer = pair
    merge = customers_merge(acting_user=rep, survivor_id=older.pk, merged_ids=[newer.pk])
    merge_undo(acting_user=rep, merge_id=merge.pk)
    with pytest.raises(VersionConflict):
        merge_undo(acting_user=rep, merge_id=merge.pk)
    again = customers_merge(acting_user=rep, survivor_id=older.pk, merged_ids=[newer.pk])
    CustomerMerge.objects.filter(pk=again.pk).update(created_at=timezone.now() - dt.timedelta(days=31))
    with pytest.raises(Exception, match="30 天"):
        merge_undo(acting_user=rep, merge_id=again.pk)
    assert not Customer.objects.filter(pk=newer.pk).exists()


def test_a_rep_cannot_merge_or_see_customers_outside_their_scope(rep, pair) -> None:
    older, _newer = pair
    stranger = CustomerFactory(owner=UserFactory())
    state = dump(older.pk), dump(stranger.pk)
    with pytest.raises(NotFound):
        merge_preview(acting_user=rep, ids=[older.pk, stranger.pk])
    with pytest.raises(NotFound):
        customers_merge(acting_user=rep, survivor_id=older.pk, merged_ids=[stranger.pk])
    with pytest.raises(NotFound):
        customers_merge(acting_user=rep, survivor_id=stranger.pk, merged_ids=[older.pk])
    with pytest.raises(NotFound):
        pair_mark_distinct(acting_user=rep, a_id=older.pk, b_id=stranger.pk)
    assert (dump(older.pk), dump(stranger.pk)) == state
    assert not CustomerMerge.objects.exists()


def test_only_the_merger_or_a_manager_may_undo(rep, pair, admin_user) -> None:
    older, newer = pair
    merge = customers_merge(acting_user=admin_user, survivor_id=older.pk, merged_ids=[newer.pk])
    with pytest.raises(PermissionDenied):
        merge_undo(acting_user=rep, merge_id=merge.pk)
    with pytest.raises(NotFound):
        merge_undo(acting_user=UserFactory(), merge_id=merge.pk)
    merge_undo(acting_user=admin_user, merge_id=merge.pk)
    assert Customer.objects.filter(pk=newer.pk).exists()


def test_stale_versions_and_bad_choices_write_nothing(rep, pair) -> None:
    older, newer = pair
    with pytest.raises(VersionConflict):
        customers_merge(acting_user=rep, survivor_id=older.pk, merged_ids=[newer.pk],
                        expected_versions={newer.pk: newer.version - 1})
    with pytest.raises(ValidationFailed) as excinfo:
        customers_merge(acting_user=rep, survivor_id=older.pk, merged_ids=[newer.pk],
                        field_choices={"name": 999999, "nonsense": older.pk})
    assert {e.field for e in excinfo.value.errors} == {"name", "nonsense"}
    with pytest.raises(ValidationFailed):
        customers_merge(acting_user=rep, survivor_id=older.pk, merged_ids=[older.pk])
    assert Customer.objects.filter(pk__in=[older.pk, newer.pk]).count() == 2
    assert not CustomerMerge.objects.exists()


def test_a_company_survivor_cannot_take_a_persons_birthday(rep) -> None:
    company = CustomerFactory(owner=rep)
    person = CustomerFactory(owner=rep, kind="person", name="张伟", birthday=dt.date(1990, 1, 2))
    with pytest.raises(ValidationFailed) as excinfo:
        customers_merge(acting_user=rep, survivor_id=company.pk, merged_ids=[person.pk],
                        field_choices={"birthday": person.pk})
    assert excinfo.value.errors[0].field == "birthday"
    # By default a company survivor keeps an empty birthday.
    customers_merge(acting_user=rep, survivor_id=company.pk, merged_ids=[person.pk])
    assert Customer.objects.get(pk=company.pk).birthday is None


def test_a_record_merged_by_someone_else_first_is_a_conflict(rep, pair) -> None:
    """The second of two merges of the same record, previewed before the first committed, fails."""
    older, newer = pair
    other = CustomerFactory(owner=rep)
    preview = merge_preview(acting_user=rep, ids=[other.pk, newer.pk], survivor_id=other.pk)
    customers_merge(acting_user=rep, survivor_id=older.pk, merged_ids=[newer.pk])
    with pytest.raises(VersionConflict, match="已被合并"):
        customers_merge(acting_user=rep, survivor_id=other.pk, merged_ids=[newer.pk],
                        expected_versions=preview.versions)
    assert CustomerMerge.objects.count() == 1


# serialized_rollback: the flush after a transactional test must leave the migrations' data (roles,
# content types) as the other tests expect it, as the browser tests' flushes do.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_simultaneous_merges_of_one_record_do_not_both_succeed() -> None:
    """Two threads merge the same record into different survivors at the same moment. The test
    database is SQLite in shared-cache memory, where a second writer gets "table is locked" at once
    instead of waiting like the file database's busy timeout: the loser then waits for the winner
    to finish and tries again, as it would have queued. Exactly one merge may succeed."""
    rep = UserFactory()
    shared = CustomerFactory(owner=rep, name="重复客户")
    survivors = [CustomerFactory(owner=rep, name=f"保留客户{i}") for i in range(2)]
    start = threading.Barrier(2)
    finished = threading.Event()
    outcomes: list[str] = []

    def merge_into(survivor: Customer) -> None:
        start.wait(timeout=10)
        try:
            for _attempt in range(3):
                try:
                    customers_merge(acting_user=rep, survivor_id=survivor.pk, merged_ids=[shared.pk],
                                    expected_versions={shared.pk: shared.version, survivor.pk: survivor.version})
                    outcomes.append("merged")
                    return
                except OperationalError as exc:
                    if "locked" not in str(exc):
                        raise
                    finished.wait(timeout=30)
            outcomes.append("still locked")
        except Exception as exc:  # noqa: BLE001 - the assertion below names what went wrong
            outcomes.append(f"{type(exc).__name__}: {exc}")
        finally:
            finished.set()
            connection.close()

    threads = [threading.Thread(target=merge_into, args=(s,)) for s in survivors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 2 and "merged" in outcomes, outcomes
    loser = [o for o in outcomes if o != "merged"][0]
    assert loser.startswith(f"VersionConflict: 客户 #{shared.pk} 已被合并"), outcomes
    assert CustomerMerge.objects.count() == 1
    assert MergedCustomerId.objects.get().customer_id == shared.pk


def test_chained_merges_redirect_to_the_last_survivor_and_undo_in_order(rep, pair) -> None:
    older, newer = pair
    third = CustomerFactory(owner=rep)
    first = customers_merge(acting_user=rep, survivor_id=newer.pk, merged_ids=[third.pk])
    second = customers_merge(acting_user=rep, survivor_id=older.pk, merged_ids=[newer.pk])
    assert selectors.survivor_for(third.pk) == older.pk
    assert selectors.absorbed_customer_ids(older.pk) == sorted([newer.pk, third.pk])
    with pytest.raises(Exception, match="先撤销"):
        merge_undo(acting_user=rep, merge_id=first.pk)
    merge_undo(acting_user=rep, merge_id=second.pk)
    merge_undo(acting_user=rep, merge_id=first.pk)
    assert Customer.objects.filter(pk__in=[older.pk, newer.pk, third.pk]).count() == 3


def test_not_a_duplicate_is_remembered_once_and_audited(rep, pair) -> None:
    older, newer = pair
    third = CustomerFactory(owner=rep)
    pair_mark_distinct(acting_user=rep, a_id=newer.pk, b_id=older.pk)
    pair_mark_distinct(acting_user=rep, a_id=older.pk, b_id=newer.pk)
    low, high = sorted((older.pk, newer.pk))
    assert selectors.distinct_pairs_for([older.pk, newer.pk, third.pk]) == {(low, high)}
    assert selectors.distinct_pairs_for([older.pk, third.pk]) == set()
    assert selectors.is_distinct(newer.pk, older.pk)
    assert AuditEvent.objects.filter(action="not_duplicate").count() == 2
    assert merge_preview(acting_user=rep, ids=[older.pk, newer.pk]).marked_distinct


def test_timeline_shows_the_merge_the_merged_history_and_the_undo(rep, pair) -> None:
    older, newer = pair
    merge = customers_merge(acting_user=rep, survivor_id=older.pk, merged_ids=[newer.pk])
    survivor = Customer.objects.get(pk=older.pk)
    titles = [e.title for e in customer_selectors.customer_timeline(user=rep, customer=survivor)]
    assert titles[0] == f"合并了重复客户 分扬科技（#{newer.pk}）"
    assert "创建了客户 分扬科技" in titles  # the merged record's own history
    merge_undo(acting_user=rep, merge_id=merge.pk)
    titles = [e.title for e in customer_selectors.customer_timeline(user=rep, customer=survivor)]
    assert titles[0] == f"撤销合并，恢复了客户 分扬科技（#{newer.pk}）"
    assert "创建了客户 分扬科技" not in titles
    restored = Customer.objects.get(pk=newer.pk)
    assert customer_selectors.customer_timeline(user=rep, customer=restored)[0].title.startswith(
        "撤销合并，从 北京分扬科技有限公司")


def test_a_table_nobody_registered_blocks_the_merge_instead_of_losing_its_rows(rep, pair, monkeypatch) -> None:
    older, newer = pair
    kinds = {key: kind for key, kind in related_registry._kinds.items() if key != "customers.note.customer"}
    monkeypatch.setattr(related_registry, "_kinds", kinds)
    assert related_registry.unregistered() == ["customers.Note.customer"]
    with pytest.raises(KehuError, match="customers.Note.customer"):
        customers_merge(acting_user=rep, survivor_id=older.pk, merged_ids=[newer.pk])
    assert Note.objects.filter(customer=newer).count() == 1 and Customer.objects.filter(pk=newer.pk).exists()


def test_listeners_hear_merges_and_unmerges_in_the_transaction(rep, pair, monkeypatch) -> None:
    older, newer = pair
    heard: list[tuple[str, int, bool]] = []
    monkeypatch.setattr(registry, "merge_listeners", [])
    monkeypatch.setattr(registry, "unmerge_listeners", [])
    monkeypatch.setattr(merge_services, "merge_listeners", registry.merge_listeners)
    monkeypatch.setattr(merge_services, "unmerge_listeners", registry.unmerge_listeners)
    registry.on_merge(lambda m: heard.append(("merge", m.pk, Customer.objects.filter(pk=newer.pk).exists())))
    registry.on_unmerge(lambda m: heard.append(("unmerge", m.pk, Customer.objects.filter(pk=newer.pk).exists())))
    merge = customers_merge(acting_user=rep, survivor_id=older.pk, merged_ids=[newer.pk])
    merge_undo(acting_user=rep, merge_id=merge.pk)
    assert heard == [("merge", merge.pk, False), ("unmerge", merge.pk, True)]


def test_review_queue_pair_is_closed_by_the_merge_and_reopened_by_the_undo(rep, pair) -> None:
    from kehu.dataquality.models import DuplicatePair, DuplicateStatus

    older, newer = pair
    low, high = sorted((older.pk, newer.pk))
    queued = DuplicatePair.objects.create(low_id=low, high_id=high, score=12.0, verdict="certain")
    merge = customers_merge(acting_user=rep, survivor_id=older.pk, merged_ids=[newer.pk])
    queued.refresh_from_db()
    assert queued.status == DuplicateStatus.MERGED
    merge_undo(acting_user=rep, merge_id=merge.pk)
    queued.refresh_from_db()
    assert queued.status == DuplicateStatus.OPEN
