"""The row engine: which column holds what, every normaliser over a row, and a summary.

Shared by `kehu clean` (a file), `kehu bench normalize` (generated rows) and, later, `kehu normalize`
and the importer. Pure: no database, no Django settings.

1. `recognise_columns(headers, overrides)` maps roles (name, company, phone, email, address,
   province/city/district, credit_code, id_number, website, first/last name) onto column indexes
   from Chinese and English headers, CRM exports included (HubSpot, Salesforce, 纷享销客 ...).
   Headers are compared case-, width-, space- and punctuation-insensitively, trailing numbers
   ignored ("手机1", "Phone 2"); `--columns name=客户姓名,phone=手机1` overrides a role.
2. `Cleaner(headers, columns)` turns a row (list of str) into the canonical cells of
   `cleaner.output_columns` and counts what it fixed and found wrong (`cleaner.summary`).
   Every column's cell -> result is cached (values repeat: cities, companies, names), so a
   repeated value costs a dict lookup.
3. `clean_rows(rows, headers, columns, workers=N)` runs chunks of rows through a process pool,
   in order, with bounded memory (at most a few chunks in flight), and yields each chunk's output.
"""

from __future__ import annotations

import csv
import gc
import io
import itertools
import multiprocessing
import operator
import re
import unicodedata
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# Roles a column can play. phone and email may be several columns; the others take the first match.
ROLES = (
    "name", "first_name", "last_name", "company", "phone", "email", "address", "province", "city", "district",
    "credit_code", "id_number", "website",
)
MULTI_ROLES = frozenset({"phone", "email"})
OUTPUT_COLUMNS = (
    "phone_e164", "phone_valid", "email_clean", "province", "city", "district", "address_detail",
    "company_canonical", "company_core", "name_clean", "salutation", "pinyin", "pinyin_initials", "problems",
)
# Appended only when the file has such a column (most files do not).
EXTRA_COLUMNS = {"credit_code": "credit_code_clean", "id_number": "id_number_clean", "website": "website_clean"}
ALL_OUTPUT_COLUMNS = frozenset(OUTPUT_COLUMNS) | frozenset(EXTRA_COLUMNS.values())
# Which summary "kind" a role's fixes and problems count under.
KIND_OF_ROLE = {
    "name": "name", "first_name": "name", "last_name": "name", "company": "company", "phone": "phone",
    "email": "email", "address": "address", "province": "address", "city": "address", "district": "address",
    "credit_code": "credit_code", "id_number": "id_number", "website": "website",
}
CACHE_SIZE = 1 << 16
CACHE_TRIAL = 20_000  # lookups before a column's cache is judged
CACHE_MIN_HITS = 0.05  # ... and dropped when fewer of them were hits
CHUNK_ROWS = 2000
# Chunks in flight per worker: with 3 a worker sometimes waited for its next chunk (the dispatching
# process shares the cores); 8 kept both busy (300k rows: 35k -> 42k rows/s). 16,000 rows a worker.
WINDOW_PER_WORKER = 8

# Header recognition ---------------------------------------------------------------------------

