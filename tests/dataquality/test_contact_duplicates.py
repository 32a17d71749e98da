"""Duplicate contacts within one customer: found when contacts change, after customer merges and by
the scan; merged into one contact (values chosen, losing numbers kept in the notes, derived rows
rebuilt) and unmerged exactly; "different people" remembered; scope enforced."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed, VersionConflict
from kehu.core.models import AuditEvent
from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer, SearchToken
from kehu.dataquality import contact_duplicates
from kehu.dataquality.contact_duplicates import (
    contact_duplicates_refresh,
    contact_duplicates_scan,
    contact_pair_dismiss,
    likely_contact_duplicates,
    pairs_among,
    score_contacts,
)
from kehu.dataquality.merging.contacts import (
    contact_merge_preview,
    contact_merge_undo,
    contact_survivor_of,
    contacts_merge,
)
from kehu.dataquality.merging.registry import contact_registry
from kehu.dataquality.merging.services import UnmergeConflict, customers_merge, merge_undo
from kehu.dataquality.models import (
    ContactDuplicatePair,
    ContactMerge,
    DistinctContactPair,
    DuplicateStatus,
    MatchKey,
    QualityIssue,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(db):  # type: ignore[no-untyped-def]
    return UserFactory()


@pytest.fixture
def company(rep):  # type: ignore[no-untyped-def]
    return customer_services.customer_create(acting_user=rep, data={"name": "北京分扬科技有限公司"})


def add(rep: Any, customer: Customer, **data: Any) -> Contact:
    return customer_services.contact_create(acting_user=rep, customer=customer, data=data)


def open_pairs(customer: Customer) -> list[tuple[int, int]]:
    return sorted(ContactDuplicatePair.objects.filter(customer_id=customer.pk, status=DuplicateStatus.OPEN)
                  .values_list("low_id", "high_id"))


def record(**values: Any) -> Any:
    from kehu.dataquality.matching import build_record

    return build_record(contact_duplicates.contact_role_values(**values))


# Scoring -----------------------------------------------------------------------------------------


def test_same_mobile_and_surname_is_certain_and_says_why() -> None:
    scored = score_contacts(record(name="张伟", mobile="13812345678"),
                            record(name="张先生", mobile="+86 138 1234 5678"))
    assert scored.verdict == "certain"
    codes = [r.code for r in scored.reasons]
    assert codes[0] == "phone.same_mobile" and "contact.same_customer" in codes
    assert ["phone.same_mobile", ["138****5678"], scored.reasons[0].weight] == scored.reasons_json()[0]


def test_same_common_name_within_one_customer_is_worth_a_review() -> None:
    assert score_contacts(record(name="张伟"), record(name="张伟")).verdict == "review"
    assert score_contacts(record(name="欧阳娜娜"), record(name="欧阳娜娜")).verdict == "certain"


def test_colleagues_sharing_a_switchboard_are_not_duplicates() -> None:
    scored = score_contacts(record(name="张伟", phone="010-62345678"), record(name="李强", phone="010-62345678"))
    assert scored.verdict == "no"


def test_large_customers_are_blocked_not_compared_all_against_all(monkeypatch) -> None:
    monkeypatch.setattr(contact_duplicates, "ALL_PAIRS_MAX", 3)
    rows = [(i, 7, f"员工{i}", f"1380000{i:04d}", "", "", None) for i in range(1, 9)]
    rows.append((100, 7, "员工九", "13800000003", "", "", None))  # shares 员工3's mobile
    found = pairs_among(rows)
    assert [(p.low_id, p.high_id) for p in found] == [(3, 100)]


# Found when contacts change ------------------------------------------------------------------------


def test_a_second_entry_of_the_same_person_opens_a_pair_and_editing_it_away_closes_it(rep, company) -> None:
    first = add(rep, company, name="张伟", mobile="13812345678")
    second = add(rep, company, name="张先生", mobile="138 1234 5678", email="zw@fenyang.cn")
    assert open_pairs(company) == [(first.pk, second.pk)]
    pair = ContactDuplicatePair.objects.get()
    assert pair.verdict == "certain" and pair.reasons[0][0] == "phone.same_mobile"

    customer_services.contact_update(acting_user=rep, contact=second,
                                     data={"name": "李强", "mobile": "13900001111", "email": "lq@fenyang.cn"})
    assert open_pairs(company) == []


def test_deleting_one_of_the_pair_drops_it(rep, company) -> None:
    first = add(rep, company, name="张伟", mobile="13812345678")
    add(rep, company, name="张伟", mobile="13812345678")
    customer_services.contact_delete(acting_user=rep, contact=first)
    assert open_pairs(company) == []


def test_contacts_of_different_customers_are_not_contact_pairs(rep, company) -> None:
    other = customer_services.customer_create(acting_user=rep, data={"name": "上海另一家贸易有限公司"})
    add(rep, company, name="张伟", mobile="13812345678")
    add(rep, other, name="张伟", mobile="13812345678")
    assert ContactDuplicatePair.objects.count() == 0


def test_the_warning_on_entry_names_the_existing_contact(rep, company) -> None:
    existing = add(rep, company, name="张伟", mobile="13812345678")
    warnings = likely_contact_duplicates(company.pk, {"name": "张先生", "mobile": "13812345678"})
    assert [(w.contact_id, w.name, w.verdict) for w in warnings] == [(existing.pk, "张伟", "certain")]
    assert "138****5678" in warnings[0].reasons
    assert likely_contact_duplicates(company.pk, {"name": "张伟", "mobile": "13812345678"},
                                     exclude_id=existing.pk) == []


def test_the_scan_finds_pairs_written_behind_the_services_back(rep, company) -> None:
    Contact.objects.bulk_create([Contact(customer=company, name="王芳", email="wf@fenyang.cn"),
                                 Contact(customer=company, name="Wang Fang", email="WF@fenyang.cn")])
    assert open_pairs(company) == []
    figures = contact_duplicates_scan()
    assert figures == {"customers": 1, "pairs": 1}
    assert len(open_pairs(company)) == 1
    since = timezone.now() - dt.timedelta(minutes=1)
    assert contact_duplicates_scan(changed_since=since)["customers"] == 1


def test_different_people_are_remembered(rep, company) -> None:
    add(rep, company, name="张伟", mobile="13812345678")
    add(rep, company, name="张伟", mobile="13812345678")
    pair = ContactDuplicatePair.objects.get()
    contact_pair_dismiss(acting_user=rep, pair_id=pair.pk)
    pair.refresh_from_db()
    assert pair.status == DuplicateStatus.DISMISSED and pair.decided_by == rep
    assert DistinctContactPair.objects.filter(low_id=pair.low_id, high_id=pair.high_id).exists()
    contact_duplicates_refresh([company.pk])
    contact_duplicates_scan()
    assert open_pairs(company) == []
    assert AuditEvent.objects.filter(action="not_duplicate", object_type="contact").count() == 2


def test_dismissing_needs_both_contacts_in_scope(rep, company) -> None:
    add(rep, company, name="张伟", mobile="13812345678")
    add(rep, company, name="张伟", mobile="13812345678")
    with pytest.raises(NotFound):
        contact_pair_dismiss(acting_user=UserFactory(), pair_id=ContactDuplicatePair.objects.get().pk)


def test_a_customer_merge_surfaces_the_person_entered_under_both(rep) -> None:
    older = customer_services.customer_create(acting_user=rep, data={"name": "北京分扬科技有限公司"})
    newer = customer_services.customer_create(acting_user=rep, data={"name": "分扬科技"})
    zhang = add(rep, older, name="张伟", mobile="13812345678")
    mister = add(rep, newer, name="张先生", mobile="13812345678")
    assert ContactDuplicatePair.objects.count() == 0
    merge = customers_merge(acting_user=rep, survivor_id=older.pk, merged_ids=[newer.pk])
    assert open_pairs(older) == [(zhang.pk, mister.pk)]
    merge_undo(acting_user=rep, merge_id=merge.pk)
    assert ContactDuplicatePair.objects.filter(status=DuplicateStatus.OPEN).count() == 0


# Merge and undo ----------------------------------------------------------------------------------


@pytest.fixture
def twins(rep, company):  # type: ignore[no-untyped-def]
    """张伟 as the primary contact with his mobile, and again as 张先生 with the e-mail, another
    landline, a title and notes, entered later."""
    first = add(rep, company, name="张伟", mobile="13812345678", phone="010-65529988", notes="老客户")
    second = add(rep, company, name="张先生", mobile="138 1234 5678", phone="010-65520000",
                 email="zw@fenyang.cn", title="采购经理", notes="喜欢喝茶")
    return Contact.objects.get(pk=first.pk), Contact.objects.get(pk=second.pk)


def dump(contact_id: int) -> dict[str, Any]:
    return {
        "row": Contact.objects.filter(pk=contact_id).values().first(),
        "tokens": sorted(SearchToken.objects.filter(contact_id=contact_id).values_list("token", "customer_id")),
        "keys": sorted(MatchKey.objects.filter(contact_id=contact_id).values_list("kind", "value")),
        "issues": sorted(QualityIssue.objects.filter(contact_id=contact_id).values_list("code", "field")),
    }


def test_every_foreign_key_to_contacts_is_registered() -> None:
    assert contact_registry.unregistered() == []


def test_preview_defaults_to_the_primary_contact_and_recent_values(rep, twins) -> None:
    first, second = twins
    preview = contact_merge_preview(acting_user=rep, ids=[second.pk, first.pk])
    assert preview.survivor_id == first.pk
    rows = {row.name: row for row in preview.fields}
    assert rows["name"].default == second.pk  # the more recent non-empty value
    assert rows["email"].default == second.pk and rows["title"].default == second.pk
    assert rows["is_primary"].default == first.pk
    assert "老客户" in preview.notes and "喜欢喝茶" in preview.notes
    assert "010-65529988" in preview.notes  # the landline that lost the vote is kept


def test_merge_keeps_one_contact_with_the_chosen_values_and_nothing_lost(rep, company, twins) -> None:
    first, second = twins
    merge = contacts_merge(acting_user=rep, survivor_id=first.pk, merged_ids=[second.pk],
                           field_choices={"name": first.pk})
    survivor = Contact.objects.get(pk=first.pk)
    assert not Contact.objects.filter(pk=second.pk).exists()
    assert (survivor.name, survivor.email, survivor.title, survivor.is_primary) == ("张伟", "zw@fenyang.cn",
                                                                                      "采购经理", True)
    assert survivor.phone == "010-65520000"
    assert "010-65529988" in survivor.notes and "喜欢喝茶" in survivor.notes and "老客户" in survivor.notes
    assert survivor.version == first.version + 1
    # Derived rows follow: the merged contact's postings and keys are gone, the survivor's include the e-mail.
    assert not SearchToken.objects.filter(contact_id=second.pk).exists()
    assert ("email", "zw@fenyang.cn") in dump(first.pk)["keys"]
    assert ContactDuplicatePair.objects.get().status == DuplicateStatus.MERGED
    assert contact_survivor_of(second.pk) == first.pk
    event = AuditEvent.objects.filter(action="merge", object_type="contact").get()
    assert event.customer_id == company.pk and event.changes[0]["new"] == [f"张（#{second.pk}）"]
    assert merge.merged_ids == [second.pk]


def test_undo_restores_both_contacts_exactly(rep, company, twins) -> None:
    first, second = twins
    before = {pk: dump(pk) for pk in (first.pk, second.pk)}
    merge = contacts_merge(acting_user=rep, survivor_id=first.pk, merged_ids=[second.pk])
    result = contact_merge_undo(acting_user=rep, merge_id=merge.pk)
    assert [c.pk for c in result.restored] == [second.pk]
    after = {pk: dump(pk) for pk in (first.pk, second.pk)}
    assert after[second.pk] == before[second.pk]
    stamps = {"version", "updated_at", "updated_by_id"}
    assert {k: v for k, v in after[first.pk]["row"].items() if k not in stamps} == \
        {k: v for k, v in before[first.pk]["row"].items() if k not in stamps}
    assert {k: after[first.pk][k] for k in ("tokens", "keys", "issues")} == \
        {k: before[first.pk][k] for k in ("tokens", "keys", "issues")}
    assert ContactMerge.objects.get().undone_at is not None
    assert contact_survivor_of(second.pk) is None
    assert open_pairs(company) == [(first.pk, second.pk)]  # the pair is back in the queue
    with pytest.raises(VersionConflict):
        contact_merge_undo(acting_user=rep, merge_id=merge.pk)


def test_undo_is_refused_when_the_survivor_was_edited_since(rep, twins) -> None:
    first, second = twins
    merge = contacts_merge(acting_user=rep, survivor_id=first.pk, merged_ids=[second.pk])
    customer_services.contact_update(acting_user=rep, contact=Contact.objects.get(pk=first.pk),
                                     data={"title": "总经理"})
    with pytest.raises(UnmergeConflict) as caught:
        contact_merge_undo(acting_user=rep, merge_id=merge.pk)
    assert [c.field for c in caught.value.conflicts] == ["title"]
    assert not Contact.objects.filter(pk=second.pk).exists()


def test_merge_refuses_contacts_of_two_customers(rep, company) -> None:
    other = customer_services.customer_create(acting_user=rep, data={"name": "上海另一家贸易有限公司"})
    a = add(rep, company, name="张伟")
    b = add(rep, other, name="张伟")
    with pytest.raises(ValidationFailed):
        contacts_merge(acting_user=rep, survivor_id=a.pk, merged_ids=[b.pk])


def test_merge_checks_scope_and_versions(rep, twins) -> None:
    first, second = twins
    with pytest.raises(NotFound):
        contacts_merge(acting_user=UserFactory(), survivor_id=first.pk, merged_ids=[second.pk])
    with pytest.raises(VersionConflict):
        contacts_merge(acting_user=rep, survivor_id=first.pk, merged_ids=[second.pk],
                       expected_versions={second.pk: second.version - 1})
    assert Contact.objects.filter(pk__in=[first.pk, second.pk]).count() == 2


def test_a_contact_merged_away_cannot_be_merged_again(rep, company, twins) -> None:
    first, second = twins
    contacts_merge(acting_user=rep, survivor_id=first.pk, merged_ids=[second.pk])
    third = add(rep, company, name="张伟", mobile="13812345678")
    with pytest.raises(VersionConflict):
        contacts_merge(acting_user=rep, survivor_id=third.pk, merged_ids=[second.pk])


def test_only_the_author_a_manager_or_an_admin_may_undo(rep, company, twins) -> None:
    first, second = twins
    merge = contacts_merge(acting_user=rep, survivor_id=first.pk, merged_ids=[second.pk])
    colleague = UserFactory(department=rep.department)
    Customer.objects.filter(pk=company.pk).update(owner=colleague)
    with pytest.raises(PermissionDenied):
        contact_merge_undo(acting_user=colleague, merge_id=merge.pk)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_simultaneous_merges_of_one_contact_do_not_both_succeed() -> None:
    """Two threads merge the same contact into different survivors at once (see the customer
    version in test_merge.py for why the loser retries on "locked"): exactly one merge succeeds,
    the other is told the contact was merged already."""
    import threading

    from django.db import OperationalError, connection

    from tests.factories import ContactFactory, CustomerFactory

    rep = UserFactory()
    customer = CustomerFactory(owner=rep)
    shared = ContactFactory(customer=customer, name="张伟")
    survivors = [ContactFactory(customer=customer, name=f"张伟{i}") for i in range(2)]
    start = threading.Barrier(2)
    finished = threading.Event()
    outcomes: list[str] = []

    def merge_into(survivor: Contact) -> None:
        start.wait(timeout=10)
        try:
            for _attempt in range(3):
                try:
                    contacts_merge(acting_user=rep, survivor_id=survivor.pk, merged_ids=[shared.pk],
                                   expected_versions={shared.pk: shared.version})
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
    assert loser.startswith(f"VersionConflict: 联系人 #{shared.pk} 已被合并"), outcomes
    assert ContactMerge.objects.count() == 1
    assert not Contact.objects.filter(pk=shared.pk).exists()
