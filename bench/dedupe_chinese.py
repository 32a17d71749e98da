"""A labelled Chinese test set for duplicate matching, and pairwise scoring of a matcher's output.

`generate(entities, seed)` makes customer records the way Chinese CRM archives hold them: persons
(姓名) and companies (客户名称), each true entity written 1-4 times by different hands. Duplicates
differ the way real ones do: phone formats (+86, 0086, spaces, dashes, full-width digits, the mobile
in the landline column, a landline with its area code), e-mail case and mistyped domains (qq.con),
city aliases (京/北京/北京市/BJ, 沪), company suffix and region variants (北京分扬科技有限公司 /
分扬科技 / 分扬科技（北京）有限公司 / 北京分扬科技股份有限公司), English and pinyin spellings
(Beijing FenYang Technology Co., Ltd. / fenyang keji), honorifics (张先生 / 张总 / 张伟女士),
pinyin names with the family name first or last (Zhang Wei / Wei Zhang), full-width characters,
one-character typos (homophones) and missing fields.

Hard negatives are a visible share of the entities (about a fifth): different people with one common
name (张伟, 王芳 ...) in one city, different companies sharing a brand in one city (分扬科技 vs
分扬物流), and households (two people, one address and landline).

Fairness: every duplicate keeps evidence a careful person could match on (its "anchor"): one strong
identifier written in any format (mobile, e-mail, landline, ID number, credit code) or, for a few,
the full name with the birthday and city (persons) or the company name with the address. Typos and
missing fields never touch the anchor, so a perfect matcher can reach F1 = 1.

Records are dicts keyed by `HEADERS` (编号 is the record id, 实体 the true entity: the label, which a
matcher must not read) plus two keys starting with "_" that `write_csv` leaves out: `_variants`
(the variant kinds applied to that record) and `_hard_negative` (the kind of hard-negative group its
entity belongs to, or ""). The same seed gives the same records on any machine and day.

    python bench/dedupe_chinese.py --entities 2000 --out zh.csv
    kehu dedupe zh.csv --out zh-out.csv
    python bench/dedupe_chinese.py --entities 2000 --evaluate zh-out.csv
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from math import comb
from pathlib import Path
from typing import Any

if __name__ == "__main__" and not __package__:
    # Run as a script: import `bench.*` from the repository root, not this folder (whose module
    # names, like `normalize` and `list`, would shadow others).
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# bench.normalize imports bench.common, which loads Django models: configure Django first when
# nobody has (a script run; pytest and `kehu` have already done it).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.config.settings")
import django  # noqa: E402

django.setup()

from faker import Faker  # noqa: E402
from faker.providers.ssn.zh_CN import Provider as SsnProvider  # noqa: E402

from bench.normalize import (  # noqa: E402
    BRAND_CHARS,
    BUILDINGS,
    CITIES,
    INDUSTRIES,
    LANDLINE_AREAS,
    PROVIDERS,
    STREETS,
    TYPOS,
    _companies,
)
from kehu.dataquality.normalize.identifiers import credit_code_check_char, resident_id_check_char  # noqa: E402
from kehu.dataquality.normalize.names import syllables_of  # noqa: E402

RECORD_ID, ENTITY = "编号", "实体"
NAME, COMPANY = "姓名", "客户名称"
MOBILE, PHONE, EMAIL, ADDRESS, CITY, PROVINCE = "手机", "电话", "邮箱", "地址", "城市", "省份"
BIRTHDAY, ID_NUMBER, CREDIT_CODE = "生日", "身份证号", "统一社会信用代码"
HEADERS = [RECORD_ID, ENTITY, NAME, COMPANY, MOBILE, PHONE, EMAIL, ADDRESS, CITY, PROVINCE, BIRTHDAY, ID_NUMBER,
           CREDIT_CODE]
CLUSTER_COLUMN = "cluster_id"

VARIANT_KINDS = (
    "phone_format", "landline", "phone_column", "email_case", "email_typo", "city_alias", "province_format",
    "company_suffix", "company_region", "company_english", "company_pinyin", "honorific", "pinyin_name",
    "pinyin_swapped", "fullwidth", "typo", "missing", "address_format", "date_format", "id_format", "spacing",
)  # fmt: skip
HARD_NEGATIVE_KINDS = ("same_name_city", "company_core", "household")

HARD_NEGATIVE_SHARE = 0.2
RECORDS_PER_ENTITY = ((1, 0.42), (2, 0.30), (3, 0.17), (4, 0.11))
PERSON_SHARE = 0.6

# The names a Chinese archive holds most often (gender for the honorific).
COMMON_NAMES = (
    ("张", "伟", "M"), ("王", "伟", "M"), ("王", "芳", "F"), ("李", "伟", "M"), ("李", "娜", "F"), ("张", "敏", "F"),
    ("李", "静", "F"), ("王", "静", "F"), ("刘", "伟", "M"), ("王", "秀英", "F"), ("张", "丽", "F"),
    ("李", "秀英", "F"), ("王", "丽", "F"), ("张", "静", "F"), ("张", "秀英", "F"), ("李", "强", "M"),
    ("王", "敏", "F"), ("李", "敏", "F"), ("王", "磊", "M"), ("刘", "洋", "M"), ("王", "艳", "F"), ("王", "勇", "M"),
    ("李", "军", "M"), ("张", "勇", "M"), ("李", "杰", "M"), ("张", "杰", "M"), ("张", "磊", "M"), ("王", "强", "M"),
    ("李", "娟", "F"), ("王", "军", "M"), ("张", "艳", "F"), ("张", "涛", "M"), ("王", "涛", "M"), ("李", "艳", "F"),
    ("陈", "静", "F"), ("刘", "芳", "F"), ("杨", "帆", "M"), ("陈", "伟", "M"), ("刘", "杰", "M"), ("杨", "洋", "M"),
)  # fmt: skip

INDUSTRY_ENGLISH = {
    "科技": "Technology", "信息技术": "Information Technology", "贸易": "Trading", "电子": "Electronics",
    "机械": "Machinery", "网络科技": "Network Technology", "医药": "Pharmaceutical", "食品": "Food",
    "建筑工程": "Construction Engineering", "文化传媒": "Culture Media", "物流": "Logistics", "咨询": "Consulting",
    "环保科技": "Environmental Technology", "新能源": "New Energy", "教育科技": "Education Technology",
    "软件": "Software", "电气": "Electric", "汽车服务": "Automotive Services", "生物科技": "Biotechnology",
    "实业": "Industrial",
}  # fmt: skip
FORM_ENGLISH = {"有限公司": "Co., Ltd.", "有限责任公司": "Co., Ltd.", "股份有限公司": "Co., Ltd.",
                "集团有限公司": "Group Co., Ltd."}
LEGAL_FORMS = ("有限公司", "有限责任公司", "股份有限公司")

# City -> (landline area code, landline digits, first four digits of its administrative code).
_AREA_BY_CITY = {
    "北京市": 0, "上海市": 1, "深圳市": 2, "广州市": 3, "杭州市": 4, "南京市": 5, "苏州市": 6, "成都市": 7,
    "武汉市": 8, "西安市": 9, "天津市": 10, "重庆市": 11, "青岛市": 12, "厦门市": 13,
}  # fmt: skip
_ADCODES = {
    "北京市": "1101", "上海市": "3101", "深圳市": "4403", "广州市": "4401", "杭州市": "3301", "南京市": "3201",
    "苏州市": "3205", "成都市": "5101", "武汉市": "4201", "西安市": "6101", "天津市": "1201", "重庆市": "5001",
    "青岛市": "3702", "厦门市": "3502", "长沙市": "4301", "郑州市": "4101", "合肥市": "3401", "大连市": "2102",
}  # fmt: skip
_EXTRA_AREAS = {"长沙市": ("0731", 8), "郑州市": ("0371", 8), "合肥市": ("0551", 8), "大连市": ("0411", 8)}
_PROVINCE_LATIN = {"广东省": "Guangdong", "浙江省": "Zhejiang", "江苏省": "Jiangsu", "四川省": "Sichuan",
                   "湖北省": "Hubei", "陕西省": "Shaanxi", "山东省": "Shandong", "福建省": "Fujian",
                   "湖南省": "Hunan", "河南省": "Henan", "安徽省": "Anhui", "辽宁省": "Liaoning"}
COMPANY_MAILBOXES = ("info", "sales", "service", "contact", "hr", "admin", "market", "office", "kefu", "caiwu")
HONORIFICS_BY_GENDER = {"M": ("先生",), "F": ("女士", "小姐")}
TITLES = ("总", "经理", "老师", "主任", "老板")  # after a surname: 张总
FULL_NAME_TITLES = ("经理", "老师", "主任", "总经理")  # after a full name: 张伟经理 (张伟总 is rare)
_HALF_TO_FULL = {cp: cp + 0xFEE0 for cp in range(0x21, 0x7F)}
_HALF_TO_FULL[0x20] = 0x3000
# Characters whose homophones make the typos (a wrong pick in an input method): the names, brands and
# streets generated here plus common name characters.
_TYPO_POOL = ("伟玮炜韦维薇卫芳方芬娜纳那洋阳扬杨敏民闽静晶婧敬丽莉俐立秀绣英颖莹强蔷军君钧均磊蕾雷艳燕彦勇涌永"
              "杰洁捷娟鹃涛韬桃帆凡繁明铭鸣华桦骅平萍苹辉晖徽鹏朋飞菲非宇雨羽浩昊皓凯恺俊峻骏波博斌彬超潮")


# Pools built once ------------------------------------------------------------------------------

def _homophones() -> dict[str, list[str]]:
    """Character -> other characters read the same (sorted: iteration order must not depend on hashing)."""
    pool = sorted(set(_TYPO_POOL + BRAND_CHARS + "".join(STREETS) + "".join(INDUSTRIES)))
    by_reading: dict[str, list[str]] = defaultdict(list)
    for ch in pool:
        reading = syllables_of(ch)
        if reading:
            by_reading[reading[0]].append(ch)
    return {ch: [o for o in group if o != ch] for group in by_reading.values() for ch in group if len(group) > 1}


HOMOPHONES = _homophones()
CITY_BY_NAME = {entry[1]: entry for entry in CITIES}


def _latin(text: str, *, is_person: bool = False) -> str:
    return "".join(syllables_of(text, is_person=is_person))


def city_aliases(city: str) -> list[str]:
    """Other ways people write `city` in a 城市 column (北京市 -> 北京, 京, BJ, Beijing ...)."""
    short = city.removesuffix("市")
    latin = _latin(short).capitalize()
    out = [short, latin, *CITY_BY_NAME[city][3]]
    return list(dict.fromkeys(a for a in out if a != city))


def to_fullwidth(text: str) -> str:
    """ASCII letters, digits, punctuation and spaces as their full-width forms (what a Chinese IME in
    full-width mode types)."""
    return text.translate(_HALF_TO_FULL)


# Entities ---------------------------------------------------------------------------------------

@dataclass
class _Entity:
    entity_id: str
    city: str
    province: str
    district: str
    address: str                   # canonical, province first
    landline: tuple[str, str] | None
    mobile: str
    email: str
    hard_negative: str = ""
    shared: set[str] = field(default_factory=set)  # fields another entity has too: never an anchor


@dataclass
class _Person(_Entity):
    surname: str = ""
    given: str = ""
    gender: str = "M"
    birthday: dt.date | None = None
    id_number: str = ""


@dataclass
class _Company(_Entity):
    region: str = ""
    brand: str = ""
    industry: str = ""
    form: str = ""
    credit_code: str = ""
    domain: str = ""


class _Factory:
    """Unique identifiers and entity values from one seeded `random.Random` and one seeded Faker."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.used: set[str] = set()
        self.companies = 0
        self.company_keys: set[tuple[str, str, str]] = set()

    def unique(self, make: Callable[[], str]) -> str:
        """A value from `make` (which draws at random) that no entity has yet."""
        for _ in range(10_000):
            value = make()
            if value not in self.used:
                self.used.add(value)
                return value
        raise RuntimeError(f"no unique value after 10,000 draws (last: {value})")

    def city(self) -> tuple[str, str, tuple[str, ...]]:
        province, city, districts, _aliases = CITIES[min(int(self.rng.paretovariate(0.9)) - 1, len(CITIES) - 1)]
        return province, city, districts

    def mobile(self) -> str:
        rng = self.rng
        return self.unique(lambda: f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}")

    def landline(self, city: str) -> tuple[str, str]:
        area, size = (LANDLINE_AREAS[_AREA_BY_CITY[city]] if city in _AREA_BY_CITY else _EXTRA_AREAS[city])
        number = self.unique(lambda: f"{area}-{self.rng.randrange(2 * 10 ** (size - 1), 9 * 10 ** (size - 1))}")
        return area, number.split("-", 1)[1]

    def address(self, province: str, city: str, district: str) -> str:
        rng = self.rng

        def make() -> str:
            street = f"{rng.choice(STREETS)}{rng.randrange(1, 999)}号{rng.choice(BUILDINGS)}"
            if rng.random() < 0.35:
                street += f"{rng.randrange(1, 30)}层{rng.randrange(1, 30):02d}室"
            return f"{'' if province == city else province}{city}{district}{street}"

        return self.unique(make)

    def birthday(self) -> dt.date:
        # A fixed epoch, not today: the same seed gives the same people on any day.
        return dt.date(1955, 1, 1) + dt.timedelta(days=self.rng.randrange(0, 50 * 365))

    def id_number(self, city: str, birthday: dt.date, gender: str) -> str:
        rng = self.rng
        # Most were born in the city they live in; the others anywhere (Faker's list of region codes).
        if rng.random() < 0.6:
            region = f"{_ADCODES[city]}{rng.randrange(1, 12):02d}"
        else:
            region = self.fake.random_element(SsnProvider.area_codes)

        def make() -> str:
            # The 17th digit is odd for men, even for women.
            sequence = rng.randrange(0, 100) * 10 + int(rng.choice("13579" if gender == "M" else "02468"))
            first17 = f"{region}{birthday:%Y%m%d}{sequence:03d}"
            return first17 + resident_id_check_char(first17)

        return self.unique(make)

    def credit_code(self, city: str) -> str:
        rng = self.rng

        def make() -> str:
            organisation = "".join(rng.choice("0123456789") for _ in range(8)) + rng.choice("0123456789X")
            organisation = organisation.replace("X", rng.choice("ABCDEFGHJKLMNPQRTUWXY"))
            first17 = f"91{_ADCODES[city]}{rng.randrange(1, 12):02d}{organisation}"
            return first17 + credit_code_check_char(first17)

        return self.unique(make)

    def person_email(self, surname: str, given: str, birthday: dt.date | None) -> str:
        rng = self.rng
        full = _latin(surname, is_person=True) + _latin(given)
        initials = "".join(s[0] for s in syllables_of(surname, is_person=True) + syllables_of(given))

        def make() -> str:
            r = rng.random()
            if r < 0.3:
                return f"{rng.randrange(10**5, 10**10)}@qq.com"
            year = f"{birthday:%Y}" if birthday and rng.random() < 0.4 else str(rng.randrange(1, 9999))
            local = full if r < 0.75 else initials
            if rng.random() < 0.2:
                local = f"{_latin(given)}.{_latin(surname, is_person=True)}"
            return f"{local}{year}@{rng.choice(PROVIDERS)}"

        return self.unique(make)

    def person(self, entity_id: str, *, name: tuple[str, str, str] | None = None, surname: str = "",
               city: tuple[str, str, tuple[str, ...]] | None = None, hard_negative: str = "") -> _Person:
        """A new person; `name` is (surname, given, gender), `surname` fixes the surname only."""
        rng, fake = self.rng, self.fake
        if name is None:
            gender = "M" if rng.random() < 0.5 else "F"
            first = fake.first_name_male if gender == "M" else fake.first_name_female
            surname = surname or fake.last_name()
            given = first()
            # Most Chinese given names have two characters: Faker's lists hold mostly single ones.
            if len(given) == 1 and rng.random() < 0.65:
                given += next(c for c in iter(first, None) if len(c) == 1)
        else:
            surname, given, gender = name
        province, city_name, districts = city or self.city()
        district = rng.choice(districts)
        has_id = rng.random() < 0.35
        birthday = self.birthday() if has_id or rng.random() < 0.45 else None
        person = _Person(
            entity_id=entity_id, city=city_name, province=province, district=district,
            address=self.address(province, city_name, district) if rng.random() < 0.85 else "",
            landline=self.landline(city_name) if rng.random() < 0.3 else None, mobile=self.mobile(),
            email="", hard_negative=hard_negative, surname=surname, given=given, gender=gender, birthday=birthday,
        )
        if has_id and birthday:
            person.id_number = self.id_number(city_name, birthday, gender)
        if rng.random() < 0.7:
            person.email = self.person_email(surname, given, birthday)
        return person

    def company(self, entity_id: str, *, like: _Company | None = None, hard_negative: str = "") -> _Company:
        """A new company; with `like`, another company of the same brand and region in another industry."""
        rng = self.rng
        while True:
            if like is None:
                region, brand, industry, form = _companies(rng, 1)[0]
            else:
                region, brand, form = like.region, like.brand, rng.choice(LEGAL_FORMS)
                industry = rng.choice([i for i in INDUSTRIES if i != like.industry])
            # Two different companies with one name would be indistinguishable: draw again.
            if (region, brand, industry) not in self.company_keys:
                self.company_keys.add((region, brand, industry))
                break
        city_name = f"{region}市"
        province, _city, districts, _aliases = CITY_BY_NAME[city_name]
        district = rng.choice(districts)
        company = _Company(
            entity_id=entity_id, city=city_name, province=province, district=district,
            address=self.address(province, city_name, district), landline=self.landline(city_name),
            mobile=self.mobile() if rng.random() < 0.5 else "", email="", hard_negative=hard_negative,
            region=region, brand=brand, industry=industry, form=form,
            credit_code=self.credit_code(city_name) if rng.random() < 0.55 else "",
        )
        brand_latin = _latin(brand)
        company.domain = self.unique(
            lambda: f"{brand_latin}{''.join(s[0] for s in syllables_of(industry))}"
                    f"{rng.randrange(2, 99) if rng.random() < 0.3 else ''}{rng.choice(('.com', '.com.cn', '.cn'))}"
        )
        if rng.random() < 0.8:
            if rng.random() < 0.2:  # small companies use a free mailbox
                company.email = self.unique(lambda: f"{brand_latin}{rng.randrange(1, 9999)}@{rng.choice(PROVIDERS)}")
            else:
                company.email = self.unique(lambda: f"{rng.choice(COMPANY_MAILBOXES)}@{company.domain}")
        return company