_EXACT: dict[str, tuple[str, ...]] = {
    "name": (
        "姓名", "名字", "联系人", "联系人姓名", "联系人名称", "客户姓名", "客户联系人", "主联系人", "称呼", "姓名称呼",
        "name", "fullname", "contact", "contactname", "contactperson", "person", "personname", "leadname",
    ),
    "first_name": ("名", "firstname", "givenname", "forename"),
    "last_name": ("姓", "姓氏", "lastname", "surname", "familyname"),
    "company": (
        "公司", "公司名称", "公司名", "公司全称", "单位", "单位名称", "工作单位", "企业", "企业名称", "企业全称",
        "客户名称", "客户", "客户全称", "客户公司", "所属公司", "所属客户", "机构", "机构名称", "组织", "组织名称",
        "商户名称", "门店名称", "company", "companyname", "account", "accountname", "organization",
        "organisation", "organizationname", "organisationname", "org", "employer", "firm", "business",
        "businessname", "customer", "customername", "associatedcompany",
    ),
    "phone": (
        "手机", "手机号", "手机号码", "电话", "电话号码", "联系电话", "联系方式", "联系号码", "座机", "座机号码",
        "固话", "固定电话", "办公电话", "移动电话", "公司电话", "联系人电话", "联系人手机", "手机电话", "电话手机",
        "手机座机", "工作电话", "家庭电话", "phone", "phonenumber", "phoneno", "mobile", "mobilephone",
        "mobilenumber", "mobilephonenumber", "mobileno", "tel", "telephone", "telno", "telephonenumber", "cell",
        "cellphone", "cellphonenumber", "workphone", "homephone", "businessphone", "otherphone", "directphone",
        "contactnumber", "contactphone", "accountphone",
    ),
    "email": (
        "邮箱", "电子邮箱", "电子邮件", "邮件", "邮件地址", "邮箱地址", "电子邮箱地址", "电子邮件地址", "联系人邮箱",
        "工作邮箱", "个人邮箱", "公司邮箱", "email", "emailaddress", "mail", "mailaddress", "email1", "workemail",
        "personalemail", "contactemail",
    ),
    "address": (
        "地址", "详细地址", "联系地址", "通讯地址", "通信地址", "公司地址", "办公地址", "收货地址", "注册地址",
        "经营地址", "所在地", "所在地址", "街道地址", "街道", "门牌地址", "单位地址", "家庭住址", "住址", "address",
        "streetaddress", "street", "billingstreet", "mailingstreet", "shippingstreet", "billingaddress",
        "mailingaddress", "shippingaddress", "addressline", "fulladdress", "companyaddress",
    ),
    "province": (
        "省", "省份", "所在省份", "所在省", "省份名称", "省区", "province", "state", "stateregion", "stateprovince",
        "billingstate", "billingstateprovince", "mailingstate", "mailingstateprovince", "shippingstate",
    ),
    "city": ("市", "城市", "所在城市", "所在市", "地市", "城市名称", "city", "town", "billingcity", "mailingcity",
             "shippingcity"),
    "district": ("区", "区县", "县区", "所在区县", "所在区", "县", "区县名称", "district", "county", "billingdistrict"),
    "credit_code": (
        "统一社会信用代码", "社会信用代码", "信用代码", "统一信用代码", "纳税人识别号", "税号", "creditcode",
        "unifiedsocialcreditcode", "socialcreditcode", "uscc", "taxid", "taxnumber",
    ),
    "id_number": (
        "身份证", "身份证号", "身份证号码", "证件号", "证件号码", "身份证件号", "身份证件号码", "idnumber", "idcard",
        "idcardnumber", "idno", "nationalid", "residentid",
    ),
    "website": (
        "网址", "网站", "公司网站", "公司网址", "官网", "官方网站", "主页", "网站地址", "website", "url", "web",
        "homepage", "companywebsite", "websiteurl", "companydomainname", "domain", "site",
    ),
}
_EXACT_ROLE = {key: role for role, keys in _EXACT.items() for key in keys}
# Headers that name a person or date *about* the record (owner, creator, follow-up time), never its data.
_NOT_DATA = re.compile(
    r"owner|负责人|创建人|修改人|所有人|所属人|跟进人|销售|录入人|createdby|modifiedby|updatedby|备注|note|remark|"
    r"时间|日期|date|time|status|状态|来源|source|type|类型|数量|金额|valid|e164|clean|core|canonical"
)
# Fallback by keyword, in this order: "公司地址" is an address, "联系人电话" a phone, "公司名称" a company.
_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("email", ("邮箱", "邮件", "email", "mail")),
    ("phone", ("手机", "电话", "座机", "固话", "phone", "mobile", "telephone")),
    ("credit_code", ("信用代码", "税号")),
    ("id_number", ("身份证",)),
    ("website", ("网址", "网站", "website", "url")),
    ("address", ("地址", "address", "street")),
    ("company", ("公司", "单位", "企业", "company", "account", "organi")),
    ("name", ("姓名", "联系人", "name")),
)
_PUNCT = re.compile(r"[\W_]+")
_TRAILING_NUMBER = re.compile(r"(?<=\D)\d{1,2}$")


def header_key(header: str) -> str:
    """"Phone Number 2" -> "phonenumber", "手机（1）" -> "手机", "E-mail:" -> "email"."""
    key = _PUNCT.sub("", unicodedata.normalize("NFKC", header).casefold())
    return _TRAILING_NUMBER.sub("", key) or key


def role_of_header(header: str) -> str | None:
    """The role a header names, or None. Kehu's own output columns name nothing."""
    if header.strip() in ALL_OUTPUT_COLUMNS:
        return None
    key = header_key(header)
    if not key:
        return None
    role = _EXACT_ROLE.get(key)
    if role is not None:
        return role
    if _NOT_DATA.search(key):
        return None
    for role, words in _KEYWORDS:
        if any(word in key for word in words):
            return role
    return None


def parse_column_overrides(text: str) -> dict[str, list[str]]:
    """"name=客户姓名,phone=手机1,phone=手机2" -> {"name": ["客户姓名"], "phone": ["手机1", "手机2"]}.
    An empty column ("website=") switches a role off."""
    overrides: dict[str, list[str]] = {}
    for part in re.split(r"[,，]", text or ""):
        if not part.strip():
            continue
        role, sep, column = part.partition("=")
        role = role.strip().lower()
        if not sep:
            raise ValueError(f"--columns 的每一项应写成 角色=列名，而不是 {part.strip()!r} (expected role=column)")
        if role not in ROLES:
            raise ValueError(f"未知的角色 {role!r}，可用：{', '.join(ROLES)} (unknown role)")
        found = overrides.setdefault(role, [])
        if column.strip():
            found.append(column.strip())
    return overrides


