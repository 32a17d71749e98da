"""Demo data: a believable Chinese sales organisation and its customer archive.

Two steps, so the data is testable without a database and deterministic per seed:

- `build_dataset(customers=N, seed=S, now=...)` returns plain dataclasses (departments, users,
  tags, customers with contacts and notes). Same seed and `now` → the same data, bit for bit.
- `load_dataset(dataset)` writes it with `bulk_create` (customers, contacts, tags, notes, audit
  events, search tokens), so 2,000 customers load in seconds rather than minutes.

Demo users all share `DEMO_PASSWORD`; it is for trying Kehu out, never for production.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import Case, DateTimeField, Value, When
from django.utils import timezone
from faker import Faker
from pypinyin import lazy_pinyin

from kehu.accounts.models import Department, Role, User
from kehu.accounts.services import roles_ensure_defaults
from kehu.core import audit
from kehu.core.models import AuditEvent
from kehu.customers import search
from kehu.customers.models import (
    Contact,
    Customer,
    CustomFieldDefinition,
    CustomFieldTarget,
    CustomFieldType,
    Note,
    PicklistOption,
    SearchToken,
    Tag,
)
from kehu.customers.pinyin import pinyin_forms
from kehu.customers.services import CUSTOMER_FIELDS
from kehu.dataquality.cleaning import clean_contact_fields, clean_customer_fields
from kehu.dataquality.services import quality_check_all

DEMO_PASSWORD = "kehu-demo"  # noqa: S105 — documented demo-only password
DEFAULT_SEED = 2024

# GB 32100-2015: the 31 characters a unified social credit code may use, and the weights of
# positions 1-17 for its check character.
CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# GB 11714: the 9-character organisation code embedded at positions 9-17.
ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def credit_code_check_char(first17: str) -> str:
    """The 18th character of a unified social credit code (GB 32100-2015)."""
    if len(first17) != 17:
        raise ValueError("need the first 17 characters")
    total = sum(CREDIT_CODE_CHARSET.index(c) * w for c, w in zip(first17.upper(), CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def credit_code_is_valid(code: str) -> bool:
    code = code.strip().upper()
    if len(code) != 18 or any(c not in CREDIT_CODE_CHARSET for c in code):
        return False
    return credit_code_check_char(code[:17]) == code[17]


def org_code_check_char(first8: str) -> str:
    """Check character of a 9-character organisation code (GB 11714)."""
    total = sum(int(c, 36) * w for c, w in zip(first8.upper(), ORG_CODE_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def make_credit_code(rng: random.Random, division_code: str) -> str:
    """A well-formed code for a company (登记管理部门 9 = 市场监管, 类别 1 = 企业)."""
    org_body = "".join(rng.choice("0123456789") for _ in range(8))
    first17 = "91" + division_code + org_body + org_code_check_char(org_body)
    return first17 + credit_code_check_char(first17)


# Geography: (province, city, short city name, area code, division code prefix, districts).
CITIES: dict[str, tuple[str, str, str, str, list[str]]] = {
    "北京": ("北京市", "北京市", "010", "1101", ["东城区", "西城区", "朝阳区", "海淀区", "丰台区", "通州区"]),
    "天津": ("天津市", "天津市", "022", "1201", ["和平区", "河西区", "南开区", "滨海新区"]),
    "石家庄": ("河北省", "石家庄市", "0311", "1301", ["长安区", "桥西区", "新华区", "裕华区"]),
    "济南": ("山东省", "济南市", "0531", "3701", ["历下区", "市中区", "槐荫区", "历城区"]),
    "青岛": ("山东省", "青岛市", "0532", "3702", ["市南区", "市北区", "黄岛区", "崂山区"]),
    "上海": ("上海市", "上海市", "021", "3101", ["黄浦区", "徐汇区", "长宁区", "静安区", "浦东新区", "闵行区"]),
    "南京": ("江苏省", "南京市", "025", "3201", ["玄武区", "秦淮区", "鼓楼区", "建邺区", "江宁区"]),
    "苏州": ("江苏省", "苏州市", "0512", "3205", ["姑苏区", "虎丘区", "吴中区", "相城区"]),
    "杭州": ("浙江省", "杭州市", "0571", "3301", ["上城区", "拱墅区", "西湖区", "滨江区", "余杭区"]),
    "厦门": ("福建省", "厦门市", "0592", "3502", ["思明区", "湖里区", "集美区"]),
    "广州": ("广东省", "广州市", "020", "4401", ["越秀区", "海珠区", "天河区", "白云区", "番禺区"]),
    "深圳": ("广东省", "深圳市", "0755", "4403", ["罗湖区", "福田区", "南山区", "宝安区", "龙岗区"]),
    "成都": ("四川省", "成都市", "028", "5101", ["锦江区", "青羊区", "金牛区", "武侯区", "成华区"]),
    "武汉": ("湖北省", "武汉市", "027", "4201", ["江岸区", "江汉区", "武昌区", "洪山区"]),
    "西安": ("陕西省", "西安市", "029", "6101", ["新城区", "碑林区", "雁塔区", "未央区"]),
}

# The organisation: region → teams → the cities each team covers.
REGIONS: list[tuple[str, list[tuple[str, list[str]]]]] = [
    ("华北大区", [("北京一部", ["北京"]), ("北京二部", ["北京"]), ("天津部", ["天津", "石家庄"]),
                ("山东部", ["济南", "青岛"])]),
    ("华东大区", [("上海一部", ["上海"]), ("上海二部", ["上海"]), ("江苏部", ["南京", "苏州"]),
                ("浙江部", ["杭州"])]),
    ("华南大区", [("广州部", ["广州", "厦门"]), ("深圳部", ["深圳"])]),
    ("中西部大区", [("成都部", ["成都", "西安"]), ("武汉部", ["武汉"])]),
]
HEAD_OFFICE = "总部"
SERVICE_DEPARTMENT = "客服中心"
MARKETING_DEPARTMENT = "市场部"
SALES_PER_TEAM = 2

TAGS: list[tuple[str, str]] = [
    ("重点跟进", "#f5222d"), ("老客户", "#52c41a"), ("价格敏感", "#fa8c16"), ("有预算", "#1677ff"),
    ("需回访", "#722ed1"), ("展会获客", "#13c2c2"), ("政府项目", "#eb2f96"), ("决策链长", "#faad14"),
    ("VIP", "#d4380d"), ("已签框架协议", "#389e0d"), ("竞品在用", "#8c8c8c"), ("转介绍", "#2f54eb"),
]

BRAND_CHARS = (
    "华鑫盛达恒泰宏远博瑞嘉源通信诚德安康美新优创智联融卓越腾飞海天正和永兴汇鼎晟锐航佳益丰升启明辰祥凯骏峰宇"
    "昊睿铭邦禾云星光中科金银豪东方宁清"
)
INDUSTRY_SUFFIXES: dict[str, list[str]] = {
    "it": ["科技有限公司", "信息技术有限公司", "软件有限公司", "网络科技有限公司"],
    "manufacturing": ["机械制造有限公司", "精密机械有限公司", "电子有限公司", "新材料股份有限公司"],
    "retail": ["商贸有限公司", "贸易有限公司", "百货有限公司"],
    "finance": ["投资管理有限公司", "融资租赁有限公司", "保险代理有限公司"],
    "education": ["教育科技有限公司", "文化传播有限公司", "职业培训学校有限公司"],
    "healthcare": ["医疗器械有限公司", "生物科技有限公司", "医药有限公司"],
    "real_estate": ["置业有限公司", "房地产开发有限公司", "物业服务有限公司"],
    "logistics": ["物流有限公司", "供应链管理有限公司", "国际货运代理有限公司"],
    "food": ["食品有限公司", "餐饮管理有限公司", "饮品有限公司"],
    "services": ["企业管理咨询有限公司", "人力资源服务有限公司", "广告有限公司"],
    "other": ["实业有限公司", "环保科技有限公司", "建筑工程有限公司"],
}
ROADS = ["建国路", "中山路", "人民路", "解放路", "长江路", "黄河路", "科技园路", "创业大道", "工业大道", "世纪大道",
         "文化路", "学府路", "新华路", "滨江路", "金融街", "迎宾大道"]
MOBILE_PREFIXES = ["130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "155", "158", "159",
                   "166", "176", "177", "180", "181", "182", "186", "187", "188", "189", "191", "198", "199"]
TITLES = [
    ("总经理", "decision_maker"), ("董事长", "decision_maker"), ("副总经理", "decision_maker"),
    ("采购经理", "gatekeeper"), ("采购专员", "gatekeeper"), ("技术总监", "influencer"), ("IT 经理", "influencer"),
    ("财务经理", "influencer"), ("行政主管", "user"), ("运营经理", "user"), ("项目经理", "champion"),
    ("市场总监", "champion"),
]
PERSONAL_MAIL = ["qq.com", "163.com", "126.com", "sina.com", "foxmail.com"]
NOTE_TEMPLATES = [
    "电话沟通，客户对产品很感兴趣，约下周{weekday}上门演示。",
    "客户反馈报价偏高，需要申请{discount}折优惠后再跟进。",
    "已发送方案和报价单，等待客户内部评审，预计{days}天内回复。",
    "拜访客户{title}，了解到今年预算约{budget}万元，决策周期较长。",
    "客户在展会上留下名片，对数据安全和私有化部署比较关心。",
    "微信回访，客户表示目前使用竞品，合同{month}月到期后考虑更换。",
    "客户提出需要对接现有 ERP 系统，已转技术同事评估。",
    "签约完成，安排实施培训，客户联系人为{contact}。",
    "客户投诉响应慢，已协调客服中心跟进处理。",
    "年度回访：客户满意度较高，有意向增购{seats}个账号。",
]
WEEKDAYS = ["一", "二", "三", "四", "五"]
STAGE_WEIGHTS = {"lead": 30, "opportunity": 25, "customer": 25, "repeat": 10, "advocate": 5, "churned": 5}
LEVEL_WEIGHTS = {"a": 15, "b": 40, "c": 45}
COMPANY_SOURCES = {"referral": 20, "baidu_ads": 15, "website": 20, "exhibition": 15, "cold_call": 15, "wechat": 10,
                   "other": 5}
PERSON_SOURCES = {"referral": 30, "wechat": 30, "douyin": 25, "website": 10, "other": 5}
EMPLOYEE_CHOICES = [("1-49", "1-49 人", "1-49"), ("50-199", "50-199 人", "50-199"),
                    ("200-999", "200-999 人", "200-999"), ("1000+", "1000 人以上", "1000+")]


@dataclass(frozen=True)
class DemoDepartment:
    name: str
    parent: str | None


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: str
    department: str
    mobile: str
    email: str
    cities: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoContact:
    name: str
    title: str
    decision_role: str
    mobile: str
    phone: str
    email: str
    wechat: str
    is_primary: bool
    birthday: dt.date | None


@dataclass(frozen=True)
class DemoNote:
    body: str
    at: dt.datetime
    author: str


@dataclass(frozen=True)
class DemoCustomer:
    kind: str
    name: str
    short_name: str
    industry: str | None
    level: str
    stage: str
    source: str
    owner: str
    phones: list[str]
    emails: list[str]
    website: str
    province: str
    city: str
    district: str
    address: str
    credit_code: str
    birthday: dt.date | None
    tags: list[str]
    custom: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    contacts: list[DemoContact] = field(default_factory=list)
    notes: list[DemoNote] = field(default_factory=list)


@dataclass(frozen=True)
class DemoDataset:
    seed: int
    departments: list[DemoDepartment]
    users: list[DemoUser]
    tags: list[tuple[str, str]]
    customers: list[DemoCustomer]


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _pinyin(text: str) -> str:
    return "".join(lazy_pinyin(text, errors="ignore"))


class _Generator:
    def __init__(self, seed: int, now: dt.datetime):
        self.rng = random.Random(seed)
        # Real archives are not clean; a separate stream keeps the clean data identical per seed.
        self.mess = random.Random(f"{seed}-mess")
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.now = now
        self.used_names: set[str] = set()
        self.used_mobiles: set[str] = set()

    def mobile(self) -> str:
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + "".join(self.rng.choice("0123456789") for _ in range(8))
            if number not in self.used_mobiles:
                self.used_mobiles.add(number)
                return number

    def landline(self, city: str) -> str:
        area = CITIES[city][2]
        digits = 8 if len(area) == 3 else 7
        return f"{area}-{self.rng.randint(2, 8)}{''.join(self.rng.choice('0123456789') for _ in range(digits - 1))}"

    def person_name(self) -> str:
        return self.fake.name()

    def moment(self, start: dt.datetime, end: dt.datetime) -> dt.datetime:
        span = max((end - start).total_seconds(), 1.0)
        # Working hours on the chosen day make the timeline look like real work.
        at = start + dt.timedelta(seconds=self.rng.random() * span)
        at = at.replace(hour=self.rng.randint(9, 18), minute=self.rng.randint(0, 59), second=self.rng.randint(0, 59))
        return min(max(at, start), end)

    # The organisation ------------------------------------------------------------------------

    def organisation(self) -> tuple[list[DemoDepartment], list[DemoUser]]:
        departments = [DemoDepartment(HEAD_OFFICE, None)]
        users: list[DemoUser] = []
        sales_no = 0
        for manager_no, (region, teams) in enumerate(REGIONS, start=1):
            departments.append(DemoDepartment(region, HEAD_OFFICE))
            region_cities = tuple(c for _, cities in teams for c in cities)
            users.append(self.user(f"manager{manager_no}", "manager", region, region_cities))
            for team, cities in teams:
                departments.append(DemoDepartment(team, region))
                for _ in range(SALES_PER_TEAM):
                    sales_no += 1
                    users.append(self.user(f"sales{sales_no:02d}", "sales", team, tuple(cities)))
        departments.append(DemoDepartment(SERVICE_DEPARTMENT, HEAD_OFFICE))
        departments.append(DemoDepartment(MARKETING_DEPARTMENT, HEAD_OFFICE))
        users.append(self.user("service1", "service", SERVICE_DEPARTMENT))
        users.append(self.user("service2", "service", SERVICE_DEPARTMENT))
        users.append(self.user("marketing1", "marketing", MARKETING_DEPARTMENT))
        return departments, users

    def user(self, username: str, role: str, department: str, cities: tuple[str, ...] = ()) -> DemoUser:
        return DemoUser(
            username=username, display_name=self.person_name(), role=role, department=department,
            mobile=self.mobile(), email=f"{username}@kehu-demo.cn", cities=cities,
        )

    # Customers ---------------------------------------------------------------------------------

    def customer(self, owners: Sequence[DemoUser], industries: Sequence[str]) -> DemoCustomer:
        rng = self.rng
        owner = rng.choice(owners)
        city = rng.choice(owner.cities) if owner.cities and rng.random() < 0.85 else rng.choice(list(CITIES))
        province, city_name, _, division, districts = CITIES[city]
        district_index = rng.randrange(len(districts))
        # Recent months have more new customers than two years ago.
        age_days = int(730 * rng.random() ** 1.6)
        created = self.moment(self.now - dt.timedelta(days=age_days + 1), self.now - dt.timedelta(days=age_days))
        updated = self.moment(created, self.now) if rng.random() < 0.8 else created
        stage = _weighted(rng, STAGE_WEIGHTS)
        address = f"{rng.choice(ROADS)}{rng.randint(1, 999)}号"
        if rng.random() < 0.6:
            address += f"{rng.randint(1, 30)}栋{rng.randint(1, 28)}{rng.randint(1, 20):02d}室"
        tags = sorted(rng.sample([t for t, _ in TAGS], k=rng.choice([0, 0, 1, 1, 1, 2, 2, 3])))
        if rng.random() < 0.75:
            industry = rng.choice(industries)
            brand, short_name, name, domain = self.company_name(city, industry)
            contacts = self.contacts(city, domain, rng.choices([1, 2, 3, 4], weights=[30, 35, 25, 10])[0])
            phones = [self.landline(city)] + ([self.mobile()] if rng.random() < 0.3 else [])
            custom: dict[str, Any] = {"employees": rng.choice(EMPLOYEE_CHOICES)[0]}
            if rng.random() < 0.6:
                custom["annual_revenue"] = f"{rng.randint(50, 50000) * 10000}.00"
            customer = DemoCustomer(
                kind="company", name=name, short_name=short_name, industry=industry,
                level=_weighted(rng, LEVEL_WEIGHTS), stage=stage, source=_weighted(rng, COMPANY_SOURCES),
                owner=owner.username, phones=phones,
                emails=[f"{rng.choice(['info', 'sales', 'contact', 'office'])}@{domain}"],
                website=f"https://www.{domain}", province=province, city=city_name,
                district=districts[district_index], address=address,
                credit_code=make_credit_code(rng, division + f"{district_index + 1:02d}"),
                birthday=None, tags=tags, custom=custom, created_at=created, updated_at=updated,
                contacts=contacts,
            )
        else:
            name = self.person_name()
            mail = f"{_pinyin(name)}{rng.randint(1, 999)}@{rng.choice(PERSONAL_MAIL)}" if rng.random() < 0.5 else ""
            customer = DemoCustomer(
                kind="person", name=name, short_name="", industry=None, level=_weighted(rng, LEVEL_WEIGHTS),
                stage=stage, source=_weighted(rng, PERSON_SOURCES), owner=owner.username,
                phones=[self.mobile()], emails=[mail] if mail else [], website="", province=province,
                city=city_name, district=districts[district_index], address=address, credit_code="",
                birthday=self.fake.date_of_birth(minimum_age=22, maximum_age=70), tags=tags, custom={},
                created_at=created, updated_at=updated,
            )
        notes = [self.note(customer, created, owner) for _ in range(rng.choices([0, 1, 2, 3], [25, 35, 25, 15])[0])]
        notes.sort(key=lambda n: n.at)
        return DemoCustomer(**{**customer.__dict__, "notes": notes, **self.messy(customer)})

    def messy(self, customer: DemoCustomer) -> dict[str, Any]:
        """A few of the mistakes real spreadsheets carry, for the data-quality pages to find: a
        mistyped extra number, a mistyped e-mail domain, a missing city."""
        mess, changes = self.mess, {}
        if mess.random() < 0.03:
            changes["phones"] = [*customer.phones, mess.choice(["138123456", "0755-123", "1391234567"])]
        if customer.emails and mess.random() < 0.04:
            local, _, domain = customer.emails[0].partition("@")
            typo = {"qq.com": "qq.con", "163.com": "163.cm", "126.com": "126.co", "sina.com": "sina.cm"}
            changes["emails"] = [f"{local}@{typo.get(domain, domain.replace('.com', '.con'))}"]
        if customer.kind == "company" and mess.random() < 0.02:
            changes.update(city="", district="")
        return changes

    def company_name(self, city: str, industry: str) -> tuple[str, str, str, str]:
        rng = self.rng
        for _ in range(50):
            brand = "".join(rng.sample(BRAND_CHARS, 2))
            suffix = rng.choice(INDUSTRY_SUFFIXES[industry])
            name = f"{city}{brand}{suffix}"
            if name not in self.used_names:
                break
        else:  # pragma: no cover - 3,000+ brands per city and suffix
            name = f"{city}{brand}{suffix[:-4]}第{rng.randint(2, 99)}分公司"
        self.used_names.add(name)
        short_name = brand + suffix[:2]
        domain = f"{_pinyin(brand)}{_pinyin(suffix[:2])}.{rng.choice(['com', 'cn', 'com.cn'])}"
        return brand, short_name, name, domain

    def contacts(self, city: str, domain: str, count: int) -> list[DemoContact]:
        rng = self.rng
        contacts = []
        for index, (title, role) in enumerate(rng.sample(TITLES, count)):
            name = self.person_name()
            given, surname = _pinyin(name[1:]), _pinyin(name[:1])
            contacts.append(
                DemoContact(
                    name=name, title=title, decision_role=role, mobile=self.mobile(),
                    phone=self.landline(city) if rng.random() < 0.4 else "",
                    email=f"{given}.{surname}@{domain}" if rng.random() < 0.8 else "",
                    wechat=f"{given}{surname}{rng.randint(10, 9999)}" if rng.random() < 0.6 else "",
                    is_primary=index == 0,
                    birthday=self.fake.date_of_birth(minimum_age=25, maximum_age=60) if rng.random() < 0.3 else None,
                )
            )
        return contacts

    def note(self, customer: DemoCustomer, created: dt.datetime, owner: DemoUser) -> DemoNote:
        rng = self.rng
        body = rng.choice(NOTE_TEMPLATES).format(
            weekday=rng.choice(WEEKDAYS), discount=rng.choice(["八", "八五", "九"]), days=rng.randint(3, 14),
            title=customer.contacts[0].title if customer.contacts else "本人", budget=rng.randint(5, 200),
            month=rng.randint(1, 12), contact=customer.contacts[0].name if customer.contacts else customer.name,
            seats=rng.randint(5, 100),
        )
        return DemoNote(body=body, at=self.moment(created, self.now), author=owner.username)


def build_dataset(*, customers: int, seed: int = DEFAULT_SEED, now: dt.datetime | None = None) -> DemoDataset:
    """Pure function of (customers, seed, now): no database access."""
    if now is None:
        # Anchor at midnight so the same seed gives the same data all day.
        now = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    generator = _Generator(seed, now)
    departments, users = generator.organisation()
    owners = [u for u in users if u.role in ("sales", "manager")]
    # Sales reps carry most customers; managers keep a few key accounts of their own.
    weighted_owners = [u for u in owners for _ in range(4 if u.role == "sales" else 1)]
    industries = list(INDUSTRY_SUFFIXES)
    rows = [generator.customer(weighted_owners, industries) for _ in range(customers)]
    return DemoDataset(seed=seed, departments=departments, users=users, tags=list(TAGS), customers=rows)


# Loading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    users: int
    customers: int
    contacts: int
    notes: int
    tokens: int
    usernames: list[str]


def demo_present() -> bool:
    """True once demo users exist (the loader creates them before any customer)."""
    return User.objects.filter(username="manager1", department__name__in=[r for r, _ in REGIONS]).exists()


def _ensure_departments(departments: Sequence[DemoDepartment]) -> dict[str, Department]:
    by_name: dict[str, Department] = {}
    for item in departments:
        parent = by_name.get(item.parent) if item.parent else None
        department = Department.objects.filter(name=item.name, parent=parent).first()
        if department is None:
            department = Department.objects.create(name=item.name, parent=parent)
        by_name[item.name] = department
    return by_name


def _ensure_users(users: Sequence[DemoUser], departments: dict[str, Department], roles: dict[str, Role]) -> dict[
    str, User
]:
    existing = {u.username: u for u in User.objects.filter(username__in=[u.username for u in users])}
    password_hash = make_password(DEMO_PASSWORD)  # hashed once: PBKDF2 per user would cost seconds
    missing = [
        User(
            username=u.username, display_name=u.display_name, email=u.email, mobile=u.mobile,
            role=roles[u.role], department=departments[u.department], password=password_hash,
        )
        for u in users
        if u.username not in existing
    ]
    User.objects.bulk_create(missing)
    by_username = {u.username: u for u in User.objects.filter(username__in=[u.username for u in users])}
    for user in users:
        department = departments[user.department]
        if user.role == "manager" and department.manager_id is None:
            department.manager = by_username[user.username]
            department.save()
    return by_username


def _ensure_custom_fields() -> None:
    CustomFieldDefinition.objects.get_or_create(
        target=CustomFieldTarget.CUSTOMER, key="employees",
        defaults={
            "label_zh": "员工规模", "label_en": "Employees", "field_type": CustomFieldType.CHOICE,
            "choices": [{"value": v, "label_zh": zh, "label_en": en} for v, zh, en in EMPLOYEE_CHOICES],
            "show_in_list": True, "position": 1,
        },
    )
    CustomFieldDefinition.objects.get_or_create(
        target=CustomFieldTarget.CUSTOMER, key="annual_revenue",
        defaults={"label_zh": "年营业额", "label_en": "Annual revenue", "field_type": CustomFieldType.MONEY,
                  "position": 2},
    )


def _canonicalise(customer: Customer) -> None:
    """Demo rows are stored as the services would store them (canonical phones with E.164, core
    name, address parts), so the demo shows what real data looks like after entry."""
    fields = ("name", "phones", "emails", "province", "city", "district", "address", "credit_code", "website")
    cleaned = clean_customer_fields({f: getattr(customer, f) for f in fields}, kind=customer.kind, aliases={})
    for name, value in cleaned.values.items():
        if not name.startswith("_"):
            setattr(customer, name, value)
    customer.name_pinyin, customer.name_initials = pinyin_forms(customer.name, is_person=customer.kind == "person")


def _set_datetimes(model: type, column: str, values: dict[int, dt.datetime], batch: int = 500) -> None:
    """One UPDATE ... CASE per batch for columns bulk_create can't set (auto_now_add)."""
    items = list(values.items())
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        model.objects.filter(pk__in=[pk for pk, _ in chunk]).update(
            **{column: Case(*[When(pk=pk, then=Value(at)) for pk, at in chunk], output_field=DateTimeField())}
        )


