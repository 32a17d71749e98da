"""Backup and restore (`kehu backup`, `kehu restore`, the nightly scheduled backup); see docs/backup.md.

A backup is one `.tar.gz` file:

    database/kehu.sqlite3   SQLite: a consistent copy made with SQLite's online backup API
    database/kehu.pgdump    PostgreSQL: `pg_dump --format=custom`
    media/...               every uploaded file under MEDIA_ROOT (contract attachments)
    manifest.json           Kehu version, database vendor, creation time, applied migrations per app,
                            row counts of the main tables, and the size and SHA-256 of every other member

The manifest is written last, so the checksums describe exactly the bytes in the archive. Restore reads
the whole archive into a staging folder, refusing anything that is not a plain file under `database/`
or `media/` (absolute paths, `..`, links, devices), and checks every checksum, the vendor, the
migrations and that the target is empty before it touches the database or the media folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
DATABASE_MEMBERS = {"sqlite": "database/kehu.sqlite3", "postgresql": "database/kehu.pgdump"}
MEDIA_PREFIX = "media/"
BACKUP_PREFIX = "kehu-backup-"
BACKUP_SUFFIX = ".tar.gz"
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
CHUNK = 1024 * 1024
PG_DUMP = os.environ.get("KEHU_PG_DUMP", "pg_dump")
PG_RESTORE = os.environ.get("KEHU_PG_RESTORE", "pg_restore")

# Counted into the manifest and compared after a restore; labels that do not exist are skipped.
MAIN_TABLES = [
    "accounts.User", "accounts.Department", "accounts.Role",
    "customers.Customer", "customers.Contact", "customers.Note", "customers.Tag",
    "sales.Opportunity", "leads.Lead",
    "contracts.Contract", "contracts.ContractAttachment", "contracts.Payment",
    "activities.FollowUp", "activities.Task",
    "pool.PoolEntry", "core.AuditEvent",
]
# A target holding any of these counts as "not empty": restore refuses it without --force.
OCCUPIED_TABLES = ["customers.Customer", "accounts.User"]


class BackupError(Exception):
    """Anything that stops a backup or a restore; the message says what and what to do."""


@dataclass
class BackupResult:
    path: Path
    size: int
    manifest: dict[str, Any]


@dataclass
class RestoreResult:
    manifest: dict[str, Any]
    media_files: int = 0
    migrations_applied: list[str] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)


# Helpers ------------------------------------------------------------------------------------------


def kehu_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kehu")
    except PackageNotFoundError:  # pragma: no cover — running from a source tree without install
        return "unknown"


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _HashingReader:
    """Hands tarfile the bytes of a file while hashing them, so the checksum is of what was archived."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


def _table_labels(labels: Iterable[str]) -> dict[str, str]:
    """{label: db_table} for the labels whose models exist in this code."""
    found = {}
    for label in labels:
        try:
            found[label] = apps.get_model(label)._meta.db_table
        except LookupError:
            continue
    return found


def _db_state(query: Callable[[str], list[tuple[Any, ...]]], tables: set[str]) -> dict[str, Any]:
    """Applied migrations per app and row counts of the main tables, read through `query`."""
    migrations: dict[str, list[str]] = {}
    if "django_migrations" in tables:
        for app, name in query('SELECT "app", "name" FROM "django_migrations" ORDER BY "app", "id"'):
            migrations.setdefault(app, []).append(name)
    counts = {}
    for label, table in _table_labels(MAIN_TABLES).items():
        if table in tables:
            counts[label] = int(query(f'SELECT COUNT(*) FROM "{table}"')[0][0])
    return {
        "migrations": migrations,
        "latest_migrations": {app: names[-1] for app, names in migrations.items()},
        "row_counts": counts,
    }


def _media_root() -> Path:
    media = getattr(settings, "MEDIA_ROOT", "") or Path(settings.DATA_DIR) / "media"
    return Path(media)


