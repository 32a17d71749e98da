"""`kehu rotate_field_key`: re-encrypt every encrypted column under the current KEHU_FIELD_KEY.

Rotation: set the new key as KEHU_FIELD_KEY and the old one in KEHU_FIELD_KEYS_OLD, restart, run this,
then keep the old key in KEHU_FIELD_KEYS_OLD anyway: audit log entries are append-only and hash-chained
(never rewritten), and merge snapshots, recycle-bin entries and import undo logs keep the form they
were written in. docs/security.md "Encryption at rest".
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from kehu.core import crypto
from kehu.core.fields import EncryptedCharField

CHUNK = 5000


def encrypted_columns() -> list[tuple[Any, Any]]:
    """(model, field) of every EncryptedCharField."""
    return [(model, field) for model in apps.get_models() for field in model._meta.concrete_fields
            if isinstance(field, EncryptedCharField)]


def rotate(*, dry_run: bool = False) -> dict[str, int]:
    """{"app.model.field": rows rewritten}: plaintext and old-key values sealed under the current key."""
    counts: dict[str, int] = {}
    quote = connection.ops.quote_name
    for model, field in encrypted_columns():
        table, column, pk = quote(model._meta.db_table), quote(field.column), quote(model._meta.pk.column)
        select = f"SELECT {pk}, {column} FROM {table} WHERE {pk} > %s AND {column} <> '' ORDER BY {pk} LIMIT %s"
        update = f"UPDATE {table} SET {column} = %s WHERE {pk} = %s"
        done, last = 0, 0
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(select, [last, CHUNK])
                rows = cursor.fetchall()
                if not rows:
                    break
                last = rows[-1][0]
                changed = [(crypto.encrypt(crypto.decrypt(value)), key) for key, value in rows
                           if crypto.needs_reencrypt(value)]
                if changed and not dry_run:
                    cursor.executemany(update, changed)
                done += len(changed)
        counts[f"{model._meta.label_lower}.{field.name}"] = done
    return counts


class Command(BaseCommand):
    help = "用当前 KEHU_FIELD_KEY 重新加密所有加密字段（轮换密钥后运行；旧密钥放在 KEHU_FIELD_KEYS_OLD）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count the values to re-encrypt, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        counts = rotate(dry_run=options["dry_run"])
        verb = "would re-encrypt" if options["dry_run"] else "re-encrypted"
        for name, count in counts.items():
            self.stdout.write(f"{name}: {verb} {count}")
