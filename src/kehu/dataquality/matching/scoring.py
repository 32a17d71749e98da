"""Score a pair of records: Fellegi–Sunter weights per field, in bits, with fuzzy levels.

Each field that both records have adds an agreement weight `log2(m / u)` or a (negative)
disagreement weight, where `m` is how often a true duplicate agrees on the field and `u` how often
two different records do. For names, companies, cities, streets, postcodes and birth dates `u`
is the value's frequency in the data being matched (`MatchStats`), never below a prior for small
files: two records called 张伟 share a name a thousand people have, which says little; two called
欧阳娜娜 say a lot. A shared mobile, ID number or credit code is strong evidence on its own; a
number shared by many records (a switchboard, a placeholder 13800000000) counts less.

A field missing on either side adds nothing. The weights are summed; `CERTAIN` and `REVIEW` cut the
sum into the verdicts "certain", "review" and "no". With `explain=True` every weight comes with a
`Reason` (see reasons.py), strongest first.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rapidfuzz.distance import OSA, JaroWinkler
from rapidfuzz.fuzz import token_sort_ratio

from kehu.dataquality.matching.reasons import Reason, mask_email, mask_identifier, mask_phone, show_date
from kehu.dataquality.matching.records import MatchRecord
from kehu.dataquality.normalize.names import syllables_of

CERTAIN = 15.0  # bits: the same entity, safe to cluster and to merge after a glance
REVIEW = 8.0  # bits: worth a person's look
VERDICTS = ("certain", "review", "no")

M = 0.95  # how often a true duplicate agrees on a field it has on both sides
# Below this many records the observed frequencies say little: priors fill in (and a two-row file
# still behaves like part of a realistic archive).
MIN_POPULATION = 10_000

# Priors for `u`: the chance two unrelated people share the value.
HAN_GIVEN_PRIOR = (1 / 150, 1 / 2500)  # one-character given names (伟, 芳) repeat far more than two
LATIN_FAMILY_PRIOR = 1 / 3000
LATIN_GIVEN_PRIOR = 1 / 800
COMPOUND_SURNAME_PRIOR = 1 / 5000
COMPANY_PRIOR = 1 / 20_000
CITY_PRIOR = 1 / 30
POSTCODE_PRIOR = 1 / 2000
STREET_PRIOR = 1 / 5000
BIRTH_DATE_PRIOR = 1 / 20_000

# Caps and fixed weights (bits).
MOBILE_WEIGHT = 16.0
PHONE_WEIGHT = 10.0
PERSON_LANDLINE_WEIGHT = 6.0  # colleagues and households share a landline; people rarely share a mobile
EMAIL_WEIGHT = 14.0
ID_WEIGHT = 20.0
ID_SIMILAR_WEIGHT = 4.0
ID_DIFFER_WEIGHT = -10.0  # two valid resident IDs: two people
UNCHECKED_ID_DIFFER_WEIGHT = -4.0  # free-form numbers are mistyped and replaced more often
CREDIT_DIFFER_WEIGHT = -12.0
PHONES_DIFFER_WEIGHT = -3.0
LANDLINES_DIFFER_WEIGHT = -1.5
EMAILS_DIFFER_WEIGHT = -1.5
FAMILY_CAP, GIVEN_CAP = 12.0, 10.0
# A Chinese full name, however rare it looks in the file, is shared by many people in the country:
# with the city alone it stays below CERTAIN.
HAN_NAME_CAP = 12.5
FAMILY_DIFFER, GIVEN_DIFFER = -4.0, -3.0
# Chinese names are typed from the sound: a typo keeps the pinyin, so a different reading is a different name.
HAN_FAMILY_DIFFER, HAN_GIVEN_DIFFER = -5.0, -6.0
COMPANY_CAP = 14.0
COMPANY_DIFFER = -4.0
EMPLOYER_DIFFER = -1.0
CONTACT_WEIGHT, CONTACT_DIFFER = 3.0, -1.0  # people change jobs: two companies on a person's records say little
EMPLOYER_SHARE = 0.5  # a person's company is supporting evidence, a company record's name is its identity
CITY_CAP, CITY_DIFFER = 2.5, -3.0
DISTRICT_WEIGHT, DISTRICT_DIFFER = 1.0, -1.0
PROVINCE_WEIGHT, PROVINCE_DIFFER = 0.5, -1.5
STREET_CAP, STREET_DIFFER = 8.0, -2.0
NUMBERS_WEIGHT, NUMBERS_DIFFER = 2.0, -1.5
POSTCODE_CAP, POSTCODE_DIFFER = 6.0, -2.0
BIRTH_CAP, BIRTH_SIMILAR, BIRTH_DIFFER = 11.0, 3.0, -5.0
SURNAME_ONLY_CAP = 2.0  # a shared surname beside different given names
SURNAME_ONLY_WEIGHT = 3.0  # a shared surname where one side has no given name (张先生 / 张伟)
HOMOPHONE_SHARE = 0.5  # 殷秀芳 / 尹秀芳: a typo, or two people whose names sound alike
# Two wholly different names count at most this much against: a shared mobile with another name on
# it (a colleague took over the number, the name was typed in the wrong field) stays worth a look.
NAME_DIFFER_FLOOR = -8.0
PERSON_STREET_CAP = 5.0  # a household or an office shares an address; a company record's address is its own
COMMON_NAME_BITS = 12.0  # a full-name agreement worth less than this is reported as a common name


# Share of the population per surname (2020 census, rounded): the twenty most common by name, the
# next eighty by rank; any other single-character surname 1 in 2,000.
_TOP_SURNAMES = {
    "王": 0.071, "李": 0.070, "张": 0.066, "刘": 0.054, "陈": 0.046, "杨": 0.031, "黄": 0.020, "赵": 0.020,
    "吴": 0.019, "周": 0.019, "徐": 0.013, "孙": 0.012, "马": 0.012, "朱": 0.011, "胡": 0.011, "郭": 0.011,
    "何": 0.009, "林": 0.009, "高": 0.009, "罗": 0.008,
}  # fmt: skip
_NEXT_SURNAMES = (
    "郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江"
    "尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
OTHER_SURNAME_PRIOR = 1 / 2000


def _surname_priors() -> dict[str, float]:
    priors = dict(_TOP_SURNAMES)
    for rank, surname in enumerate(_NEXT_SURNAMES):
        priors.setdefault(surname, 0.008 - 0.006 * rank / len(_NEXT_SURNAMES))
    return priors


def _pinyin_surname_priors(priors: dict[str, float]) -> dict[str, float]:
    """Share of people whose surname is read "chen", "wang" ...: what "Chen Wei" says about a person."""
    shares: dict[str, float] = {}
    for surname, share in priors.items():
        reading = "".join(syllables_of(surname, is_person=True))
        shares[reading] = shares.get(reading, 0.0) + share
    return shares


_SURNAME_PRIOR = _surname_priors()
_PINYIN_SURNAME_PRIOR = _pinyin_surname_priors(_SURNAME_PRIOR)
# A pinyin given name stands for many written ones (wei: 伟 维 玮 薇 ...).
PINYIN_GIVEN_PRIOR = (1 / 60, 1 / 1500)  # one syllable (up to 4 letters), longer
_LOG2_M = math.log2(M)


@dataclass
class MatchStats:
    """Value frequencies of the data being matched (built once by `from_records`; the database
    side can fill the same counters from stored counts)."""

    population: int = 0
    family: Counter[str] = field(default_factory=Counter)
    given: Counter[str] = field(default_factory=Counter)
    full_name: Counter[str] = field(default_factory=Counter)
    company: Counter[str] = field(default_factory=Counter)
    city: Counter[str] = field(default_factory=Counter)
    street: Counter[str] = field(default_factory=Counter)
    postcode: Counter[str] = field(default_factory=Counter)
    birth_date: Counter[str] = field(default_factory=Counter)
    phone: Counter[str] = field(default_factory=Counter)
    email: Counter[str] = field(default_factory=Counter)

    @classmethod
    def from_records(cls, records: Iterable[MatchRecord]) -> MatchStats:
        stats = cls()
        stats.add(records)
        return stats

    def add(self, records: Iterable[MatchRecord]) -> None:
        families: list[str] = []
        givens: list[str] = []
        fulls: list[str] = []
        companies: list[str] = []
        cities: list[str] = []
        streets: list[str] = []
        postcodes: list[str] = []
        births: list[str] = []
        phones: list[str] = []
        emails: list[str] = []
        count = 0
        for r in records:
            count += 1
            if r.family:
                families.append(r.family)
            if r.given:
                givens.append(r.given)
                if r.family:
                    fulls.append(r.family + "|" + r.given)
            if r.company_core:
                companies.append(r.company_core)
            if r.city:
                cities.append(r.city)
            if r.street:
                streets.append(r.street)
            if r.postcode:
                postcodes.append(r.postcode)
            if r.birth_date:
                births.append(r.birth_date)
            phones.extend(r.phones)
            emails.extend(r.emails)
        self.population += count
        for counter, values in ((self.family, families), (self.given, givens), (self.full_name, fulls),
                                (self.company, companies), (self.city, cities), (self.street, streets),
                                (self.postcode, postcodes), (self.birth_date, births), (self.phone, phones),
                                (self.email, emails)):  # fmt: skip
            counter.update(values)

    def frequency(self, counter: Counter[str], value: str, prior: float) -> float:
        """`u` for a value two records share: its share among the records other than these two,
        never below `prior`."""
        others = counter.get(value, 2) - 2
        return max(prior, others / max(self.population, MIN_POPULATION))

    def bits(self, counter: Counter[str], value: str, prior: float, cap: float) -> float:
        return min(cap, _LOG2_M - math.log2(self.frequency(counter, value, prior)))

    def sharing(self, counter: Counter[str], value: str) -> int:
        return counter.get(value, 0)


@dataclass(frozen=True, slots=True)
class PairScore:
    score: float
    verdict: str  # "certain" | "review" | "no"
    reasons: tuple[Reason, ...] = ()


def verdict_of(score: float, *, certain: float = CERTAIN, review: float = REVIEW) -> str:
    return "certain" if score >= certain else "review" if score >= review else "no"


class _Tally:
    """Sums weights; keeps reasons only when asked to explain."""

    __slots__ = ("score", "reasons")

    def __init__(self, explain: bool) -> None:
        self.score = 0.0
        self.reasons: list[Reason] | None = [] if explain else None

    def add(self, weight: float, code: str, *args: str) -> None:
        self.score += weight
        if self.reasons is not None:
            self.reasons.append(Reason(code, args, round(weight, 1)))

    def masked(self, mask: Callable[[str], str], *values: str) -> tuple[str, ...]:
        """The masked forms of `values` for a reason's arguments, skipped when not explaining: the
        batch scan scores millions of pairs, most of them sharing a number, without reasons."""
        return tuple(mask(v) for v in values) if self.reasons is not None else ()


def compare(a: MatchRecord, b: MatchRecord, stats: MatchStats, *, explain: bool = True) -> PairScore:
    """Score two records; `explain=False` skips building the reasons (the batch hot path)."""
    tally = _Tally(explain)
    _identifiers(a, b, tally)
    _phones(a, b, stats, tally)
    _emails(a, b, stats, tally)
    _names(a, b, stats, tally)
    _companies(a, b, stats, tally)
    _contacts(a, b, tally)
    _addresses(a, b, stats, tally)
    _birth_dates(a, b, stats, tally)
    score = round(tally.score, 1)
    reasons: tuple[Reason, ...] = ()
    if tally.reasons:
        reasons = tuple(sorted(tally.reasons, key=lambda r: -r.weight if r.weight > 0 else 1000 + r.weight))
    return PairScore(score, verdict_of(score), reasons)


# ---- identifiers, phones, e-mails ----------------------------------------------------------------


def _identifiers(a: MatchRecord, b: MatchRecord, tally: _Tally) -> None:
    x, y = a.id_number, b.id_number
    if x and y:
        if x == y:
            tally.add(ID_WEIGHT, "id_number.same", *tally.masked(mask_identifier, x))
        elif OSA.distance(x, y, score_cutoff=1) <= 1:  # one typo: a wrong, missing or swapped character
            tally.add(ID_SIMILAR_WEIGHT, "id_number.similar", *tally.masked(mask_identifier, x, y))
        else:
            weight = ID_DIFFER_WEIGHT if a.id_checked and b.id_checked else UNCHECKED_ID_DIFFER_WEIGHT
            tally.add(weight, "id_number.differ", *tally.masked(mask_identifier, x, y))
    if a.credit_code and b.credit_code:
        if a.credit_code == b.credit_code:
            tally.add(ID_WEIGHT, "credit_code.same", a.credit_code)
        else:
            tally.add(CREDIT_DIFFER_WEIGHT, "credit_code.differ", a.credit_code, b.credit_code)


def _frequency_penalty(shared_by: int) -> float:
    """Bits taken off a shared number or address held by more records than a duplicate pair or
    triple would explain."""
    return math.log2(shared_by / 3) if shared_by > 3 else 0.0


def _phones(a: MatchRecord, b: MatchRecord, stats: MatchStats, tally: _Tally) -> None:
    if not (a.phones and b.phones):
        return
    best_weight, best = -1.0, ""
    landline = PERSON_LANDLINE_WEIGHT if a.has_person and b.has_person else PHONE_WEIGHT
    for number in a.phones:
        if number in b.phones:
            weight = MOBILE_WEIGHT if number in a.mobiles else landline
            weight -= _frequency_penalty(stats.sharing(stats.phone, number))
            if weight > best_weight:
                best_weight, best = weight, number
    if best:
        shared_by = stats.sharing(stats.phone, best)
        if shared_by > 3:
            if a.has_person and b.has_person and best not in a.mobiles:
                best_weight /= 2  # an office or family line several people give: where they are, not who
            tally.add(max(best_weight, 1.0), "phone.shared", *tally.masked(mask_phone, best), str(shared_by))
        else:
            code = "phone.same_mobile" if best in a.mobiles else "phone.same_phone"
            tally.add(best_weight, code, *tally.masked(mask_phone, best))
        if best not in a.mobiles and a.mobiles and b.mobiles:  # the best shared number is no mobile: none is
            tally.add(PHONES_DIFFER_WEIGHT, "phone.mobile_differ")  # one office or home line, two mobiles
    elif a.mobiles and b.mobiles:
        tally.add(PHONES_DIFFER_WEIGHT, "phone.differ")
    else:
        tally.add(LANDLINES_DIFFER_WEIGHT, "phone.differ")


def _emails(a: MatchRecord, b: MatchRecord, stats: MatchStats, tally: _Tally) -> None:
    if not (a.emails and b.emails):
        return
    for address in a.emails:
        if address in b.emails:
            weight = EMAIL_WEIGHT - _frequency_penalty(stats.sharing(stats.email, address))
            tally.add(max(weight, 1.0), "email.same", *tally.masked(mask_email, address))
            return
    tally.add(EMAILS_DIFFER_WEIGHT, "email.differ")


# ---- names ---------------------------------------------------------------------------------------


def _family_bits(r: MatchRecord, stats: MatchStats) -> float:
    if r.name_han:
        prior = _SURNAME_PRIOR.get(r.family, COMPOUND_SURNAME_PRIOR if len(r.family) == 2 else OTHER_SURNAME_PRIOR)
    elif _in_pinyin(r):  # "Li Qiang" or "Qiang Li": either word may be the surname, as common as 李
        prior = max(_PINYIN_SURNAME_PRIOR.get(r.family, 0.0), _pinyin_given_prior(r.family))
    else:
        prior = LATIN_FAMILY_PRIOR
    return stats.bits(stats.family, r.family, prior, FAMILY_CAP)


def _given_bits(r: MatchRecord, stats: MatchStats) -> float:
    if r.name_han:
        prior = HAN_GIVEN_PRIOR[0] if len(r.given) == 1 else HAN_GIVEN_PRIOR[1]
    elif _in_pinyin(r):
        prior = max(_PINYIN_SURNAME_PRIOR.get(r.given, 0.0), _pinyin_given_prior(r.given))
    else:
        prior = LATIN_GIVEN_PRIOR
    return stats.bits(stats.given, r.given, prior, GIVEN_CAP)


def _in_pinyin(r: MatchRecord) -> bool:
    """A Latin name one of whose words is a Chinese surname's reading: a Chinese name in pinyin."""
    return r.family in _PINYIN_SURNAME_PRIOR or r.given in _PINYIN_SURNAME_PRIOR


