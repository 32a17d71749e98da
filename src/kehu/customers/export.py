"""Export of the customer and contact lists (CSV/XLSX, streamed) and of one customer's archive (XLSX/JSON).

Rows come through the list's `CustomerFilter` and the user's scope (`restrict()`), read as column
values with keyset iteration on id in chunks (one statement for the rows, one for their tags per
chunk; picklists, users and departments are loaded once), so a 1M-row export holds one chunk in
memory. Formula safety follows `kehu.core.tabular`: in CSV every text cell goes through
`escape_formula` (the importer's `unescape_formula` gives back exactly the stored value); in XLSX
cells are typed as text, so `=...` is never a formula there.

`EXPORT_COLUMNS` / `CONTACT_EXPORT_COLUMNS` are the (key, Chinese header, English header) of every
column, in order: the importer's mapping recognises our own export by these headers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import get_language

from kehu.accounts.permissions import require_operation
from kehu.core import masking
from kehu.core.scoping import restrict
from kehu.core.tabular import FORMULA_START, escape_formula, escape_row
from kehu.customers.filters import CustomerFilter
from kehu.customers.models import (
    Contact,
    Customer,
    CustomerKind,
    CustomFieldDefinition,
    CustomFieldTarget,
    Gender,
    Note,
    PicklistOption,
)

logger = logging.getLogger("kehu.export")

CHUNK_SIZE = 2000
KINDS = ("customers", "contacts")

# (key, zh header, en header). Keys of custom fields are "cf_<key>", headers their labels.
EXPORT_COLUMNS: list[tuple[str, str, str]] = [
    ("id", "ID", "ID"),
    ("external_id", "外部编号", "External ID"),
    ("kind", "类型", "Type"),
    ("name", "名称", "Name"),
    ("short_name", "简称", "Short name"),
    ("industry", "行业", "Industry"),
    ("level", "客户级别", "Level"),
    ("stage", "生命周期阶段", "Lifecycle stage"),
    ("source", "来源渠道", "Source"),
    ("owner", "负责人", "Owner"),
    ("department", "所属部门", "Department"),
    ("tags", "标签", "Tags"),
    ("phones", "电话", "Phones"),
    ("phones_e164", "电话（E.164）", "Phones (E.164)"),
    ("emails", "邮箱", "Emails"),
    ("website", "网站", "Website"),
    ("province", "省份", "Province"),
    ("city", "城市", "City"),
    ("district", "区县", "District"),
    ("address", "详细地址", "Address"),
    ("credit_code", "统一社会信用代码", "Unified social credit code"),
    ("salutation", "称呼", "Salutation"),
    ("gender", "性别", "Gender"),
    ("birthday", "生日", "Birthday"),
    ("id_number", "身份证号", "Resident ID"),
    ("quality_score", "数据质量分", "Quality score"),
    ("last_activity_at", "最近跟进", "Last activity"),
    ("notes", "备注", "Notes"),
    ("created_at", "创建时间", "Created at"),
    ("updated_at", "更新时间", "Updated at"),
]
CONTACT_EXPORT_COLUMNS: list[tuple[str, str, str]] = [
    ("id", "ID", "ID"),
    ("external_id", "外部编号", "External ID"),
    ("customer_id", "客户ID", "Customer ID"),
    ("customer", "客户名称", "Customer name"),
    ("customer_credit_code", "客户统一社会信用代码", "Customer credit code"),
    ("customer_external_id", "客户外部编号", "Customer external ID"),
    ("name", "姓名", "Name"),
    ("salutation", "称呼", "Salutation"),
    ("title", "职务", "Title"),
    ("decision_role", "决策角色", "Decision role"),
    ("mobile", "手机", "Mobile"),
    ("mobile_e164", "手机（E.164）", "Mobile (E.164)"),
    ("phone", "座机", "Phone"),
    ("phone_e164", "座机（E.164）", "Phone (E.164)"),
    ("email", "邮箱", "Email"),
    ("wechat", "微信", "WeChat"),
    ("birthday", "生日", "Birthday"),
    ("is_primary", "首要联系人", "Primary contact"),
    ("notes", "备注", "Notes"),
    ("created_at", "创建时间", "Created at"),
    ("updated_at", "更新时间", "Updated at"),
]
# Left out unless asked for (`e164=True`): the E.164 forms repeat the phone columns for machines.
OPTIONAL_KEYS = frozenset({"phones_e164", "mobile_e164", "phone_e164"})
# The web list's column keys (customers.views.BUILTIN_COLUMNS) -> export keys; id and name always lead.
LIST_COLUMN_KEYS: dict[str, tuple[str, ...]] = {
    "city": ("province", "city", "district"),
    "phones": ("phones",),
}
LIST_ALWAYS = ("id", "name")

_CUSTOMER_VALUES = (
    "id", "external_id", "kind", "name", "short_name", "industry_id", "level_id", "stage_id", "source_id", "owner_id",
    "department_id", "phones", "phones_e164", "emails", "website", "province", "city", "district", "address",
    "credit_code", "salutation", "gender", "birthday", "id_number", "quality_score", "last_activity_at", "notes",
    "custom", "created_at", "updated_at",
)
_CONTACT_VALUES = (
    "id", "external_id", "customer_id", "customer__name", "customer__credit_code", "customer__external_id", "name",
    "salutation", "title",
    "decision_role_id", "mobile", "mobile_e164", "phone", "phone_e164", "email", "wechat", "birthday",
    "is_primary", "notes", "custom", "created_at", "updated_at",
)


def header_texts(kind: str = "customers") -> dict[str, tuple[str, str]]:
    """key -> (zh, en) of the built-in columns of `kind`."""
    columns = EXPORT_COLUMNS if kind == "customers" else CONTACT_EXPORT_COLUMNS
    return {key: (zh, en) for key, zh, en in columns}


def safe_cell(value: Any) -> Any:
    """A CSV cell as written: text through `escape_formula`, other values as they are."""
    return escape_formula(value) if isinstance(value, str) else value


def mask_id_number(value: str) -> str:
    return masking.mask_id_number(value)


# What to export ----------------------------------------------------------------------------------


@dataclass
class ExportSpec:
    """The columns of one export and everything needed to render their values, decided up front
    (in the request, under the user's language) so the streamed rows need no request state."""

    kind: str
    keys: list[str]
    headers: list[str]
    english: bool
    mask_id_number: bool
    definitions: dict[str, CustomFieldDefinition] = field(default_factory=dict)
    # Field-level security of the exporting user: export key -> "masked" / "hidden" (hidden keys are
    # left out of `keys`; masked values are masked before they become cells).
    field_rules: dict[str, str] = field(default_factory=dict)


def _is_english(language: str | None) -> bool:
    return (language or get_language() or "").startswith("en")


def export_spec(
    *,
    user: Any,
    kind: str = "customers",
    columns: Sequence[str] | None = None,
    e164: bool = False,
    language: str | None = None,
) -> ExportSpec:
    """Columns `columns` (export keys or "cf_<key>", unknown ones ignored), or all of them.
    The optional E.164 columns come with `e164`. Headers follow `language` (default: the active one)."""
    if kind not in KINDS:
        raise ValueError(f"unknown export kind {kind!r}")
    english = _is_english(language)
    target = CustomFieldTarget.CUSTOMER if kind == "customers" else CustomFieldTarget.CONTACT
    definitions = list(CustomFieldDefinition.objects.filter(target=target, is_active=True).order_by("position", "id"))
    texts = header_texts(kind)
    custom = {f"cf_{d.key}": d for d in definitions}
    rules = masking.policy(user, "customer" if kind == "customers" else "contact")
    available = [k for k in texts if (e164 or k not in OPTIONAL_KEYS) and rules.get(k) != "hidden"] + list(custom)
    if columns is None:
        keys = available
    else:
        wanted = set(columns) | ({k for k in OPTIONAL_KEYS if k in texts} if e164 else set())
        keys = [k for k in available if k in wanted] or available
    headers = []
    for key in keys:
        if key in custom:
            d = custom[key]
            headers.append((d.label_en or d.label_zh) if english else d.label_zh)
        else:
            headers.append(texts[key][1 if english else 0])
    return ExportSpec(
        kind=kind, keys=keys, headers=headers, english=english,
        mask_id_number=rules.get("id_number") == "masked",
        definitions={k[3:]: d for k, d in custom.items() if k in keys},
        field_rules={k: v for k, v in rules.items() if k in keys},
    )


def list_columns_to_keys(list_columns: Sequence[str], *, e164: bool = False) -> list[str]:
    """The export keys of what the web list shows (its chosen columns, in the session)."""
    keys = list(LIST_ALWAYS)
    for column in list_columns:
        keys.extend(LIST_COLUMN_KEYS.get(column, (column,)))
    if e164 and "phones" in keys:
        keys.append("phones_e164")
    return keys


# Rows ------------------------------------------------------------------------------------------


def scoped_customers(*, user: Any, filters: CustomerFilter) -> QuerySet[Customer]:
    """The list's rows: the user's scope, then the filters. `user=None` is the operator on the
    command line (no scope: the whole database, as with a database dump)."""
    queryset = Customer.objects.all() if user is None else restrict(Customer.objects.all(), user)
    return filters.apply(queryset, user=user)


def scoped_contacts(*, user: Any, filters: CustomerFilter) -> QuerySet[Contact]:
    queryset = Contact.objects.all() if user is None else restrict(Contact.objects.all(), user)
    if not filters.is_empty:
        queryset = queryset.filter(customer__in=scoped_customers(user=user, filters=filters).values("id"))
    return queryset


def iter_chunks(queryset: QuerySet, values: Sequence[str], chunk_size: int = CHUNK_SIZE) -> Iterator[list[dict]]:
    """Rows of `queryset` as dicts of `values`, in id order, `chunk_size` per statement
    (`WHERE id > last ORDER BY id LIMIT n`: every chunk is an index range, no OFFSET, no open cursor)."""
    last = 0
    base = queryset.order_by("id").values(*values)
    while True:
        chunk = list(base.filter(id__gt=last)[:chunk_size])
        if chunk:
            yield chunk
        if len(chunk) < chunk_size:
            return
        last = chunk[-1]["id"]


class _Lookups:
    """Picklist labels, user and department names: few rows shared by many, loaded once."""

    def __init__(self, english: bool) -> None:
        from kehu.accounts.models import Department, User

        column = "label_en" if english else "label_zh"
        self.options = {
            pk: (label or zh) for pk, label, zh in PicklistOption.objects.values_list("id", column, "label_zh")
        }
        self.users = {
            pk: display or username for pk, display, username in User.objects.values_list(
                "id", "display_name", "username"
            )
        }
        self.departments = dict(Department.objects.values_list("id", "name"))


def _when(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _custom_display(definition: CustomFieldDefinition, value: Any, lookups: _Lookups, english: bool) -> Any:
    if value is None or value == "":
        return ""
    kind = definition.field_type
    if kind == "choice":
        return _choice_label(definition, value, english)
    if kind == "multi_choice":
        return "、".join(_choice_label(definition, v, english) for v in value)
    if kind == "boolean":
        return ("Yes" if value else "No") if english else ("是" if value else "否")
    if kind == "user":
        return lookups.users.get(value, str(value))
    return value if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def _choice_label(definition: CustomFieldDefinition, value: str, english: bool) -> str:
    for choice in definition.choices:
        if choice.get("value") == value:
            return (choice.get("label_en") if english else None) or choice.get("label_zh") or value
    return str(value)


# Fixed texts per language (the model's lazy labels would need the active language per row).
_CHOICE_LABELS = {
    "kind": {CustomerKind.COMPANY: ("企业", "Company"), CustomerKind.PERSON: ("个人", "Person")},
    "gender": {Gender.MALE: ("男", "Male"), Gender.FEMALE: ("女", "Female")},
}


Cell = Callable[[dict, list[str]], Any]  # (row values, tag names) -> the cell


def _cells(spec: ExportSpec, lookups: _Lookups) -> list[Cell]:
    """One function per exported column, chosen once per export instead of per cell."""
    english = spec.english
    tz = timezone.get_current_timezone()
    options, users, departments = lookups.options, lookups.users, lookups.departments
    yes, no = ("Yes", "No") if english else ("是", "否")

    def when(name: str) -> Cell:
        def cell(row: dict, tags: list[str]) -> str:
            value = row[name]
            if value is None:
                return ""
            if value.tzinfo is not None:
                value = value.astimezone(tz)
            return value.isoformat(" ", "seconds")[:19]
        return cell

    def custom(definition: CustomFieldDefinition) -> Cell:
        key = definition.key
        return lambda row, tags: _custom_display(definition, (row["custom"] or {}).get(key), lookups, english)

    def lookup(table: dict, name: str) -> Cell:
        return lambda row, tags: table.get(row[name], "")

    def joined(name: str) -> Cell:
        return lambda row, tags: "; ".join(p for p in (row[name] or ()) if p)

    def choice(name: str) -> Cell:
        labels = {value: texts[1 if english else 0] for value, texts in _CHOICE_LABELS[name].items()}
        return lambda row, tags: labels.get(row[name], row[name] or "")

    def plain(name: str) -> Cell:
        return lambda row, tags: row[name]

    def text(name: str) -> Cell:
        return lambda row, tags: "" if row[name] is None else str(row[name])

    def birthday(row: dict, tags: list[str]) -> str:
        return row["birthday"].isoformat() if row["birthday"] else ""

    def id_number(row: dict, tags: list[str]) -> str:
        value = row["id_number"] or ""
        return mask_id_number(value) if value and spec.mask_id_number else value

    cells: list[Cell] = []
    for key in spec.keys:
        if key.startswith("cf_"):
            cells.append(custom(spec.definitions[key[3:]]))
        elif key in ("industry", "level", "stage", "source", "decision_role"):
            cells.append(lookup(options, f"{key}_id"))
        elif key == "owner":
            cells.append(lookup(users, "owner_id"))
        elif key == "department":
            cells.append(lookup(departments, "department_id"))
        elif key == "tags":
            cells.append(lambda row, tags: "、".join(tags))
        elif key in ("phones", "phones_e164", "emails"):
            cells.append(joined(key))
        elif key in ("kind", "gender"):
            cells.append(choice(key))
        elif key in ("created_at", "updated_at", "last_activity_at"):
            cells.append(when(key))
        elif key == "birthday":
            cells.append(birthday)
        elif key == "id_number":
            cells.append(id_number)
        elif key in ("id", "customer_id", "quality_score"):
            cells.append(plain(key))
        elif key == "is_primary":
            cells.append(lambda row, tags: yes if row["is_primary"] else no)
        elif key in ("customer", "customer_credit_code", "customer_external_id"):
            cells.append(text("customer__" + ("name" if key == "customer" else key[9:])))
        else:
            cells.append(text(key))
    return cells


def _tags_of(chunk: list[dict]) -> dict[int, list[str]]:
    """Tag names of a chunk's customers, by id range (no parameter list of 2,000 ids)."""
    through = Customer.tags.through
    ids = {row["id"] for row in chunk}
    found: dict[int, list[str]] = {}
    pairs = through.objects.filter(customer_id__gte=chunk[0]["id"], customer_id__lte=chunk[-1]["id"]).values_list(
        "customer_id", "tag__name"
    )
    for customer_id, name in pairs:
        if customer_id in ids:
            found.setdefault(customer_id, []).append(name)
    return {k: sorted(v) for k, v in found.items()}


def export_rows(
    *,
    user: Any,
    filters: CustomerFilter,
    spec: ExportSpec | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[list[Any]]:
    """The header row, then one row of display values per exported record, in id order. A
    generator: nothing is read before the caller asks for rows, and one chunk at a time."""
    spec = spec or export_spec(user=user)
    yield list(spec.headers)
    if spec.kind == "contacts":
        yield from _records(scoped_contacts(user=user, filters=filters), spec, chunk_size)
    else:
        yield from _records(scoped_customers(user=user, filters=filters), spec, chunk_size)


def _values_for(spec: ExportSpec) -> list[str]:
    """Only the columns the export shows (JSON columns cost a decode per row)."""
    wanted = {"id"}
    for key in spec.keys:
        if key.startswith("cf_"):
            wanted.add("custom")
        elif key in ("industry", "level", "stage", "source", "decision_role", "owner", "department"):
            wanted.add(f"{key}_id")
        elif key == "customer":
            wanted.add("customer__name")
        elif key in ("customer_credit_code", "customer_external_id"):
            wanted.add("customer__" + key[9:])
        elif key != "tags":
            wanted.add(key)
    return [v for v in (_CONTACT_VALUES if spec.kind == "contacts" else _CUSTOMER_VALUES) if v in wanted]


def _records(queryset: QuerySet, spec: ExportSpec, chunk_size: int = CHUNK_SIZE) -> Iterator[list[Any]]:
    cells = _cells(spec, _Lookups(spec.english))
    contacts = spec.kind == "contacts"
    needs_tags = "tags" in spec.keys and not contacts
    no_tags: list[str] = []
    rules, object_type = spec.field_rules, "contact" if contacts else "customer"
    for chunk in iter_chunks(queryset, _values_for(spec), chunk_size):
        tags = _tags_of(chunk) if needs_tags else {}
        for row in chunk:
            if rules:
                masking.apply_policy(rules, object_type, row)
            found = tags.get(row["id"], no_tags)
            yield [cell(row, found) for cell in cells]


_RISKY_FIRST = FORMULA_START | {"'"}  # escape_formula can only change a text starting with one of these


def _csv_line(row: list[Any]) -> list[Any]:
    risky = _RISKY_FIRST
    return [escape_formula(c) if c.__class__ is str and c[:1] in risky else c for c in row]


def export_csv(
    *,
    user: Any,
    filters: CustomerFilter,
    spec: ExportSpec | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[bytes]:
    """CSV as UTF-8 bytes with a BOM (so Chinese Excel opens it without mojibake), about 64 KB
    per piece; for StreamingHttpResponse or a file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield b"\xef\xbb\xbf"
    rows = export_rows(user=user, filters=filters, spec=spec, chunk_size=chunk_size)
    writer.writerow(escape_row(next(rows)))
    for row in rows:
        writer.writerow(_csv_line(row))
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


# XLSX ------------------------------------------------------------------------------------------

# A streaming XLSX writer -------------------------------------------------------------------------
#
# openpyxl's write-only mode spends ~7 µs a cell (an element object per cell, serialised without
# lxml): 1M customers x 29 columns took ~4 min. The sheet XML is simple enough to write as text
# straight into the zip entry: inline strings (t="inlineStr", never a formula whatever the first
# character), numbers as numbers, one <row> per record.

_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_STYLES = (
    f'{_XML_HEAD}<styleSheet xmlns="{_NS_MAIN}"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font>'
    '</fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill '
    'patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/>'
    '</border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    '</cellStyleXfs><cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: str) -> str:
    if _ILLEGAL_XML.search(value):  # control characters XML cannot hold
        value = _ILLEGAL_XML.sub("", value)
    if "&" in value or "<" in value or ">" in value:
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value


def _xlsx_cell(value: Any) -> str:
    if value is None or value == "":
        return "<c/>"
    if value.__class__ is str:
        if value[0] == "'":
            # A text starting with an apostrophe before a formula character gets escape_formula's extra
            # apostrophe, so an importer applying unescape_formula to every cell (CSV or XLSX) reads
            # back the stored value.
            value = escape_formula(value)
        return f'<c t="inlineStr"><is><t xml:space="preserve">{_xml_text(value)}</t></is></c>'
    if value.__class__ is bool:
        return f'<c t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f"<c><v>{value}</v></c>"
    return _xlsx_cell(str(value))


class XlsxStream:
    """Sheets written one after another into an XLSX file, rows streamed as they come (memory is
    one row plus the zip buffer). `with XlsxStream(path) as book: book.sheet("客户"); book.append(row)`."""

    def __init__(self, path: str | io.BytesIO, *, compresslevel: int = 6) -> None:
        import zipfile

        self._zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel)
        self._names: list[str] = []
        self._entry: Any = None
        self._rows = 0
        self._buffer: list[str] = []

    def __enter__(self) -> XlsxStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sheet(self, name: str) -> None:
        self._end_sheet()
        self._names.append(name)
        self._entry = self._zip.open(f"xl/worksheets/sheet{len(self._names)}.xml", "w", force_zip64=True)
        self._rows = 0
        self._write(f'{_XML_HEAD}<worksheet xmlns="{_NS_MAIN}"><sheetData>')

    def append(self, row: Sequence[Any]) -> None:
        self._rows += 1
        self._buffer.append(f'<row r="{self._rows}">{"".join(map(_xlsx_cell, row))}</row>')
        if len(self._buffer) >= 500:
            self._flush()

    def _write(self, text: str) -> None:
        self._entry.write(text.encode("utf-8"))

    def _flush(self) -> None:
        if self._buffer:
            self._write("".join(self._buffer))
            self._buffer.clear()

    def _end_sheet(self) -> None:
        if self._entry is not None:
            self._flush()
            self._write("</sheetData></worksheet>")
            self._entry.close()
            self._entry = None

    def close(self) -> None:
        if self._zip.fp is None:
            return
        if not self._names:
            self.sheet("Sheet1")
        self._end_sheet()
        count = len(self._names)
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(1, count + 1)
        )
        self._zip.writestr("[Content_Types].xml", (
            f'{_XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            f"{overrides}</Types>"
        ))
        self._zip.writestr("_rels/.rels", (
            f'{_XML_HEAD}<Relationships xmlns="{_NS_PKG}"><Relationship Id="rId1" '
            f'Type="{_NS_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ))
        sheets = "".join(
            f'<sheet name="{_xml_text(name).replace(chr(34), "&quot;")}" sheetId="{i}" r:id="rId{i}"/>'
            for i, name in enumerate(self._names, 1)
        )
        self._zip.writestr("xl/workbook.xml", (
            f'{_XML_HEAD}<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}"><sheets>{sheets}</sheets></workbook>'
        ))
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{_NS_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, count + 1)
        )
        self._zip.writestr("xl/_rels/workbook.xml.rels", (
            f'{_XML_HEAD}<Relationships xmlns="{_NS_PKG}">{rels}<Relationship Id="rId{count + 1}" '
            f'Type="{_NS_REL}/styles" Target="styles.xml"/></Relationships>'
        ))
        self._zip.writestr("xl/styles.xml", _STYLES)
        self._zip.close()


def export_xlsx(
    *,
    user: Any,
    filters: CustomerFilter,
    path: str,
    spec: ExportSpec | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> int:
    """Write an XLSX file as the rows come (`XlsxStream`); returns the number of data rows."""
    spec = spec or export_spec(user=user)
    title = {"customers": ("客户", "Customers"), "contacts": ("联系人", "Contacts")}[spec.kind][spec.english]
    count = -1
    with XlsxStream(path) as book:
        book.sheet(title)
        for row in export_rows(user=user, filters=filters, spec=spec, chunk_size=chunk_size):
            book.append(row)
            count += 1
    return count


def temporary_xlsx(**kwargs: Any) -> tuple[Any, int]:
    """export_xlsx into a temporary file; returns the open file (already unlinked: it disappears
    when closed) and the row count."""
    handle, path = tempfile.mkstemp(suffix=".xlsx", prefix="kehu-export-")
    os.close(handle)
    try:
        count = export_xlsx(path=path, **kwargs)
        opened = open(path, "rb")  # noqa: SIM115 - handed to FileResponse, which closes it
    finally:
        os.unlink(path)
    return opened, count


def export_filename(kind: str, extension: str) -> str:
    return f"kehu-{kind}-{timezone.localtime().strftime('%Y%m%d-%H%M%S')}.{extension}"


# One customer's archive ------------------------------------------------------------------------

ARCHIVE_SHEETS = {
    "customer": ("客户", "Customer"),
    "contacts": ("联系人", "Contacts"),
    "notes": ("备注", "Notes"),
    "timeline": ("时间线", "Timeline"),
    "audit": ("审计", "Audit"),
}
NOTE_COLUMNS = [("id", "ID", "ID"), ("created_at", "时间", "Time"), ("author", "作者", "Author"),
                ("body", "内容", "Text")]
TIMELINE_COLUMNS = [("at", "时间", "Time"), ("kind", "类型", "Kind"), ("title", "事件", "Event"),
                    ("actor", "操作人", "By"), ("body", "内容", "Text"), ("changes", "变更", "Changes")]
AUDIT_COLUMNS = [("at", "时间", "Time"), ("actor", "操作人", "By"), ("action", "操作", "Action"),
                 ("object_type", "对象", "Object"), ("object_id", "对象ID", "Object ID"),
                 ("object_repr", "名称", "Name"), ("changes", "变更", "Changes")]
ARCHIVE_AUDIT_LIMIT = 10_000


def _changes_text(changes: list[dict]) -> str:
    return "; ".join(f"{c.get('field')}: {c.get('old')} → {c.get('new')}" for c in changes or [])


def customer_archive(*, user: Any, customer_id: int, language: str | None = None) -> dict[str, Any]:
    """Everything recorded about one customer: its row (every export column), contacts, notes
    with author and date, the 360° timeline (every registered provider) and its audit events.
    Raises NotFound outside the user's scope. Each section is {"columns": [...], "rows": [...]}
    with display values, so the JSON and the XLSX carry the same content."""
    from kehu.core.models import AuditEvent
    from kehu.core.registries import timeline_registry
    from kehu.customers.selectors import customer_get

    customer = customer_get(user=user, customer_id=customer_id)  # the scope check (NotFound)
    english = _is_english(language)
    lang = "en" if english else "zh"

    def section(columns: list[tuple[str, str, str]], rows: list[list[Any]]) -> dict[str, Any]:
        return {"keys": [c[0] for c in columns], "columns": [c[2] if english else c[1] for c in columns],
                "rows": rows}

    customer_spec = export_spec(user=user, kind="customers", e164=True, language=lang)
    customer_rows = list(_records(Customer.objects.filter(pk=customer.pk), customer_spec))
    contact_spec = export_spec(user=user, kind="contacts", e164=True, language=lang)
    contacts = list(_records(Contact.objects.filter(customer_id=customer.pk), contact_spec))
    notes = [
        [note.pk, _when(note.created_at), str(note.author or ""), note.body]
        for note in Note.objects.filter(customer_id=customer.pk).select_related("author").order_by("created_at", "id")
    ]
    timeline = [
        [_when(e.at), e.kind, e.title, e.actor, e.body, _changes_text(e.changes)]
        for e in timeline_registry.entries(customer=customer, user=user, limit=ARCHIVE_AUDIT_LIMIT)
    ]
    from kehu.customers.history import mask_timeline_changes  # field-level security on old/new values

    audit = [
        [_when(e.at), e.actor_name, e.action, e.object_type, e.object_id, e.object_repr,
         _changes_text(mask_timeline_changes(user=user, object_type=e.object_type, changes=e.changes))]
        for e in AuditEvent.objects.filter(customer_id=customer.pk).order_by("at", "id")[:ARCHIVE_AUDIT_LIMIT]
    ]
    return {
        "customer": {"keys": customer_spec.keys, "columns": customer_spec.headers, "rows": customer_rows},
        "contacts": {"keys": contact_spec.keys, "columns": contact_spec.headers, "rows": contacts},
        "notes": section(NOTE_COLUMNS, notes),
        "timeline": section(TIMELINE_COLUMNS, timeline),
        "audit": section(AUDIT_COLUMNS, audit),
        "exported_at": _when(timezone.now()),
        "customer_id": customer.pk,
        "customer_name": customer.name,
        "english": english,
    }


def archive_json(archive: dict[str, Any]) -> bytes:
    """The archive as JSON: each section a list of objects keyed by column key."""
    body: dict[str, Any] = {"customer_id": archive["customer_id"], "exported_at": archive["exported_at"]}
    for name in ARCHIVE_SHEETS:
        part = archive[name]
        records = [dict(zip(part["keys"], row, strict=True)) for row in part["rows"]]
        body[name] = records[0] if name == "customer" and records else records
    return json.dumps(body, ensure_ascii=False, indent=2, default=str).encode("utf-8")


def archive_xlsx(archive: dict[str, Any]) -> bytes:
    """The archive as an XLSX workbook: one sheet per section (客户, 联系人, 备注, 时间线, 审计)."""
    out = io.BytesIO()
    with XlsxStream(out) as book:  # type: ignore[arg-type]
        for name, titles in ARCHIVE_SHEETS.items():
            part = archive[name]
            book.sheet(titles[1] if archive["english"] else titles[0])
            book.append(part["columns"])
            for row in part["rows"]:
                book.append(row)
    return out.getvalue()


def archive_log(*, user: Any, customer_id: int, fmt: str) -> None:
    """Who took a customer's whole archive, when and in which format: an audit event on its timeline."""
    from kehu.core import audit
    from kehu.customers.models import Customer

    customer = Customer.objects.only("id", "name").get(pk=customer_id)
    audit.record_event(actor=user, action="export", obj=customer, customer_id=customer_id,
                       changes=[{"field": "format", "old": None, "new": fmt}])
    logger.info("archive export: user=%s customer=%s format=%s", getattr(user, "pk", None), customer_id, fmt)


# HTTP responses (shared by the web views and the API) --------------------------------------------


def export_response(
    *, user: Any, params: Any, fmt: str, kind: str = "customers", columns: Sequence[str] | None = None,
    e164: bool = False,
) -> Any:
    """The list export as a download: CSV streamed as it is produced, XLSX built in a temporary
    file (a zip cannot be streamed row by row) and sent from there. `params` are the list's query
    parameters (CustomerFilter keys)."""
    from django.http import FileResponse, StreamingHttpResponse

    if user is not None:
        require_operation(user, "contact.export" if kind == "contacts" else "customer.export")
    filters = CustomerFilter.from_params(params)
    spec = export_spec(user=user, kind=kind, columns=columns, e164=e164)
    if fmt == "xlsx":
        handle, _count = temporary_xlsx(user=user, filters=filters, spec=spec)
        return FileResponse(
            handle, as_attachment=True, filename=export_filename(kind, "xlsx"),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response = StreamingHttpResponse(export_csv(user=user, filters=filters, spec=spec),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export_filename(kind, "csv")}"'
    return response


def archive_response(*, user: Any, customer_id: int, fmt: str) -> Any:
    """One customer's archive as a JSON or XLSX download; NotFound outside the user's scope."""
    from django.http import HttpResponse

    archive = customer_archive(user=user, customer_id=customer_id)
    archive_log(user=user, customer_id=customer_id, fmt=fmt)
    name = f"kehu-customer-{customer_id}-{timezone.localtime().strftime('%Y%m%d-%H%M%S')}.{fmt}"
    if fmt == "xlsx":
        response = HttpResponse(
            archive_xlsx(archive),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        response = HttpResponse(archive_json(archive), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
