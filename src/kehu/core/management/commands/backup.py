"""`kehu backup [--out FILE|FOLDER]`: one .tar.gz with the database, the uploaded files and a manifest
(docs/backup.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kehu.core.backup import BackupError, backup_create, human_size


class Command(BaseCommand):
    help = "备份：数据库（SQLite 在线备份 / pg_dump）、上传的附件与清单打包为一个 .tar.gz 文件"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--out", default=None, metavar="FILE",
            help="备份文件名或目录（默认 KEHU_BACKUP_DIR 下的 kehu-backup-<UTC 时间>.tar.gz）",
        )

    def handle(self, *args: Any, out: str | None, **options: Any) -> None:
        try:
            result = backup_create(out=out)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = result.manifest
        counts = manifest.get("row_counts", {})
        self.stdout.write(
            f"数据库 {manifest['vendor']}：{counts.get('customers.Customer', 0)} 个客户，"
            f"{counts.get('customers.Contact', 0)} 个联系人，{counts.get('accounts.User', 0)} 个用户；"
            f"上传文件 {manifest['media']['files']} 个（{human_size(manifest['media']['bytes'])}）"
        )
        self.stdout.write(self.style.SUCCESS(f"{result.path} ({human_size(result.size)})"))