def _pinyin_given_prior(word: str) -> float:
    return PINYIN_GIVEN_PRIOR[0] if len(word) <= 4 else PINYIN_GIVEN_PRIOR[1]


def _full_name_bits(r: MatchRecord, stats: MatchStats) -> float:
    parts = _family_bits(r, stats) + _given_bits(r, stats)
    if r.name_han or _in_pinyin(r):
        parts = min(parts, HAN_NAME_CAP)
    # the whole name's own frequency bounds the sum of its parts (张 and 伟 are each common; 张伟 too)
    seen = stats.frequency(stats.full_name, r.family + "|" + r.given, 0.0)
    return min(parts, _LOG2_M - math.log2(seen)) if seen > 0 else parts


def _prior_bits(prior: float, cap: float) -> float:
    return min(cap, _LOG2_M - math.log2(prior))


def _similar(x: str, y: str) -> float:
    """Jaro–Winkler similarity of two name parts in Latin letters (0..1)."""
    return JaroWinkler.normalized_similarity(x, y)


def _part(x: str, y: str, x_latin: str, y_latin: str, han: bool, agree: float, differ: float,
          homophone: float) -> tuple[float, str]:
    """(weight, level) for one name part: exact, same pinyin, similar spelling, or different.
    `homophone` is what a same-sounding part is worth: 玉英 shares its reading with many names."""
    if x == y:
        return agree, "same"
    if x_latin and x_latin == y_latin:
        return min(agree, homophone) * HOMOPHONE_SHARE, "pinyin"
    if not han:
        sim = _similar(x, y)
        if sim >= 0.95:
            return agree * 0.6, "similar"
        if sim >= 0.9:
            return agree * 0.4, "similar"
        if sim >= 0.85:
            return agree * 0.15, "similar"
    return differ, "differ"


