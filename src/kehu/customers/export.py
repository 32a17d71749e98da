"""Customer export rows (CSV/XLSX) with custom fields, through the same filter and scope as the list.

Cells that a spreadsheet would run as a formula (=, +, -, @, tab, CR at the start) are prefixed
with an apostrophe, so a customer named `=HYPERLINK(...)` exports as text (CSV injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext as _

from kehu.customers.filters import CustomerFilter
from kehu.customers.models import Customer, CustomFieldDefinition, CustomFieldTarget
from kehu.customers.selectors import custom_field_definitions, customers_filtered

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _columns(definitions: list[CustomFieldDefinition]) -> list[tuple[str, str]]:
    base = [
        ("id", "ID"),
        ("kind", _("类型")),
        ("name", _("名称")),
        ("short_name", _("简称")),
        ("industry", _("行业")),
        ("level", _("级别")),
        ("stage", _("生命周期阶段")),
        ("source", _("来源渠道")),
        ("owner", _("负责人")),
        ("department", _("所属部门")),
        ("tags", _("标签")),
        ("phones", _("电话")),
        ("emails", _("邮箱")),
        ("website", _("网站")),
        ("province", _("省份")),
        ("city", _("城市")),
        ("district", _("区县")),
        ("address", _("详细地址")),
        ("birthday", _("生日")),
        ("credit_code", _("统一社会信用代码")),
        ("notes", _("备注")),
        ("created_at", _("创建时间")),
        ("updated_at", _("更新时间")),
    ]
    return base + [(f"custom.{d.key}", d.label) for d in definitions]


def _custom_display(definition: CustomFieldDefinition, value: Any) -> Any:
    if value is None:
        return ""
    if definition.field_type == "choice":
        return definition.choice_label(value)
    if definition.field_type == "multi_choice":
        return "、".join(definition.choice_label(v) for v in value)
    if definition.field_type == "boolean":
        return _("是") if value else _("否")
    return value


def _row(customer: Customer, definitions: list[CustomFieldDefinition]) -> list[Any]:
    values: list[Any] = [
        customer.pk,
        customer.get_kind_display(),
        customer.name,
        customer.short_name,
        str(customer.industry or ""),
        str(customer.level or ""),
        str(customer.stage or ""),
        str(customer.source or ""),
        str(customer.owner or ""),
        str(customer.department or ""),
        "、".join(t.name for t in customer.tags.all()),
        "; ".join(customer.phones or []),
        "; ".join(customer.emails or []),
        customer.website,
        customer.province,
        customer.city,
        customer.district,
        customer.address,
        customer.birthday.isoformat() if customer.birthday else "",
        customer.credit_code,
        customer.notes,
        customer.created_at.isoformat(timespec="seconds"),
        customer.updated_at.isoformat(timespec="seconds"),
    ]
    values += [_custom_display(d, (customer.custom or {}).get(d.key)) for d in definitions]
    return [safe_cell(v) for v in values]


def export_rows(*, user: Any, filters: CustomerFilter, chunk_size: int = 2000) -> Iterator[list[Any]]:
    """The header row, then one row per visible customer matching `filters`, streamed in id order."""
    definitions = custom_field_definitions(target=CustomFieldTarget.CUSTOMER)
    yield [label for _, label in _columns(definitions)]
    queryset = (
        customers_filtered(user=user, filters=filters)
        .select_related("owner", "department", "industry", "level", "stage", "source")
        .prefetch_related("tags")
        .order_by("id")
    )
    for customer in queryset.iterator(chunk_size=chunk_size):
        yield _row(customer, definitions)


def export_csv(*, user: Any, filters: CustomerFilter) -> Iterator[str]:
    """CSV text in chunks, UTF-8 with BOM so Chinese Excel opens it without mojibake."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff"
    for row in export_rows(user=user, filters=filters):
        writer.writerow(row)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def export_xlsx(*, user: Any, filters: CustomerFilter, path: str) -> int:
    """Write an XLSX file in openpyxl's streaming mode; returns the number of data rows."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("客户"))
    count = -1
    for row in export_rows(user=user, filters=filters):
        sheet.append(row)
        count += 1
    workbook.save(path)
    return count
