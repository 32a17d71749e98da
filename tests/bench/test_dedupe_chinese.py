"""The labelled Chinese duplicate test set (bench/dedupe_chinese.py): what it generates and how it scores."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import pytest

from bench import dedupe_chinese as zh

ENTITIES = 600


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return zh.generate(ENTITIES, seed=7)


def _by_entity(records: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for record in records:
        groups[record[zh.ENTITY]].append(record)
    return groups


# Independent of the generator and of the project's normalisers: plain digit and text folding.

_HALF = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def _half(text: str) -> str:
    return text.translate(_HALF)


def _phones(record: Mapping[str, Any]) -> set[str]:
    """Mobiles as 11 digits, landlines as area code + number, from 手机 and 电话."""
    out = set()
    for cell in (record[zh.MOBILE], record[zh.PHONE]):
        digits = re.sub(r"\D", "", _half(cell).split("转")[0])
        if digits.startswith("0086"):
            digits = digits[4:]
        elif digits.startswith("86") and len(digits) in (12, 13):
            digits = digits[2:]
        is_mobile = len(digits) == 11 and digits.startswith("1")
        if digits and not is_mobile and not digits.startswith("0"):
            digits = "0" + digits  # +86 10 ... drops the trunk 0 of the area code
        if digits:
            out.add(digits)
    return out


def _strong_keys(record: Mapping[str, Any]) -> set[str]:
    keys = {f"phone:{p}" for p in _phones(record)}
    if record[zh.EMAIL]:
        keys.add("email:" + _half(record[zh.EMAIL]).strip().lower())
    for column in (zh.ID_NUMBER, zh.CREDIT_CODE):
        if record[column]:
            keys.add(f"{column}:" + re.sub(r"[\s-]", "", _half(record[column])).upper())
    return keys


def _birthday(cell: str) -> tuple[int, int, int] | None:
    numbers = [int(n) for n in re.findall(r"\d+", _half(cell))]
    if len(numbers) == 1 and len(str(numbers[0])) == 8:
        text = str(numbers[0])
        return int(text[:4]), int(text[4:6]), int(text[6:])
    if len(numbers) < 3:
        return None
    year, month, day = numbers[:3]  # year first, as Chinese dates are written (a time may follow)
    return year, month, day


def _street(address: str) -> str:
    # Two characters of street name, the street kind and the number: 东风大道946号, 建国北路12号.
    found = re.search(r"[\u4e00-\u9fff]{2}(?:大道|[东南西北]?路|街)\d+号", _half(address))
    return found.group(0) if found else ""


def _same_evidence(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """What a careful person would match on: a shared identifier in any format, the same full name
    with the same birthday, or the same company core with the same street and number."""
    if _strong_keys(a) & _strong_keys(b):
        return True
    if a[zh.NAME] and b[zh.NAME]:
        name_a, name_b = re.sub(r"\s", "", a[zh.NAME]), re.sub(r"\s", "", b[zh.NAME])
        same_name = name_a.startswith(name_b) or name_b.startswith(name_a)
        return same_name and min(len(name_a), len(name_b)) >= 2 and _birthday(a[zh.BIRTHDAY]) is not None \
            and _birthday(a[zh.BIRTHDAY]) == _birthday(b[zh.BIRTHDAY])
    if a[zh.COMPANY] and b[zh.COMPANY]:
        street = _street(a[zh.ADDRESS])
        shared_core = any(a[zh.COMPANY][i:i + 4] in b[zh.COMPANY] for i in range(len(a[zh.COMPANY]) - 3))
        return bool(street) and street == _street(b[zh.ADDRESS]) and shared_core
    return False


# Generation -----------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_records_and_another_seed_others(records):
    assert zh.generate(ENTITIES, seed=7) == records
    other = zh.generate(ENTITIES, seed=8)
    assert [r[zh.NAME] + r[zh.COMPANY] for r in other] != [r[zh.NAME] + r[zh.COMPANY] for r in records]


def test_records_have_the_csv_columns_ids_in_file_order_and_one_to_four_per_entity(records):
    assert all(list(r)[: len(zh.HEADERS)] == zh.HEADERS for r in records)
    assert [r[zh.RECORD_ID] for r in records] == [f"R{i:06d}" for i in range(1, len(records) + 1)]
    groups = _by_entity(records)
    assert len(groups) == ENTITIES
    assert {len(g) for g in groups.values()} == {1, 2, 3, 4}
    persons = [r for r in records if r[zh.NAME]]
    companies = [r for r in records if r[zh.COMPANY]]
    assert len(persons) + len(companies) == len(records)  # each record is one or the other
    assert len(persons) > len(records) / 3 and len(companies) > len(records) / 5
    assert all(not r[zh.CREDIT_CODE] for r in persons) and all(not r[zh.ID_NUMBER] for r in companies)
    # Shuffled: one entity's records are not next to each other.
    first_entity = records[0][zh.ENTITY]
    assert records[1][zh.ENTITY] != first_entity or records[2][zh.ENTITY] != first_entity


def test_every_variant_kind_appears_in_the_records_it_names(records):
    seen = {kind for r in records for kind in r["_variants"]}
    assert seen == set(zh.VARIANT_KINDS)
    phones = [r[zh.MOBILE] + " " + r[zh.PHONE] for r in records]
    assert any("+86" in p for p in phones) and any("0086" in p for p in phones)
    assert any(re.search(r"\d{3}-\d{4}-\d{4}", p) for p in phones)
    assert any(re.search("[０-９]{11}", p) for p in phones)  # full-width mobile
    assert any(re.fullmatch(r"\(0\d{2,3}\)\d{7,8}", r[zh.PHONE]) for r in records)  # landline with area code
    assert any(r[zh.PHONE].startswith("1") and not r[zh.MOBILE] for r in records)  # mobile in the 电话 column
    emails = [r[zh.EMAIL] for r in records if r[zh.EMAIL]]
    assert any(e != e.lower() for e in emails)
    assert any(e.lower().endswith(tuple(zh.TYPOS.values())) for e in emails)
    cities = {r[zh.CITY] for r in records}
    assert {"北京市", "北京"} <= cities and cities & {"京", "BJ", "Beijing"} and cities & {"沪", "SH", "Shanghai"}
    companies = [r[zh.COMPANY] for r in records if r[zh.COMPANY]]
    assert any(re.search(r"（[\u4e00-\u9fff]+）(股份)?有限", c) for c in companies)  # 分扬科技（北京）有限公司
    assert any(c.endswith("股份有限公司") for c in companies)
    assert any("Co., Ltd." in c for c in companies)  # English
    assert any(re.fullmatch("[a-z]+ [a-z]+", c) for c in companies)  # pinyin: fenyang keji
    names = [r[zh.NAME] for r in records if r[zh.NAME]]
    assert any(re.fullmatch("[\u4e00-\u9fff](先生|女士|小姐)", n) for n in names)  # 张先生
    assert any(re.fullmatch("[\u4e00-\u9fff]{2,3}(先生|女士|小姐)", n) for n in names)  # 张伟女士
    assert any(re.fullmatch("[\u4e00-\u9fff]总", n) for n in names)  # 张总
    assert any(re.fullmatch("[A-Z][a-z]+ [A-Z][a-z]+", n) for n in names)  # Zhang Wei / Wei Zhang
    assert any(re.search("[０-９Ａ-Ｚａ-ｚ]", r[zh.ADDRESS] + r[zh.EMAIL] + r[zh.BIRTHDAY]) for r in records)
    assert any(not r[zh.EMAIL] and not r[zh.MOBILE] for r in records)  # missing fields


def test_a_swapped_pinyin_name_and_an_honorific_stand_for_a_chinese_name_of_the_same_entity(records):
    for group in _by_entity(records).values():
        chinese = [r[zh.NAME] for r in group if r[zh.NAME] and not r["_variants"]]
        for record in group:
            if "pinyin_swapped" in record["_variants"] and chinese:
                given, family = record[zh.NAME].split(" ")
                assert family.istitle() or family.isupper()
                assert given[0].isupper() and given[1:].islower()
            if "honorific" in record["_variants"] and chinese:
                assert record[zh.NAME][0] == chinese[0][0]  # the surname stays


def test_every_duplicate_keeps_evidence_a_careful_person_could_match_on(records):
    # Each entity's records are connected by pairs that share an identifier (in any format), the full
    # name and birthday, or the company core and street: a perfect matcher can find every true pair.
    for entity, group in _by_entity(records).items():
        linked = {0}
        grew = True
        while grew:
            grew = False
            for i, record in enumerate(group):
                if i not in linked and any(_same_evidence(record, group[j]) for j in linked):
                    linked.add(i)
                    grew = True
        assert len(linked) == len(group), (entity, [r for i, r in enumerate(group) if i not in linked])


def test_hard_negatives_are_a_fifth_of_the_entities_and_share_a_name_and_city_but_no_identifier(records):
    counts = zh.summary(records)
    assert counts["hard_negative_share"] >= 0.15
    assert set(counts["hard_negative_kinds"]) == set(zh.HARD_NEGATIVE_KINDS)
    # Same 姓名 and same 城市 (as written), different entities.
    by_name_city: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in records:
        if r[zh.NAME] and r[zh.CITY]:
            by_name_city[(r[zh.NAME], r[zh.CITY])].add(r[zh.ENTITY])
    namesakes = [entities for entities in by_name_city.values() if len(entities) > 1]
    assert len(namesakes) >= 10
    assert any(name in {"张伟", "王芳", "李娜", "刘洋", "王伟", "李伟"} for (name, _), e in by_name_city.items()
               if len(e) > 1)
    groups = _by_entity(records)
    for entities in namesakes:
        for a, b in combinations(sorted(entities), 2):
            keys_a = set().union(*(_strong_keys(r) for r in groups[a]))
            keys_b = set().union(*(_strong_keys(r) for r in groups[b]))
            assert not keys_a & keys_b, (a, b, keys_a & keys_b)
            birthdays_a = {_birthday(r[zh.BIRTHDAY]) for r in groups[a] if r[zh.BIRTHDAY]}
            birthdays_b = {_birthday(r[zh.BIRTHDAY]) for r in groups[b] if r[zh.BIRTHDAY]}
            assert not birthdays_a & birthdays_b


def test_companies_sharing_a_brand_in_one_city_are_different_entities(records):
    plain = [r for r in records if r["_hard_negative"] == "company_core" and not r["_variants"]]
    by_start: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in plain:
        # 北京分扬科技有限公司 and 北京分扬物流有限公司: region + brand in front, written the same.
        by_start[(r[zh.CITY], r[zh.COMPANY][:4])].add(r[zh.ENTITY])
    assert any(len(entities) > 1 for entities in by_start.values())


def test_households_share_an_address_and_landline_but_not_a_name_or_mobile(records):
    groups = _by_entity(records)
    by_street: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if r["_hard_negative"] == "household" and _street(r[zh.ADDRESS]):
            by_street[_street(r[zh.ADDRESS])].add(r[zh.ENTITY])
    households = [sorted(entities) for entities in by_street.values() if len(entities) > 1]
    assert households
    for a, b in households:
        phones_a = set().union(*(_phones(r) for r in groups[a]))
        phones_b = set().union(*(_phones(r) for r in groups[b]))
        shared = phones_a & phones_b
        assert shared and all(p.startswith("0") for p in shared)  # the landline, never a mobile
        longest_a = max((r[zh.NAME] for r in groups[a]), key=len)
        assert all(r[zh.NAME] != longest_a for r in groups[b])


def test_identifiers_carry_valid_check_characters(records):
    from kehu.dataquality.normalize.identifiers import normalize_credit_code, normalize_resident_id

    ids = [r[zh.ID_NUMBER] for r in records if r[zh.ID_NUMBER] and not r["_variants"]]
    codes = [r[zh.CREDIT_CODE] for r in records if r[zh.CREDIT_CODE] and not r["_variants"]]
    assert ids and codes
    assert all(normalize_resident_id(i).valid for i in ids)
    assert all(normalize_credit_code(c).valid for c in codes)
    # The birthday column agrees with the birthday inside the ID number.
    for r in records:
        if r[zh.ID_NUMBER] and r[zh.BIRTHDAY] and not r["_variants"]:
            assert r[zh.BIRTHDAY].replace("-", "") == r[zh.ID_NUMBER][6:14]


# Scoring --------------------------------------------------------------------------------------


def _record(record_id: str, entity: str) -> dict[str, Any]:
    return {**dict.fromkeys(zh.HEADERS, ""), zh.RECORD_ID: record_id, zh.ENTITY: entity}


TINY = [_record("r1", "A"), _record("r2", "B"), _record("r3", "A"), _record("r4", "A"), _record("r5", "C"),
        _record("r6", "B")]


def test_true_pairs_are_every_pair_within_an_entity_smaller_id_first():
    assert zh.true_pairs(TINY) == {("r1", "r3"), ("r1", "r4"), ("r3", "r4"), ("r2", "r6")}
    assert zh.true_pairs([_record("r9", "X"), _record("r1", "X")]) == {("r1", "r9")}
    assert zh.true_pairs([_record("r1", "X")]) == set()


def test_pairwise_scores_on_known_pairs():
    truth = {("r1", "r3"), ("r1", "r4"), ("r3", "r4"), ("r2", "r6")}
    scores = zh.pairwise_scores({("r3", "r1"), ("r2", "r6"), ("r1", "r5")}, truth)  # order within a pair is free
    assert scores == {"precision": pytest.approx(2 / 3), "recall": 0.5, "f1": pytest.approx(4 / 7), "tp": 2, "fp": 1,
                      "fn": 2}
    assert zh.pairwise_scores(truth, truth) == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "tp": 4, "fp": 0, "fn": 0}


def test_pairwise_scores_with_nothing_predicted_or_nothing_to_find():
    truth = {("r1", "r3"), ("r2", "r6")}
    assert zh.pairwise_scores(set(), truth) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 0, "fn": 2}
    assert zh.pairwise_scores({("r1", "r2")}, set()) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0,
                                                         "fp": 1, "fn": 0}
    assert zh.pairwise_scores(set(), set())["f1"] == 1.0


def test_pairs_from_clusters_pairs_every_member_and_leaves_blank_clusters_alone():
    clusters = {"r1": "c1", "r3": "c1", "r4": "c1", "r2": "c2", "r5": "", "r6": "", "r7": "c3"}
    assert zh.pairs_from_clusters(clusters) == {("r1", "r3"), ("r1", "r4"), ("r3", "r4")}


def test_cluster_scores_count_what_listing_the_pairs_gives(records):
    # A crude matcher: one cluster per written name. Counting from cluster sizes agrees with the pairs.
    clusters = {r[zh.RECORD_ID]: r[zh.NAME] or r[zh.COMPANY] for r in records}
    expected = zh.pairwise_scores(zh.pairs_from_clusters(clusters), zh.true_pairs(records))
    assert zh.cluster_scores(clusters, records) == expected
    assert 0 < expected["tp"] < len(zh.true_pairs(records)) and expected["fp"] > 0


def _write_output(path: Any, records: Sequence[Mapping[str, Any]], cluster_of: Mapping[str, str]) -> None:
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*zh.HEADERS, "cluster_id", "match_score"], extrasaction="ignore")
        writer.writeheader()
        for r in records:
            writer.writerow({**r, "cluster_id": cluster_of[r[zh.RECORD_ID]], "match_score": "0.9"})


def test_write_csv_writes_the_chinese_headers_with_a_bom_and_no_metadata(tmp_path, records):
    path = tmp_path / "zh.csv"
    zh.write_csv(path, records)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == zh.HEADERS
    assert len(rows) == len(records)
    assert rows[5] == {h: records[5][h] for h in zh.HEADERS}


def test_evaluate_scores_an_output_file_by_its_cluster_id_column(tmp_path, records):
    perfect, singletons, out = tmp_path / "perfect.csv", tmp_path / "singletons.csv", tmp_path / "lumped.csv"
    _write_output(perfect, records, {r[zh.RECORD_ID]: "k" + r[zh.ENTITY] for r in records})
    _write_output(singletons, records, {r[zh.RECORD_ID]: r[zh.RECORD_ID] for r in records})
    # Merge each entity with the next one: every true pair found, and some false ones.
    entities = sorted({r[zh.ENTITY] for r in records})
    merged = {e: entities[i - i % 2] for i, e in enumerate(entities)}
    _write_output(out, records, {r[zh.RECORD_ID]: merged[r[zh.ENTITY]] for r in records})
    truth = len(zh.true_pairs(records))

    assert zh.evaluate(perfect, records) | {} == {
        "precision": 1.0, "recall": 1.0, "f1": 1.0, "tp": truth, "fp": 0, "fn": 0, "records": len(records),
        "predicted_clusters": ENTITIES, "entities": ENTITIES}
    alone = zh.evaluate(singletons, records)
    assert (alone["tp"], alone["fp"], alone["fn"], alone["f1"]) == (0, 0, truth, 0.0)
    lumped = zh.evaluate(out, records)
    assert lumped["recall"] == 1.0 and lumped["fp"] > 0 and lumped["precision"] < 1.0
    assert lumped["predicted_clusters"] == ENTITIES // 2


def test_evaluate_refuses_an_output_without_cluster_ids_or_with_rows_missing(tmp_path, records):
    no_column = tmp_path / "plain.csv"
    zh.write_csv(no_column, records)
    with pytest.raises(ValueError, match="cluster_id"):
        zh.evaluate(no_column, records)
    short = tmp_path / "short.csv"
    _write_output(short, records[:-1], {r[zh.RECORD_ID]: "c" for r in records})
    with pytest.raises(ValueError, match="1 records have no cluster"):
        zh.evaluate(short, records)


def test_failure_examples_show_the_values_of_wrong_pairs(records):
    clusters = {r[zh.RECORD_ID]: r[zh.NAME] or r[zh.COMPANY] for r in records}
    examples = zh.failure_examples(clusters, records, limit=3)
    assert len(examples["false_positives"]) == 3 and len(examples["false_negatives"]) == 3
    for a, b in examples["false_positives"]:
        assert a[zh.ENTITY] != b[zh.ENTITY] and (a.get(zh.NAME) or a[zh.COMPANY]) == (b.get(zh.NAME) or b[zh.COMPANY])
    for a, b in examples["false_negatives"]:
        assert a[zh.ENTITY] == b[zh.ENTITY] and clusters[a[zh.RECORD_ID]] != clusters[b[zh.RECORD_ID]]


def test_main_writes_the_file_and_prints_the_counts(tmp_path, capsys):
    path = tmp_path / "zh.csv"
    assert zh.main(["--entities", "50", "--seed", "3", "--out", str(path)]) == 0
    printed = capsys.readouterr().out
    records = zh.generate(50, seed=3)
    assert "entities 50 " in printed and f"records {len(records)};" in printed
    assert f"true pairs {len(zh.true_pairs(records))}" in printed and "hard negatives:" in printed
    with open(path, encoding="utf-8-sig") as handle:
        assert sum(1 for _ in handle) == len(records) + 1