def _entities(count: int, factory: _Factory) -> list[_Entity]:
    """`count` entities: hard-negative groups first (about HARD_NEGATIVE_SHARE of them), then ordinary
    persons and companies."""
    rng = factory.rng
    out: list[_Entity] = []

    def next_id() -> str:
        return f"E{len(out) + 1:06d}"

    while len(out) < count * HARD_NEGATIVE_SHARE and count - len(out) >= 2:
        r = rng.random()
        size = min(rng.choice((2, 2, 3, 3, 4)), count - len(out))
        if r < 0.55:
            name = rng.choice(COMMON_NAMES)
            city = factory.city()
            birthdays: set[dt.date] = set()
            for _ in range(size):
                person = factory.person(next_id(), name=name, city=city, hard_negative="same_name_city")
                # Namesakes in one city differ in birthday, or name + birthday could not tell them apart.
                while person.birthday in birthdays:
                    person = factory.person(person.entity_id, name=name, city=city, hard_negative="same_name_city")
                if person.birthday:
                    birthdays.add(person.birthday)
                out.append(person)
        elif r < 0.85:
            first = factory.company(next_id(), hard_negative="company_core")
            out.append(first)
            for _ in range(min(size, 3) - 1):
                out.append(factory.company(next_id(), like=first, hard_negative="company_core"))
        else:
            first_person = factory.person(next_id(), hard_negative="household")
            first_person.landline = first_person.landline or factory.landline(first_person.city)
            first_person.address = first_person.address or factory.address(
                first_person.province, first_person.city, first_person.district)
            out.append(first_person)
            # A spouse, parent or child: often the same surname, never the same name.
            home = (first_person.province, first_person.city, (first_person.district,))
            surname = first_person.surname if rng.random() < 0.5 else ""
            relative = factory.person(next_id(), surname=surname, city=home, hard_negative="household")
            while relative.surname + relative.given == first_person.surname + first_person.given:
                relative = factory.person(relative.entity_id, surname=surname, city=home, hard_negative="household")
            relative.landline, relative.address = first_person.landline, first_person.address
            first_person.shared = relative.shared = {"landline", "address"}
            out.append(relative)
    while len(out) < count:
        out.append(factory.person(next_id()) if rng.random() < PERSON_SHARE else factory.company(next_id()))
    return out


