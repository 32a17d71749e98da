"""`kehu bench NAME`: run a benchmark from the repository's `bench/` folder (see docs/benchmarks.md)."""

from __future__ import annotations

import importlib
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

BENCHMARKS = ("search", "list", "normalize", "export", "import", "dedupe", "dedupe_contacts", "sales", "pool",
              "automation", "shares")


class Command(BaseCommand):
    help = ("性能基准：search、list、normalize、export、import、dedupe（查重）、dedupe_contacts（联系人查重）、"
            "sales（销售看板、预测、漏斗）、pool（公海自动退回）、automation（自动化规则）、shares（共享记录后的客户列表）")
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", choices=BENCHMARKS, help="which benchmark")
        parser.add_argument("--customers", type=int, default=10000, help="customers to generate (default 10000)")
        parser.add_argument("--seed", type=int, default=1, help="random seed of the generated data")
        parser.add_argument("--json", action="store_true", help="print only the JSON result on stdout")
        parser.add_argument("--queries", type=int, default=100, help="search: queries per kind")
        parser.add_argument("--baseline-queries", type=int, default=10, help="search: LIKE-scan queries per kind")
        parser.add_argument("--requests", type=int, default=200, help="list, shares: requests per page")
        parser.add_argument("--baseline-requests", type=int, default=20, help="list: OFFSET queries per page")
        parser.add_argument("--data-dir", type=Path, default=None, help="SQLite: folder for bench/ (default data/)")
        parser.add_argument("--rows", type=int, default=100_000, help="normalize: rows to generate (default 100000)")
        parser.add_argument("--workers", type=int, default=None, help="normalize: processes (default: CPU count)")
        parser.add_argument("--xlsx-rows", type=int, default=None,
                            help="import: rows of the XLSX phase (default min(rows, 100000); 0 skips it)")
        parser.add_argument("--profile-rows", type=int, default=5000,
                            help="import: rows of the profiled slice (default 5000; 0 skips it)")
        parser.add_argument("--checks", type=int, default=200, help="dedupe: on-entry checks to time")
        parser.add_argument("--no-accuracy", action="store_true",
                            help="dedupe: skip the FEBRL and Chinese accuracy sets")
        parser.add_argument("--opportunities", type=int, default=100_000,
                            help="sales: opportunities to generate (default 100000)")
        parser.add_argument("--repetitions", type=int, default=50, help="sales: repetitions of each read (default 50)")
        parser.add_argument("--sales-customers", type=int, default=None,
                            help="sales: customers of the bench database (default min(opportunities, 100000); "
                                 "--customers is not used by sales)")

    def handle(self, *args: Any, **options: Any) -> None:
        repo = str(settings.REPO_DIR)
        if repo not in sys.path:
            sys.path.insert(0, repo)
        try:
            module = importlib.import_module(f"bench.{options['name']}")
        except ImportError as exc:
            raise CommandError(f"benchmark {options['name']!r} not found in {repo}/bench: {exc}") from exc
        if options["customers"] < 1:
            raise CommandError("--customers must be at least 1")
        if options["rows"] < 1:
            raise CommandError("--rows must be at least 1")
        if options["opportunities"] < 1 or options["repetitions"] < 1:
            raise CommandError("--opportunities and --repetitions must be at least 1")
        arguments = {
            "customers": options["customers"], "seed": options["seed"], "queries": options["queries"],
            "baseline_queries": options["baseline_queries"], "requests": options["requests"],
            "baseline_requests": options["baseline_requests"], "data_dir": options["data_dir"],
            "rows": options["rows"], "workers": options["workers"], "xlsx_rows": options["xlsx_rows"],
            "profile_rows": options["profile_rows"], "checks": options["checks"],
            "accuracy": not options["no_accuracy"], "opportunities": options["opportunities"],
            "repetitions": options["repetitions"], "sales_customers": options["sales_customers"],
            "log": self._stderr_log,
        }
        # Each benchmark takes its own options: pass only those its run() names (all, if it takes **kwargs).
        parameters = inspect.signature(module.run).parameters
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            arguments = {k: v for k, v in arguments.items() if k in parameters}
        result = module.run(**arguments)
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))
        else:
            self.stdout.write(module.format_table(result))

    def _stderr_log(self, message: str) -> None:
        self.stderr.write(message)
        self.stderr.flush()