def _column_index(headers: Sequence[str], column: str) -> int:
    for index, header in enumerate(headers):
        if header == column:
            return index
    key = header_key(column)
    for index, header in enumerate(headers):
        if header.strip().casefold() == column.casefold() or (key and header_key(header) == key):
            return index
    if column.isdigit() and 1 <= int(column) <= len(headers):
        return int(column) - 1  # 1-based column number, as a spreadsheet user counts
    raise ValueError(f"找不到列 {column!r}，文件的列有：{'、'.join(h or '(空)' for h in headers)} (no such column)")


def recognise_columns(
    headers: Sequence[str], overrides: Mapping[str, Sequence[str]] | str | None = None
) -> dict[str, list[int]]:
    """{role: [column index, ...]} for the roles found in `headers` (phone and email may list several
    columns; every other role at most one). `overrides` ({role: [header or 1-based number]} or the
    `--columns` text) replace the recognition for their roles, and take their columns away from any
    other role."""
    if isinstance(overrides, str):
        overrides = parse_column_overrides(overrides)
    overrides = overrides or {}
    found: dict[str, list[int]] = {}
    for index, header in enumerate(headers):
        role = role_of_header(header)
        if role is None or role in overrides:
            continue
        if role in MULTI_ROLES or role not in found:
            found.setdefault(role, []).append(index)
    taken: set[int] = set()
    for role, columns in overrides.items():
        if role not in ROLES:
            raise ValueError(f"未知的角色 {role!r}，可用：{', '.join(ROLES)} (unknown role)")
        indexes = [_column_index(headers, c) for c in columns]
        if len(indexes) > 1 and role not in MULTI_ROLES:
            raise ValueError(f"角色 {role} 只能对应一列 (only phone and email take several columns)")
        if indexes:
            found[role] = indexes
        taken.update(indexes)
    for role in list(found):
        if role not in overrides:
            found[role] = [i for i in found[role] if i not in taken]
            if not found[role]:
                del found[role]
    return {role: found[role] for role in ROLES if role in found}


def describe_columns(headers: Sequence[str], columns: Mapping[str, Sequence[int]]) -> str:
    """"name=姓名, phone=手机+电话, email=邮箱" for the log."""
    return ", ".join(f"{role}={'+'.join(headers[i] for i in idx)}" for role, idx in columns.items()) or "(none)"


# The engine -----------------------------------------------------------------------------------


@dataclass
class CleanSummary:
    """What a run did: rows seen, rows where any value changed, fixes per kind, problems per code."""

    rows: int = 0
    rows_changed: int = 0
    rows_with_problems: int = 0
    fixed: Counter[str] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)

    def add(self, other: CleanSummary | tuple[int, int, int, dict[str, int], dict[str, int]]) -> None:
        if isinstance(other, CleanSummary):
            other = other.as_tuple()
        rows, changed, with_problems, fixed, problems = other
        self.rows += rows
        self.rows_changed += changed
        self.rows_with_problems += with_problems
        self.fixed.update(fixed)
        self.problems.update(problems)

    def as_tuple(self) -> tuple[int, int, int, dict[str, int], dict[str, int]]:
        """Cheap to pickle back from a worker."""
        return self.rows, self.rows_changed, self.rows_with_problems, dict(self.fixed), dict(self.problems)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows, "rows_changed": self.rows_changed, "rows_with_problems": self.rows_with_problems,
            "fixed": dict(self.fixed.most_common()), "problems": dict(self.problems.most_common()),
        }


def _messages() -> dict[str, str]:
    """Every normaliser module's MESSAGES, merged (code -> Chinese sentence)."""
    import importlib

    merged: dict[str, str] = {}
    for module in ("text", "phones", "emails", "identifiers", "names", "addresses", "companies"):
        try:
            merged.update(getattr(importlib.import_module(f"kehu.dataquality.normalize.{module}"), "MESSAGES", {}))
        except ImportError:
            continue
    return merged


# (bit mask, problem messages, problem codes) of one cell. The mask has the bit of the cell's kind
# when the cell was changed and PROBLEM_BIT when it has problems, so a chunk's counts come from
# OR-ing the masks column by column (in C) and counting the distinct masks.
_Notes = tuple[int, tuple[str, ...], tuple[str, ...]]
_CLEAN: _Notes = (0, (), ())
KIND_BITS = {kind: 1 << n for n, kind in enumerate(dict.fromkeys(KIND_OF_ROLE.values()))}
PROBLEM_BIT = 1 << len(KIND_BITS)
CHANGE_BITS = PROBLEM_BIT - 1
_FIXED: dict[str, _Notes] = {kind: (bit, (), ()) for kind, bit in KIND_BITS.items()}
# What an empty cell gives, per processor shape.
_NO_PHONE: tuple[tuple[str, ...], str, str, _Notes] = ((), "", "", _CLEAN)
_NO_EMAIL: tuple[tuple[str, ...], str, _Notes] = ((), "", _CLEAN)
_NO_ADDRESS = ("", "", "", "", _CLEAN)
_NO_COMPANY = ("", "", _CLEAN)
_NO_NAME = ("", "", "", "", _CLEAN)
_NO_VALUE = ("", _CLEAN)