def _names(a: MatchRecord, b: MatchRecord, stats: MatchStats, tally: _Tally) -> None:
    if not (a.has_person and b.has_person):
        return
    shown = (_display(a), _display(b)) if tally.reasons is not None else ("", "")
    both_han = a.name_han and b.name_han
    if a.name_han != b.name_han:
        _cross_script(a, b, stats, tally, shown)
        return
    if not (a.family and a.given and b.family and b.given):
        # one side has only a surname (张先生, 王总) or only one Latin word
        if a.family and a.family == b.family:
            tally.add(_surname_only(a, stats), "name.surname_only", *shown)
        elif a.given and a.given == b.given:
            tally.add(min(_given_bits(a, stats) * 0.5, SURNAME_ONLY_WEIGHT), "name.surname_only", *shown)
        elif a.family and b.family and not (a.given and b.given):
            single_a = a.family if not a.given else ""
            single_b = b.family if not b.given else ""
            if (single_a and single_a in (b.family, b.given)) or (single_b and single_b in (a.family, a.given)):
                tally.add(_surname_only(a if single_a else b, stats), "name.surname_only", *shown)
            else:
                tally.add(FAMILY_DIFFER, "name.differ", *shown)
        return
    if a.family == b.family and a.given == b.given:
        weight = _full_name_bits(a, stats)
        tally.add(weight, "name.same" if weight >= COMMON_NAME_BITS else "name.same_common", a.name or shown[0])
        return
    if a.family == b.given and a.given == b.family:
        tally.add(_full_name_bits(a, stats) * 0.8, "name.swapped", *shown)
        return
    family_bits, given_bits = _family_bits(a, stats), _given_bits(a, stats)
    family_differ, given_differ = (HAN_FAMILY_DIFFER, HAN_GIVEN_DIFFER) if both_han else (FAMILY_DIFFER, GIVEN_DIFFER)
    family_sound = _prior_bits(_PINYIN_SURNAME_PRIOR.get(a.family_latin, OTHER_SURNAME_PRIOR), FAMILY_CAP)
    given_sound = _prior_bits(PINYIN_GIVEN_PRIOR[0] if len(a.given) == 1 else PINYIN_GIVEN_PRIOR[1], GIVEN_CAP)
    family_weight, family_level = _part(a.family, b.family, a.family_latin, b.family_latin, both_han,
                                        family_bits, family_differ, family_sound)
    given_weight, given_level = _part(a.given, b.given, a.given_latin, b.given_latin, both_han,
                                      given_bits, given_differ, given_sound)
    if given_level == "differ" and family_weight > SURNAME_ONLY_CAP:
        family_weight = SURNAME_ONLY_CAP  # one surname, two given names: a family, not one person
    weight = family_weight + given_weight
    levels = {family_level, given_level}
    if "differ" in levels:
        # given and family swapped, and one of them mistyped ("Stephenson Elizbeth")
        swap_family, swap_family_level = _part(a.family, b.given, a.family_latin, b.given_latin, both_han,
                                               family_bits, FAMILY_DIFFER, family_sound)
        swap_given, swap_given_level = _part(a.given, b.family, a.given_latin, b.family_latin, both_han,
                                             given_bits, GIVEN_DIFFER, given_sound)
        if "differ" not in (swap_family_level, swap_given_level) and (swap_family + swap_given) * 0.8 > weight:
            tally.add((swap_family + swap_given) * 0.8, "name.swapped", *shown)
            return
    if levels <= {"same", "pinyin"}:
        code = "name.same_pinyin"
    elif "differ" not in levels:
        code = "name.similar"
    elif family_level != "differ" and given_level == "differ":
        code = "name.given_differ"
    elif family_level == "differ" and given_level != "differ":
        code = "name.similar" if given_level == "same" and not both_han else "name.differ"
    else:
        code = "name.differ"
    tally.add(max(weight, NAME_DIFFER_FLOOR), code, *shown)