def _media_files(root: Path) -> Iterator[tuple[Path, str]]:
    """(path, archive name) of every regular file under MEDIA_ROOT; links are not followed."""
    if not root.is_dir():
        return
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for filename in sorted(filenames):
            path = Path(directory) / filename
            if path.is_symlink() or not path.is_file():
                continue
            yield path, MEDIA_PREFIX + path.relative_to(root).as_posix()


# PostgreSQL connection ----------------------------------------------------------------------------

_PG_OPTION_ENV = {
    "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
    "passfile": "PGPASSFILE", "service": "PGSERVICE", "connect_timeout": "PGCONNECT_TIMEOUT",
}


def pg_env(db: Mapping[str, Any]) -> dict[str, str]:
    """The environment for pg_dump / pg_restore: connection parameters from settings.DATABASES, the
    password in PGPASSWORD (never on the command line, where `ps` would show it)."""
    env = dict(os.environ)
    for key, var in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD"),
                     ("NAME", "PGDATABASE")):
        if db.get(key):
            env[var] = str(db[key])
    for key, var in _PG_OPTION_ENV.items():
        value = (db.get("OPTIONS") or {}).get(key)
        if value:
            env[var] = str(value)
    return env


def _run(argv: list[str], env: Mapping[str, str], what: str) -> None:
    try:
        result = subprocess.run(argv, env=dict(env), capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError as exc:
        raise BackupError(f"找不到 {argv[0]}：请安装 PostgreSQL 客户端工具（版本不低于服务器）") from exc
    if result.returncode != 0:
        raise BackupError(f"{what} 失败（退出码 {result.returncode}）：{result.stderr.strip()[-2000:]}")


# Backup -------------------------------------------------------------------------------------------


def default_backup_name(now: dt.datetime | None = None) -> str:
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return f"{BACKUP_PREFIX}{moment:%Y%m%dT%H%M%S}Z{BACKUP_SUFFIX}"


def _dump_sqlite(alias: str, target: Path) -> dict[str, Any]:
    """Copy the live database with SQLite's online backup API in one step: readers and the WAL writer
    carry on, the copy is one consistent snapshot. The counts are read from the copy itself."""
    connection = connections[alias]
    if connection.in_atomic_block:  # SQLite's backup step would wait forever on our own open transaction
        raise BackupError("不能在数据库事务中备份 SQLite 数据库")
    connection.ensure_connection()
    source = connection.connection
    destination = sqlite3.connect(str(target))
    try:
        source.backup(destination)
        # A self-contained file: no -wal beside it; the app turns WAL back on when it opens the file.
        destination.execute("PRAGMA journal_mode=DELETE")
        tables = {row[0] for row in destination.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return _db_state(lambda sql: destination.execute(sql).fetchall(), tables)
    finally:
        destination.close()


def _dump_postgresql(alias: str, target: Path) -> dict[str, Any]:
    """`pg_dump --format=custom` from a snapshot exported by a repeatable-read transaction, in which the
    migrations and row counts are read too: dump and manifest describe the same moment."""
    connection = connections[alias]
    db = connection.settings_dict
    argv = [PG_DUMP, "--format=custom", "--compress=0", "--no-password", f"--file={target}", db["NAME"]]
    if connection.in_atomic_block:  # called inside a transaction (never from the CLI): no snapshot export
        _run(argv, pg_env(db), "pg_dump")
        with connection.cursor() as cursor:
            tables = set(connection.introspection.table_names(cursor))
            return _db_state(lambda sql: _fetch(cursor, sql), tables)
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        _run([*argv[:-1], f"--snapshot={snapshot}", argv[-1]], pg_env(db), "pg_dump")
        tables = set(connection.introspection.table_names(cursor))
        return _db_state(lambda sql: _fetch(cursor, sql), tables)


def _fetch(cursor: Any, sql: str) -> list[tuple[Any, ...]]:
    cursor.execute(sql)
    return list(cursor.fetchall())


def backup_create(*, out: Path | str | None = None, using: str = DEFAULT_DB_ALIAS) -> BackupResult:
    """Write one backup archive and return its path, size and manifest. `out` is a file name or a
    folder (default: KEHU_BACKUP_DIR); the archive appears under its final name only when complete."""
    vendor = connections[using].vendor
    if vendor not in DATABASE_MEMBERS:
        raise BackupError(f"不支持备份 {vendor} 数据库（只支持 SQLite 与 PostgreSQL）")
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    path = Path(out) if out else Path(settings.KEHU_BACKUP_DIR)
    if path.is_dir() or out is None:
        path = path / default_backup_name(created)
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    media_root = _media_root()
    with tempfile.TemporaryDirectory(prefix=".kehu-backup-", dir=path.parent) as staging:
        dump = Path(staging) / "database"
        state = _dump_sqlite(using, dump) if vendor == "sqlite" else _dump_postgresql(using, dump)
        files: dict[str, dict[str, Any]] = {}
        media_count = media_bytes = 0
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # personal data: owner only
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz",
                                                          format=tarfile.PAX_FORMAT) as tar:
                files[DATABASE_MEMBERS[vendor]] = _add_file(tar, dump, DATABASE_MEMBERS[vendor])
                for media_path, name in _media_files(media_root):
                    files[name] = _add_file(tar, media_path, name)
                    media_count += 1
                    media_bytes += files[name]["size"]
                manifest = {
                    "format": FORMAT_VERSION,
                    "kehu_version": kehu_version(),
                    "vendor": vendor,
                    "created_at": created.isoformat().replace("+00:00", "Z"),
                    "database": {"member": DATABASE_MEMBERS[vendor],
                                 "format": "sqlite3" if vendor == "sqlite" else "pg_dump custom"},
                    **state,
                    "media": {"files": media_count, "bytes": media_bytes},
                    "files": files,
                }
                data = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode()
                info = tarfile.TarInfo(MANIFEST_NAME)
                info.size, info.mtime, info.mode = len(data), int(created.timestamp()), 0o600
                tar.addfile(info, io.BytesIO(data))
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return BackupResult(path=path, size=path.stat().st_size, manifest=manifest)


def _add_file(tar: tarfile.TarFile, path: Path, name: str) -> dict[str, Any]:
    stat = path.stat()
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = stat.st_size, int(stat.st_mtime), 0o600
    with path.open("rb") as handle:
        reader = _HashingReader(handle)
        tar.addfile(info, reader)  # type: ignore[arg-type]
    return {"size": stat.st_size, "sha256": reader.digest.hexdigest()}


# Retention and schedule ---------------------------------------------------------------------------


def backups_in(directory: Path | str) -> list[Path]:
    """The finished backups Kehu named in `directory`, oldest first (the name carries the UTC time)."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.name.startswith(BACKUP_PREFIX) and p.name.endswith(BACKUP_SUFFIX))


def backups_prune(directory: Path | str, *, keep: int) -> list[Path]:
    """Delete the oldest backups beyond the newest `keep`; only files named like Kehu's own backups."""
    if keep < 1:
        raise BackupError("KEHU_BACKUP_KEEP 至少为 1")
    found = backups_in(directory)
    doomed = found[:-keep] if len(found) > keep else []
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def parse_schedule(value: str) -> tuple[int, int] | None:
    """'01:30' → (1, 30), '3' → (3, 0), 'off' → None."""
    text = (value or "").strip().lower()
    if text in {"off", "no", "none", "false", ""}:
        return None
    hour, _, minute = text.partition(":")
    if not hour.isdigit() or (minute and not minute.isdigit()):
        raise ValueError(f"KEHU_BACKUP_SCHEDULE must be HH:MM or off, not {value!r}")
    result = (int(hour), int(minute or 0))
    if not (0 <= result[0] < 24 and 0 <= result[1] < 60):
        raise ValueError(f"KEHU_BACKUP_SCHEDULE must be HH:MM or off, not {value!r}")
    return result


def backup_due(timestamp: dt.datetime) -> bool:
    """Huey's periodic check, once a minute: True in the minute KEHU_BACKUP_SCHEDULE names, in the
    site's time zone. Huey passes a naive UTC time (settings.HUEY utc=True)."""
    schedule = parse_schedule(str(getattr(settings, "KEHU_BACKUP_SCHEDULE", "off")))
    if schedule is None:
        return False
    if timestamp.tzinfo is None:
        source_zone = dt.UTC if settings.HUEY.get("utc", True) else ZoneInfo(settings.TIME_ZONE)
        timestamp = timestamp.replace(tzinfo=source_zone)
    local = timestamp.astimezone(ZoneInfo(settings.TIME_ZONE))
    return (local.hour, local.minute) == schedule


def backup_scheduled() -> BackupResult:
    """The nightly backup: a new archive in KEHU_BACKUP_DIR, then the oldest beyond KEHU_BACKUP_KEEP go."""
    result = backup_create(out=Path(settings.KEHU_BACKUP_DIR))
    removed = backups_prune(settings.KEHU_BACKUP_DIR, keep=int(settings.KEHU_BACKUP_KEEP))
    logger.info("backup written: %s (%s); %d old backups removed", result.path, human_size(result.size),
                len(removed))
    return result


# Restore ------------------------------------------------------------------------------------------


def _safe_member_name(name: str) -> str:
    """The member's name if it is a relative path under database/ or media/ (or the manifest)."""
    if not name or "\\" in name or "\x00" in name or name.startswith("/") or ":" in name.split("/")[0]:
        raise BackupError(f"备份文件中有不安全的路径：{name!r}")
    parts = PurePosixPath(name).parts
    if any(part in {"..", "."} for part in parts) or PurePosixPath(name).is_absolute():
        raise BackupError(f"备份文件中有不安全的路径：{name!r}")
    normal = "/".join(parts)
    if normal != MANIFEST_NAME and normal not in DATABASE_MEMBERS.values() and not (
        normal.startswith(MEDIA_PREFIX) and len(parts) > 1
    ):
        raise BackupError(f"备份文件中有不属于 Kehu 备份的成员：{name!r}")
    return normal


def _inside(root: Path, name: str) -> Path:
    target = (root / name).resolve()
    if not target.is_relative_to(root.resolve()):
        raise BackupError(f"备份文件中有不安全的路径：{name!r}")
    return target


def backup_verify(archive: Path | str, staging: Path) -> dict[str, Any]:
    """Unpack `archive` into `staging` and return its manifest, or raise BackupError: only plain files
    with safe names; every file listed in the manifest present with its size and SHA-256; nothing else."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"找不到备份文件：{archive}")
    seen: dict[str, dict[str, Any]] = {}
    manifest_bytes: bytes | None = None
    try:
        with tarfile.open(archive, mode="r|*") as tar:
            for member in tar:
                name = _safe_member_name(member.name)
                if member.isdir():
                    continue
                if not member.isfile():  # symlinks, hard links, devices, FIFOs
                    raise BackupError(f"备份文件中有链接或特殊文件，拒绝恢复：{member.name!r}")
                if name in seen or (name == MANIFEST_NAME and manifest_bytes is not None):
                    raise BackupError(f"备份文件中有重复的成员：{member.name!r}")
                handle = tar.extractfile(member)
                assert handle is not None  # a regular file always has data
                if name == MANIFEST_NAME:
                    if member.size > MAX_MANIFEST_BYTES:
                        raise BackupError("manifest.json 过大，不是 Kehu 备份")
                    manifest_bytes = handle.read()
                    continue
                target = _inside(staging, name)
                target.parent.mkdir(parents=True, exist_ok=True)
                digest, size = hashlib.sha256(), 0
                with target.open("wb") as out:
                    while chunk := handle.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                seen[name] = {"size": size, "sha256": digest.hexdigest()}
    except (tarfile.TarError, EOFError, OSError, UnicodeError) as exc:
        raise BackupError(f"无法读取备份文件（不是完整的 tar.gz 备份？）：{exc}") from exc
    if manifest_bytes is None:
        raise BackupError("备份文件中没有 manifest.json，不是 Kehu 备份")
    try:
        manifest = json.loads(manifest_bytes)
    except ValueError as exc:
        raise BackupError(f"manifest.json 无法解析：{exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"不认识的备份格式（format={manifest.get('format') if isinstance(manifest, dict) else '?'}）")
    listed = manifest.get("files") or {}
    missing = sorted(set(listed) - set(seen))
    extra = sorted(set(seen) - set(listed))
    bad = sorted(name for name in set(listed) & set(seen)
                 if {"size": listed[name].get("size"), "sha256": listed[name].get("sha256")} != seen[name])
    if missing or extra or bad:
        details = "；".join(part for part in (
            f"校验和不符：{', '.join(bad[:5])}" if bad else "",
            f"缺少：{', '.join(missing[:5])}" if missing else "",
            f"清单外的文件：{', '.join(extra[:5])}" if extra else "",
        ) if part)
        raise BackupError(f"备份文件已损坏或被改动，未做任何恢复（{details}）")
    database_member = (manifest.get("database") or {}).get("member")
    if database_member not in seen or database_member != DATABASE_MEMBERS.get(manifest.get("vendor", "")):
        raise BackupError("备份中没有与其数据库类型相符的数据库文件")
    return manifest


def migrations_check(backup_migrations: Mapping[str, Iterable[str]]) -> tuple[list[str], list[str]]:
    """(migrations in the backup that this code does not have, migrations this code would apply)."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    known: set[tuple[str, str]] = set(loader.disk_migrations)
    for migration in loader.disk_migrations.values():
        known.update(tuple(r) for r in (migration.replaces or []))  # type: ignore[misc]
    applied = {(app, name) for app, names in backup_migrations.items() for name in names}
    newer = sorted(f"{app}.{name}" for app, name in applied - known)
    pending = []
    for key, migration in sorted(loader.disk_migrations.items()):
        replaced = {tuple(r) for r in (migration.replaces or [])}
        if key not in applied and not (replaced and replaced <= applied):
            pending.append(f"{key[0]}.{key[1]}")
    return newer, pending


def _existing_tables(using: str) -> set[str]:
    connection = connections[using]
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def target_rows(using: str = DEFAULT_DB_ALIAS, labels: Iterable[str] = OCCUPIED_TABLES) -> dict[str, int]:
    """Row counts of `labels` in the configured database (tables that do not exist yet count 0)."""
    tables = _existing_tables(using)
    counts = {}
    with connections[using].cursor() as cursor:
        for label, table in _table_labels(labels).items():
            counts[label] = int(_fetch(cursor, f'SELECT COUNT(*) FROM "{table}"')[0][0]) if table in tables else 0
    return counts


def _restore_sqlite(using: str, dump: Path) -> None:
    """Copy the backup into the configured file through SQLite's backup API. Switching the target out
    of WAL mode first needs it to be the only connection: a running Kehu makes the restore stop."""
    name = str(connections[using].settings_dict["NAME"])
    connections[using].close()
    source = sqlite3.connect(str(dump))
    try:
        check = source.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"备份中的 SQLite 数据库未通过完整性检查：{check}")
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(name, timeout=5)
        try:
            mode = target.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
            if str(mode).lower() != "delete":
                raise BackupError("数据库正被其他进程使用：请先停止 kehu serve 与 kehu worker 再恢复")
            source.backup(target)
            target.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            raise BackupError(f"无法写入数据库 {name}（请先停止 kehu serve 与 kehu worker）：{exc}") from exc
        finally:
            target.close()
    finally:
        source.close()