# Records ----------------------------------------------------------------------------------------

# Kinds a first (reference) record may carry: formats only, nothing that loses information.
_FIRST_RECORD_KINDS = ("phone_format", "landline", "email_case", "city_alias", "province_format", "address_format",
                       "date_format", "fullwidth", "spacing", "company_suffix", "company_region")
_PERSON_WEIGHTS = {
    "phone_format": 3.0, "landline": 1.0, "phone_column": 1.0, "email_case": 1.0, "email_typo": 0.7,
    "city_alias": 2.0, "province_format": 1.0, "honorific": 2.0, "pinyin_name": 1.0, "pinyin_swapped": 0.7,
    "fullwidth": 1.2, "typo": 1.2, "missing": 2.5, "address_format": 1.5, "date_format": 1.0, "id_format": 0.6,
    "spacing": 0.5,
}  # fmt: skip
_COMPANY_WEIGHTS = {
    "phone_format": 1.5, "landline": 2.0, "phone_column": 0.5, "email_case": 1.0, "email_typo": 0.7,
    "city_alias": 2.0, "province_format": 1.0, "company_suffix": 2.5, "company_region": 2.0,
    "company_english": 1.0, "company_pinyin": 0.8, "fullwidth": 1.2, "typo": 1.0, "missing": 2.0,
    "address_format": 1.5, "id_format": 0.5,
}  # fmt: skip
_NAME_KINDS = ("honorific", "pinyin_name", "pinyin_swapped", "typo", "spacing")
_LATIN_COMPANY_KINDS = ("company_english", "company_pinyin")


