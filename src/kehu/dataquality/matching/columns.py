"""Which column of a file plays which matching role, and the records built from its rows.

Headers are recognised in Chinese and English (CRM exports and the FEBRL test files included),
compared case-, width-, space- and punctuation-insensitively with a trailing number ignored
("手机2", "Phone 1"), through the same `header_key` as `kehu clean`. `--columns` overrides:
"name=客户姓名,phone=手机1,phone=手机2"; "role=" switches a role off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from kehu.dataquality.matching.records import MULTI_ROLES, ROLES, MatchRecord, build_record
from kehu.dataquality.pipeline import header_key

_HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名字", "客户姓名", "称呼", "name", "fullname", "person", "personname", "leadname"),
    # A person at the company the row is; a file without a company column has persons as rows.
    "contact": ("联系人", "联系人姓名", "客户联系人", "主联系人", "contact", "contactname", "contactperson"),
    "given_name": ("名", "firstname", "givenname", "forename"),
    "family_name": ("姓", "姓氏", "lastname", "surname", "familyname"),
    "company": (
        "公司", "公司名称", "公司名", "公司全称", "单位", "单位名称", "工作单位", "企业", "企业名称", "客户名称",
        "客户", "客户全称", "客户公司", "所属公司", "机构", "机构名称", "company", "companyname", "account",
        "accountname", "organization", "organisation", "org", "employer", "customername",
    ),
    "phone": (
        "手机", "手机号", "手机号码", "电话", "电话号码", "联系电话", "联系方式", "座机", "固话", "固定电话",
        "办公电话", "移动电话", "phone", "phonenumber", "mobile", "mobilephone", "mobilenumber", "tel", "telephone",
        "cell", "cellphone", "workphone", "homephone",
    ),
    "email": ("邮箱", "电子邮箱", "电子邮件", "邮件", "邮箱地址", "email", "emailaddress", "mail"),
    "address": (
        "地址", "详细地址", "联系地址", "通讯地址", "通信地址", "公司地址", "办公地址", "收货地址", "注册地址",
        "经营地址", "家庭住址", "住址", "address", "fulladdress", "mailingaddress", "billingaddress",
    ),
    "street": (
        "街道", "街道地址", "门牌号", "门牌", "street", "streetaddress", "streetnumber", "addressline", "address1",
        "address2", "addressline1", "addressline2",
    ),
    "city": ("市", "城市", "所在城市", "地市", "city", "town", "suburb", "locality"),
    "province": ("省", "省份", "所在省份", "省区", "province", "state", "region", "stateprovince"),
    "district": ("区", "区县", "县区", "所在区县", "district", "county"),
    "postcode": ("邮编", "邮政编码", "postcode", "postalcode", "zip", "zipcode", "postal"),
    "birth_date": ("生日", "出生日期", "出生年月日", "birthday", "birthdate", "dateofbirth", "dob"),
    "id_number": (
        "身份证", "身份证号", "身份证号码", "证件号", "证件号码", "idnumber", "idcard", "idno", "nationalid",
        "socsecid", "ssn", "socialsecuritynumber",
    ),
    "credit_code": (
        "统一社会信用代码", "社会信用代码", "信用代码", "纳税人识别号", "税号", "creditcode",
        "unifiedsocialcreditcode", "uscc", "taxid",
    ),
}  # fmt: skip
_ROLE_OF_KEY = {header_key(h): role for role, headers in _HEADERS.items() for h in headers}
# FEBRL-style "address_1" loses its digit in header_key ("address"); these keep their meaning.
_EXACT = {"address_1": "street", "address_2": "street", "street_number": "street", "soc_sec_id": "id_number"}
# Columns this command writes: never read back as data when a file goes through twice.
OUTPUT_HEADERS = ("cluster_id", "match_score")


class ColumnError(ValueError):
    """A --columns entry that names an unknown role or column."""


def role_of(header: str) -> str | None:
    stripped = header.strip()
    if stripped in OUTPUT_HEADERS:
        return None
    exact = _EXACT.get(stripped.lower())
    if exact is not None:
        return exact
    return _ROLE_OF_KEY.get(header_key(stripped))


def parse_overrides(text: str) -> dict[str, list[str]]:
    """"客户姓名=name,手机1=phone,手机2=phone" (column=role, as the issue and docs write it) or
    "name=客户姓名,phone=手机1" (role=column, as `kehu clean` takes it) -> {"name": ["客户姓名"],
    "phone": ["手机1", "手机2"]}. When both sides are roles, the right one is the role."""
    found: dict[str, list[str]] = {}
    for part in re.split(r"[,，]", text or ""):
        if not part.strip():
            continue
        left, sep, right = part.partition("=")
        if not sep:
            raise ColumnError(f"--columns 的每一项应写成 列名=角色，而不是 {part.strip()!r} (expected column=role)")
        if right.strip().lower() in ROLES:
            role, column = right.strip().lower(), left
        else:
            role, column = left.strip().lower(), right
        if role not in ROLES:
            raise ColumnError(f"未知的角色 {role!r}，可用：{', '.join(ROLES)} (unknown role)")
        columns = found.setdefault(role, [])
        if column.strip():
            columns.append(column.strip())
    return found


def _index(headers: Sequence[str], column: str) -> int:
    for position, header in enumerate(headers):
        if header == column or header.strip().casefold() == column.casefold():
            return position
    if column.isdigit() and 1 <= int(column) <= len(headers):
        return int(column) - 1  # a 1-based column number, as a spreadsheet user counts
    listed = "、".join(h or "(空)" for h in headers)
    raise ColumnError(f"找不到列 {column!r}，文件的列有：{listed} (no such column)")


def recognise(
    headers: Sequence[str], overrides: Mapping[str, Sequence[str]] | str | None = None
) -> dict[str, list[int]]:
    """{role: [column positions]} from the headers, with `overrides` (parsed or as --columns text)
    replacing the recognition for their roles and taking their columns from any other role.
    Only phone, email, address and street may hold several columns."""
    if isinstance(overrides, str):
        overrides = parse_overrides(overrides)
    overrides = overrides or {}
    found: dict[str, list[int]] = {}
    for position, header in enumerate(headers):
        role = role_of(header)
        if role is None or role in overrides:
            continue
        if role in MULTI_ROLES or role not in found:
            found.setdefault(role, []).append(position)
    taken: set[int] = set()
    for role, columns in overrides.items():
        if role not in ROLES:
            raise ColumnError(f"未知的角色 {role!r}，可用：{', '.join(ROLES)} (unknown role)")
        positions = [_index(headers, c) for c in columns]
        if len(positions) > 1 and role not in MULTI_ROLES:
            raise ColumnError(f"角色 {role} 只能对应一列 (only {', '.join(sorted(MULTI_ROLES))} take several columns)")
        if positions:
            found[role] = positions
        else:
            found.pop(role, None)
        taken.update(positions)
    for role in list(found):
        if role not in overrides:
            found[role] = [p for p in found[role] if p not in taken]
            if not found[role]:
                del found[role]
    if "contact" in found and "contact" not in overrides and "company" not in found and "name" not in found:
        found["name"] = found.pop("contact")  # a contact list: each row is the person
    return {role: found[role] for role in ROLES if role in found}


def describe(headers: Sequence[str], columns: Mapping[str, Sequence[int]]) -> str:
    """"name=姓名, phone=手机+电话" for the log."""
    return ", ".join(f"{role}={'+'.join(headers[p] for p in ps)}" for role, ps in columns.items()) or "(none)"


def records_from_rows(rows: Iterable[Sequence[str]], columns: Mapping[str, Sequence[int]]) -> list[MatchRecord]:
    """One `MatchRecord` per row, from the cells of each role's columns."""
    layout = [(role, tuple(positions)) for role, positions in columns.items()]
    records = []
    for row in rows:
        values: dict[str, list[str]] = {}
        for role, positions in layout:
            cells = [row[p] for p in positions if p < len(row) and row[p]]
            if cells:
                values[role] = cells
        records.append(build_record(values))
    return records