class Cleaner:
    """Cleans rows of one file layout. Build one per process; `clean(row)` is the hot path."""

    def __init__(
        self, headers: Sequence[str], columns: Mapping[str, Sequence[int]], *, cache_size: int = CACHE_SIZE
    ) -> None:
        self.headers = list(headers)
        self.columns = {role: list(idx) for role, idx in columns.items()}
        self.extra_roles = [role for role in EXTRA_COLUMNS if role in self.columns]
        self.output_columns = self.output_columns_for(self.columns)
        self.summary = CleanSummary()
        self._messages = _messages()
        cache = lru_cache(maxsize=cache_size)
        cols = self.columns
        header = self.headers.__getitem__
        self._phone_cells = [(i, cache(self._phone_cell(header(i)))) for i in cols.get("phone", ())]
        self._email_cells = [(i, cache(self._email_cell(header(i)))) for i in cols.get("email", ())]
        # Companies repeat across many rows but are many: a larger cache still pays (1M rows, 125k
        # companies: 32% hits at 65,536 entries, 46% at 262,144, ~2 µs a row).
        company_cache = lru_cache(maxsize=cache_size * 4)
        self._company = (cols["company"][0], company_cache(self._company_cell(header(cols["company"][0])))) \
            if "company" in cols else None
        first, last = cols.get("first_name", [None])[0], cols.get("last_name", [None])[0]
        name_index = cols["name"][0] if "name" in cols else None
        name_label = header(name_index) if name_index is not None else \
            "/".join(header(i) for i in (last, first) if i is not None)
        self._name_cols = (name_index, first, last)
        self._name = cache(self._name_cell(name_label)) if name_label else None
        parts = [cols[r][0] if r in cols else None for r in ("province", "city", "district", "address")]
        self._address_cols = parts
        # Only a one-line address column (the usual case): its cell is the cache key as is.
        self._address_index = parts[3] if parts[:3] == [None, None, None] else None
        self._address_label = "/".join(header(i) for i in parts if i is not None)
        self._address = cache(self._address_cell(self._address_label)) if self._address_label else None
        self._extras = [(cols[role][0], cache(self._identifier_cell(role, header(cols[role][0]))))
                        for role in self.extra_roles]
        self._caches_judged = False

    def _retire_useless_caches(self) -> None:
        """After CACHE_TRIAL lookups, a column whose values hardly repeat (phones, e-mails, street
        addresses are mostly unique) stops caching: the cache would only cost memory and inserts."""
        def judge(run: Any) -> Any:
            info = run.cache_info()
            if info.hits + info.misses < CACHE_TRIAL:
                return None
            if info.hits >= CACHE_MIN_HITS * (info.hits + info.misses):
                return run
            run.cache_clear()
            return run.__wrapped__

        pending = False
        for cells in (self._phone_cells, self._email_cells, self._extras):
            for n, (index, run) in enumerate(cells):
                if hasattr(run, "cache_info"):
                    kept = judge(run)
                    pending |= kept is None
                    cells[n] = (index, kept or run)
        # Companies are not judged: a file's companies repeat across the whole file, so the first
        # 20,000 lookups (1M rows, 125,000 companies: under 5% hits) understate what the cache
        # gives later (~45%).
        for attribute in ("_name", "_address"):
            run = getattr(self, attribute)
            if run is not None and hasattr(run, "cache_info"):
                kept = judge(run)
                pending |= kept is None
                setattr(self, attribute, kept or run)
        self._caches_judged = not pending

    @staticmethod
    def output_columns_for(columns: Mapping[str, Sequence[int]]) -> tuple[str, ...]:
        """The canonical columns a file with these roles gets (identifier columns only when present)."""
        return OUTPUT_COLUMNS[:-1] + tuple(EXTRA_COLUMNS[r] for r in EXTRA_COLUMNS if r in columns) + ("problems",)

    # Cell processors: one per column, cached by cell text -------------------------------------

    def _notes(self, label: str, kind: str, results: Sequence[Any], cell: str | None = None) -> _Notes:
        """A cell counts as fixed when what would be stored differs from what was typed (`cell`, the
        whole cell: a multi-value cell's pieces may already be cleaned of full-width digits)."""
        if len(results) == 1 and not results[0].problems:  # the usual cell: one value, nothing wrong
            only = results[0]
            if only.value == (only.raw if cell is None else cell):
                return _CLEAN
            return _FIXED[kind]
        fixed = cell is not None and "; ".join(r.value for r in results) != cell
        texts: list[str] = []
        codes: list[str] = []
        messages = self._messages
        for result in results:
            if result.value != result.raw:
                fixed = True
            for problem in result.problems:
                codes.append(problem.code)
                text = f"{label}：{messages.get(problem.code, problem.code)}"
                if problem.value:
                    text += f"（{problem.value}）"
                if problem.hint:
                    text += f"，建议 {problem.hint}"
                texts.append(text)
        if not fixed and not codes:
            return _CLEAN
        return (KIND_BITS[kind] if fixed else 0) | (PROBLEM_BIT if codes else 0), tuple(texts), tuple(codes)

    def _phone_cell(self, label: str) -> Callable[[str], tuple[tuple[str, ...], str, str, _Notes]]:
        from kehu.dataquality.normalize.phones import normalize_phones, quick_phone

        fixed = _FIXED["phone"]

        def run(cell: str) -> tuple[tuple[str, ...], str, str, _Notes]:
            quick = quick_phone(cell)
            if quick is not None:  # one mobile or one landline: most cells
                display, number = quick
                return (number,), number, "true", _CLEAN if display == cell else fixed
            if cell.isspace():
                return _NO_PHONE
            results = normalize_phones(cell)
            if len(results) == 1:
                number = results[0].e164
                notes = self._notes(label, "phone", results, cell)
                return ((number,), number, "true", notes) if number else ((), "", "false", notes)
            e164 = tuple(dict.fromkeys(r.e164 for r in results if r.e164))
            valid = "true" if all(r.e164 for r in results) else "false"
            return e164, "; ".join(e164), valid, self._notes(label, "phone", results, cell)

        return run

    def _email_cell(self, label: str) -> Callable[[str], tuple[tuple[str, ...], str, _Notes]]:
        from kehu.dataquality.normalize.emails import normalize_emails, quick_email

        fixed = _FIXED["email"]

        def run(cell: str) -> tuple[tuple[str, ...], str, _Notes]:
            quick = quick_email(cell)
            if quick is not None:  # one plain address, nothing to flag: most cells
                return (quick,), quick, _CLEAN if quick == cell else fixed
            if cell.isspace():
                return _NO_EMAIL
            results = normalize_emails(cell)
            if len(results) == 1:
                value = results[0].value if results[0].valid else ""
                return ((value,) if value else ()), value, self._notes(label, "email", results, cell)
            values = tuple(dict.fromkeys(r.value for r in results if r.valid))  # invalid: in problems
            return values, "; ".join(values), self._notes(label, "email", results, cell)

        return run

    def _company_cell(self, label: str) -> Callable[[str], tuple[str, str, _Notes]]:
        from kehu.dataquality.normalize.companies import normalize_company

        def run(cell: str) -> tuple[str, str, _Notes]:
            if cell.isspace():
                return _NO_COMPANY
            result = normalize_company(cell)
            return result.value, result.core, self._notes(label, "company", (result,), cell)

        return run

    def _name_cell(self, label: str) -> Callable[[str], tuple[str, str, str, str, _Notes]]:
        from kehu.dataquality.normalize.names import normalize_person_name

        def run(cell: str) -> tuple[str, str, str, str, _Notes]:
            if cell.isspace():
                return _NO_NAME
            result = normalize_person_name(cell)
            notes = self._notes(label, "name", (result,), cell)
            return result.value, result.salutation, result.pinyin, result.initials, notes

        return run

    def _address_cell(self, label: str) -> Callable[[Any], tuple[str, str, str, str, _Notes]]:
        from kehu.dataquality.normalize.addresses import normalize_address, quick_address
        from kehu.dataquality.normalize.addresses import normalize_address_parts as normalize_parts

        fixed = _FIXED["address"]

        def run(parts: str | tuple[str, str, str, str]) -> tuple[str, str, str, str, _Notes]:
            if isinstance(parts, str):
                quick = quick_address(parts)
                if quick is not None:  # plain text, region recognised, nothing to flag: most cells
                    province, city, district, detail, value = quick
                    return province, city, district, detail, _CLEAN if value == parts else fixed
                if parts.isspace():
                    return _NO_ADDRESS
                result = normalize_address(parts)
                return result.province, result.city, result.district, result.detail, \
                    self._notes(label, "address", (result,), parts)
            province, city, district, detail = parts
            if province or city or district:
                result = normalize_parts(province=province, city=city, district=district, detail=detail)
            else:
                result = normalize_address(detail)
            notes = self._notes(label, "address", (result,))
            return result.province, result.city, result.district, result.detail, notes

        return run

    def _identifier_cell(self, role: str, label: str) -> Callable[[str], tuple[str, _Notes]]:
        from kehu.dataquality.normalize import identifiers as ids

        normalize = {"credit_code": ids.normalize_credit_code, "id_number": ids.normalize_resident_id,
                     "website": ids.normalize_url}[role]

        def run(cell: str) -> tuple[str, _Notes]:
            if cell.isspace():
                return _NO_VALUE
            result = normalize(cell)
            return result.value, self._notes(label, KIND_OF_ROLE[role], (result,), cell)

        return run

    # The row ----------------------------------------------------------------------------------

    def clean(self, row: Sequence[str]) -> list[str]:
        """The canonical cells (in `output_columns` order) for one input row; counts into `summary`."""
        return list(self.clean_many([row])[0])

    def clean_many(self, rows: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
        """`clean` for a chunk of rows, column by column: each column's cells go through its cached
        processor in one tight loop, and only rows with something to report (a change or a
        problem) take the slower per-row path that writes the problems text and the counts."""
        return list(zip(*self.clean_columns(rows), strict=True))

    def clean_columns(self, rows: Sequence[Sequence[str]]) -> list[Sequence[str]]:
        """`clean_many` column by column: one sequence of cells per output column (in
        `output_columns` order), as the engine builds them."""
        if not self._caches_judged:
            self._retire_useless_caches()
        if not isinstance(rows, list):
            rows = list(rows)
        count = len(rows)
        if not count:
            return [() for _ in self.output_columns]
        blank = [""] * count
        notes: list[Sequence[_Notes]] = []

        phone_e164, phone_valid = blank, blank
        # zip(*column) transposes a column of result tuples into one tuple per field, in C.
        results = [[run(c) if c else _NO_PHONE for c in map(operator.itemgetter(i), rows)]
                   for i, run in self._phone_cells]
        if results:
            _numbers, phone_e164, phone_valid, first_notes = zip(*results[0], strict=True)
            notes.append(first_notes)
            if len(results) > 1:
                phone_e164, phone_valid = list(phone_e164), list(phone_valid)
            for column in results[1:]:  # a second phone column: merge only the rows where it has a value
                for k in itertools.compress(range(count), map(operator.is_not, column, itertools.repeat(_NO_PHONE))):
                    numbers, joined, valid = column[k][:3]
                    if not phone_valid[k]:
                        phone_e164[k], phone_valid[k] = joined, valid
                        continue
                    if numbers:
                        merged = dict.fromkeys(phone_e164[k].split("; ") if phone_e164[k] else ())
                        merged.update(dict.fromkeys(numbers))
                        phone_e164[k] = "; ".join(merged)
                    if valid == "false":
                        phone_valid[k] = "false"
        notes.extend([x[3] for x in column] for column in results[1:])

        email_clean = blank
        results = [[run(c) if c else _NO_EMAIL for c in map(operator.itemgetter(i), rows)]
                   for i, run in self._email_cells]
        if results:
            _values, email_clean, first_notes = zip(*results[0], strict=True)
            notes.append(first_notes)
            if len(results) > 1:
                email_clean = list(email_clean)
            for column in results[1:]:
                for k in itertools.compress(range(count), map(operator.is_not, column, itertools.repeat(_NO_EMAIL))):
                    values = column[k][0]
                    if values:
                        merged = dict.fromkeys(email_clean[k].split("; ") if email_clean[k] else ())
                        merged.update(dict.fromkeys(values))
                        email_clean[k] = "; ".join(merged)
        notes.extend([x[2] for x in column] for column in results[1:])

        province = city = district = detail = blank
        if self._address is not None:
            run = self._address
            if self._address_index is not None:
                i = self._address_index
                column = [run(c) if c else _NO_ADDRESS for c in map(operator.itemgetter(i), rows)]
            else:
                cols = self._address_cols
                keys = [tuple([r[i].strip() if i is not None else "" for i in cols]) for r in rows]
                column = [run(k) if any(k) else _NO_ADDRESS for k in keys]
            province, city, district, detail, address_notes = zip(*column, strict=True)
            notes.append(address_notes)

        company = core = blank
        if self._company is not None:
            i, run = self._company
            column = [run(c) if c else _NO_COMPANY for c in map(operator.itemgetter(i), rows)]
            company, core, company_notes = zip(*column, strict=True)
            notes.append(company_notes)

        name = salutation = pinyin = initials = blank
        if self._name is not None:
            run = self._name
            i = self._name_cols[0]
            cells = map(operator.itemgetter(i), rows) if i is not None else map(self._name_text, rows)
            column = [run(c) if c else _NO_NAME for c in cells]
            name, salutation, pinyin, initials, name_notes = zip(*column, strict=True)
            notes.append(name_notes)

        extras = []
        for i, run in self._extras:
            column = [run(c) if c else _NO_VALUE for c in map(operator.itemgetter(i), rows)]
            values, extra_notes = zip(*column, strict=True)
            extras.append(values)
            notes.append(extra_notes)

        problems = blank
        summary = self.summary
        summary.rows += count
        if notes:
            masks = [n[0] for n in notes[0]]
            for column in notes[1:]:
                masks = list(map(operator.or_, masks, [n[0] for n in column]))
            for mask, rows_with_mask in Counter(masks).items():
                if not mask:
                    continue
                if mask & CHANGE_BITS:
                    summary.rows_changed += rows_with_mask
                    for kind, bit in KIND_BITS.items():
                        if mask & bit:
                            summary.fixed[kind] += rows_with_mask
                if mask & PROBLEM_BIT:
                    summary.rows_with_problems += rows_with_mask
            flagged = list(itertools.compress(range(count), map(operator.and_, masks, itertools.repeat(PROBLEM_BIT))))
            if flagged:
                problems = list(blank)
                counts = summary.problems
                for k in flagged:
                    texts: list[str] = []
                    for column in notes:
                        _mask, messages, codes = column[k]
                        if codes:
                            texts.extend(messages)
                            for code in codes:
                                counts[code] = counts.get(code, 0) + 1  # dict.get: Counter.update is slow
                    problems[k] = "; ".join(texts)
        return [phone_e164, phone_valid, email_clean, province, city, district, detail, company, core, name,
                salutation, pinyin, initials, *extras, problems]

    def _name_text(self, row: Sequence[str]) -> str:
        name_index, first, last = self._name_cols
        if name_index is not None:
            return row[name_index]
        given = row[first].strip() if first is not None else ""
        family = row[last].strip() if last is not None else ""
        if given and family and not (given + family).isascii():
            return family + given  # 张 + 三; "John" + "Smith" stays Western order
        return f"{given} {family}".strip()


def clean_record(record: Mapping[str, str | Sequence[str]]) -> dict[str, str]:
    """One record given by role ({"name": "张先生", "phone": ["138...", "010-..."], "address": ...})
    -> {output column: canonical text}. For callers holding values rather than a file row."""
    values: list[str] = []
    headers: list[str] = []
    columns: dict[str, list[int]] = {}
    for role, value in record.items():
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        for item in [value] if isinstance(value, str) else list(value):
            columns.setdefault(role, []).append(len(values))
            headers.append(role)
            values.append(item)
    cleaner = _record_cleaner(tuple(headers), tuple((r, tuple(i)) for r, i in columns.items()))
    return dict(zip(cleaner.output_columns, cleaner.clean(values), strict=True))


@lru_cache(maxsize=64)
def _record_cleaner(headers: tuple[str, ...], columns: tuple[tuple[str, tuple[int, ...]], ...]) -> Cleaner:
    return Cleaner(headers, {role: list(idx) for role, idx in columns})


# Output rows ----------------------------------------------------------------------------------


class OutputLayout:
    """Input columns first, kept as they are, then the canonical columns. A canonical column the
    input already has (a file `kehu clean` wrote before) is overwritten in place, so cleaning a
    cleaned file gives the same file. Cells right of the header (a row longer than the header)
    follow the canonical columns, never dropped. With `escape`, every cell is formula-safe
    (`kehu.core.tabular.escape_formula`)."""

    def __init__(self, headers: Sequence[str], output_columns: Sequence[str], *, escape: bool = True) -> None:
        position = {h: i for i, h in reversed(list(enumerate(headers)))}
        self.width = len(headers)
        self.replace = [(position[c], i) for i, c in enumerate(output_columns) if c in position]
        self.appended = [i for i, c in enumerate(output_columns) if c not in position]
        self.headers = [*headers, *(output_columns[i] for i in self.appended)]
        self.escape = escape

    def assemble(self, row: Sequence[str], canonical: Sequence[str]) -> list[str]:
        width = self.width
        out = list(row[:width]) if len(row) > width else list(row)
        for target, source in self.replace:
            out[target] = canonical[source]
        if self.replace:
            out.extend([canonical[i] for i in self.appended])
        else:
            out.extend(canonical)
        if len(row) > width:
            out.extend(row[width:])
        if self.escape:
            from kehu.core.tabular import escape_row

            return escape_row(out)
        return out


# Parallel -------------------------------------------------------------------------------------

_worker: Cleaner | None = None
_layout: OutputLayout | None = None
_output = "cells"
OUTPUTS = ("cells", "rows", "csv")
CSV_EXAMPLES = 20  # rows with problems a "csv" chunk reports back (for `kehu clean --report`)


@dataclass(frozen=True, slots=True)
class CsvChunk:
    """A chunk cleaned into CSV text (output "csv"): formatting runs in the worker, and the writing
    process unpickles one string instead of 20 cells a row. `problems` holds (index in the chunk,
    problems text) of the chunk's first rows with problems."""

    text: str
    problems: tuple[tuple[int, str], ...]


def tune_gc() -> None:
    """For a process that only cleans (a pool worker, `kehu clean`): the cyclic GC would walk the
    loaded dictionaries and the caches every few thousand allocations (~30% of the run); freeze what
    is loaded and collect rarely. Chunks hold no reference cycles, so nothing piles up."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)


def _init_worker(headers: list[str], columns: dict[str, list[int]], output: str = "cells",
                 gc_tuning: bool = True) -> None:
    global _worker, _layout, _output
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, not {output!r}")
    _worker = Cleaner(headers, columns)
    _layout = OutputLayout(headers, _worker.output_columns) if output != "cells" else None
    _output = output
    if gc_tuning:
        tune_gc()


class CellColumns(tuple):  # type: ignore[type-arg]
    """A chunk's canonical cells column by column, as a worker sends them: half the pickling of
    one tuple per row (1M rows: ~1 µs a row less in the worker). `rows()` turns them round."""

    __slots__ = ()

    def rows(self) -> list[tuple[str, ...]]:
        return list(zip(*self, strict=True))


def _clean_chunk(rows: list[Sequence[str]]) -> tuple[Any, tuple[int, int, int, dict, dict]]:
    """In a worker: the chunk's output (see `clean_rows`; "cells" as `CellColumns`, which
    `parallel_ordered` and `clean_rows` turn into rows) and its counts."""
    assert _worker is not None
    _worker.summary = CleanSummary()
    columns = _worker.clean_columns(rows)
    counts = _worker.summary.as_tuple()
    if _layout is None:
        return CellColumns(columns), counts
    canonical: list[Sequence[str]] = list(zip(*columns, strict=True))
    assemble = _layout.assemble
    assembled = [assemble(row, out) for row, out in zip(rows, canonical, strict=True)]
    if _output == "rows":
        return assembled, counts
    buffer = io.StringIO()
    csv.writer(buffer).writerows(assembled)
    problems: list[tuple[int, str]] = []
    if counts[2]:
        for index, out in enumerate(canonical):
            if out[-1]:
                problems.append((index, out[-1]))
                if len(problems) >= CSV_EXAMPLES:
                    break
    return CsvChunk(buffer.getvalue(), tuple(problems)), counts


def chunked(rows: Iterable[Sequence[str]], size: int = CHUNK_ROWS) -> Iterator[list[Sequence[str]]]:
    chunk: list[Sequence[str]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def clean_rows(
    rows: Iterable[Sequence[str]], headers: Sequence[str], columns: Mapping[str, Sequence[int]], *,
    workers: int = 1, chunk_rows: int = CHUNK_ROWS, summary: CleanSummary | None = None, output: str = "cells",
) -> Iterator[tuple[list[Sequence[str]], Any]]:
    """Yield (input chunk, its output) in input order; totals go into `summary`. The output is, by
    `output`: "cells", the canonical cells of each row; "rows", each whole formula-safe output row
    (`OutputLayout`); "csv", a `CsvChunk` of those rows as CSV text. Built in the workers, so the
    writing process only writes.

    With workers > 1 the chunks run in a process pool (fork: the children inherit the loaded
    dictionaries); at most WINDOW_PER_WORKER chunks per worker are in flight, so a million-row file
    never sits in memory whole (Pool.imap would read the whole input ahead)."""
    summary = summary if summary is not None else CleanSummary()
    columns = {role: list(idx) for role, idx in columns.items()}
    chunks = chunked(rows, chunk_rows)
    head = list(itertools.islice(chunks, 2))
    # Built here first: imports the normalisers and loads their dictionaries once, before forking.
    _init_worker(list(headers), columns, output, gc_tuning=False)
    if workers <= 1 or len(head) < 2:  # one chunk: a pool would cost more than it saves
        for chunk in itertools.chain(head, chunks):
            out, counts = _clean_chunk(chunk)
            summary.add(counts)
            yield chunk, out.rows() if isinstance(out, CellColumns) else out
        return
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    with context.Pool(workers, initializer=_init_worker, initargs=(list(headers), columns, output)) as pool:
        yield from parallel_ordered(pool, _clean_chunk, itertools.chain(head, chunks),
                                    window=workers * WINDOW_PER_WORKER, summary=summary)


def parallel_ordered(
    pool: Any, function: Callable[[Any], tuple[Any, tuple]], chunks: Iterable[Any], *, window: int,
    summary: CleanSummary,
) -> Iterator[tuple[Any, Any]]:
    """Pool.apply_async with a bounded window, results in submission order."""
    pending: deque[tuple[Any, Any]] = deque()
    for chunk in chunks:
        pending.append((chunk, pool.apply_async(function, (chunk,))))
        if len(pending) >= window:
            done_chunk, result = pending.popleft()
            out, counts = result.get()
            summary.add(counts)
            yield done_chunk, out.rows() if isinstance(out, CellColumns) else out
    while pending:
        done_chunk, result = pending.popleft()
        out, counts = result.get()
        summary.add(counts)
        yield done_chunk, out.rows() if isinstance(out, CellColumns) else out