def _applicable(entity: _Entity, kinds: Mapping[str, float], first: bool) -> dict[str, float]:
    weights = {k: w for k, w in kinds.items() if not first or k in _FIRST_RECORD_KINDS}
    if not entity.email:
        weights.pop("email_case", None)
        weights.pop("email_typo", None)
    if entity.landline is None:
        weights.pop("landline", None)
    if isinstance(entity, _Person):
        if entity.birthday is None:
            weights.pop("date_format", None)
        if not entity.id_number:
            weights.pop("id_format", None)
    elif isinstance(entity, _Company):
        if not entity.credit_code:
            weights.pop("id_format", None)
        if not entity.mobile:
            weights.pop("phone_format", None)
    return weights


def _pick_kinds(rng: random.Random, weights: Mapping[str, float], count: int) -> list[str]:
    names, values = list(weights), list(weights.values())
    chosen: list[str] = []
    for _ in range(count * 3):
        if len(chosen) == count:
            break
        kind = rng.choices(names, values)[0]
        if kind not in chosen:
            chosen.append(kind)
    return chosen


def _anchors(entity: _Entity) -> dict[str, float]:
    """Evidence a duplicate may keep intact, with how often it is the one kept."""
    out: dict[str, float] = {}
    if entity.mobile:
        out["mobile"] = 0.55
    if entity.email:
        out["email"] = 0.15
    if entity.landline and "landline" not in entity.shared:
        out["landline"] = 0.05 if isinstance(entity, _Person) else 0.4
    if isinstance(entity, _Person):
        if entity.id_number:
            out["id_number"] = 0.1
        if entity.birthday:
            out["name_birthday"] = 0.15
    elif isinstance(entity, _Company):
        if entity.credit_code:
            out["credit_code"] = 0.25
        if entity.address:
            out["name_address"] = 0.1
    return out


