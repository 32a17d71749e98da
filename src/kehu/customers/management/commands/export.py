"""`kehu export OUT.csv|OUT.xlsx --user USERNAME [--filter key=value ...]`"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from kehu.accounts.models import User
from kehu.customers.export import export_csv, export_xlsx
from kehu.customers.filters import CustomerFilter


class Command(BaseCommand):
    help = "Export customers visible to a user (same filters as the list) to CSV or XLSX."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("out", help="output file, .csv or .xlsx")
        parser.add_argument("--user", required=True, help="export as this user (their data scope applies)")
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="list filter, e.g. stage=3 or city=北京市",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {options['user']!r}")
        params: dict[str, str] = {}
        for item in options["filter"]:
            key, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--filter expects KEY=VALUE, got {item!r}")
            params[key.strip()] = value.strip()
        filters = CustomerFilter.from_params(params)
        out: str = options["out"]
        if out.lower().endswith(".xlsx"):
            count = export_xlsx(user=user, filters=filters, path=out)
        elif out.lower().endswith(".csv"):
            with open(out, "w", encoding="utf-8", newline="") as handle:
                count = -1
                for chunk in export_csv(user=user, filters=filters):
                    handle.write(chunk)
                    count += chunk.count("\n")
        else:
            raise CommandError("output must end in .csv or .xlsx")
        self.stdout.write(f"exported {max(count, 0)} customers to {out}")
