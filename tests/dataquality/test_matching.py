"""The matching engine on plain records: records, blocking, scores, reasons, clusters. Pure: no database."""

from __future__ import annotations

import itertools
import random

import pytest

from kehu.dataquality.matching import (
    CERTAIN,
    REVIEW,
    MatchStats,
    blocking_keys,
    build_record,
    candidate_pairs,
    compare,
    dedupe,
    describe,
    explain,
)
from kehu.dataquality.matching.reasons import MESSAGES_EN, MESSAGES_ZH, mask_email, mask_identifier, mask_phone
from kehu.dataquality.matching.records import parse_birth_date

EMPTY = MatchStats()  # no data: every frequency is its prior, as for a two-row file


def _pair(a: dict[str, str], b: dict[str, str], stats: MatchStats = EMPTY):  # type: ignore[no-untyped-def]
    return compare(build_record(a), build_record(b), stats)


def _codes(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.code for r in result.reasons]


# ---- records ---------------------------------------------------------------------------------------


def test_record_holds_the_normalised_forms() -> None:
    record = build_record({
        "name": "张先生", "phone": ["+86 138-1234-5678", "(010)65529988"], "email": " Zhang.San@QQ.COM ",
        "company": "北京分扬科技有限公司", "address": "BJ朝阳区建国路88号", "id_number": "11010519491231002X",
    })  # fmt: skip
    assert (record.name, record.salutation, record.family, record.given, record.family_latin) == (
        "张", "先生", "张", "", "zhang")
    assert record.phones == ("+8613812345678", "+861065529988")
    assert record.mobiles == ("+8613812345678",)
    assert record.emails == ("zhang.san@qq.com",)
    assert (record.company_core, record.company_brand, record.company_brand_latin, record.company_region) == (
        "分扬科技", "分扬", "fenyang", "北京")
    assert (record.province, record.city, record.district) == ("北京市", "北京市", "朝阳区")
    assert record.street == "建国路88号"
    assert record.street_numbers == "88"
    assert record.id_number == "11010519491231002X" and record.id_checked
    assert record.birth_date == "19491231"  # read from the ID number when no birth date was given


def test_latin_company_in_pinyin_loses_its_legal_form_and_industry_words() -> None:
    pinyin = build_record({"company": "beijing mishenhai dianzi youxian gongsi"})
    chinese = build_record({"company": "北京米深海电子公司"})
    english = build_record({"company": "Beijing FenYang Environmental Technology Co., Ltd."})
    assert (pinyin.company_core_latin, pinyin.company_brand_latin) == ("mishenhaidianzi", "mishenhai")
    assert (chinese.company_core_latin, chinese.company_brand_latin) == ("mishenhaidianzi", "mishenhai")
    assert english.company_brand_latin == "fenyang" and english.company_region == "北京"


def test_separate_given_and_family_columns() -> None:
    record = build_record({"given_name": "lachlan", "family_name": "Berry"})
    assert (record.given, record.family, record.name, record.name_han) == ("lachlan", "berry", "Lachlan Berry", False)


@pytest.mark.parametrize(("text", "expected"), [
    ("1990-03-07", "19900307"), ("1990/3/7", "19900307"), ("1990年3月7日", "19900307"), ("19900307", "19900307"),
    ("3/7/1990", "19900307"), ("25/12/1990", "19901225"), ("１９９０－０３－０７", "19900307"), ("0307", "0307"),
])  # fmt: skip
def test_birth_dates_in_every_common_shape(text: str, expected: str) -> None:
    assert parse_birth_date(text) == expected


# ---- scores and reasons ------------------------------------------------------------------------------


def test_shared_mobile_in_two_formats_is_certain_and_the_reason_masks_it() -> None:
    result = _pair(
        {"name": "张先生", "phone": "+86 138-1234-5678", "company": "北京分扬科技有限公司"},
        {"name": "张伟", "phone": "13812345678", "company": "分扬科技"},
    )
    assert result.verdict == "certain" and result.score >= CERTAIN
    assert _codes(result)[0] == "phone.same_mobile"
    sentence = explain(result.reasons)
    assert sentence == (
        "同一手机号 138****5678；公司名去掉“有限公司”和地区“北京”后相同（分扬科技）；只有姓相同（张先生 / 张伟）"
    )
    assert "13812345678" not in sentence
    assert explain(result.reasons, "en").startswith("same mobile 138****5678; company names equal after removing")


def test_company_name_variants() -> None:
    full = {"company": "北京分扬科技有限公司", "city": "北京"}
    short = {"company": "分扬科技", "city": "北京市"}
    latin = {"company": "Beijing FenYang", "city": "Beijing"}
    core = _pair(full, short)
    assert core.verdict == "certain"
    assert _codes(core)[0] == "company.core_without_form_region"
    assert describe(core.reasons[0]) == "公司名去掉“有限公司”和地区“北京”后相同（分扬科技）"
    pinyin = _pair(full, latin)
    assert pinyin.verdict in ("certain", "review")
    assert _codes(pinyin)[0] == "company.brand_pinyin"
    # the three share a blocking key, so they are compared at all
    assert {"bfenyang"} <= blocking_keys(build_record(full)) & blocking_keys(build_record(latin))
    assert {"k分扬科技", "bfenyang"} <= blocking_keys(build_record(full)) & blocking_keys(build_record(short))