def _mobile_text(rng: random.Random, digits: str) -> str:
    return rng.choice((
        f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}", f"+86{digits}", f"0086-{digits}",
        f"0086 {digits[:3]} {digits[3:7]} {digits[7:]}", f"{digits[:3]}-{digits[3:7]}-{digits[7:]}",
        f"{digits[:3]} {digits[3:7]} {digits[7:]}", f"86-{digits}", f"(+86) {digits}",
    ))


def _landline_text(rng: random.Random, area: str, number: str, *, plain: bool) -> str:
    if plain:
        return f"{area}-{number}"
    return rng.choice((
        f"({area}){number}", f"{area} {number[:4]} {number[4:]}", f"+86 {area[1:]} {number}", f"{area}{number}",
        f"+86-{area[1:]}-{number}", f"{area}-{number}转{rng.randrange(800, 8999)}", f"（{area}）{number}",
    ))


def _email_typo(rng: random.Random, email: str) -> str:
    local, domain = email.rsplit("@", 1)
    if domain in TYPOS:
        return f"{local}@{TYPOS[domain]}"
    if domain.endswith(".com"):
        return f"{local}@{domain[:-4]}{rng.choice(('.con', '.cm', '.comm'))}"
    if domain.endswith(".cn"):
        return f"{local}@{domain[:-3]}.cm"
    return f"{local}@{domain}"


def _email_case(rng: random.Random, email: str) -> str:
    local, domain = email.rsplit("@", 1)
    return rng.choice((email.upper(), f"{local.capitalize()}@{domain}", f"{local}@{domain.upper()}",
                       f"{local.upper()}@{domain}"))


def _typo(rng: random.Random, text: str, start: int = 0) -> str:
    """One character of `text` (from `start`) replaced by a homophone, or dropped when none has one."""
    positions = [i for i in range(start, len(text)) if text[i] in HOMOPHONES]
    if positions:
        i = rng.choice(positions)
        return text[:i] + rng.choice(HOMOPHONES[text[i]]) + text[i + 1:]
    han = [i for i in range(start, len(text)) if "\u4e00" <= text[i] <= "\u9fff"]
    if len(han) < 3:
        return text
    i = rng.choice(han)
    return text[:i] + text[i + 1:]


def _address_text(rng: random.Random, entity: _Entity) -> str:
    province, city, district = entity.province, entity.city, entity.district
    rest = entity.address.split(district, 1)[1]
    municipality = province == city
    return rng.choice((
        f"{city}{district}{rest}", f"{district}{rest}", f"{city.removesuffix('市')}{district}{rest}",
        f"{province.removesuffix('省')} {city} {district} {rest}" if not municipality else f"{city} {district} {rest}",
        f"{province}{city}{district}{rest}" if not municipality else f"{city}{district}{rest}".replace("号", "号院"),
        f"{city.removesuffix('市')}市{district}{rest}",
    ))


def _date_text(rng: random.Random, day: dt.date) -> str:
    return rng.choice((f"{day.year}/{day.month}/{day.day}", f"{day:%Y%m%d}", f"{day.year}年{day.month}月{day.day}日",
                       f"{day:%Y.%m.%d}", f"{day:%Y-%m-%d 00:00:00}"))


def _province_text(rng: random.Random, province: str) -> str:
    short = province.removesuffix("省").removesuffix("市")
    return rng.choice((short, _PROVINCE_LATIN.get(province, short)))


def _title_case(syllables: Sequence[str]) -> str:
    return "".join(syllables).capitalize()


def _person_name(rng: random.Random, person: _Person, kind: str) -> str:
    surname, given = person.surname, person.given
    family = _title_case(syllables_of(surname, is_person=True))
    first = _title_case(syllables_of(given))
    if kind == "honorific":
        return rng.choice((
            surname + rng.choice(HONORIFICS_BY_GENDER[person.gender]), surname + rng.choice(TITLES),
            surname + given + rng.choice(HONORIFICS_BY_GENDER[person.gender]),
            surname + given + rng.choice(FULL_NAME_TITLES),
        ))
    if kind == "pinyin_name":
        return rng.choice((f"{family} {first}", f"{family.upper()} {first}", f"{family} {first}".lower(),
                           f"{family}{first.lower()}"))
    if kind == "pinyin_swapped":
        return rng.choice((f"{first} {family}", f"{first} {family.upper()}"))
    if kind == "typo":
        return surname + _typo(rng, given)
    if kind == "spacing":
        return surname + rng.choice((" ", "\u3000", "  ")) + given
    return surname + given


