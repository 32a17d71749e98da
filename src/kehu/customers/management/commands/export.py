"""`kehu export customers|contacts --format csv|xlsx --out FILE [--user USERNAME] [--filter key=value ...]`

The other kinds of the export registry (`kehu.core.exporting`: opportunities, products, leads,
contracts, payments, payment_plans) take the same --out/--format/--user/--filter/--columns/--lang."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from kehu.accounts.models import User
from kehu.core import exporting
from kehu.customers.export import KINDS, export_csv, export_spec, export_xlsx
from kehu.customers.filters import CustomerFilter


class Command(BaseCommand):
    help = ("导出客户、联系人、商机、产品、线索、合同、回款或回款计划（与列表相同的筛选条件；指定 --user 时只导出"
            "该用户可见的数据）到 CSV 或 XLSX")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("kind", choices=(*KINDS, *sorted(set(exporting.export_kinds()) - set(KINDS))),
                            help="customers, contacts or a kind of the export registry")
        parser.add_argument("--out", required=True, help="output file")
        parser.add_argument("--format", choices=("csv", "xlsx"), default=None,
                            help="csv or xlsx (default: from the --out extension)")
        parser.add_argument("--user", default=None,
                            help="export as this user (their data scope applies); default: everything")
        parser.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                            help="list filter, e.g. stage=3 or city=北京市 or cf_budget=10 (repeatable)")
        parser.add_argument("--columns", default=None, help="comma-separated column keys (default: all)")
        parser.add_argument("--e164", action="store_true", help="add the E.164 phone columns")
        parser.add_argument("--lang", choices=("zh", "en"), default="zh", help="header language")

    def handle(self, *args: Any, **options: Any) -> None:
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"no active user {options['user']!r}")
        params: dict[str, str] = {}
        for item in options["filter"]:
            key, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--filter expects KEY=VALUE, got {item!r}")
            params[key.strip()] = value.strip()
        out: str = options["out"]
        fmt = options["format"] or out.rsplit(".", 1)[-1].lower()
        if fmt not in ("csv", "xlsx"):
            raise CommandError("give --format csv|xlsx or an --out ending in .csv or .xlsx")
        columns = [c.strip() for c in options["columns"].split(",") if c.strip()] if options["columns"] else None
        if options["kind"] not in KINDS:
            started = time.perf_counter()
            count = exporting.export_to_file(options["kind"], user=user, path=out, fmt=fmt, params=params,
                                             columns=columns, language=options["lang"])
            seconds = time.perf_counter() - started
            self.stdout.write(f"exported {count} {options['kind']} to {out} in {seconds:.1f} s")
            return
        filters = CustomerFilter.from_params(params)
        spec = export_spec(user=user, kind=options["kind"], columns=columns, e164=options["e164"],
                           language=options["lang"])
        started = time.perf_counter()
        if fmt == "xlsx":
            count = export_xlsx(user=user, filters=filters, path=out, spec=spec)
        else:
            count = 0
            with open(out, "wb") as handle:
                for piece in export_csv(user=user, filters=filters, spec=spec):
                    handle.write(piece)
            # Rows are counted from the file: CSV rows may hold line breaks inside quoted cells.
            import csv

            with open(out, encoding="utf-8-sig", newline="") as handle:
                count = sum(1 for _ in csv.reader(handle)) - 1
        seconds = time.perf_counter() - started
        self.stdout.write(f"exported {count} {options['kind']} to {out} in {seconds:.1f} s")
