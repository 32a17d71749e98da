"""`kehu backup` / `kehu restore` (kehu.core.backup, docs/backup.md).

The round trips run the real CLI in subprocesses against their own data folders (SQLite always; PostgreSQL
when DATABASE_URL points at a PostgreSQL server, on databases of their own): `kehu setup` with demo data and
a contract attachment → `kehu backup` → a new, empty data folder → `kehu restore` → the same rows, the same
attachment bytes, a working admin password. The refusals run in-process on archives built by hand."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from kehu.core import backup
from kehu.customers.models import Customer
from tests.factories import CustomerFactory

REPO = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "backup-Test-pass-7"
ATTACHMENT = b"%PDF-1.4\n% kehu backup test \xe5\x90\x88\xe5\x90\x8c\n" + bytes(range(256))

ADD_ATTACHMENT = f"""
from django.core.files.uploadedfile import SimpleUploadedFile
from kehu.accounts.models import User
from kehu.customers.models import Customer
from kehu.contracts import services
admin = User.objects.get(username="admin")
customer = Customer.objects.order_by("pk").first()
contract = services.contract_create(acting_user=admin, data={{"title": "备份测试合同", "customer": customer.pk,
                                                             "amount": "1000"}})
services.attachment_add(acting_user=admin, contract_id=contract.pk,
                        upload=SimpleUploadedFile("合同扫描件.pdf", {ATTACHMENT!r}))
"""

SNAPSHOT = f"""
import json
from kehu.accounts.models import User
from kehu.contracts.models import Contract, ContractAttachment
from kehu.customers.models import Contact, Customer, Note
attachment = ContractAttachment.objects.get()
with attachment.file.open("rb") as handle:
    content = handle.read()