def _company_name(rng: random.Random, company: _Company, kinds: Sequence[str]) -> tuple[str, list[str]]:
    """The company's name as this record writes it, and the kinds that changed it."""
    region, brand, industry, form = company.region, company.brand, company.industry, company.form
    applied: list[str] = []
    if "company_english" in kinds:
        brand_latin = "".join(s.capitalize() for s in syllables_of(brand))
        english, form_english, region_latin = INDUSTRY_ENGLISH[industry], FORM_ENGLISH[form], _latin(region).title()
        name = rng.choice((
            f"{region_latin} {brand_latin} {english} {form_english}", f"{brand_latin} {english} ({region_latin}) "
            f"{form_english}", f"{region_latin} {brand_latin} {english} {form_english}".upper().replace(", ", ","),
            f"{brand_latin} {english}",
        ))
        return name, ["company_english"]
    if "company_pinyin" in kinds:
        words = [_latin(brand), _latin(industry)]
        name = rng.choice((" ".join(words), " ".join(w.capitalize() for w in words), "".join(words),
                           f"{_latin(region)} {' '.join(words)} youxian gongsi"))
        return name, ["company_pinyin"]
    core = brand + industry
    if "typo" in kinds:
        core = _typo(rng, core)
        if core != brand + industry:
            applied.append("typo")
    if "company_suffix" in kinds:
        form = rng.choice([f for f in (*LEGAL_FORMS, "", "公司") if f != form])
        applied.append("company_suffix")
    if "company_region" in kinds:
        applied.append("company_region")
        return rng.choice((f"{core}（{region}）{form}", f"{core}({region}){form}", f"{region}市{core}{form}",
                           f"{core}{form}")), applied
    return f"{region}{core}{form}", applied


def _blankable(entity: _Entity, anchor: str) -> list[str]:
    protected = {
        "mobile": {MOBILE, PHONE}, "email": {EMAIL}, "landline": {PHONE}, "id_number": {ID_NUMBER},
        "credit_code": {CREDIT_CODE}, "name_birthday": {NAME, BIRTHDAY, CITY}, "name_address": {COMPANY, ADDRESS},
    }[anchor]
    fields = [MOBILE, PHONE, EMAIL, ADDRESS, CITY, PROVINCE]
    fields += [BIRTHDAY, ID_NUMBER] if isinstance(entity, _Person) else [CREDIT_CODE]
    return [f for f in fields if f not in protected]


def _record(rng: random.Random, entity: _Entity, *, first: bool) -> dict[str, Any]:
    """One record of `entity`: the reference record (`first`) with at most one format variant, or a
    duplicate with one to three variants that keeps one anchor intact."""
    is_person = isinstance(entity, _Person)
    weights = _applicable(entity, _PERSON_WEIGHTS if is_person else _COMPANY_WEIGHTS, first)
    if first:
        count = 0 if rng.random() < 0.6 else 1
        anchor = ""
    else:
        count = rng.choices((1, 2, 3), (0.35, 0.4, 0.25))[0]
        anchors = _anchors(entity)
        anchor = rng.choices(list(anchors), list(anchors.values()))[0]
    kinds = _pick_kinds(rng, weights, count)
    # An anchor on the name keeps it whole (honorifics on a full name and spacing are fine).
    if anchor in ("name_birthday", "name_address"):
        kinds = [k for k in kinds if k not in ("pinyin_name", "pinyin_swapped", "typo", "company_english",
                                               "company_pinyin")]
    if anchor == "landline":
        kinds = [k for k in kinds if k != "phone_column"]
    applied: list[str] = []
    row: dict[str, Any] = dict.fromkeys(HEADERS, "")
    row[ENTITY] = entity.entity_id

    # Name.
    if isinstance(entity, _Person):
        name_kind = next((k for k in kinds if k in _NAME_KINDS), "")
        if anchor == "name_birthday" and name_kind == "honorific":
            honorific = rng.choice(HONORIFICS_BY_GENDER[entity.gender] + FULL_NAME_TITLES)
            row[NAME] = entity.surname + entity.given + honorific
        else:
            row[NAME] = _person_name(rng, entity, name_kind)
        # A name with no character that has a homophone keeps its typo for the address.
        if name_kind and (name_kind != "typo" or row[NAME] != entity.surname + entity.given):
            applied.append(name_kind)
    elif isinstance(entity, _Company):
        row[COMPANY], company_kinds = _company_name(rng, entity, kinds)
        applied += company_kinds

    # Phones: the mobile in 手机 (or in 电话 with phone_column), the landline in 电话.
    mobile_text = entity.mobile
    if entity.mobile and "phone_format" in kinds:
        mobile_text = _mobile_text(rng, entity.mobile)
        applied.append("phone_format")
    landline_text = ""
    if entity.landline:
        landline_text = _landline_text(rng, *entity.landline, plain="landline" not in kinds)
        if "landline" in kinds:
            applied.append("landline")
    if entity.mobile and "phone_column" in kinds:
        row[PHONE] = mobile_text
        applied.append("phone_column")
    else:
        row[MOBILE], row[PHONE] = mobile_text, landline_text

    # E-mail.
    if entity.email:
        email = entity.email
        if "email_typo" in kinds and anchor != "email":
            email = _email_typo(rng, email)
            applied.append("email_typo")
        if "email_case" in kinds:
            email = _email_case(rng, email)
            applied.append("email_case")
        row[EMAIL] = email

    # Address, city, province.
    if entity.address:
        row[ADDRESS] = entity.address
        if "address_format" in kinds:
            row[ADDRESS] = _address_text(rng, entity)
            applied.append("address_format")
        if "typo" in kinds and "typo" not in applied and anchor != "name_address" and "address" not in entity.shared:
            row[ADDRESS] = _typo(rng, row[ADDRESS], start=len(row[ADDRESS]) - len(entity.address.split(
                entity.district, 1)[1]))
            applied.append("typo")
    row[CITY] = entity.city
    if "city_alias" in kinds:
        row[CITY] = rng.choice(city_aliases(entity.city))
        applied.append("city_alias")
    row[PROVINCE] = entity.province
    if "province_format" in kinds:
        row[PROVINCE] = _province_text(rng, entity.province)
        applied.append("province_format")

    # Birthday and identifiers.
    if isinstance(entity, _Person):
        if entity.birthday:
            row[BIRTHDAY] = f"{entity.birthday:%Y-%m-%d}"
            if "date_format" in kinds:
                row[BIRTHDAY] = _date_text(rng, entity.birthday)
                applied.append("date_format")
        if entity.id_number:
            row[ID_NUMBER] = entity.id_number
            if "id_format" in kinds:
                number = entity.id_number
                row[ID_NUMBER] = rng.choice((f"{number[:6]} {number[6:14]} {number[14:]}", number.lower(),
                                             f"{number[:6]}-{number[6:14]}-{number[14:]}"))
                applied.append("id_format")
    elif isinstance(entity, _Company) and entity.credit_code:
        row[CREDIT_CODE] = entity.credit_code
        if "id_format" in kinds:
            code = entity.credit_code
            row[CREDIT_CODE] = rng.choice((code.lower(), f"{code[:6]} {code[6:12]} {code[12:]}", f" {code} "))
            applied.append("id_format")

    # Full-width characters in one field that has ASCII in it.
    if "fullwidth" in kinds:
        targets = [f for f in (MOBILE, PHONE, EMAIL, ADDRESS, ID_NUMBER, CREDIT_CODE, BIRTHDAY)
                   if any(c.isascii() and c.isalnum() for c in row[f])]
        if targets:
            target = rng.choice(targets)
            row[target] = to_fullwidth(row[target])
            applied.append("fullwidth")

    # Missing fields: one to three that the anchor does not need.
    if "missing" in kinds:
        present = [f for f in _blankable(entity, anchor) if row[f]]
        if present:
            for f in rng.sample(present, min(len(present), rng.choice((1, 1, 2, 3)))):
                row[f] = ""
            applied.append("missing")
    if anchor in ("name_birthday", "name_address"):
        # Records matched on the name: most lack the identifiers (a trade-fair list, a web form).
        for f in (MOBILE, PHONE, EMAIL, ID_NUMBER, CREDIT_CODE):
            if row[f] and rng.random() < 0.75:
                row[f] = ""
                if "missing" not in applied:
                    applied.append("missing")
    row["_variants"] = tuple(k for k in VARIANT_KINDS if k in applied)
    row["_hard_negative"] = entity.hard_negative
    return row


