"""Model fields of Kehu's own."""

from __future__ import annotations

import contextlib
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from kehu.core import crypto


class EncryptedCharField(models.CharField):
    """A CharField stored encrypted (kehu.core.crypto: AES-256-GCM, "enc1:" + base64).

    `max_length` limits the plaintext (validation, forms); the column is as wide as the stored form
    of that many characters needs. Python code always sees plaintext: reads decrypt (`from_db_value`),
    writes encrypt (`get_prep_value`). Serialized copies (`value_to_string`: the recycle bin,
    dumpdata) keep the encrypted form, and `to_python` opens it again on the way back in.

    Equal values encrypt differently (random nonces): only `=""`/`isnull` lookups mean anything."""

    description = "Encrypted string (up to %(max_length)s characters)"

    def db_type_parameters(self, connection: Any) -> Any:
        params = super().db_type_parameters(connection)
        params["max_length"] = crypto.stored_length(self.max_length or 0)
        return params

    def cast_db_type(self, connection: Any) -> Any:
        return models.TextField().db_type(connection)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return crypto.decrypt(value) if crypto.is_encrypted(value) else value

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        if crypto.is_encrypted(value):
            try:
                return crypto.decrypt(value)
            except crypto.FieldDecryptError as exc:
                raise ValidationError(str(exc), code="invalid") from exc
        return value

    def get_prep_value(self, value: Any) -> Any:
        value = models.Field.get_prep_value(self, value)  # resolves lazy strings
        if value is None or value == "":
            return value
        value = str(value)
        if crypto.is_encrypted(value):
            # Already sealed (a snapshot written back): re-seal its plaintext under the current key,
            # never encrypt the ciphertext again. A prefix no key opens is someone's literal text.
            with contextlib.suppress(crypto.FieldDecryptError):
                value = crypto.decrypt(value)
        return crypto.encrypt(value)

    def value_to_string(self, obj: Any) -> str:
        return crypto.seal(self.value_from_object(obj))