def test_same_brand_different_industry_is_not_certain() -> None:
    result = _pair({"company": "北京分扬科技有限公司", "city": "北京"},
                   {"company": "北京分扬物流有限公司", "city": "北京"})
    assert result.verdict != "certain"
    assert _codes(result)[0] == "company.same_brand"


def test_common_name_in_one_city_with_different_phones_is_not_certain() -> None:
    result = _pair({"name": "张伟", "phone": "13812345678", "city": "北京"},
                   {"name": "张伟", "phone": "13987654321", "city": "北京"})
    assert result.verdict == "review" and REVIEW <= result.score < CERTAIN
    assert _codes(result) == ["name.same_common", "city.same", "phone.differ"]
    assert explain(result.reasons) == "姓名相同（张伟），但这个姓名很常见；同在北京市；电话不同"


def test_rare_name_weighs_more_than_a_common_one() -> None:
    common = _pair({"name": "张伟", "city": "北京"}, {"name": "张伟", "city": "北京"})
    rare = _pair({"name": "欧阳娜娜", "city": "北京"}, {"name": "欧阳娜娜", "city": "北京"})
    assert _codes(common) == ["name.same_common", "city.same"] and common.verdict == "review"
    assert _codes(rare) == ["name.same", "city.same"] and rare.score > common.score + 1
    # in an archive holding 300 张伟, the name is worth far less again
    crowd = [build_record({"name": "张伟", "city": f"城市{n}"}) for n in range(300)]
    crowded = compare(build_record({"name": "张伟"}), build_record({"name": "张伟"}), MatchStats.from_records(crowd))
    assert crowded.score < common.reasons[0].weight - 4


def test_name_frequency_comes_from_the_data_being_matched() -> None:
    one = {"name": "Olivia Harrow", "city": "Perth"}
    alone = build_record(one)
    crowd = [build_record({"name": "Olivia Harrow", "city": f"town {n}"}) for n in range(400)]
    padding = [build_record({"name": f"Person {n} Other", "city": "Perth"}) for n in range(600)]
    rare = compare(alone, build_record(one), MatchStats.from_records([alone, build_record(one), *padding]))
    frequent = compare(alone, build_record(one), MatchStats.from_records([alone, build_record(one), *crowd, *padding]))
    assert frequent.score < rare.score - 5


def test_households_sharing_address_and_landline_are_not_certain() -> None:
    result = _pair(
        {"name": "仲文强", "phone": ["15690668971", "021-72623613"], "address": "上海市浦东新区东风北路794号"},
        {"name": "仲丽丽", "phone": ["13912345678", "021 7262 3613"], "address": "上海浦东新区东风北路794号"},
    )
    assert result.verdict != "certain"
    assert "phone.mobile_differ" in _codes(result) and "name.given_differ" in _codes(result)


def test_shared_mobile_with_another_name_is_worth_a_review() -> None:
    result = _pair({"name": "张伟", "phone": "13812345678"}, {"name": "李娜", "phone": "138 1234 5678"})
    assert result.verdict == "review"
    assert _codes(result) == ["phone.same_mobile", "name.differ"]


def test_a_company_record_with_a_contact_is_the_company() -> None:
    # 撞单: two reps entered one company under two names, each with the contact they spoke to
    other_contact = _pair({"company": "北京分扬科技有限公司", "contact": "张先生", "city": "北京"},
                          {"company": "分扬科技", "contact": "李经理", "city": "北京"})
    assert other_contact.verdict == "certain"
    assert _codes(other_contact) == ["company.core_without_form_region", "city.same", "contact.differ"]
    same_contact = _pair({"company": "分扬科技", "contact": "张伟"},
                         {"company": "Beijing FenYang", "contact": "Zhang Wei"})
    assert "contact.same" in _codes(same_contact)
    # the same two names as the persons themselves, each at an employer, are two people
    people = _pair({"name": "张先生", "company": "北京分扬科技有限公司", "city": "北京"},
                   {"name": "李经理", "company": "分扬科技", "city": "北京"})
    assert people.verdict == "no"
    # no company: the contact is the row's own person
    assert build_record({"contact": "王芳"}).name == "王芳" and not build_record({"contact": "王芳"}).contact


def test_chinese_name_meets_its_pinyin_in_either_order() -> None:
    for latin in ("Zhang Wei", "WEI Zhang", "zhang wei"):
        result = _pair({"name": "张伟", "email": "zw@fenyang.com"}, {"name": latin, "email": "ZW@fenyang.com"})
        assert result.verdict == "certain"
        assert set(_codes(result)) == {"email.same", "name.latin_pinyin"}