def generate(entities: int, seed: int = 1) -> list[dict[str, Any]]:
    """Records of `entities` true entities (1-4 records each), shuffled, with 编号 in file order.
    Deterministic per seed."""
    if entities < 1:
        raise ValueError("entities must be at least 1")
    factory = _Factory(seed)
    rng = factory.rng
    sizes, weights = zip(*RECORDS_PER_ENTITY, strict=True)
    records: list[dict[str, Any]] = []
    for entity in _entities(entities, factory):
        count = rng.choices(sizes, weights)[0]
        records.extend(_record(rng, entity, first=i == 0) for i in range(count))
    rng.shuffle(records)
    width = max(6, len(str(len(records))))
    for i, record in enumerate(records, 1):
        record[RECORD_ID] = f"R{i:0{width}d}"
    return records


def write_csv(path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]]) -> None:
    """The records under `HEADERS`, UTF-8 with a BOM (what Excel writes for Chinese users)."""
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADERS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records)


# Scoring ----------------------------------------------------------------------------------------

Pair = tuple[str, str]


def _pairs_of_groups(groups: Iterable[list[str]]) -> set[Pair]:
    pairs: set[Pair] = set()
    for members in groups:
        ordered = sorted(members)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1:]:
                pairs.add((a, b))
    return pairs


def true_pairs(records: Iterable[Mapping[str, Any]]) -> set[Pair]:
    """Every pair of record ids (smaller id first) that belong to one entity."""
    groups: dict[str, list[str]] = defaultdict(list)
    for record in records:
        groups[record[ENTITY]].append(record[RECORD_ID])
    return _pairs_of_groups(groups.values())


def pairs_from_clusters(id_to_cluster: Mapping[str, str]) -> set[Pair]:
    """Every pair of record ids (smaller id first) in one predicted cluster; a blank cluster id is a
    cluster of its own."""
    groups: dict[str, list[str]] = defaultdict(list)
    for record_id, cluster in id_to_cluster.items():
        if cluster:
            groups[cluster].append(record_id)
    return _pairs_of_groups(groups.values())


def _scores(tp: int, predicted: int, actual: int) -> dict[str, Any]:
    # Nothing to find and nothing found is a perfect answer; otherwise an empty side scores 0.
    if predicted == 0 and actual == 0:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0, "tp": 0, "fp": 0, "fn": 0}
    precision = tp / predicted if predicted else 0.0
    recall = tp / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": predicted - tp, "fn": actual - tp}


def pairwise_scores(predicted_pairs: Iterable[Pair], true_pairs: Iterable[Pair]) -> dict[str, Any]:
    """Pairwise precision, recall and F1 (pairs are compared unordered)."""
    predicted = {tuple(sorted(p)) for p in predicted_pairs}
    actual = {tuple(sorted(p)) for p in true_pairs}
    return _scores(len(predicted & actual), len(predicted), len(actual))


