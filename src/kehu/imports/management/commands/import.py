"""`kehu import FILE --kind customers`: import a spreadsheet or CSV through the same engine as the
web wizard, with a progress line (rows, rows/s, ETA), a summary and the error file's path.

`--dry-run` checks every row and writes nothing; `--resume BATCH` continues a killed run from its
last committed chunk; `--undo BATCH` removes what a batch created and restores what it updated."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kehu.core.errors import KehuError
from kehu.core.models import Job
from kehu.imports import services
from kehu.imports.models import ImportBatch


class Command(BaseCommand):
    help = "从 Excel/CSV 导入客户等数据（映射、试运行、错误文件、断点续传、撤销）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", help="要导入的 .xlsx/.xls/.csv 文件")
        parser.add_argument("--kind", default="customers",
                            help="导入对象：customers、contacts、notes、leads、products、opportunities、contracts、payments")
        parser.add_argument("--sheet", default=None, help="工作表名称（默认第一个有数据的工作表）")
        parser.add_argument("--mapping", default=None,
                            help='列映射 JSON：{"0": "name", "3": "phones"} 或 {"表头": "字段"}')
        parser.add_argument("--template", default=None, help="使用已保存的映射模板")
        parser.add_argument("--save-template", default=None, metavar="NAME", help="把本次映射保存为模板")
        parser.add_argument("--mode", default="insert", choices=["insert", "update", "upsert"])
        parser.add_argument("--match-by", default="external_id,credit_code",
                            help="匹配字段，逗号分隔：external_id,mobile,email,credit_code")
        parser.add_argument("--duplicates", default="skip", choices=["skip", "update", "flag"],
                            help="insert 模式下遇到已有记录：跳过、更新或导入并标记")
        parser.add_argument("--owner-policy", default="column", choices=["column", "round_robin", "pool", "importer"])
        parser.add_argument("--owners", default="", help="轮流分配的用户名，逗号分隔")
        parser.add_argument("--dry-run", action="store_true", help="只校验与统计，不写入")
        parser.add_argument("--user", default=None, help="以哪个用户的身份导入（默认第一个管理员）")
        parser.add_argument("--resume", type=int, default=None, metavar="BATCH", help="继续一个中断的导入")
        parser.add_argument("--undo", type=int, default=None, metavar="BATCH", help="撤销一个导入批次")
        parser.add_argument("--show-mapping", action="store_true", help="只显示自动识别的列映射")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._handle(**options)
        except KehuError as exc:
            raise CommandError(str(exc.message)) from exc

    def _handle(self, *, file: str | None, kind: str, sheet: str | None, mapping: str | None, template: str | None,
                save_template: str | None, mode: str, match_by: str, duplicates: str, owner_policy: str,
                owners: str, dry_run: bool, user: str | None, resume: int | None, undo: int | None,
                show_mapping: bool, **_options: Any) -> None:
        acting_user = _user(user)
        if undo is not None:
            batch = _batch(undo)
            result = services.import_undo(acting_user=acting_user, batch=batch)
            self.stdout.write(f"batch {batch.pk} undone: {result['removed']:,} removed, "
                              f"{result['restored']:,} restored")
            return
        if resume is not None:
            batch = _batch(resume)
            if batch.status == ImportBatch.Status.DONE:
                raise CommandError(f"batch {resume} already finished")
            self.stderr.write(f"batch {batch.pk}: resuming after row {batch.last_row:,}")
            self._run(batch)
            return
        if not file:
            raise CommandError("give a FILE to import, or --resume / --undo BATCH")
        source = Path(file)
        if not source.is_file():
            raise CommandError(f"no such file: {file}")
        from kehu.core.tabular import open_table

        headers = open_table(source, sheet=sheet).headers
        if template:
            columns = services.mapping_from_template(kind=kind, name=template, headers=headers)
        elif mapping:
            columns = _parse_mapping(mapping, headers)
        else:
            columns = services.default_mapping(kind, headers)
        if show_mapping:
            for index, header in enumerate(headers):
                self.stdout.write(f"{index:>3}  {header}  ->  {columns.get(index, '-')}")
            return
        usernames = [u.strip() for u in owners.split(",") if u.strip()]
        from kehu.accounts.models import User

        owner_ids = list(User.objects.filter(username__in=usernames).values_list("pk", flat=True))
        if len(owner_ids) != len(set(usernames)):
            raise CommandError(f"unknown user in --owners: {owners}")
        stored = services.store_upload(source, original_name=source.name)
        try:
            batch = services.import_batch_create(
                acting_user=acting_user, kind=kind, path=stored, original_name=source.name, sheet=sheet,
                mapping=columns, dry_run=dry_run,
                options={"mode": mode, "match_by": [k.strip() for k in match_by.split(",") if k.strip()],
                         "duplicates": duplicates, "owner_policy": owner_policy, "owner_users": owner_ids},
            )
        except Exception:
            stored.unlink(missing_ok=True)
            raise
        if save_template:
            services.mapping_template_save(acting_user=acting_user, kind=kind, name=save_template, mapping=columns,
                                           headers=headers)
        self.stderr.write(f"batch {batch.pk}: {source.name} ({batch.file_format}"
                          f"{', ' + batch.encoding if batch.encoding else ''}), "
                          + ", ".join(f"{headers[i]}→{t}" for i, t in sorted(columns.items()) if i < len(headers)))
        self._run(batch)

    def _run(self, batch: ImportBatch) -> None:
        progress = _Progress(self.stderr)
        batch = services.import_run(batch, on_progress=progress.show)
        progress.end()
        job = batch.job
        result = (job.result if job else {}) or {}
        lines = [
            f"batch: {batch.pk}  status: {batch.status}" + ("  (dry run: nothing written)" if batch.dry_run else ""),
            "rows: {rows:,}  created: {created:,}  updated: {updated:,}  skipped: {skipped:,}  flagged: {flagged:,}"
            "  rejected: {rejected:,}".format(**batch.counts()),
        ]
        if job and job.started_at and job.finished_at:
            seconds = max((job.finished_at - job.started_at).total_seconds(), 0.001)
            lines.append(f"time: {seconds:.1f} s  ({batch.rows / seconds:,.0f} rows/s)")
        for item in (result.get("problems") or [])[:20]:
            lines.append(f"  row {item['row']}: {item['field'] or '-'}: {item['reason']}")
        lines.append(f"error file: {batch.error_file or '-'}")
        if job and job.message:
            lines.append(job.message)
        self.stdout.write("\n".join(lines))
        if batch.status == ImportBatch.Status.FAILED:
            raise CommandError(job.message if job else "import failed")


def _user(username: str | None) -> Any:
    from kehu.accounts.models import User

    if username:
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {username!r}")
        return user
    admins = User.objects.filter(is_active=True).order_by("pk")
    user = next((u for u in admins.select_related("role") if u.is_kehu_admin), None)
    if user is None:
        raise CommandError("no admin user: create one with kehu setup, or pass --user")
    return user


def _batch(pk: int) -> ImportBatch:
    batch = ImportBatch.objects.select_related("job", "created_by").filter(pk=pk).first()
    if batch is None:
        raise CommandError(f"no import batch {pk}")
    return batch


def _parse_mapping(text: str, headers: list[str]) -> dict[int, str]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"--mapping is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise CommandError("--mapping must be a JSON object")
    columns: dict[int, str] = {}
    for key, target in raw.items():
        if str(key).isdigit():
            columns[int(key)] = str(target)
        elif key in headers:
            columns[headers.index(key)] = str(target)
        else:
            raise CommandError(f"--mapping: no column {key!r}")
    return columns


class _Progress:
    """One line, rewritten: rows done of total, rows/s, ETA."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.shown = False

    def show(self, batch: ImportBatch, job: Job) -> None:
        elapsed = max(time.monotonic() - self.started, 0.001)
        done, total = batch.rows, batch.total_rows
        rate = done / elapsed
        eta = f"{(total - done) / rate:,.0f} s" if rate and total > done else "-"
        percent = f"{done * 100 / total:5.1f}%" if total else "  -  "
        line = f"\r{percent}  {done:,}/{total:,} rows  {rate:,.0f} rows/s  ETA {eta}   "
        writer = getattr(self.stream, "_out", None) or sys.stderr
        writer.write(line)
        writer.flush()
        self.shown = True

    def end(self) -> None:
        if self.shown:
            self.stream.write("")