def _cross_script(a: MatchRecord, b: MatchRecord, stats: MatchStats, tally: _Tally, shown: tuple[str, str]) -> None:
    """张伟 vs "Zhang Wei" / "Wei Zhang": equal when the Latin name is the Chinese one's pinyin."""
    han, latin = (a, b) if a.name_han else (b, a)
    forward, backward = han.family_latin + han.given_latin, han.given_latin + han.family_latin
    written = latin.given_latin + latin.family_latin
    swapped = latin.family_latin + latin.given_latin
    if han.family_latin and (written in (forward, backward) or swapped in (forward, backward)):
        # a name in pinyin stands for every name that sounds like it: the Latin side's (pinyin) frequency counts
        weight = min(_full_name_bits(han, stats), _full_name_bits(latin, stats)) * 0.8
        tally.add(weight, "name.latin_pinyin", *shown)
    elif han.family_latin and han.family_latin in (latin.family_latin, latin.given_latin) and not han.given_latin:
        tally.add(_surname_only(han, stats), "name.surname_only", *shown)
    elif han.family_latin and han.given_latin and latin.given_latin and latin.family_latin:
        tally.add(FAMILY_DIFFER + GIVEN_DIFFER, "name.differ", *shown)
    elif han.family_latin and written:
        tally.add(FAMILY_DIFFER, "name.differ", *shown)


