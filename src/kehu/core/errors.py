"""Errors that services raise; the web layer and the API turn them into messages and JSON.

Each error carries a stable code (for API clients and tests), an optional field and a
human message, so a caller can say *which* field failed and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID = "invalid"
    REQUIRED = "required"
    UNIQUE = "unique"
    NOT_FOUND = "not_found"
    PERMISSION_DENIED = "permission_denied"
    VERSION_CONFLICT = "version_conflict"
    UNKNOWN_CHOICE = "unknown_choice"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class FieldError:
    field: str
    code: ErrorCode
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": str(self.code), "message": str(self.message)}


class KehuError(Exception):
    code: ErrorCode = ErrorCode.INVALID
    http_status: int = 400

    def __init__(self, message: str = "", *, field: str | None = None, code: ErrorCode | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def as_dict(self) -> dict:
        return {"code": str(self.code), "field": self.field, "message": str(self.message)}


class ValidationFailed(KehuError):
    """One or more fields are invalid; nothing was written."""

    code = ErrorCode.INVALID
    http_status = 422

    def __init__(self, errors: list[FieldError]):
        first = errors[0]
        super().__init__(first.message, field=first.field, code=first.code)
        self.errors = errors

    def as_dict(self) -> dict:
        data = super().as_dict()
        data["errors"] = [e.as_dict() for e in self.errors]
        return data

    def by_field(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for error in self.errors:
            grouped.setdefault(error.field, []).append(str(error.message))
        return grouped


class NotFound(KehuError):
    code = ErrorCode.NOT_FOUND
    http_status = 404


class PermissionDenied(KehuError):
    code = ErrorCode.PERMISSION_DENIED
    http_status = 403


class VersionConflict(KehuError):
    """Someone saved the record after the caller loaded it; the caller must reload."""

    code = ErrorCode.VERSION_CONFLICT
    http_status = 409