def test_homophone_typo_in_a_chinese_name_keeps_evidence() -> None:
    result = _pair({"name": "李晓明", "birth_date": "1990-03-07"}, {"name": "李小明", "birth_date": "1990/3/7"})
    assert _codes(result)[:2] == ["birth_date.same", "name.same_pinyin"]
    assert result.score >= CERTAIN


def test_swapped_and_mistyped_latin_names() -> None:
    swapped = _pair({"given_name": "elizabeth", "family_name": "stephenson", "birth_date": "19121119"},
                    {"given_name": "stephenson", "family_name": "elizbeth", "birth_date": "19121119"})
    assert "name.swapped" in _codes(swapped) and swapped.verdict == "certain"


def test_identifiers() -> None:
    same = _pair({"id_number": "11010519491231002X"}, {"id_number": "110105 19491231 002x"})
    assert same.verdict == "certain" and describe(same.reasons[0]) == "同一证件号 110105********002X"
    credit = _pair({"company": "分扬科技", "credit_code": "91350100M000100Y43"},
                   {"company": "分扬科技", "credit_code": "91110000100017643K"})
    assert credit.verdict == "no" and "credit_code.differ" in _codes(credit)


def test_missing_fields_are_unknown_not_disagreement() -> None:
    result = _pair({"name": "欧阳娜娜"}, {"name": "欧阳娜娜", "phone": "13812345678", "company": "分扬科技"})
    assert [(r.code, r.args) for r in result.reasons] == [("name.same", ("欧阳娜娜",))]


def test_every_reason_code_has_both_languages() -> None:
    assert set(MESSAGES_ZH) == set(MESSAGES_EN)


def test_masking() -> None:
    assert mask_phone("+8613812345678") == "138****5678"
    assert mask_phone("+861065529988") == "010-****9988"
    assert mask_email("zhang.san@qq.com") == "z***@qq.com"
    assert mask_identifier("6988048") == "69***48"


# ---- blocking and clustering -------------------------------------------------------------------------


def _generated(count: int, seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    surnames, given = "王李张刘陈杨黄赵吴周", "伟芳娜敏静丽强磊洋艳勇军杰娟涛明超秀霞平刚"
    cities = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京"]
    rows = []
    for _ in range(count):
        rows.append({
            "name": rng.choice(surnames) + "".join(rng.choice(given) for _ in range(rng.choice((1, 2)))),
            "phone": "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9)),
            "city": rng.choice(cities),
            "company": rng.choice(["分扬科技", "远航物流", "华信贸易", ""]) + str(rng.randrange(500)),
        })  # fmt: skip
    return rows


def test_blocking_never_compares_all_pairs() -> None:
    rows = _generated(3000)
    rows.append({**rows[10], "phone": "+86 " + rows[10]["phone"]})  # one true duplicate
    records = [build_record(r) for r in rows]
    pairs = list(candidate_pairs(records))
    n = len(records)
    assert len(pairs) < n * (n - 1) / 2 / 100
    assert len(pairs) == len(set(pairs)) and all(i < j for i, j in pairs)
    assert (10, n - 1) in pairs


def test_oversized_blocks_are_compared_in_windows() -> None:
    records = [build_record({"name": "张伟", "city": "北京", "phone": f"139{n:08d}"}) for n in range(500)]
    pairs = list(candidate_pairs(records, max_block=50, window=5))
    assert 0 < len(pairs) <= 500 * 5


def test_dedupe_clusters_and_scores() -> None:
    rows = [
        {"name": "张先生", "phone": "+86 138-1234-5678", "company": "北京分扬科技有限公司"},
        {"name": "王芳", "phone": "13900001111", "city": "上海"},
        {"name": "张伟", "phone": "13812345678", "company": "分扬科技", "email": "zw@fenyang.com"},
        {"name": "Zhang Wei", "email": "ZW@fenyang.com"},
        {"name": "王芳", "phone": "13700002222", "city": "上海"},
    ]
    result = dedupe([build_record(r) for r in rows])
    assert result.clusters == [1, 2, 1, 1, 3]
    assert result.scores[1] is None and result.scores[4] is None
    assert result.scores[0] is not None and result.scores[0] >= CERTAIN
    assert result.members() == {1: [0, 2, 3]}
    strongest = result.pairs[0]
    assert strongest.score == max(p.score for p in result.pairs) and strongest.reasons
    review = [p for p in result.pairs if (p.left, p.right) == (1, 4)]
    assert review and review[0].verdict == "review"
    assert result.compared < len(list(itertools.combinations(rows, 2)))


def test_threshold_moves_the_cut() -> None:
    rows = [
        {"name": "张伟", "phone": "13812345678", "city": "北京"},
        {"name": "张伟", "phone": "13987654321", "city": "北京"},
    ]
    records = [build_record(r) for r in rows]
    assert dedupe(records).clusters == [1, 2]
    assert dedupe(records, threshold=REVIEW).clusters == [1, 1]