def cluster_scores(id_to_cluster: Mapping[str, str], records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """`pairwise_scores(pairs_from_clusters(id_to_cluster), true_pairs(records))`, counted from cluster
    sizes instead of listing pairs (a matcher that lumps 10,000 rows together must not exhaust memory)."""
    entity_of = {r[RECORD_ID]: r[ENTITY] for r in records}
    missing = [i for i in entity_of if i not in id_to_cluster]
    if missing:
        raise ValueError(f"{len(missing)} records have no cluster (first: {missing[0]})")
    # Blank cluster ids are singletons: give each its own key.
    clusters = Counter(c or f"\0{i}" for i, c in id_to_cluster.items() if i in entity_of)
    cells = Counter((c or f"\0{i}", entity_of[i]) for i, c in id_to_cluster.items() if i in entity_of)
    entities = Counter(entity_of.values())
    tp = sum(comb(n, 2) for n in cells.values())
    return _scores(tp, sum(comb(n, 2) for n in clusters.values()), sum(comb(n, 2) for n in entities.values()))


def read_clusters(out_csv_path: str | os.PathLike[str]) -> dict[str, str]:
    """{编号: cluster_id} of a matcher's output CSV (the input columns plus cluster_id)."""
    with open(out_csv_path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        for needed in (RECORD_ID, CLUSTER_COLUMN):
            if needed not in columns:
                raise ValueError(f"{out_csv_path}: no {needed!r} column (columns: {', '.join(columns)})")
        return {row[RECORD_ID]: (row[CLUSTER_COLUMN] or "").strip() for row in reader}


def evaluate(out_csv_path: str | os.PathLike[str], records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Pairwise precision, recall, F1 (and tp, fp, fn) of the clusters in a matcher's output CSV
    against the true entities of `records`, with the counts of records, entities and clusters."""
    clusters = read_clusters(out_csv_path)
    result = cluster_scores(clusters, records)
    result["records"] = len(records)
    result["predicted_clusters"] = len(set(clusters.values()) - {""}) + sum(1 for c in clusters.values() if not c)
    result["entities"] = len({r[ENTITY] for r in records})
    return result


def failure_examples(id_to_cluster: Mapping[str, str], records: Sequence[Mapping[str, Any]],
                     limit: int = 5, seed: int = 0) -> dict[str, list[tuple[dict[str, str], dict[str, str]]]]:
    """Up to `limit` false-positive and false-negative pairs, as (record, record) with their CSV values."""
    by_id = {r[RECORD_ID]: {h: str(r[h]) for h in HEADERS if r[h]} for r in records}
    clusters: dict[str, list[str]] = defaultdict(list)
    for record_id, cluster in id_to_cluster.items():
        if cluster and record_id in by_id:
            clusters[cluster].append(record_id)
    entities: dict[str, list[str]] = defaultdict(list)
    for r in records:
        entities[r[ENTITY]].append(r[RECORD_ID])
    rng = random.Random(seed)
    false_positive = [(a, b) for members in clusters.values() for a in members for b in members
                      if a < b and by_id[a][ENTITY] != by_id[b][ENTITY]]
    false_negative = [(a, b) for members in entities.values() for a in members for b in members
                      if a < b and (not id_to_cluster.get(a) or id_to_cluster.get(a) != id_to_cluster.get(b))]
    picked_fp = rng.sample(false_positive, min(limit, len(false_positive)))
    picked_fn = rng.sample(false_negative, min(limit, len(false_negative)))
    return {
        "false_positives": [(by_id[a], by_id[b]) for a, b in picked_fp],
        "false_negatives": [(by_id[a], by_id[b]) for a, b in picked_fn],
    }


# Command line -----------------------------------------------------------------------------------

def summary(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts worth printing: entities, records, true pairs, the hard-negative share, variant kinds."""
    entities: dict[str, Mapping[str, Any]] = {}
    for r in records:
        entities.setdefault(r[ENTITY], r)
    hard = Counter(r["_hard_negative"] for r in entities.values() if r["_hard_negative"])
    return {
        "entities": len(entities),
        "persons": sum(1 for r in entities.values() if r[NAME]),
        "companies": sum(1 for r in entities.values() if r[COMPANY]),
        "records": len(records),
        "true_pairs": len(true_pairs(records)),
        "hard_negative_entities": sum(hard.values()),
        "hard_negative_share": round(sum(hard.values()) / len(entities), 3) if entities else 0.0,
        "hard_negative_kinds": dict(sorted(hard.items())),
        "variant_records": dict(Counter(k for r in records for k in r["_variants"]).most_common()),
    }


def _show(record: Mapping[str, str]) -> str:
    return " | ".join(f"{k}={v}" for k, v in record.items() if k not in (RECORD_ID,))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Labelled Chinese duplicate-matching test set and its scoring.")
    parser.add_argument("--entities", type=int, default=2000, help="true entities (1-4 records each)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write the records to this CSV (UTF-8 with BOM)")
    parser.add_argument("--evaluate", type=Path, metavar="OUT_CSV",
                        help="score a matcher's output (input columns + cluster_id) for the same --entities/--seed")
    parser.add_argument("--examples", type=int, default=5, help="failure examples to print with --evaluate")
    args = parser.parse_args(argv)
    records = generate(args.entities, args.seed)
    if args.out:
        write_csv(args.out, records)
    counts = summary(records)
    print(f"entities {counts['entities']:,} (persons {counts['persons']:,}, companies {counts['companies']:,}); "
          f"records {counts['records']:,}; true pairs {counts['true_pairs']:,}")
    print(f"hard negatives: {counts['hard_negative_entities']:,} entities "
          f"({counts['hard_negative_share']:.1%}) {counts['hard_negative_kinds']}")
    print("records per variant kind: " + ", ".join(f"{k} {v}" for k, v in counts["variant_records"].items()))
    if args.out:
        print(f"wrote {args.out}")
    if args.evaluate:
        scores = evaluate(args.evaluate, records)
        print(f"precision {scores['precision']:.4f}  recall {scores['recall']:.4f}  F1 {scores['f1']:.4f}  "
              f"(tp {scores['tp']:,}, fp {scores['fp']:,}, fn {scores['fn']:,}; "
              f"{scores['predicted_clusters']:,} clusters for {scores['entities']:,} entities)")
        examples = failure_examples(read_clusters(args.evaluate), records, limit=args.examples)
        for label, key in (("false positive", "false_positives"), ("false negative", "false_negatives")):
            for a, b in examples[key]:
                print(f"{label}:\n  {a[RECORD_ID]} {_show(a)}\n  {b[RECORD_ID]} {_show(b)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