def _surname_only(r: MatchRecord, stats: MatchStats) -> float:
    """张先生 and 张伟: a household or office shares a surname too, so it is capped low."""
    return min(_family_bits(r, stats) * 0.5, SURNAME_ONLY_WEIGHT)


def _display(r: MatchRecord) -> str:
    return r.name + r.salutation if r.name_han else (f"{r.salutation} {r.name}".strip() if r.name else r.name)


# ---- companies -----------------------------------------------------------------------------------


def _companies(a: MatchRecord, b: MatchRecord, stats: MatchStats, tally: _Tally) -> None:
    if not (a.company_core and b.company_core):
        return
    share = EMPLOYER_SHARE if (a.has_person or b.has_person) else 1.0
    if a.company_core != b.company_core and a.company_core_latin != b.company_core_latin \
            and a.company_brand != b.company_brand and a.company_brand_latin != b.company_brand_latin \
            and JaroWinkler.normalized_similarity(a.company_core, b.company_core) < 0.9:
        # Different companies (most candidate pairs that met on a phone or a name): the branches
        # below would all fail; their evidence weight need not be computed.
        tally.add(COMPANY_DIFFER if share == 1.0 else EMPLOYER_DIFFER, "company.differ", a.company, b.company)
        return
    bits = stats.bits(stats.company, a.company_core, COMPANY_PRIOR, COMPANY_CAP) * share
    if a.company == b.company:
        tally.add(bits, "company.same", a.company)
    elif a.company_core == b.company_core:
        forms = "、".join(dict.fromkeys(f for f in (a.company_legal, b.company_legal) if f))
        regions = "、".join(dict.fromkeys(r for r in (a.company_region, b.company_region) if r))
        if forms and regions:
            tally.add(bits, "company.core_without_form_region", a.company_core, forms, regions)
        elif regions:
            tally.add(bits, "company.core_without_region", a.company_core, regions)
        else:
            tally.add(bits, "company.core_without_form", a.company_core, forms or "—")
    elif len(a.company_core_latin) >= 4 and a.company_core_latin == b.company_core_latin:
        tally.add(bits * 0.85, "company.brand_pinyin", a.company, b.company)
    elif a.company_brand and a.company_brand == b.company_brand and len(a.company_brand) >= 2:
        tally.add(bits * 0.75, "company.same_brand", a.company, b.company)
    elif len(a.company_brand_latin) >= 4 and a.company_brand_latin == b.company_brand_latin:
        tally.add(bits * 0.7, "company.brand_pinyin", a.company, b.company)
    elif JaroWinkler.normalized_similarity(a.company_core, b.company_core) >= 0.9:
        tally.add(bits * 0.4, "company.similar", a.company, b.company)
    else:
        tally.add(COMPANY_DIFFER if share == 1.0 else EMPLOYER_DIFFER, "company.differ", a.company, b.company)
        return
    if share == 1.0 and a.company_region and b.company_region and a.company_region != b.company_region:
        tally.add(-2.0, "company.region_differ", a.company_region, b.company_region)


