"""`kehu privacy retention [--dry-run] [--policy ID]`: apply the retention policies now
(kehu.privacy.retention; the scheduler does the same every night)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kehu.core.errors import KehuError
from kehu.privacy import retention
from kehu.privacy.models import RetentionPolicy


class Command(BaseCommand):
    help = "个人信息：retention 按保留策略匿名化或删除长期无活动的记录（--dry-run 只统计）"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{retention}")
        run = sub.add_parser("retention", help="执行已启用的保留策略")
        run.add_argument("--dry-run", action="store_true", help="只统计将处理的记录，不做任何修改")
        run.add_argument("--policy", type=int, help="只执行这一条策略（启用与否都执行）")

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = options["dry_run"]
        try:
            if options.get("policy"):
                policy = RetentionPolicy.objects.filter(pk=options["policy"]).first()
                if policy is None:
                    raise CommandError(f"no retention policy #{options['policy']}")
                results = [retention.retention_apply(policy=policy, dry_run=dry_run)]
            else:
                results = retention.retention_run_all(dry_run=dry_run)
        except KehuError as exc:
            raise CommandError(str(exc)) from exc
        if not results:
            self.stdout.write("no enabled retention policies")
        for result in results:
            verb = "would process" if dry_run else "processed"
            count = result.selected if dry_run else result.processed
            line = f"policy #{result.policy_id}: {verb} {count}"
            if not dry_run:
                line += f", skipped {result.skipped}"
            self.stdout.write(line)
            for error in result.errors:
                self.stdout.write(f"  {error}")