print("SNAPSHOT=" + json.dumps({{
    "customers": list(Customer.objects.order_by("pk").values()),
    "contacts": list(Contact.objects.order_by("pk").values()),
    "notes": Note.objects.count(),
    "users": sorted(User.objects.values_list("username", flat=True)),
    "contracts": list(Contract.objects.values_list("number", "title", "amount")),
    "attachment": [attachment.name, attachment.file.name, attachment.size, content.hex()],
    "admin_password_ok": User.objects.get(username="admin").check_password({ADMIN_PASSWORD!r}),
}}, ensure_ascii=False, default=str, sort_keys=True))
"""

# After a restore the database takes new rows: ids continue after the restored ones (PostgreSQL sequences).
WRITE_AFTER = """
from kehu.accounts.models import User
from kehu.customers.models import Customer
from kehu.customers.services import customer_create
before = Customer.objects.order_by("-pk").values_list("pk", flat=True).first()
new = customer_create(acting_user=User.objects.get(username="admin"), data={"name": "恢复后新建的客户"})
print("WRITE=" + str(new.pk > before))
"""


def kehu(*args: str, data_dir: Path, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "KEHU_TEST_DB_NAME", "DJANGO_SETTINGS_MODULE", "KEHU_MEDIA_DIR",
                        "KEHU_BACKUP_DIR", "SECRET_KEY"}}
    env.update(KEHU_DATA_DIR=str(data_dir), KEHU_ADMIN_PASSWORD=ADMIN_PASSWORD,
               PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO)]))
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run(  # noqa: S603 — fixed argv
        [sys.executable, "-m", "kehu.cli", *args], env=env, cwd=REPO, capture_output=True, text=True,
        timeout=300, check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def snapshot(data_dir: Path, database_url: str | None = None) -> dict[str, Any]:
    out = ok(kehu("shell", "-c", SNAPSHOT, data_dir=data_dir, database_url=database_url))
    [line] = [line for line in out.splitlines() if line.startswith("SNAPSHOT=")]
    return json.loads(line.removeprefix("SNAPSHOT="))


def make_source(data_dir: Path, database_url: str | None = None) -> tuple[Path, dict[str, Any]]:
    """A populated Kehu (demo data + an attachment), backed up; returns (archive, snapshot)."""
    ok(kehu("setup", "--skip-collectstatic", "--demo-customers", "20", data_dir=data_dir, database_url=database_url))
    ok(kehu("shell", "-c", ADD_ATTACHMENT, data_dir=data_dir, database_url=database_url))
    archive = data_dir / "out" / "backup.tar.gz"
    out = ok(kehu("backup", "--out", str(archive), data_dir=data_dir, database_url=database_url))
    assert str(archive) in out and "KB" in out  # path and size printed
    return archive, snapshot(data_dir, database_url)


def read_manifest(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive) as tar:
        handle = tar.extractfile(backup.MANIFEST_NAME)
        assert handle is not None
        return json.loads(handle.read())


def assert_restored(source: dict[str, Any], restored: dict[str, Any]) -> None:
    assert len(restored["customers"]) == 20
    assert restored["customers"] == source["customers"]
    assert restored["contacts"] == source["contacts"] and len(restored["contacts"]) > 0
    assert restored["notes"] == source["notes"]
    assert restored["users"] == source["users"] and "admin" in restored["users"]
    assert restored["contracts"] == source["contracts"]
    assert restored["attachment"] == source["attachment"]
    assert bytes.fromhex(restored["attachment"][3]) == ATTACHMENT
    assert restored["admin_password_ok"] is True


# SQLite round trip ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_source(tmp_path_factory):  # type: ignore[no-untyped-def]
    data_dir = tmp_path_factory.mktemp("kehu_src")
    archive, snap = make_source(data_dir)
    return data_dir, archive, snap


def test_backup_archive_holds_database_media_and_a_manifest_with_checksums(sqlite_source) -> None:
    data_dir, archive, _snap = sqlite_source
    assert archive.stat().st_mode & 0o077 == 0  # personal data: readable by the owner only
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
        contents = {name: tar.extractfile(m).read() for name, m in members.items()}  # type: ignore[union-attr]
    [media_name] = [n for n in members if n.startswith("media/")]
    assert media_name.startswith("media/contracts/") and media_name.endswith(".pdf")
    assert contents[media_name] == ATTACHMENT
    manifest = json.loads(contents["manifest.json"])
    assert set(members) == {"manifest.json", "database/kehu.sqlite3", media_name}
    assert manifest["vendor"] == "sqlite" and manifest["format"] == 1 and manifest["kehu_version"]
    assert manifest["created_at"].endswith("Z")
    assert manifest["row_counts"]["customers.Customer"] == 20
    assert manifest["row_counts"]["contracts.ContractAttachment"] == 1
    assert "0001_initial" in manifest["migrations"]["customers"]
    assert manifest["latest_migrations"]["customers"] == manifest["migrations"]["customers"][-1]
    assert manifest["media"] == {"files": 1, "bytes": len(ATTACHMENT)}
    assert set(manifest["files"]) == {"database/kehu.sqlite3", media_name}
    for name, entry in manifest["files"].items():
        assert entry == {"size": len(contents[name]), "sha256": hashlib.sha256(contents[name]).hexdigest()}
    assert contents["database/kehu.sqlite3"].startswith(b"SQLite format 3\x00")


def test_sqlite_round_trip_into_a_new_empty_data_folder(sqlite_source, tmp_path) -> None:
    _src, archive, source = sqlite_source
    target = tmp_path / "new_server"
    out = ok(kehu("restore", str(archive), data_dir=target))
    assert "20 个客户" in out and "1 个上传文件" in out
    assert_restored(source, snapshot(target))
    assert (target / "media").is_dir()
    # The restored database is a working Kehu: nothing left to migrate, new rows get new ids.
    assert "No migrations to apply" in ok(kehu("migrate", data_dir=target))
    assert "WRITE=True" in ok(kehu("shell", "-c", WRITE_AFTER, data_dir=target))


def test_restore_refuses_a_target_with_data_and_changes_nothing(sqlite_source, tmp_path) -> None:
    data_dir, archive, source = sqlite_source
    result = kehu("restore", str(archive), data_dir=data_dir)
    assert result.returncode != 0
    assert "不是空的" in result.stderr and "--force" in result.stderr
    assert "恢复数据库" not in result.stdout
    assert snapshot(data_dir) == source


def test_a_backup_from_older_code_gets_the_newer_migrations_after_restore(sqlite_source, tmp_path) -> None:
    import shutil

    older = tmp_path / "older"
    shutil.copytree(sqlite_source[0], older, ignore=shutil.ignore_patterns("out", "backups"))
    ok(kehu("migrate", "sessions", "zero", data_dir=older))  # as if made before the sessions app existed
    archive = older / "older.tar.gz"
    ok(kehu("backup", "--out", str(archive), data_dir=older))
    assert "sessions" not in read_manifest(archive)["migrations"]
    target = tmp_path / "target"
    assert "已应用 1 个新迁移" in ok(kehu("restore", str(archive), data_dir=target))
    assert "[X] 0001_initial" in ok(kehu("showmigrations", "sessions", data_dir=target))


# PostgreSQL round trip -----------------------------------------------------------------------------

PG_URL = os.environ.get("DATABASE_URL", "")
PG_DATABASES = ("kehu_backup_test_src", "kehu_backup_test_dst")


def pg_url(name: str) -> str:
    parts = urlsplit(PG_URL)
    return parts._replace(path=f"/{name}").geturl()


def pg_admin(*statements: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL.replace("postgres://", "postgresql://", 1), autocommit=True) as admin:
        for statement in statements:
            admin.execute(statement)


@pytest.fixture
def pg_databases():  # type: ignore[no-untyped-def]
    drops = [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in PG_DATABASES]
    pg_admin(*drops, *(f'CREATE DATABASE "{name}"' for name in PG_DATABASES))
    yield [pg_url(name) for name in PG_DATABASES]
    pg_admin(*drops)


@pytest.mark.skipif(not PG_URL.startswith(("postgres://", "postgresql://")), reason="DATABASE_URL is not PostgreSQL")
def test_postgresql_round_trip_and_refusals(pg_databases, sqlite_source, tmp_path) -> None:
    source_url, target_url = pg_databases
    archive, source = make_source(tmp_path / "pg_src", source_url)
    manifest = read_manifest(archive)
    assert manifest["vendor"] == "postgresql" and "database/kehu.pgdump" in manifest["files"]
    assert manifest["row_counts"]["customers.Customer"] == 20

    target = tmp_path / "pg_dst"
    # A SQLite backup cannot go into PostgreSQL: refused before anything is written.
    refused = kehu("restore", str(sqlite_source[1]), data_dir=target, database_url=target_url)
    assert refused.returncode != 0 and "同类数据库" in refused.stderr

    out = ok(kehu("restore", str(archive), data_dir=target, database_url=target_url))
    assert "20 个客户" in out and "1 个上传文件" in out
    restored = snapshot(target, target_url)
    assert_restored(source, restored)
    assert "WRITE=True" in ok(kehu("shell", "-c", WRITE_AFTER, data_dir=target, database_url=target_url))

    # Now it holds data: a second restore is refused unless --force, which replaces it with the backup.
    again = kehu("restore", str(archive), data_dir=target, database_url=target_url)
    assert again.returncode != 0 and "不是空的" in again.stderr
    ok(kehu("restore", "--force", str(archive), data_dir=target, database_url=target_url))
    assert snapshot(target, target_url) == restored  # the customer written after the first restore is gone


# Hand-made archives: refusals --------------------------------------------------------------------


def build_archive(path: Path, *, vendor: str | None = None, members: dict[str, bytes] | None = None,
                  tamper: dict[str, bytes] | None = None, hostile: list[tuple[tarfile.TarInfo, bytes]] = (),
                  **manifest_extra: Any) -> Path:
    """A backup-shaped archive: the database member and one attachment, a manifest with their checksums
    (then `tamper` replaces members' bytes, `hostile` adds members the manifest does not know)."""
    vendor = vendor or connection.vendor
    members = members if members is not None else {
        backup.DATABASE_MEMBERS[vendor]: b"not really a database",
        "media/contracts/2026/11/a.pdf": b"%PDF attachment",
    }
    manifest = {
        "format": 1, "kehu_version": "0.1.0", "vendor": vendor, "created_at": "2026-11-28T01:30:00Z",
        "database": {"member": backup.DATABASE_MEMBERS[vendor]}, "migrations": {}, "row_counts": {},
        "files": {name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                  for name, data in members.items()},
        **manifest_extra,
    }
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, data in {**members, **(tamper or {})}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info, data in hostile:
            tar.addfile(info, io.BytesIO(data) if data else None)
        data = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def isolated(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.DATA_DIR = tmp_path / "data"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.KEHU_BACKUP_DIR = tmp_path / "backups"
    return tmp_path


def nothing_restored(tmp_path: Path) -> bool:
    media = tmp_path / "media"
    return not media.exists() or not any(media.rglob("*"))


@pytest.mark.django_db
def test_checksum_mismatch_is_refused_before_anything_is_touched(isolated) -> None:
    customer = CustomerFactory()
    member = backup.DATABASE_MEMBERS[connection.vendor]
    archive = build_archive(isolated / "b.tar.gz", tamper={member: b"not really a databasX"})
    with pytest.raises(CommandError, match="校验和不符.*" + member):
        call_command("restore", str(archive), force=True)
    assert nothing_restored(isolated)
    assert list(Customer.objects.values_list("pk", "name")) == [(customer.pk, customer.name)]


@pytest.mark.django_db
def test_a_member_missing_from_the_archive_is_refused(isolated) -> None:
    archive = build_archive(isolated / "b.tar.gz", files={
        backup.DATABASE_MEMBERS[connection.vendor]: {"size": 21, "sha256": hashlib.sha256(
            b"not really a database").hexdigest()},
        "media/gone.pdf": {"size": 1, "sha256": "0" * 64},
    }, members={backup.DATABASE_MEMBERS[connection.vendor]: b"not really a database"})
    with pytest.raises(backup.BackupError, match="缺少：media/gone.pdf"):
        backup.backup_restore(archive)
    assert nothing_restored(isolated)


def _info(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size, linkname
    return info


UNSAFE, LINK = "不安全的路径", "链接或特殊文件"
HOSTILE = {
    "dot-dot": (_info("../escaped.txt", size=4), b"evil", UNSAFE),
    "dot-dot inside media": (_info("media/../../escaped.txt", size=4), b"evil", UNSAFE),
    "absolute": (_info("/kehu_backup_escaped.txt", size=4), b"evil", UNSAFE),
    "backslashes": (_info("media\\..\\..\\escaped.txt", size=4), b"evil", UNSAFE),
    "symlink": (_info("media/link.pdf", tarfile.SYMTYPE, linkname="/etc/passwd"), b"", LINK),
    "hard link": (_info("media/hard.pdf", tarfile.LNKTYPE, linkname="database/kehu.sqlite3"), b"", LINK),
    "device": (_info("media/dev", tarfile.CHRTYPE), b"", LINK),
    "outside the layout": (_info("secret_key", size=4), b"evil", "不属于 Kehu 备份"),
    "not in the manifest": (_info("media/extra.pdf", size=4), b"evil", "清单外的文件：media/extra.pdf"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_members_are_refused(isolated, kind) -> None:
    info, data, message = HOSTILE[kind]
    archive = build_archive(isolated / "b.tar.gz", hostile=[(info, data)])
    with pytest.raises(backup.BackupError, match=message):
        backup.backup_restore(archive, force=True)
    assert nothing_restored(isolated)
    assert not (isolated / "escaped.txt").exists() and not (isolated.parent / "escaped.txt").exists()
    assert not Path("/kehu_backup_escaped.txt").exists()
    assert not (isolated / "data").exists() or not any((isolated / "data").iterdir())  # staging removed


@pytest.mark.django_db
def test_a_file_that_is_not_a_backup_is_refused(isolated) -> None:
    junk = isolated / "junk.tar.gz"
    junk.write_bytes(b"this is not a tar file at all")
    with pytest.raises(backup.BackupError, match="无法读取备份文件"):
        backup.backup_restore(junk)
    empty = isolated / "empty.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(backup.BackupError, match="没有 manifest.json"):
        backup.backup_restore(empty)


@pytest.mark.django_db
def test_a_backup_from_another_database_vendor_is_refused(isolated) -> None:
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    archive = build_archive(isolated / "b.tar.gz", vendor=other)
    with pytest.raises(backup.BackupError, match=f"这是 {other} 数据库的备份.*导出/导入"):
        backup.backup_restore(archive)
    assert nothing_restored(isolated)


@pytest.mark.django_db
def test_a_backup_from_newer_code_is_refused(isolated) -> None:
    archive = build_archive(isolated / "b.tar.gz", kehu_version="9.0.0", migrations={
        "customers": ["0001_initial", "9999_from_the_future"], "auth": ["0001_initial"],
    })
    with pytest.raises(backup.BackupError, match="更新版本.*customers.9999_from_the_future"):
        backup.backup_restore(archive)
    assert nothing_restored(isolated)


def test_migrations_check_names_newer_and_pending_migrations() -> None:
    from django.db.migrations.loader import MigrationLoader

    on_disk = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    everything: dict[str, list[str]] = {}
    for app, name in on_disk:
        everything.setdefault(app, []).append(name)
    assert backup.migrations_check(everything) == ([], [])
    older = {app: [n for n in names if n != "0001_initial" or app != "sessions"] for app, names in everything.items()}
    assert backup.migrations_check(older) == ([], ["sessions.0001_initial"])
    newer = {**everything, "sales": [*everything["sales"], "0999_later"]}
    assert backup.migrations_check(newer) == (["sales.0999_later"], [])


@pytest.mark.django_db
def test_a_target_with_customers_is_refused_without_force(isolated) -> None:
    customer = CustomerFactory()
    archive = build_archive(isolated / "b.tar.gz")
    with pytest.raises(CommandError, match="不是空的.*customers.Customer 1 行.*--force"):
        call_command("restore", str(archive))
    assert nothing_restored(isolated)
    assert list(Customer.objects.values_list("pk", flat=True)) == [customer.pk]
    # --check verifies the archive against this database and only warns about the data in it.
    out = io.StringIO()
    call_command("restore", str(archive), check=True, stdout=out)
    assert "不是空的" in out.getvalue() and "未写入任何内容" in out.getvalue()
    assert nothing_restored(isolated)
    assert list(Customer.objects.values_list("pk", flat=True)) == [customer.pk]


# Schedule and retention -------------------------------------------------------------------------


def _touch_backups(folder: Path, days: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    start = dt.datetime(2026, 11, 1, 1, 30, tzinfo=dt.UTC)
    paths = []
    for day in range(days):
        path = folder / backup.default_backup_name(start + dt.timedelta(days=day))
        path.write_bytes(b"old")
        paths.append(path)
    return paths


def test_retention_keeps_the_newest_n_and_leaves_other_files_alone(tmp_path) -> None:
    paths = _touch_backups(tmp_path, 6)
    unrelated = [tmp_path / "my-notes.tar.gz", tmp_path / ".kehu-backup-20261201T013000Z.tar.gz.part",
                 tmp_path / "kehu-backup-manual.zip"]
    for path in unrelated:
        path.write_bytes(b"keep me")
    removed = backup.backups_prune(tmp_path, keep=4)
    assert removed == paths[:2]
    assert backup.backups_in(tmp_path) == paths[2:]
    assert all(path.exists() for path in unrelated)
    assert backup.backups_prune(tmp_path, keep=4) == []
    with pytest.raises(backup.BackupError):
        backup.backups_prune(tmp_path, keep=0)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_scheduled_backup_writes_into_the_backup_folder_and_prunes(isolated, settings) -> None:
    settings.KEHU_BACKUP_KEEP = 3
    old = _touch_backups(settings.KEHU_BACKUP_DIR, 4)
    (isolated / "media" / "contracts").mkdir(parents=True)
    (isolated / "media" / "contracts" / "x.pdf").write_bytes(b"%PDF x")
    result = backup.backup_scheduled()
    assert result.path.parent == settings.KEHU_BACKUP_DIR.resolve()
    assert result.path.name.startswith("kehu-backup-") and result.path.name.endswith(".tar.gz")
    assert backup.backups_in(settings.KEHU_BACKUP_DIR) == [*old[2:], result.path]
    manifest = read_manifest(result.path)
    assert manifest["vendor"] == connection.vendor
    assert manifest["files"]["media/contracts/x.pdf"]["sha256"] == hashlib.sha256(b"%PDF x").hexdigest()
    assert not list(settings.KEHU_BACKUP_DIR.glob(".*"))  # no temporary files left behind


def test_backup_due_in_the_scheduled_minute_of_the_site_time_zone(settings) -> None:
    settings.TIME_ZONE = "Asia/Shanghai"
    settings.KEHU_BACKUP_SCHEDULE = "01:30"
    # Huey hands the check a naive UTC time; 01:30 in Shanghai is 17:30 UTC the day before.
    assert backup.backup_due(dt.datetime(2026, 11, 27, 17, 30)) is True
    assert backup.backup_due(dt.datetime(2026, 11, 27, 17, 31)) is False
    assert backup.backup_due(dt.datetime(2026, 11, 28, 1, 30)) is False
    settings.KEHU_BACKUP_SCHEDULE = "off"
    assert backup.backup_due(dt.datetime(2026, 11, 27, 17, 30)) is False
    assert backup.parse_schedule("3") == (3, 0)
    with pytest.raises(ValueError):
        backup.parse_schedule("25:00")


def test_the_daily_backup_is_a_periodic_task_of_the_worker() -> None:
    from huey.api import PeriodicTask
    from huey.contrib.djhuey import HUEY

    from kehu.core import tasks

    task = tasks.scheduled_backup.task_class()
    assert isinstance(task, PeriodicTask)
    assert tasks.scheduled_backup.task_class in HUEY._registry._periodic_tasks
