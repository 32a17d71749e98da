"""`kehu restore FILE [--force] [--check]`: restore a `kehu backup` archive into an empty database of the
same kind, with its uploaded files (docs/backup.md). Stop `kehu serve` and `kehu worker` first."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kehu.core.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = "从 `kehu backup` 的备份文件恢复到空数据库（先校验全部校验和；--force 会销毁目标数据库中的数据）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="kehu backup 生成的 .tar.gz 文件")
        parser.add_argument(
            "--force", action="store_true",
            help="目标数据库已有客户或用户时仍然恢复：目标中的全部数据将被销毁，由备份替换",
        )
        parser.add_argument("--check", action="store_true", help="只校验备份能否恢复到当前数据库，不写入任何内容")

    def handle(self, *args: Any, file: str, force: bool, check: bool, **options: Any) -> None:
        try:
            result = backup_restore(file, force=force, check_only=check,
                                    progress=lambda message: self.stdout.write(message))
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = result.manifest
        self.stdout.write(
            f"备份：Kehu {manifest.get('kehu_version')}，{manifest.get('vendor')}，创建于 {manifest.get('created_at')}"
        )
        if check:
            return
        counts = result.row_counts
        self.stdout.write(
            f"已恢复：{counts.get('customers.Customer', 0)} 个客户，{counts.get('customers.Contact', 0)} 个联系人，"
            f"{counts.get('accounts.User', 0)} 个用户，{result.media_files} 个上传文件"
        )
        if result.migrations_applied:
            self.stdout.write(f"已应用 {len(result.migrations_applied)} 个新迁移")
        self.stdout.write(self.style.SUCCESS("恢复完成。运行 `kehu serve` 启动服务。"))
