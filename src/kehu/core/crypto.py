"""Encryption at rest of sensitive fields (ID numbers): AES-256-GCM, a random 12-byte nonce per
value, stored as "enc1:" + urlsafe-base64(nonce + ciphertext + tag).

The "enc1:" prefix names the format, so the algorithm or key can change later without guessing what
a stored value is. The key is settings.KEHU_FIELD_KEY (32 bytes, urlsafe base64; generated into the
data folder when unset); settings.KEHU_FIELD_KEYS_OLD are tried when decrypting only (rotation,
`kehu rotate_field_key`). docs/security.md "Encryption at rest" and docs/decisions/0006.

- `encrypt("")` is "" so "has an ID number" filters (`id_number=""`) keep working.
- `decrypt` passes values without the prefix through unchanged (legacy plaintext rows while the
  migration runs) and raises `FieldDecryptError` on a wrong key or a tampered value: the GCM tag
  fails, and garbage is never returned as if it were the value.
- Random nonces make equal values encrypt differently: no exact-match lookups on an encrypted field.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
from collections.abc import Iterable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "enc1:"
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
# Values of these "object_type.field" are sealed (encrypted) wherever the app copies them out of
# their column: audit log change values, merge snapshots, recycle-bin payloads, import undo logs.
SENSITIVE_FIELDS = frozenset({"customer.id_number"})


class FieldDecryptError(ValueError):
    """An "enc1:" value the configured keys cannot open: wrong KEHU_FIELD_KEY or a tampered value."""


def stored_length(plain_chars: int) -> int:
    """Characters the stored form of a value of up to `plain_chars` characters needs (4 UTF-8 bytes
    each at worst), for the database column of an encrypted field."""
    raw = NONCE_BYTES + 4 * plain_chars + TAG_BYTES
    return len(PREFIX) + 4 * -(-raw // 3)


def is_encrypted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def key_from_text(text: str) -> bytes:
    """32 key bytes from their urlsafe base64 (padding optional)."""
    text = (text or "").strip()
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ImproperlyConfigured(
            "KEHU_FIELD_KEY must be 32 bytes in urlsafe base64, e.g. "
            "python -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"
        )
    return key


def new_key() -> str:
    """A fresh key as KEHU_FIELD_KEY takes it."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


@functools.lru_cache(maxsize=16)
def _aead(key_text: str) -> AESGCM:
    return AESGCM(key_from_text(key_text))


def _current() -> AESGCM:
    return _aead(settings.KEHU_FIELD_KEY)


def _all_keys() -> list[AESGCM]:
    return [_current(), *(_aead(k) for k in getattr(settings, "KEHU_FIELD_KEYS_OLD", ()) if k)]


@functools.lru_cache(maxsize=16)
def _nonce_key(key_text: str) -> bytes:
    return hmac.new(key_from_text(key_text), b"kehu.field-seal-nonce.v1", hashlib.sha256).digest()


def encrypt(text: str, *, stable: bool = False) -> str:
    """The stored form of `text` under the current key; "" stays "".

    `stable`: the nonce is an HMAC of the text (a synthetic nonce, as in AES-GCM-SIV) instead of random,
    so equal values seal to equal strings under one key. Only for copies the code compares (merge
    snapshots: "changed since the merge?"); it reveals which copies are equal, nothing more. Distinct
    texts get distinct nonces, so GCM's nonce-reuse weakness does not apply."""
    if text is None or text == "":
        return text
    if stable:
        nonce = hmac.new(_nonce_key(settings.KEHU_FIELD_KEY), str(text).encode(), hashlib.sha256).digest()
        nonce = nonce[:NONCE_BYTES]
    else:
        nonce = os.urandom(NONCE_BYTES)
    sealed = _current().encrypt(nonce, str(text).encode(), None)
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def _open(stored: str, keys: Iterable[AESGCM]) -> str:
    try:
        raw = base64.urlsafe_b64decode(stored[len(PREFIX):])
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise FieldDecryptError("encrypted field value is damaged (not a valid enc1: value)")
    nonce, sealed = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
    for aead in keys:
        try:
            return aead.decrypt(nonce, sealed, None).decode()
        except InvalidTag:
            continue
    raise FieldDecryptError(
        "cannot decrypt an encrypted field value: wrong KEHU_FIELD_KEY (is the data folder's field_key or "
        "KEHU_FIELD_KEYS_OLD missing?) or the value was tampered with"
    )


def decrypt(stored: str) -> str:
    """The plaintext of a stored value; values without the "enc1:" prefix (legacy plaintext, "")
    come back unchanged. Raises FieldDecryptError when no configured key opens it."""
    if not is_encrypted(stored):
        return stored
    return _open(stored, _all_keys())


def needs_reencrypt(stored: str) -> bool:
    """True for plaintext and for values sealed under an old key (what a rotation rewrites)."""
    if not stored:
        return False
    if not is_encrypted(stored):
        return True
    try:
        _open(stored, [_current()])
    except FieldDecryptError:
        return True
    return False


# Sealed copies (audit log, snapshots) --------------------------------------------------------------


def is_sensitive(object_type: str, field: str) -> bool:
    return f"{object_type}.{field}" in SENSITIVE_FIELDS


def seal(value: Any) -> Any:
    """A copied value of a sensitive field in its stored form (lists item by item; already sealed
    values, None and "" unchanged). Stable: the same value seals to the same string (see `encrypt`),
    so snapshot comparisons keep working."""
    if isinstance(value, list | tuple):
        return [seal(v) for v in value]
    if not isinstance(value, str) or value == "" or is_encrypted(value):
        return value
    return encrypt(value, stable=True)


def unseal(value: Any) -> Any:
    """`seal` undone: the plaintext of a sealed copy."""
    if isinstance(value, list | tuple):
        return [unseal(v) for v in value]
    return decrypt(value) if is_encrypted(value) else value


def seal_changes(object_type: str, changes: list[dict]) -> list[dict]:
    """Audit change dicts ({"field", "old", "new"}) with the old/new of sensitive fields sealed."""
    if not changes or not any(is_sensitive(object_type, str(c.get("field", ""))) for c in changes
                              if isinstance(c, dict)):
        return changes
    return [{**c, "old": seal(c.get("old")), "new": seal(c.get("new"))}
            if isinstance(c, dict) and is_sensitive(object_type, str(c.get("field", ""))) else c
            for c in changes]


def unseal_changes(changes: Any) -> Any:
    """Audit change dicts with sealed old/new values opened (for code that masks them per field
    policy afterwards). A value no key opens stays sealed rather than failing a whole page."""
    if not isinstance(changes, list):
        return changes
    out = []
    for c in changes:
        if isinstance(c, dict) and (is_encrypted(c.get("old")) or is_encrypted(c.get("new"))):
            c = {**c, "old": _unseal_or_keep(c.get("old")), "new": _unseal_or_keep(c.get("new"))}
        out.append(c)
    return out


def _unseal_or_keep(value: Any) -> Any:
    try:
        return unseal(value)
    except FieldDecryptError:
        return value


def masked_changes(changes: Any) -> Any:
    """Audit change dicts for the audit log page and API: sealed values shown masked (ID number
    first 6 and last 4, kehu.core.masking), never as ciphertext or in full."""
    if not isinstance(changes, list):
        return changes
    from kehu.core.masking import mask_id_number

    def shown(value: Any) -> Any:
        if not is_encrypted(value):
            return value
        try:
            return mask_id_number(decrypt(value))
        except FieldDecryptError:
            return "******"

    return [{**c, "old": shown(c.get("old")), "new": shown(c.get("new"))} if isinstance(c, dict) else c
            for c in changes]