@transaction.atomic
def load_dataset(dataset: DemoDataset, *, progress: Callable[[str], None] | None = None) -> LoadResult:
    """Write `dataset` in bulk. Runs in one transaction: all or nothing."""
    say = progress or (lambda message: None)
    roles = roles_ensure_defaults()
    departments = _ensure_departments(dataset.departments)
    users = _ensure_users(dataset.users, departments, roles)
    _ensure_custom_fields()
    tags = {}
    for name, color in dataset.tags:
        tags[name], _ = Tag.objects.get_or_create(name=name, defaults={"color": color})
    options = {(o.kind, o.code): o for o in PicklistOption.objects.all()}
    say(f"组织与账号就绪：{len(departments)} 个部门，{len(users)} 个演示账号")

    customers: list[Customer] = []
    for row in dataset.customers:
        owner = users[row.owner]
        full, initials = pinyin_forms(row.name, is_person=row.kind == "person")
        customers.append(
            Customer(
                kind=row.kind, name=row.name, short_name=row.short_name, name_pinyin=full, name_initials=initials,
                industry=options.get(("industry", row.industry or "")), level=options.get(("level", row.level)),
                stage=options.get(("stage", row.stage)), source=options.get(("source", row.source)),
                owner=owner, department=owner.department, phones=row.phones, emails=row.emails,
                website=row.website, province=row.province, city=row.city, district=row.district,
                address=row.address, credit_code=row.credit_code, birthday=row.birthday, custom=row.custom,
                created_at=row.created_at, updated_at=row.updated_at, created_by=owner, updated_by=owner,
                version=1 if row.updated_at == row.created_at else 2,
            )
        )
    for customer in customers:
        _canonicalise(customer)
    Customer.objects.bulk_create(customers, batch_size=500)
    say(f"客户：{len(customers)}")

    contacts: list[Contact] = []
    for customer, row in zip(customers, dataset.customers, strict=True):
        for item in row.contacts:
            full, initials = pinyin_forms(item.name, is_person=True)
            contacts.append(
                Contact(
                    customer=customer, name=item.name, name_pinyin=full, name_initials=initials, title=item.title,
                    decision_role=options.get(("contact_role", item.decision_role)), mobile=item.mobile,
                    phone=item.phone, email=item.email, wechat=item.wechat, is_primary=item.is_primary,
                    birthday=item.birthday, created_at=row.created_at, updated_at=row.created_at,
                    created_by=customer.owner, updated_by=customer.owner,
                )
            )
    for contact in contacts:
        cleaned = clean_contact_fields({"mobile": contact.mobile, "phone": contact.phone, "email": contact.email})
        for name, value in cleaned.values.items():
            setattr(contact, name, value)
    Contact.objects.bulk_create(contacts, batch_size=500)
    say(f"联系人：{len(contacts)}")

    through = Customer.tags.through
    through.objects.bulk_create(
        [through(customer_id=c.pk, tag_id=tags[name].pk) for c, row in zip(customers, dataset.customers, strict=True)
         for name in row.tags],
        batch_size=1000,
    )

    notes: list[Note] = []
    note_times: list[dt.datetime] = []
    for customer, row in zip(customers, dataset.customers, strict=True):
        for item in row.notes:
            notes.append(Note(customer=customer, body=item.body, author=users[item.author]))
            note_times.append(item.at)
    Note.objects.bulk_create(notes, batch_size=500)
    _set_datetimes(Note, "created_at", {n.pk: at for n, at in zip(notes, note_times, strict=True)})
    say(f"备注：{len(notes)}")

    AuditEvent.objects.bulk_create(_audit_events(customers, dataset.customers, options), batch_size=500)

    tokens = _index(customers, contacts)
    say(f"搜索索引：{tokens} 个词条")
    checked = quality_check_all()
    say(f"数据质量评分：{checked} 个客户")
    from kehu.core.registries import demo_loaders

    for loader in demo_loaders:  # deals, leads ... of the apps above (they register in ready())
        say(loader(customers, users, dataset.seed, say))
    return LoadResult(
        users=len(users), customers=len(customers), contacts=len(contacts), notes=len(notes), tokens=tokens,
        usernames=[u.username for u in dataset.users],
    )


