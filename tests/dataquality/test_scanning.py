"""The database-wide duplicate scan: what a full scan finds and stores, what an incremental scan
picks up, that decisions survive rescans, that keys and pairs follow merges, and the job."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from kehu.core.models import Job
from kehu.customers.models import Customer
from kehu.dataquality import scanning
from kehu.dataquality.merging.services import customers_merge, merge_undo
from kehu.dataquality.models import DedupeKey, DedupeScan, DistinctPair, DuplicatePair, DuplicateStatus
from tests.factories import AdminFactory, ContactFactory, CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def company(name: str, **fields: Any) -> Customer:
    return CustomerFactory(kind="company", name=name, **fields)


def person(name: str, **fields: Any) -> Customer:
    return CustomerFactory(kind="person", name=name, **fields)


@pytest.fixture
def archive(db: Any) -> dict[str, Customer]:
    """Three true duplicate pairs and three hard negatives (a common name in one city, a company
    sharing a trade name, a household sharing a landline)."""
    owner = UserFactory()
    made = {
        "fenyang": company("北京分扬科技有限公司", phones=["13812345678"], city="北京市", owner=owner),
        "fenyang_2": company("分扬科技（北京）有限公司", phones=["+86 138-1234-5678"], owner=owner),
        "zhangwei": person("张伟", emails=["zhangwei1990@qq.com"], city="北京市", birthday=dt.date(1990, 3, 7),
                           owner=owner),
        "zhangwei_2": person("张伟先生", emails=["ZhangWei1990@QQ.com"], city="北京", owner=owner),
        "zhangwei_other": person("张伟", phones=["13700001111"], city="北京市", birthday=dt.date(1985, 11, 2),
                                 owner=owner),
        "fenyang_logistics": company("北京分扬物流有限公司", phones=["13655556666"], city="北京市", owner=owner),
        "xinghe": company("杭州星河电子有限公司", credit_code="91330100MA2CXXXX1X", owner=owner),
        "xinghe_2": company("星河电子", owner=owner),
        "household_a": person("李娜", phones=["010-65529988"], address="北京市朝阳区建国路88号", owner=owner),
        "household_b": person("王强", phones=["01065529988"], address="北京市朝阳区建国路88号", owner=owner),
    }
    # The second 星河 record is reached through its contact's mobile, which the first one lists.
    ContactFactory(customer=made["xinghe"], name="赵敏", mobile="13566667777")
    ContactFactory(customer=made["xinghe_2"], name="赵敏", mobile="135 6666 7777")
    return made


def pair_ids(*customers: Customer) -> tuple[int, int]:
    low, high = sorted(c.pk for c in customers)
    return low, high


def open_pairs(verdict: str | None = None) -> set[tuple[int, int]]:
    pairs = DuplicatePair.objects.filter(status=DuplicateStatus.OPEN)
    if verdict:
        pairs = pairs.filter(verdict=verdict)
    return set(pairs.values_list("low_id", "high_id"))


def test_full_scan_finds_the_duplicates_and_not_the_hard_negatives(archive):
    result = scanning.duplicates_scan(full=True)
    expected = {pair_ids(archive["fenyang"], archive["fenyang_2"]),
                pair_ids(archive["zhangwei"], archive["zhangwei_2"]),
                pair_ids(archive["xinghe"], archive["xinghe_2"])}
    assert open_pairs("certain") == expected
    # The engine leaves a shared common name or trade name in one city at "review" (a person
    # decides); a household sharing a landline and address is not even that.
    review = open_pairs("review")
    assert pair_ids(archive["household_a"], archive["household_b"]) not in review
    assert review <= {pair_ids(archive["fenyang"], archive["fenyang_logistics"]),
                      pair_ids(archive["zhangwei"], archive["zhangwei_other"]),
                      pair_ids(archive["zhangwei_2"], archive["zhangwei_other"])}
    assert result.full is True
    assert result.customers == len(archive)
    assert result.certain == 3
    assert result.found == result.stored == len(open_pairs())
    assert result.compared >= 3
    assert DedupeKey.objects.values("customer_id").distinct().count() == len(archive)
    state = DedupeScan.objects.get(pk=1)
    assert state.full_scan_at is not None and state.last_figures["certain"] == 3


def test_stored_pairs_carry_reasons_as_codes_with_masked_values_and_a_cluster(archive):
    scanning.duplicates_scan(full=True)
    low, high = pair_ids(archive["fenyang"], archive["fenyang_2"])
    pair = DuplicatePair.objects.get(low_id=low, high_id=high)
    assert pair.verdict == "certain"
    codes = [code for code, _args, _weight in pair.reasons]
    assert codes[0] == "phone.same_mobile"
    assert pair.reasons[0][1] == ["138****5678"]
    assert "13812345678" not in str(pair.reasons)
    assert pair.cluster_id == low


def test_clusters_join_pairs_that_share_a_customer(archive):
    third = company("分扬科技有限公司", phones=["13812345678"])
    scanning.duplicates_scan(full=True)
    fenyang = {archive["fenyang"].pk, archive["fenyang_2"].pk, third.pk}
    clusters = set(DuplicatePair.objects.filter(low_id__in=fenyang, high_id__in=fenyang)
                   .values_list("cluster_id", flat=True))
    assert clusters == {min(fenyang)}


def test_incremental_scan_picks_up_an_edited_customer_only(archive):
    scanning.duplicates_scan(full=True)
    before = open_pairs()
    other = archive["zhangwei_other"]
    # A new record of the second 张伟: same mobile (written differently) and birthday.
    twin = person("张伟", phones=["137 0000 1111"], city="北京", birthday=dt.date(1985, 11, 2))
    result = scanning.duplicates_scan(full=False)
    assert result.full is False
    assert result.customers == 1  # only the new record was re-keyed
    assert pair_ids(other, twin) in open_pairs("certain")
    assert {pair for pair in open_pairs() if twin.pk not in pair} == before

    archive["household_b"].phones = ["13812345678"]
    archive["household_b"].name = "北京分扬科技有限公司"
    archive["household_b"].kind = "company"
    archive["household_b"].updated_at = timezone.now()
    archive["household_b"].save()
    result = scanning.duplicates_scan(full=False)
    assert result.customers == 1
    assert pair_ids(archive["fenyang"], archive["household_b"]) in open_pairs()


def test_incremental_scan_picks_up_a_new_contact_of_an_unchanged_customer(archive):
    scanning.duplicates_scan(full=True)
    xinghe, logistics = archive["xinghe"], archive["fenyang_logistics"]
    assert pair_ids(xinghe, logistics) not in open_pairs()
    before = Customer.objects.get(pk=xinghe.pk).updated_at
    # 星河's new contact answers on the mobile 分扬物流 lists: the two records now share a mobile.
    ContactFactory(customer=xinghe, name="孙丽", mobile="136 5555 6666")
    assert Customer.objects.get(pk=xinghe.pk).updated_at == before
    result = scanning.duplicates_scan(full=False)
    assert result.customers == 1  # only 星河 was re-keyed
    assert DedupeKey.objects.filter(customer_id=xinghe.pk, key=scanning.key_hash("p+8613655556666")).exists()
    assert pair_ids(xinghe, logistics) in open_pairs()


def test_incremental_scan_without_a_full_scan_runs_a_full_one(archive):
    result = scanning.duplicates_scan(full=False)
    assert result.full is True
    assert len(open_pairs("certain")) == 3


def test_incremental_scan_a_week_after_the_full_one_runs_a_full_one(archive):
    scanning.duplicates_scan(full=True)
    assert scanning.duplicates_scan(full=False).full is False
    DedupeScan.objects.filter(pk=1).update(full_scan_at=timezone.now() - dt.timedelta(days=8))
    assert scanning.duplicates_scan(full=False).full is True


def test_dismissed_pairs_stay_dismissed_across_scans(archive):
    scanning.duplicates_scan(full=True)
    admin = AdminFactory()
    low, high = pair_ids(archive["zhangwei"], archive["zhangwei_2"])
    pair = DuplicatePair.objects.get(low_id=low, high_id=high)
    scanning.duplicate_pair_dismiss(acting_user=admin, pair_id=pair.pk)
    assert DistinctPair.objects.filter(low_id=low, high_id=high).exists()
    scanning.duplicates_scan(full=True)
    pair.refresh_from_db()
    assert pair.status == DuplicateStatus.DISMISSED
    assert (low, high) not in open_pairs()
    # An edit of one of them is rescanned, and the decision still holds.
    Customer.objects.filter(pk=low).update(updated_at=timezone.now())
    scanning.duplicates_scan(full=False)
    assert DuplicatePair.objects.get(low_id=low, high_id=high).status == DuplicateStatus.DISMISSED


def test_a_user_cannot_dismiss_a_pair_they_cannot_see(archive):
    scanning.duplicates_scan(full=True)
    pair = DuplicatePair.objects.get(low_id=archive["fenyang"].pk, high_id=archive["fenyang_2"].pk)
    stranger = UserFactory()
    from kehu.core.errors import NotFound

    with pytest.raises(NotFound):
        scanning.duplicate_pair_dismiss(acting_user=stranger, pair_id=pair.pk)
    pair.refresh_from_db()
    assert pair.status == DuplicateStatus.OPEN
    assert not DistinctPair.objects.exists()


def test_pairs_and_keys_follow_a_merge_and_its_undo(archive):
    scanning.duplicates_scan(full=True)
    admin = AdminFactory()
    survivor, merged = archive["fenyang"], archive["fenyang_2"]
    low, high = pair_ids(survivor, merged)
    merge = customers_merge(acting_user=admin, survivor_id=survivor.pk, merged_ids=[merged.pk])
    assert DuplicatePair.objects.get(low_id=low, high_id=high).status == DuplicateStatus.MERGED
    assert not DedupeKey.objects.filter(customer_id=merged.pk).exists()
    assert set(DedupeKey.objects.filter(customer_id=survivor.pk).values_list("key", flat=True)) == set(
        scanning.record_key_hashes(scanning.record_of_row(scanning.customer_rows([survivor.pk])[0])))
    scanning.duplicates_scan(full=True)
    assert DuplicatePair.objects.get(low_id=low, high_id=high).status == DuplicateStatus.MERGED

    merge_undo(acting_user=admin, merge_id=merge.pk)
    assert DuplicatePair.objects.get(low_id=low, high_id=high).status == DuplicateStatus.OPEN
    assert DedupeKey.objects.filter(customer_id=merged.pk).exists()


def test_deleted_customers_leave_the_queue(archive):
    scanning.duplicates_scan(full=True)
    before = open_pairs()
    gone = archive["zhangwei_2"].pk
    archive["zhangwei_2"].delete()
    scanning.duplicates_scan(full=False)
    assert open_pairs() == {pair for pair in before if gone not in pair}


def test_scan_job_reports_progress_and_its_result(archive):
    admin = AdminFactory()
    job = scanning.duplicates_scan_job_create(acting_user=admin, full=True)
    seen: list[tuple[int, int, str]] = []
    job = scanning.duplicates_scan_run(job, on_progress=lambda done, total, phase: seen.append((done, total, phase)))
    assert job.status == Job.Status.DONE
    assert job.result["certain"] == 3
    assert job.result["found"] == DuplicatePair.objects.count()
    assert [phase for _d, _t, phase in seen][-1] == "store"
    assert ("read", len(archive)) in {(phase, done) for done, _t, phase in seen}
    assert job.done == job.total == len(archive)


def test_only_admins_start_a_scan_and_only_one_runs_at_a_time(archive):
    from kehu.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        scanning.duplicates_scan_job_create(acting_user=UserFactory(), full=True)
    admin = AdminFactory()
    first = scanning.duplicates_scan_job_create(acting_user=admin, full=True)
    assert scanning.duplicates_scan_job_create(acting_user=admin, full=False).pk == first.pk


def test_scan_in_worker_processes_finds_the_same_pairs(archive, monkeypatch):
    monkeypatch.setattr(scanning, "POOL_MIN_RECORDS", 2)
    monkeypatch.setattr(scanning, "SCORE_POOL_MIN_RECORDS", 2)
    monkeypatch.setattr(scanning, "CHUNK", 3)
    pools: list[int] = []
    fork_pool = scanning._fork_pool
    monkeypatch.setattr(scanning, "_fork_pool", lambda workers: pools.append(workers) or fork_pool(workers))
    scanning.duplicates_scan(full=True, workers=2)
    assert pools == [2, 2]  # records built in one pool, pairs scored in another
    pooled = open_pairs()
    scanning.duplicates_scan(full=True, workers=1)
    assert pooled == open_pairs()
    assert len(open_pairs("certain")) == 3


def test_command_runs_a_scan(archive, capsys):
    call_command("dedupe_scan", "--full")
    out = capsys.readouterr().out
    assert f"likely duplicates: {DuplicatePair.objects.count()} pairs (3 certain)" in out
    assert "full scan" in out


def test_nightly_task_scans_incrementally_and_skips_while_a_scan_runs(archive):
    from kehu.dataquality.tasks import nightly_duplicates_scan

    nightly_duplicates_scan.call_local()
    first = Job.objects.get(kind=scanning.SCAN_JOB)
    assert first.status == Job.Status.DONE and first.params == {"full": False}
    assert first.result["full"] is True  # no stored keys yet: the first run reads everything
    person("李娜", phones=["010-65529988"], address="北京市朝阳区建国路88号")
    nightly_duplicates_scan.call_local()
    second = Job.objects.filter(kind=scanning.SCAN_JOB).order_by("-pk").first()
    assert second.result["full"] is False and second.result["customers"] == 1

    running = scanning.duplicates_scan_job_create(acting_user=None, full=True)
    Job.objects.filter(pk=running.pk).update(status=Job.Status.RUNNING)
    nightly_duplicates_scan.call_local()
    assert Job.objects.filter(kind=scanning.SCAN_JOB).count() == 3
    running.refresh_from_db()
    assert running.status == Job.Status.RUNNING and running.done == 0


_key_index_exists = scanning._key_index_exists


def test_a_large_full_scan_rebuilds_the_key_index_once_with_the_same_keys(archive, monkeypatch):
    scanning.duplicates_scan(full=True)
    incremental_keys = sorted(DedupeKey.objects.values_list("key", "customer_id"))
    monkeypatch.setattr(scanning, "KEY_INDEX_DEFER_MIN", 1)
    dropped_during: list[tuple[bool, bool]] = []
    read_all = scanning._read_all
    monkeypatch.setattr(scanning, "_read_all", lambda *args, **kwargs: (
        dropped_during.append((not _key_index_exists(), kwargs["key_index"])), read_all(*args, **kwargs)))
    scanning.duplicates_scan(full=True)
    # Dropped while the keys are written, which then go in customer order (see _insert_keys).
    assert dropped_during == [(True, False)] and _key_index_exists()
    assert sorted(DedupeKey.objects.values_list("key", "customer_id")) == incremental_keys


def test_a_scan_restores_a_key_index_a_killed_scan_left_dropped(archive):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(scanning._key_index_sql("drop"))
    assert not _key_index_exists()
    scanning.duplicates_scan(full=False)
    assert _key_index_exists()


def test_the_scan_reads_the_same_rows_as_the_orm(archive):
    import datetime as dt

    from kehu.customers.models import Customer

    Customer.objects.filter(pk=Customer.objects.order_by("pk").first().pk).update(birthday=dt.date(1990, 3, 7))
    raw = [row for chunk in scanning._customer_chunks(chunk=3) for row in chunk]
    orm = scanning.customer_rows(Customer.objects.values_list("pk", flat=True))
    assert [scanning.record_of_row(r) for r in raw] == [scanning.record_of_row(r) for r in orm]
    assert [r[0] for r in raw] == [r[0] for r in orm] and len(raw) == Customer.objects.count()


def test_the_scan_also_finds_duplicate_contacts_within_a_customer(archive):
    from kehu.dataquality.models import ContactDuplicatePair

    # Written behind the services' back (as a bulk import or another tool would): only the scan sees them.
    first = ContactFactory(customer=archive["fenyang"], name="孙丽", mobile="13911112222")
    second = ContactFactory(customer=archive["fenyang"], name="孙女士", mobile="139-1111-2222")
    ContactFactory(customer=archive["fenyang"], name="周杰")
    result = scanning.duplicates_scan(full=True, workers=1)
    assert result.contact_customers == 1  # only 分扬 has two or more contacts
    pairs = list(ContactDuplicatePair.objects.values_list("customer_id", "low_id", "high_id", "verdict"))
    assert pairs == [(archive["fenyang"].pk, first.pk, second.pk, "certain")]
    assert result.as_dict()["contact_pairs"] == 1

    # An incremental scan revisits only customers whose contacts changed, and drops what no longer matches.
    Contact = type(second)
    Contact.objects.filter(pk=second.pk).update(mobile="13700009999", name="钱七", updated_at=timezone.now())
    result = scanning.duplicates_scan(full=False, workers=1)
    assert result.contact_customers == 1
    assert ContactDuplicatePair.objects.count() == 0


@pytest.mark.parametrize("value", [
    [], ["13812345678"], ["13812345678", "010-65529988"], ['a", "b'], ["x\\y"], ["张伟@例子.中国"], [""],
    ["a", ""], ['"quoted"'], ["a,b", "c"],
])
def test_json_lists_read_by_splitting_equal_json_loads(value):
    import json

    for text in (json.dumps(value), json.dumps(value, separators=(",", ":")), json.dumps(value, ensure_ascii=False)):
        assert scanning._json_list(text) == value, text
    assert scanning._json_list(value) is value  # PostgreSQL hands lists back already
