"""Which column of an import file feeds which field: targets per importable kind, the automatic
suggestion from headers, mapping checks, saved templates and owner matching.

Headers are compared through `kehu.dataquality.pipeline.header_key` (case, width, spaces,
punctuation and a trailing column number ignored: "手机号码1", "Phone Number 2", "E-mail:"), so
the alias tables below list each spelling once. A header is scored against every target:
an exact alias 100, an exact alias once a bracketed remark is dropped ("客户名称（必填）") 95,
a second-choice alias (a contact's second phone column) 70, a near miss of an alias
(rapidfuzz ratio >= 85) 61-68, the data-quality pipeline's role of the header ("联系人手机") 60.
Columns then take their best free target in score order, so an exact header always beats a fuzzy
one, and a single-valued target never gets two columns (phones, emails, tags and notes may take
several: the engine merges them).

Pure apart from `targets_for`, which reads the custom field definitions once per call.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import get_language
from django.utils.translation import gettext as _
from rapidfuzz import fuzz, process

from kehu.dataquality.pipeline import header_key, role_of_header

KINDS = ("customers", "contacts", "notes")
# Target kinds (TargetField.kind). Beyond the plain ones: "picklist:<PicklistKind>", "choice:<name>"
# (a fixed choice: customer kind, gender), "name_part:first|last" (combined into `name` by
# split_person_name), "customer_link" (how a contact or note finds its customer), "custom" (custom.<key>).
MULTI_KINDS = frozenset({"phones", "emails", "tags"})
CUSTOMER_LINKS = ("customer_name", "customer_credit_code", "customer_external_id")

SCORE_EXACT = 100
SCORE_BRACKETS = 95
SCORE_SECOND = 70
SCORE_ROLE = 60
FUZZY_CUTOFF = 85  # rapidfuzz ratio (0-100) a near miss needs; scored 61-68, between a second choice and a role
FUZZY_MIN_LENGTH = 4  # shorter keys ("省份" vs "省分") are too close to everything to guess from


@dataclass(frozen=True)
class TargetField:
    key: str
    label_zh: str
    label_en: str
    kind: str = "text"
    required_for_insert: bool = False
    multi: bool = False  # several columns may feed it; the engine merges their values
    aliases: tuple[str, ...] = ()  # header spellings (any case, width, punctuation)
    second_aliases: tuple[str, ...] = ()  # headers that fit here when the first choice is taken

    @property
    def label(self) -> str:
        return self.label_en if (get_language() or "").startswith("en") and self.label_en else self.label_zh


def _t(key: str, zh: str, en: str, kind: str = "text", *aliases: str, required: bool = False,
       second: tuple[str, ...] = (), multi: bool | None = None) -> TargetField:
    return TargetField(
        key=key, label_zh=zh, label_en=en, kind=kind, required_for_insert=required,
        multi=(kind in MULTI_KINDS or key == "notes") if multi is None else multi,
        aliases=(zh, en, key, *aliases), second_aliases=second,
    )


_PHONE_ALIASES = (
    "电话", "手机", "手机号", "手机号码", "移动电话", "联系电话", "电话号码", "座机", "座机号码", "固定电话", "固话",
    "联系方式", "联系号码", "办公电话", "公司电话", "工作电话", "Tel", "Telephone", "Phone", "Phone Number", "Phones",
    "Mobile", "Mobile Phone", "Mobile Phone Number", "Mobile Number", "Cell", "Cell Phone", "Work Phone",
    "Business Phone", "Other Phone",
)
_EMAIL_ALIASES = (
    "邮箱", "电子邮件", "电子邮箱", "邮件", "邮箱地址", "电子邮件地址", "Email", "E-mail", "Email Address", "Emails",
    "Mail", "Work Email",
)
_NOTES_ALIASES = (
    "备注", "说明", "描述", "备注信息", "备注说明", "客户描述", "客户备注", "Notes", "Note", "Description", "Remarks",
    "Remark", "Comments", "Comment",
)
_CREDIT_ALIASES = (
    "统一社会信用代码", "信用代码", "社会信用代码", "统一信用代码", "税号", "纳税人识别号", "Credit code",
    "Unified social credit code", "USCC", "Tax ID", "Tax number",
)
_BIRTHDAY_ALIASES = ("生日", "出生日期", "出生年月", "Birthday", "Birth date", "Birthdate", "Date of birth", "DOB")
_SALUTATION_ALIASES = ("称呼", "尊称", "Salutation")
_EXTERNAL_ALIASES = ("外部编号", "原系统编号", "外部ID", "Record ID", "External ID")
# A bare "ID" is another system's key in a foreign file, but Kehu's own key in our export, which
# also writes "外部编号": it only fills external_id when no better column does.
_EXTERNAL_SECOND = ("ID", "编号")
_COMPANY_NAMES = (
    "客户名称", "公司名称", "企业名称", "客户", "公司", "客户全称", "公司全称", "企业全称", "单位名称", "单位",
    "机构名称", "组织名称", "客户名", "公司名", "Company", "Company Name", "Account", "Account Name", "Customer",
    "Customer Name", "Organization", "Organisation", "Organization Name",
)

_CUSTOMERS: tuple[TargetField, ...] = (
    _t("name", "名称", "Name", "text", *_COMPANY_NAMES, "名称", "Name", required=True,
       second=("姓名", "客户姓名", "Full Name")),
    _t("first_name", "名", "First name", "name_part:first", "First Name", "Given Name", "Forename"),
    _t("last_name", "姓", "Last name", "name_part:last", "姓氏", "Last Name", "Surname", "Family Name"),
    _t("kind", "类型", "Type", "choice:customer_kind", "客户类型", "客户性质", "Customer Type", "Kind"),
    _t("short_name", "简称", "Short name", "text", "客户简称", "公司简称", "Abbreviation"),
    _t("salutation", "称呼", "Salutation", "text", *_SALUTATION_ALIASES),
    _t("phones", "电话", "Phone", "phones", *_PHONE_ALIASES),
    _t("emails", "邮箱", "Email", "emails", *_EMAIL_ALIASES),
    _t("website", "网站", "Website", "text", "网址", "官网", "公司网址", "公司网站", "主页", "官方网站", "URL", "Web",
       "Homepage", "Company Domain Name", "Domain", "Website URL"),
    _t("province", "省份", "Province", "text", "省", "所在省份", "所在省", "State", "State/Region", "State/Province",
       "Billing State/Province", "Billing State", "Shipping State/Province", "Mailing State/Province"),
    _t("city", "城市", "City", "text", "市", "所在城市", "所在市", "地市", "Town", "Billing City", "Shipping City",
       "Mailing City"),
    _t("district", "区县", "District", "text", "区", "县区", "县", "所在区县", "所在区", "County"),
    _t("address", "详细地址", "Street address", "text", "地址", "公司地址", "联系地址", "通讯地址", "通信地址",
       "办公地址", "注册地址", "经营地址", "街道地址", "Address", "Street", "Billing Street", "Shipping Street",
       "Mailing Street", "Full Address", "Address Line",
       second=("省市区", "省市县", "所在地区")),  # the address parser reads a region; a street column wins
    _t("industry", "行业", "Industry", "picklist:industry", "所属行业", "客户行业", "行业类别", "行业分类"),
    _t("level", "级别", "Level", "picklist:level", "客户级别", "客户等级", "等级", "客户分级", "Customer Level",
       "Tier"),
    _t("stage", "生命周期阶段", "Lifecycle stage", "picklist:stage", "阶段", "客户状态", "生命周期", "客户阶段",
       "成交状态", "状态", "Stage", "Status", "Customer Status"),
    _t("source", "来源渠道", "Source", "picklist:source", "来源", "客户来源", "线索来源", "渠道", "获客渠道",
       "Lead Source", "Original Source", "Channel"),
    _t("owner", "负责人", "Owner", "user", "销售", "所属销售", "归属人", "销售负责人", "客户负责人", "销售代表",
       "业务员", "所有人", "客户所有人", "Company Owner", "Contact Owner", "Account Owner", "HubSpot Owner",
       "Sales Rep", "Assigned To"),
    _t("department", "所属部门", "Department", "department", "部门", "负责部门", "归属部门", "Team"),
    _t("tags", "标签", "Tags", "tags", "客户标签", "Tag", "Labels"),
    _t("birthday", "生日", "Birthday", "date", *_BIRTHDAY_ALIASES),
    _t("gender", "性别", "Gender", "choice:gender", "Sex"),
    _t("id_number", "身份证号", "ID number", "text", "身份证", "身份证号码", "证件号码", "ID Card", "Resident ID"),
    _t("credit_code", "统一社会信用代码", "Unified social credit code", "text", *_CREDIT_ALIASES),
    _t("notes", "备注", "Notes", "text", *_NOTES_ALIASES),
    _t("external_id", "外部编号", "External ID", "text", *_EXTERNAL_ALIASES, "客户编号", "客户ID", "客户代码",
       "Account ID", "Customer ID", "Company ID", second=_EXTERNAL_SECOND),
    _t("created_at", "创建时间", "Created", "datetime", "创建日期", "录入时间", "建档时间", "添加时间", "Create Date",
       "Created Date", "Created At", "Creation Date", "Date Created"),
)

_LINKS: tuple[TargetField, ...] = (
    _t("customer_name", "客户名称", "Customer name", "customer_link", *_COMPANY_NAMES, "所属客户", "所属公司",
       "工作单位", "Associated Company"),
    _t("customer_credit_code", "客户统一社会信用代码", "Customer credit code", "customer_link", *_CREDIT_ALIASES,
       "客户信用代码"),
    # Our contact export writes Kehu's customer key as "客户ID" beside "客户外部编号": the latter wins.
    _t("customer_external_id", "客户外部编号", "Customer external ID", "customer_link", "客户编号", "Account ID",
       "Company ID", "Associated Company ID", second=("客户ID", "Customer ID")),
)

_CONTACTS: tuple[TargetField, ...] = (
    *_LINKS,
    _t("name", "姓名", "Name", "text", "联系人", "联系人姓名", "名字", "客户联系人", "Full Name", "Contact",
       "Contact Name", required=True),
    _t("first_name", "名", "First name", "name_part:first", "First Name", "Given Name", "Forename"),
    _t("last_name", "姓", "Last name", "name_part:last", "姓氏", "Last Name", "Surname", "Family Name"),
    _t("salutation", "称呼", "Salutation", "text", *_SALUTATION_ALIASES),
    _t("title", "职务", "Title", "text", "职位", "头衔", "岗位", "Job Title", "Position"),
    _t("decision_role", "决策角色", "Decision role", "picklist:contact_role", "角色", "决策关系", "Role",
       "Buying Role"),
    _t("mobile", "手机", "Mobile", "text", "手机号", "手机号码", "移动电话", "Mobile Phone", "Mobile Phone Number",
       "Mobile Number", "Cell", "Cell Phone",
       second=("电话", "座机", "联系电话", "电话号码", "Phone", "Phone Number", "Tel", "Telephone")),
    _t("phone", "座机", "Phone", "text", "电话", "电话号码", "联系电话", "固定电话", "固话", "办公电话", "工作电话",
       "Phone Number", "Tel", "Telephone", "Work Phone", "Business Phone",
       second=("手机", "手机号", "手机号码", "移动电话", "Mobile", "Mobile Phone Number")),
    _t("email", "邮箱", "Email", "text", *_EMAIL_ALIASES),
    _t("wechat", "微信", "WeChat", "text", "微信号", "WeChat ID", "Weixin"),
    _t("birthday", "生日", "Birthday", "date", *_BIRTHDAY_ALIASES),
    _t("notes", "备注", "Notes", "text", *_NOTES_ALIASES),
    _t("external_id", "外部编号", "External ID", "text", *_EXTERNAL_ALIASES, "联系人编号", "联系人ID", "Contact ID",
       second=_EXTERNAL_SECOND),
)

_NOTES: tuple[TargetField, ...] = (
    *_LINKS,
    _t("body", "内容", "Body", "text", "跟进内容", "记录内容", "备注", "记录", "跟进记录", "笔记", "Note", "Notes",
       "Note Body", "Content", "Description", "Comment", required=True, multi=False),
    _t("author", "作者", "Author", "user", "跟进人", "创建人", "记录人", "录入人", "负责人", "Created By", "Owner"),
    _t("created_at", "创建时间", "Created", "datetime", "跟进时间", "记录时间", "日期", "时间", "Date", "Create Date",
       "Created Date", "Created At", "Activity Date"),
)

TARGETS: dict[str, list[TargetField]] = {
    "customers": list(_CUSTOMERS), "contacts": list(_CONTACTS), "notes": list(_NOTES),
}
# The pipeline's header roles (kehu clean) as a last resort before fuzzy matching, per kind.
_ROLE_TARGETS: dict[str, dict[str, str]] = {
    "customers": {
        "company": "name", "phone": "phones", "email": "emails", "address": "address", "province": "province",
        "city": "city", "district": "district", "credit_code": "credit_code", "id_number": "id_number",
        "website": "website", "first_name": "first_name", "last_name": "last_name",
    },
    "contacts": {
        "company": "customer_name", "name": "name", "first_name": "first_name", "last_name": "last_name",
        "phone": "mobile", "email": "email", "credit_code": "customer_credit_code",
    },
    "notes": {"company": "customer_name", "credit_code": "customer_credit_code"},
}
_CUSTOM_TARGET = {"customers": "customer", "contacts": "contact"}


def targets_for(kind: str) -> list[TargetField]:
    """The fixed targets of `kind` plus its active custom fields as `custom.<key>`."""
    if kind not in TARGETS:
        raise ValueError(f"unknown import kind {kind!r}; kinds: {', '.join(KINDS)}")
    targets = list(TARGETS[kind])
    if kind in _CUSTOM_TARGET:
        from kehu.customers.selectors import custom_field_definitions

        for definition in custom_field_definitions(target=_CUSTOM_TARGET[kind]):
            targets.append(TargetField(
                key=f"custom.{definition.key}", label_zh=definition.label_zh, label_en=definition.label_en,
                kind="custom", required_for_insert=definition.required, multi=False,
                aliases=tuple(a for a in (definition.label_zh, definition.label_en, definition.key,
                                           f"custom.{definition.key}") if a),
            ))
    return targets


# Columns that repeat another in a machine form (our export's "电话（E.164）"): never data to import.
_IGNORED = re.compile(r"e164")
_BRACKETS = re.compile(r"[(\[（【<《][^)\]）】>》]*[)\]）】>》]")


def _keys(header: str) -> tuple[str, str]:
    """(key, key without bracketed remarks): "客户名称（必填）" -> ("客户名称必填", "客户名称")."""
    header = unicodedata.normalize("NFKC", header or "")
    return header_key(header), header_key(_BRACKETS.sub("", header))


@dataclass
class _Index:
    targets: dict[str, TargetField]
    exact: dict[str, list[tuple[int, str]]]  # header key -> [(score, target key)]
    fuzzy_keys: list[str]


def _index(kind: str, targets: Sequence[TargetField]) -> _Index:
    exact: dict[str, list[tuple[int, str]]] = {}
    for target in targets:
        for score, aliases in ((SCORE_EXACT, target.aliases), (SCORE_SECOND, target.second_aliases)):
            for alias in aliases:
                key = header_key(alias)
                if key and not any(t == target.key for _, t in exact.get(key, ())):
                    exact.setdefault(key, []).append((score, target.key))
    return _Index({t.key: t for t in targets}, exact, [k for k in exact if len(k) >= FUZZY_MIN_LENGTH])


def _candidates(kind: str, index: _Index, header: str) -> list[tuple[int, str]]:
    """[(score, target key)] a header could feed, best first."""
    header = "" if header is None else str(header)  # a spreadsheet header cell may be a number or empty
    key, bare = _keys(header)
    if not key or _IGNORED.search(key):
        return []
    found: dict[str, int] = {}

    def offer(score: int, target: str) -> None:
        if target in index.targets and found.get(target, -1) < score:
            found[target] = score

    for score, target in index.exact.get(key, ()):
        offer(score, target)
    if bare != key:
        for score, target in index.exact.get(bare, ()):
            offer(score - (SCORE_EXACT - SCORE_BRACKETS), target)
    if found:
        return sorted(((score, target) for target, score in found.items()), reverse=True)
    if len(bare) >= FUZZY_MIN_LENGTH:
        # A near miss of a whole alias ("Emial Address") says more than a keyword in it ("address").
        match = process.extractOne(bare, index.fuzzy_keys, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
        if match is not None:
            near = SCORE_ROLE + 1 + (match[1] - FUZZY_CUTOFF) * (SCORE_SECOND - SCORE_ROLE - 2) / (100 - FUZZY_CUTOFF)
            for score, target in index.exact[match[0]]:
                offer(int(near * score / SCORE_EXACT), target)
    role = role_of_header(header)
    if role is not None and role in _ROLE_TARGETS.get(kind, {}):
        offer(SCORE_ROLE, _ROLE_TARGETS[kind][role])
    return sorted(((score, target) for target, score in found.items()), reverse=True)


def suggest_mapping(
    kind: str, headers: Sequence[str], *, targets: Sequence[TargetField] | None = None
) -> dict[int, str]:
    """{column index: target key} guessed from the headers; unrecognised columns are left out
    (`unmapped_columns` lists them). `targets` defaults to `targets_for(kind)` (one query)."""
    index = _index(kind, targets if targets is not None else targets_for(kind))
    offers = [
        (score, rank, column, target)
        for column, header in enumerate(headers)
        for rank, (score, target) in enumerate(_candidates(kind, index, header))
    ]
    # Best score first; on a tie the column's own first choice, then the leftmost column.
    offers.sort(key=lambda offer: (-offer[0], offer[1], offer[2]))
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for _score, _rank, column, target in offers:
        if column in mapping or (target in taken and not index.targets[target].multi):
            continue
        mapping[column] = target
        taken.add(target)
    return dict(sorted(mapping.items()))


def unmapped_columns(mapping: Mapping[int, str], headers: Sequence[str]) -> list[int]:
    """Columns with a header that feed nothing (blank headers are not worth reporting)."""
    return [i for i, header in enumerate(headers) if i not in mapping and str(header or "").strip()]


def validate_mapping(
    kind: str, mapping: Mapping[int, str], headers: Sequence[str], *,
    targets: Sequence[TargetField] | None = None, insert: bool = True,
) -> list[str]:
    """Problems with a mapping, in Chinese through gettext; an empty list means it can run.
    `insert=False` (update-only imports) does not require the insert-only fields."""
    fields = {t.key: t for t in (targets if targets is not None else targets_for(kind))}
    problems: list[str] = []
    columns_of: dict[str, list[int]] = {}
    for column, target in sorted(mapping.items()):
        header = headers[column] if 0 <= column < len(headers) else ""
        if not 0 <= column < len(headers):
            problems.append(_("第 %(column)s 列不存在") % {"column": column + 1})
        elif target not in fields:
            problems.append(_("第 %(column)s 列“%(header)s”对应的字段“%(target)s”不存在")
                            % {"column": column + 1, "header": header, "target": target})
        else:
            columns_of.setdefault(target, []).append(column)
    for target, columns in columns_of.items():
        if len(columns) > 1 and not fields[target].multi:
            problems.append(_("字段“%(field)s”只能对应一列，现在对应了：%(headers)s") % {
                "field": fields[target].label, "headers": "、".join(headers[c] or str(c + 1) for c in columns)})
    mapped = set(columns_of)
    if insert:
        for field in fields.values():
            if not field.required_for_insert or field.key in mapped:
                continue
            if field.key == "name" and mapped & {"first_name", "last_name"}:
                continue
            problems.append(_("必须有一列对应字段“%(field)s”") % {"field": field.label})
    if kind in ("contacts", "notes") and not mapped & set(CUSTOMER_LINKS):
        problems.append(_("需要一列指明所属客户：客户名称、统一社会信用代码或客户编号"))
    return problems


def template_from_mapping(mapping: Mapping[int, str], headers: Sequence[str]) -> dict[str, str]:
    """A mapping saved by header text (what MappingTemplate stores), for files laid out differently."""
    return {headers[column]: target for column, target in mapping.items() if 0 <= column < len(headers)}


def template_apply(
    template_mapping_by_header: Mapping[str, str], headers: Sequence[str], *, kind: str | None = None,
    targets: Sequence[TargetField] | None = None,
) -> dict[int, str]:
    """Re-apply a saved template to a new file: a header feeds the target saved under the same text,
    else under the same normalised key ("手机号码 1" ~ "手机号码1"). With `kind` (or `targets`), a
    single-valued target keeps only its first column and targets that no longer exist are dropped."""
    by_text = dict(template_mapping_by_header)
    by_key: dict[str, str] = {}
    for header, target in template_mapping_by_header.items():
        by_key.setdefault(_keys(header)[0], target)
    fields = None
    if targets is not None or kind is not None:
        fields = {t.key: t for t in (targets if targets is not None else targets_for(kind or ""))}
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for column, header in enumerate(headers):
        header = str(header or "")
        target = (by_text.get(header) or by_key.get(_keys(header)[0])) if header.strip() else None
        if not target:
            continue
        if fields is not None and (target not in fields or (target in taken and not fields[target].multi)):
            continue
        mapping[column] = target
        taken.add(target)
    return mapping


def split_person_name(first: str, last: str) -> str:
    """HubSpot-style First/Last Name as one name: Chinese order without a space ("张" + "伟" -> "张伟"),
    otherwise "First Last"."""
    first, last = (first or "").strip(), (last or "").strip()
    if _has_cjk(first) or _has_cjk(last):
        return last + first
    return " ".join(part for part in (first, last) if part)


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


def row_extractor(
    mapping: Mapping[int, str], targets: Sequence[TargetField]
) -> Callable[[Sequence[str]], dict[str, Any]]:
    """A function turning a row into {target key: value}: multi-valued targets get the list of their
    non-blank cells in column order, first/last name are combined into `name` when no name column
    has a value, blank single cells are left out. Built once per import; a row costs a few lookups."""
    multi = {t.key for t in targets if t.multi}
    singles = [(c, t) for c, t in sorted(mapping.items()) if t not in multi and t not in ("first_name", "last_name")]
    lists = [(t, [c for c, _t in group]) for t, group in itertools.groupby(
        sorted(((c, t) for c, t in mapping.items() if t in multi), key=lambda ct: (ct[1], ct[0])),
        key=lambda ct: ct[1])]
    first = next((c for c, t in mapping.items() if t == "first_name"), None)
    last = next((c for c, t in mapping.items() if t == "last_name"), None)

    def cell(row: Sequence[str], column: int) -> str:
        value = row[column] if column < len(row) else ""
        return value.strip() if isinstance(value, str) else ("" if value is None else str(value))

    def extract(row: Sequence[str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for column, target in singles:
            value = cell(row, column)
            if value:
                values[target] = value
        for target, columns in lists:
            found = [v for v in (cell(row, c) for c in columns) if v]
            if found:
                values[target] = found
        if (first is not None or last is not None) and not values.get("name"):
            name = split_person_name(cell(row, first) if first is not None else "",
                                     cell(row, last) if last is not None else "")
            if name:
                values["name"] = name
        return values

    return extract


def _person_key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "").casefold())


class OwnerResolver:
    """Owner (or author) of an imported row from a cell, by policy:

    - "column": the cell names a user by display name, username or e-mail (case- and width-insensitive);
      an empty cell goes round-robin over `rotation` (default `users`), or to the importer when that is empty;
    - "round_robin": every row to the next user of `rotation`, whatever the cell says;
    - "pool": nobody (公海);
    - "importer": the importing user.

    `users` are the candidates (the engine passes the active users, fetched once); lookups are dicts
    built here, so a million rows cost no query. `resolve` returns (user or None, problem or None)."""

    POLICIES = ("column", "round_robin", "pool", "importer")

    def __init__(self, policy: str = "column", users: Iterable[Any] = (), importer: Any = None,
                 rotation: Sequence[Any] | None = None) -> None:
        if policy not in self.POLICIES:
            raise ValueError(f"unknown owner policy {policy!r}; policies: {', '.join(self.POLICIES)}")
        self.policy = policy
        self.importer = importer
        self.users = [u for u in users if getattr(u, "is_active", True)]
        self.rotation = list(rotation) if rotation is not None else list(self.users)
        self._cycle = itertools.cycle(self.rotation) if self.rotation else None
        self._lookup: dict[str, list[Any]] = {}
        for user in self.users:
            names = {
                getattr(user, "display_name", ""), getattr(user, "username", ""), getattr(user, "email", ""),
                f"{getattr(user, 'last_name', '')}{getattr(user, 'first_name', '')}",
                f"{getattr(user, 'first_name', '')}{getattr(user, 'last_name', '')}",
            }
            for name in names:
                key = _person_key(name)
                if key and user not in self._lookup.setdefault(key, []):
                    self._lookup[key].append(user)
        self._cache: dict[str, tuple[Any, str | None]] = {}

    def _next(self) -> Any:
        return next(self._cycle) if self._cycle is not None else self.importer

    def resolve(self, raw: str | None) -> tuple[Any, str | None]:
        if self.policy == "pool":
            return None, None
        if self.policy == "importer":
            return self.importer, None
        if self.policy == "round_robin":
            return self._next(), None
        text = (raw or "").strip()
        if not text:
            return self._next(), None
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        matches = self._lookup.get(_person_key(text), [])
        if len(matches) == 1:
            result: tuple[Any, str | None] = (matches[0], None)
        elif matches:
            result = (None, _("“%(name)s”对应多个用户，无法确定负责人") % {"name": text})
        else:
            result = (None, _("找不到用户“%(name)s”（按姓名、用户名或邮箱查找）") % {"name": text})
        if len(self._cache) < 100_000:
            self._cache[text] = result
        return result
