"""kehu.core.crypto: AES-256-GCM field encryption ("enc1:" + base64(nonce + ciphertext + tag))."""

from __future__ import annotations

import base64

import pytest
from django.core.exceptions import ImproperlyConfigured

from kehu.core import crypto

KEY_A = crypto.new_key()
KEY_B = crypto.new_key()
ID = "110101199003071234"


@pytest.fixture(autouse=True)
def field_key(settings):  # type: ignore[no-untyped-def]
    settings.KEHU_FIELD_KEY = KEY_A
    settings.KEHU_FIELD_KEYS_OLD = []
    return settings


def test_round_trip() -> None:
    stored = crypto.encrypt(ID)
    assert stored.startswith("enc1:")
    assert ID not in stored
    assert crypto.decrypt(stored) == ID


def test_stored_form_is_nonce_ciphertext_tag() -> None:
    raw = base64.urlsafe_b64decode(crypto.encrypt(ID)[len("enc1:"):])
    assert len(raw) == 12 + len(ID) + 16


def test_each_value_gets_its_own_nonce() -> None:
    stored = {crypto.encrypt(ID) for _ in range(50)}
    assert len(stored) == 50
    nonces = {base64.urlsafe_b64decode(s[5:])[:12] for s in stored}
    assert len(nonces) == 50
    assert {crypto.decrypt(s) for s in stored} == {ID}


def test_unicode_round_trip_fits_the_column_width() -> None:
    text = "证" * 30
    stored = crypto.encrypt(text)
    assert crypto.decrypt(stored) == text
    assert len(stored) <= crypto.stored_length(30)


def test_empty_and_none_stay_as_they_are() -> None:
    assert crypto.encrypt("") == ""
    assert crypto.encrypt(None) is None  # type: ignore[arg-type]
    assert crypto.decrypt("") == ""


def test_legacy_plaintext_passes_through() -> None:
    assert crypto.decrypt(ID) == ID


def test_wrong_key_raises(settings) -> None:  # type: ignore[no-untyped-def]
    stored = crypto.encrypt(ID)
    settings.KEHU_FIELD_KEY = KEY_B
    with pytest.raises(crypto.FieldDecryptError, match="wrong KEHU_FIELD_KEY"):
        crypto.decrypt(stored)


def test_old_keys_decrypt_during_rotation(settings) -> None:  # type: ignore[no-untyped-def]
    stored = crypto.encrypt(ID)
    settings.KEHU_FIELD_KEY = KEY_B
    settings.KEHU_FIELD_KEYS_OLD = [KEY_A]
    assert crypto.decrypt(stored) == ID
    assert crypto.needs_reencrypt(stored)
    assert not crypto.needs_reencrypt(crypto.encrypt(ID))


@pytest.mark.parametrize("position", [0, 12, 20, -1])
def test_tampering_is_detected(position: int) -> None:
    raw = bytearray(base64.urlsafe_b64decode(crypto.encrypt(ID)[5:]))
    raw[position] ^= 0x01
    tampered = "enc1:" + base64.urlsafe_b64encode(bytes(raw)).decode()
    with pytest.raises(crypto.FieldDecryptError):
        crypto.decrypt(tampered)


@pytest.mark.parametrize("damaged", ["enc1:", "enc1:!!!", "enc1:AAAA"])
def test_damaged_values_raise(damaged: str) -> None:
    with pytest.raises(crypto.FieldDecryptError):
        crypto.decrypt(damaged)


@pytest.mark.parametrize("bad", ["", "short", base64.urlsafe_b64encode(b"x" * 16).decode()])
def test_bad_key_is_a_configuration_error(settings, bad: str) -> None:  # type: ignore[no-untyped-def]
    settings.KEHU_FIELD_KEY = bad
    with pytest.raises(ImproperlyConfigured):
        crypto.encrypt(ID)


def test_seal_is_stable_and_opens() -> None:
    assert crypto.seal(ID) == crypto.seal(ID)
    assert crypto.seal(ID) != crypto.seal(ID + "X")
    assert crypto.unseal(crypto.seal(ID)) == ID
    assert crypto.seal(crypto.seal(ID)) == crypto.seal(ID)  # never sealed twice
    assert crypto.seal("") == "" and crypto.seal(None) is None


def test_seal_changes_only_touches_sensitive_fields() -> None:
    changes = [{"field": "id_number", "old": "", "new": ID}, {"field": "name", "old": "a", "new": "b"}]
    sealed = crypto.seal_changes("customer", changes)
    assert sealed[0]["new"].startswith("enc1:") and sealed[0]["old"] == ""
    assert sealed[1] == changes[1]
    assert crypto.seal_changes("contact", changes) == changes
    assert crypto.unseal_changes(sealed) == changes
    assert crypto.masked_changes(sealed)[0]["new"] == "110101********1234"


def test_rotate_field_key_reencrypts_under_the_new_key(db, settings) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection

    from kehu.core.management.commands.rotate_field_key import rotate
    from kehu.customers.models import Customer
    from tests.factories import CustomerFactory

    customer = CustomerFactory(kind="person", name="张伟", id_number=ID)
    legacy = CustomerFactory(kind="person", name="李娜")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE customers_customer SET id_number = %s WHERE id = %s", [ID, legacy.pk])
    settings.KEHU_FIELD_KEY = KEY_B
    settings.KEHU_FIELD_KEYS_OLD = [KEY_A]
    assert rotate(dry_run=True)["customers.customer.id_number"] == 2
    assert rotate()["customers.customer.id_number"] == 2
    settings.KEHU_FIELD_KEYS_OLD = []  # the new key alone opens everything now
    assert Customer.objects.get(pk=customer.pk).id_number == ID
    assert Customer.objects.get(pk=legacy.pk).id_number == ID
    assert rotate()["customers.customer.id_number"] == 0