def _restore_postgresql(using: str, dump: Path, *, clean: bool) -> None:
    """pg_restore in one transaction: it either restores everything or leaves the target as it was."""
    connection = connections[using]
    db = connection.settings_dict
    connection.close()
    argv = [PG_RESTORE, "--no-password", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
            f"--dbname={db['NAME']}"]
    if clean:
        argv += ["--clean", "--if-exists"]
    _run([*argv, str(dump)], pg_env(db), "pg_restore")


def backup_restore(archive: Path | str, *, force: bool = False, using: str = DEFAULT_DB_ALIAS,
                   check_only: bool = False, migrate: bool = True,
                   progress: Callable[[str], None] | None = None) -> RestoreResult:
    """Restore `archive` into the configured database and MEDIA_ROOT. Everything is checked first
    (checksums, vendor, migrations, an empty target unless `force`); with `check_only` nothing is written."""
    say = progress or (lambda message: None)
    connection = connections[using]
    data_dir = Path(settings.DATA_DIR)
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".kehu-restore-", dir=data_dir) as staging_name:
        staging = Path(staging_name)
        say("校验备份文件 …")
        manifest = backup_verify(archive, staging)
        vendor = manifest.get("vendor")
        if vendor != connection.vendor:
            raise BackupError(
                f"这是 {vendor} 数据库的备份，当前配置的是 {connection.vendor}：备份只能恢复到同类数据库。"
                "换数据库请用导出/导入（见 docs/backup.md）"
            )
        newer, pending = migrations_check(manifest.get("migrations") or {})
        if newer:
            raise BackupError(
                f"备份来自更新版本的 Kehu（{manifest.get('kehu_version')}），当前代码没有这些迁移："
                f"{', '.join(newer[:10])}。请先把 Kehu 升级到不低于备份的版本再恢复"
            )
        occupied = {label: n for label, n in target_rows(using).items() if n}
        tables = _existing_tables(using)
        if occupied and not force:
            listed = "，".join(f"{label} {n} 行" for label, n in occupied.items())
            if check_only:
                say(f"注意：目标数据库不是空的（{listed}），正式恢复需要 --force（目标中的全部数据将被销毁）")
                say("备份完整，可以恢复（--check：未写入任何内容）")
                return RestoreResult(manifest=manifest)
            raise BackupError(
                f"目标数据库不是空的（{listed}），未做任何恢复。只能恢复到空数据库；"
                "确需覆盖（目标中的全部数据将被销毁）请加 --force"
            )
        result = RestoreResult(manifest=manifest)
        if check_only:
            say("备份完整，可以恢复（--check：未写入任何内容）")
            return result
        dump = staging / manifest["database"]["member"]
        say("恢复数据库 …")
        if vendor == "sqlite":
            _restore_sqlite(using, dump)
        else:
            _restore_postgresql(using, dump, clean=bool(force or tables))
        connections[using].close()
        result.row_counts = target_rows(using, MAIN_TABLES)
        expected = manifest.get("row_counts") or {}
        wrong = {label: (expected[label], n) for label, n in result.row_counts.items()
                 if label in expected and expected[label] != n}
        if wrong:
            raise BackupError(f"恢复后的行数与备份清单不符：{wrong}")
        say("恢复上传文件 …")
        result.media_files = _restore_media(staging)
        if migrate and pending:
            from django.core.management import call_command

            say(f"应用当前代码的 {len(pending)} 个新迁移 …")
            call_command("migrate", interactive=False, verbosity=0, database=using)
            result.migrations_applied = pending
        return result


def _restore_media(staging: Path) -> int:
    source_root = staging / MEDIA_PREFIX.rstrip("/")
    if not source_root.is_dir():
        return 0
    media_root = _media_root()
    media_root.mkdir(parents=True, exist_ok=True)
    count = 0
    for directory, _dirs, filenames in os.walk(source_root):
        for filename in filenames:
            source = Path(directory) / filename
            relative = source.relative_to(source_root).as_posix()
            target = _inside(media_root, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.restoring")
            shutil.copyfile(source, temporary)
            os.replace(temporary, target)
            count += 1
    return count