def _contacts(a: MatchRecord, b: MatchRecord, tally: _Tally) -> None:
    """Two company records' contact persons: a company has many, so only weak evidence either way."""
    if not (a.contact_key and b.contact_key):
        return
    if a.contact_key == b.contact_key and a.contact_key != a.contact_family:
        tally.add(CONTACT_WEIGHT, "contact.same", a.contact)
    elif a.contact_family == b.contact_family and a.contact_family in (a.contact_key, b.contact_key):
        tally.add(CONTACT_WEIGHT / 3, "contact.surname", a.contact, b.contact)  # 张先生 and 张伟
    elif a.contact_key != b.contact_key:
        tally.add(CONTACT_DIFFER, "contact.differ", a.contact, b.contact)


# ---- addresses and dates -------------------------------------------------------------------------


def _addresses(a: MatchRecord, b: MatchRecord, stats: MatchStats, tally: _Tally) -> None:
    if a.city and b.city:
        if a.city == b.city:
            tally.add(stats.bits(stats.city, a.city, CITY_PRIOR, CITY_CAP), "city.same", a.city)
            if a.district and b.district:
                if a.district == b.district:
                    tally.add(DISTRICT_WEIGHT, "city.same", a.district)
                else:
                    tally.add(DISTRICT_DIFFER, "city.differ", a.district, b.district)
        elif JaroWinkler.normalized_similarity(a.city, b.city) >= 0.92:
            tally.add(1.0, "city.similar", a.city, b.city)
        else:
            tally.add(CITY_DIFFER, "city.differ", a.city, b.city)
    elif a.province and b.province:
        if a.province == b.province:
            tally.add(PROVINCE_WEIGHT, "city.same", a.province)
        else:
            tally.add(PROVINCE_DIFFER, "city.differ", a.province, b.province)
    if a.street and b.street:
        if a.street == b.street:
            cap = PERSON_STREET_CAP if a.has_person and b.has_person else STREET_CAP
            tally.add(stats.bits(stats.street, a.street, STREET_PRIOR, cap), "address.same", a.street)
        else:
            similarity = token_sort_ratio(a.street, b.street, score_cutoff=60) / 100
            if similarity >= 0.9:
                tally.add(STREET_CAP * 0.6, "address.similar", a.street, b.street)
            elif similarity >= 0.8:
                tally.add(STREET_CAP * 0.3, "address.similar", a.street, b.street)
            elif similarity < 0.6:
                tally.add(STREET_DIFFER, "address.differ", a.street, b.street)
            if a.street_numbers and b.street_numbers:
                x, y = a.street_numbers.split(), b.street_numbers.split()
                if x == y:
                    tally.add(NUMBERS_WEIGHT, "address.similar", a.street_numbers, b.street_numbers)
                elif not (set(x) <= set(y) or set(y) <= set(x)):
                    tally.add(NUMBERS_DIFFER, "address.differ", a.street_numbers, b.street_numbers)
    if a.postcode and b.postcode:
        if a.postcode == b.postcode:
            tally.add(stats.bits(stats.postcode, a.postcode, POSTCODE_PRIOR, POSTCODE_CAP), "postcode.same",
                      a.postcode)
        elif len(a.postcode) == len(b.postcode) and _hamming(a.postcode, b.postcode) == 1:
            tally.add(1.0, "postcode.differ", a.postcode, b.postcode)
        else:
            tally.add(POSTCODE_DIFFER, "postcode.differ", a.postcode, b.postcode)


def _hamming(x: str, y: str) -> int:
    return sum(1 for p, q in zip(x, y, strict=True) if p != q)


def _birth_dates(a: MatchRecord, b: MatchRecord, stats: MatchStats, tally: _Tally) -> None:
    x, y = a.birth_date, b.birth_date
    if not (x and y):
        return
    if x == y:
        tally.add(stats.bits(stats.birth_date, x, BIRTH_DATE_PRIOR, BIRTH_CAP), "birth_date.same", show_date(x))
        return
    if len(x) == len(y) == 8 and x[:4] == y[:4] and x[4:6] == y[6:] and x[6:] == y[4:6]:
        # 2/12/1989 read as 12 February in one file and 2 December in the other
        weight = stats.bits(stats.birth_date, x, BIRTH_DATE_PRIOR, BIRTH_CAP) * 0.7
        tally.add(weight, "birth_date.similar", show_date(x), show_date(y))
        return
    close = len(x) == len(y) == 8 and (_hamming(x, y) == 1 or x[:6] == y[:6])
    if close:
        tally.add(BIRTH_SIMILAR, "birth_date.similar", show_date(x), show_date(y))
    else:
        tally.add(BIRTH_DIFFER, "birth_date.differ", show_date(x), show_date(y))

