"""Customer.id_number encrypted at rest (kehu.core.crypto, docs/decisions/0006-field-encryption.md).

Two steps:
1. The field becomes an EncryptedCharField (plaintext up to 30 characters, the services' limit; the
   column as wide as its stored form). PostgreSQL widens the varchar in place (no table rewrite).
   SQLite does not enforce varchar lengths, and an AlterField there copies the whole customer table
   and rebuilds its indexes (a minute on a million customers): the state changes, the table stays.
2. Existing plaintext values are encrypted in place: raw UPDATE by primary key, 5,000 per
   executemany; reverse decrypts. Values already "enc1:" are left alone, so a rerun is harmless.
"""

from typing import Any

from django.db import migrations, models

import kehu.core.fields

CHUNK = 5000
TABLE = "customers_customer"


def _widen_column(apps: Any, schema_editor: Any, *, forward: bool) -> None:
    if schema_editor.connection.vendor == "sqlite":
        return
    model = apps.get_model("customers", "Customer")
    plain = models.CharField(max_length=18, blank=True)
    plain.set_attributes_from_name("id_number")
    plain.model = model
    encrypted = kehu.core.fields.EncryptedCharField(max_length=30, blank=True)
    encrypted.set_attributes_from_name("id_number")
    encrypted.model = model
    old, new = (plain, encrypted) if forward else (encrypted, plain)
    schema_editor.alter_field(model, old, new)


def widen(apps: Any, schema_editor: Any) -> None:
    _widen_column(apps, schema_editor, forward=True)


def narrow(apps: Any, schema_editor: Any) -> None:
    _widen_column(apps, schema_editor, forward=False)


def _rewrite(schema_editor: Any, transform: Any, wanted: Any) -> None:
    """Rows whose id_number `wanted` accepts get `transform(value)`, keyset-paged by id."""
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    select = (f"SELECT id, {quote('id_number')} FROM {quote(TABLE)} WHERE id > %s AND {quote('id_number')} <> '' "
              f"ORDER BY id LIMIT %s")
    update = f"UPDATE {quote(TABLE)} SET {quote('id_number')} = %s WHERE id = %s"
    last = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(select, [last, CHUNK])
            rows = cursor.fetchall()
            if not rows:
                return
            last = rows[-1][0]
            changed = [(transform(value), pk) for pk, value in rows if value and wanted(value)]
            if changed:
                cursor.executemany(update, changed)


def encrypt_existing(apps: Any, schema_editor: Any) -> None:
    from kehu.core import crypto

    _rewrite(schema_editor, crypto.encrypt, lambda value: not crypto.is_encrypted(value))


def decrypt_existing(apps: Any, schema_editor: Any) -> None:
    from kehu.core import crypto

    _rewrite(schema_editor, crypto.decrypt, crypto.is_encrypted)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0006_idle_since_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="customer",
                    name="id_number",
                    field=kehu.core.fields.EncryptedCharField(blank=True, max_length=30, verbose_name="身份证号"),
                ),
            ],
            database_operations=[migrations.RunPython(widen, narrow)],
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing),
    ]