TOKEN_COLUMNS = {"token", "customer_id", "contact_id", "owner_id", "rank"}


def _index(customers: Sequence[Customer], contacts: Sequence[Contact]) -> int:
    """Search index rows for the new customers and contacts, inserted with one executemany.

    The tokens come from `search.customer_tokens` / `search.contact_tokens`, exactly what the
    services index; only the insert skips building 100k model instances (10 s of the load).
    If the index table grows a column this function doesn't know, the search module's own
    `reindex_all` does the work instead."""
    ids = [c.pk for c in customers] or [0]
    fields = [f for f in SearchToken._meta.concrete_fields if not f.primary_key]
    columns = [f.column for f in fields]
    if not set(columns) <= TOKEN_COLUMNS:
        search.reindex_all(Customer.objects.filter(pk__gte=min(ids), pk__lte=max(ids)))
        return SearchToken.objects.filter(customer_id__gte=min(ids), customer_id__lte=max(ids)).count()
    rank_of = getattr(search, "rank_of", lambda moment: 0)
    owners = {c.pk: c.owner_id for c in customers}
    rows: list[tuple[Any, ...]] = []
    for customer in customers:
        values = {"customer_id": customer.pk, "contact_id": None, "owner_id": customer.owner_id,
                  "rank": rank_of(customer.updated_at)}
        rows += [tuple(values.get(c, t) for c in columns) for t in sorted(search.customer_tokens(customer))]
    for contact in contacts:
        values = {"customer_id": contact.customer_id, "contact_id": contact.pk,
                  "owner_id": owners[contact.customer_id], "rank": rank_of(contact.updated_at)}
        rows += [tuple(values.get(c, t) for c in columns) for t in sorted(search.contact_tokens(contact))]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(SearchToken._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY is several times faster than executemany for 100k small rows.
            copy_sql = f"COPY {quote(SearchToken._meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
            with cursor.cursor.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            for start in range(0, len(rows), 5000):
                cursor.executemany(sql, rows[start : start + 5000])
    return len(rows)


def _audit_events(
    customers: Sequence[Customer], rows: Sequence[DemoCustomer], options: dict[tuple[str, str], PicklistOption]
) -> list[AuditEvent]:
    """A "create" event per customer, plus the stage change for customers that moved on from
    being a lead, so every timeline starts with real history."""
    events = []
    lead = options.get(("stage", "lead"))
    for customer, row in zip(customers, rows, strict=True):
        owner = customer.owner
        moved_on = row.updated_at > row.created_at and customer.stage is not None and customer.stage != lead
        snapshot = {name: getattr(customer, name) for name in CUSTOMER_FIELDS}
        if moved_on:
            snapshot["stage"] = lead
        changes = audit.diff_values({}, snapshot, CUSTOMER_FIELDS)
        if row.tags:
            changes.append({"field": "tags", "old": [], "new": row.tags})
        common = {"actor": owner, "actor_name": owner.display_name or owner.username, "object_type": "customer",
                  "object_id": customer.pk, "object_repr": customer.name[:300], "customer_id": customer.pk}
        events.append(AuditEvent(at=row.created_at, action="create", changes=changes, **common))
        if moved_on:
            events.append(AuditEvent(
                at=row.updated_at, action="update",
                changes=[{"field": "stage", "old": str(lead) if lead else None, "new": str(customer.stage)}], **common,
            ))
    return events


def load_demo(
    *, customers: int, seed: int = DEFAULT_SEED, progress: Callable[[str], None] | None = None
) -> LoadResult:
    return load_dataset(build_dataset(customers=customers, seed=seed), progress=progress)
