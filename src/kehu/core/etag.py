"""Optimistic locking at the edges (issue 8, "concurrent edits").

Every business record derives from `TrackedModel` and carries a `version` that each save bumps;
services take `expected_version` and raise `VersionConflict` when it is stale. This module gives
that version its HTTP form and its form-page form:

API
- `etag(record)` is `W/"<model>-<id>-v<version>"`, e.g. `W/"customer-12-v3"`. Weak, because the
  JSON of one version differs by reader (masked fields, related rows); it names the *version* of
  the record, which is what `If-Match` needs. `set_etag(response, record)` puts it on a response.
- `if_match(request, visible, pk, body_version=...)` guards a write: with no `If-Match` header
  it only passes the body's version on (409 `version_conflict` when stale, as before). With the
  header it opens a transaction, refuses a record the caller can't see (404), locks the row
  (`SELECT … FOR UPDATE`), and compares: no listed tag matches the current version → 412
  `precondition_failed` (`PreconditionFailed`), naming who saved last and when, with the current
  version and ETag; nothing is written. `*` matches any version. The matched version is then
  passed to the service as `expected_version`, so the service's own check runs under the same
  lock. A malformed header is 400 (`MalformedIfMatch`).

Tags are compared weakly (RFC 9110 wants strong comparison for If-Match; ours are all weak, and
a version tag identifies the stored record exactly). A bare version number (`3`, `"3"`, `W/"3"`)
is accepted too (the sales API documented that form before ETags existed). A well-formed tag of
another record never matches (412).

Forms
- `snapshot_sign(values)` / `snapshot_read(token)`: the edit page carries the values it showed,
  signed, so that a refused save can say what the other person changed.
- `form_changes(form, loaded=…, current=…)`: per field, what it was when the page loaded, what
  is stored now, and what the user typed (`FieldChange`), for the conflict panel of a form.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core import signing
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.errors import ErrorCode, KehuError, NotFound, VersionConflict

PRECONDITION_FAILED = "precondition_failed"


def etag_value(label: str, pk: Any, version: Any) -> str:
    return f'W/"{label}-{pk}-v{version}"'


def etag(record: Model) -> str:
    """`W/"customer-12-v3"`: the record's model name, id and version."""
    return etag_value(record._meta.model_name or "", record.pk, record.version)  # type: ignore[attr-defined]


def set_etag(response: HttpResponse, record: Model) -> None:
    """Set the ETag of `record` on `response` (in a ninja handler: the `response: HttpResponse` parameter)."""
    response["ETag"] = etag(record)


# If-Match ---------------------------------------------------------------------------------------


class MalformedIfMatch(KehuError):
    """The If-Match header is not a list of entity-tags (nor `*`): 400, nothing written."""

    code = ErrorCode.INVALID
    http_status = 400


class PreconditionFailed(KehuError):
    """If-Match named a version that is no longer the stored one: 412, nothing written. The body
    says who saved last and when, and gives the current version and ETag (also as the ETag header)."""

    http_status = 412

    def __init__(self, record: Model):
        self.current_version: int = record.version  # type: ignore[attr-defined]
        self.etag = etag(record)
        self.updated_at = getattr(record, "updated_at", None)
        editor = getattr(record, "updated_by", None)
        self.updated_by = str(editor) if editor is not None else None
        # The model's own name (客户, 商机 …) when it has one, else "记录" (not Django's English default).
        kind = record._meta.verbose_name if "verbose_name" in record._meta.original_attrs else _("记录")
        when = timezone.localtime(self.updated_at).strftime("%Y-%m-%d %H:%M") if self.updated_at else ""
        values = {"kind": kind, "who": self.updated_by, "when": when, "current": self.current_version}
        if self.updated_by:
            message = _("该%(kind)s已被 %(who)s 于 %(when)s 修改（当前版本 %(current)s），你的请求基于旧版本，"
                        "未写入任何内容；请重新获取后再改") % values
        else:
            message = _("该%(kind)s已于 %(when)s 被修改（当前版本 %(current)s），你的请求基于旧版本，"
                        "未写入任何内容；请重新获取后再改") % values
        super().__init__(message, field="If-Match")
        self.headers = {"ETag": self.etag}

    def as_dict(self) -> dict:
        return {
            "code": PRECONDITION_FAILED,
            "field": self.field,
            "message": str(self.message),
            "errors": [],
            "current_version": self.current_version,
            "etag": self.etag,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "updated_by": self.updated_by,
        }


@dataclass(frozen=True)
class IfMatch:
    """A parsed If-Match header: `*`, or the versions of this record that its tags name."""

    any: bool
    versions: frozenset[int]

    def matches(self, version: int) -> bool:
        return self.any or version in self.versions


_TAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*(?:,|$)')
_BARE = re.compile(r"\s*(\d+)\s*(?:,|$)")
_RECORD_TAG = re.compile(r"^([a-z_]+)-(\d+)-v(\d+)$")


def parse_if_match(header: str, *, label: str, pk: Any) -> IfMatch:
    """The versions of record `label`/`pk` that `header` accepts. Tags of other records are
    ignored (they never match); anything that is not an entity-tag list is MalformedIfMatch."""
    header = header.strip()
    if not header:
        raise MalformedIfMatch(_("If-Match 请求头为空"), field="If-Match")
    if header == "*":
        return IfMatch(any=True, versions=frozenset())
    versions: set[int] = set()
    position = 0
    while position < len(header):
        match = _TAG.match(header, position) or _BARE.match(header, position)
        if match is None or match.end() == position:
            example = {"example": 'W/"customer-1-v3"'}
            raise MalformedIfMatch(_("If-Match 请求头格式无效：应为 ETag（如 %(example)s）、版本号或 *") % example,
                                   field="If-Match")
        value = match.group(1)
        position = match.end()
        record = _RECORD_TAG.match(value)
        if value.isdigit():
            versions.add(int(value))
        elif record and record.group(1) == label and record.group(2) == str(pk):
            versions.add(int(record.group(3)))
    return IfMatch(any=False, versions=frozenset(versions))


@contextmanager
def if_match(request: HttpRequest, visible: QuerySet, pk: Any, *, body_version: int | None = None) -> Iterator[Any]:
    """Yield the `expected_version` to pass to the service writing record `pk`.

    `visible` is the caller's scoped queryset of the model (`customers_visible(user=…)`): a record
    outside it is 404 before anything about its version is said. Without an If-Match header this
    yields `body_version` and does nothing else. With one, the block runs in a transaction that
    holds the row lock from the comparison to the write; a stale header raises PreconditionFailed
    (412), and a VersionConflict from the service is turned into it too unless the body's own
    `version` was what failed (that stays 409)."""
    header = request.headers.get("If-Match")
    if header is None:
        yield body_version
        return
    model = visible.model
    condition = parse_if_match(header, label=model._meta.model_name or "", pk=pk)
    with transaction.atomic():
        if not visible.filter(pk=pk).exists():
            raise NotFound(_("记录不存在或无权查看"))
        current = model._base_manager.select_for_update(of=("self",)).filter(pk=pk).first()
        if current is None:
            raise NotFound(_("记录不存在或无权查看"))
        if not condition.matches(current.version):
            raise PreconditionFailed(current)
        try:
            yield body_version if body_version is not None else current.version
        except VersionConflict:
            if body_version is not None:
                raise
            raise PreconditionFailed(current) from None


# Forms ------------------------------------------------------------------------------------------

_SNAPSHOT_SALT = "kehu.core.etag.snapshot"


def snapshot_sign(values: Mapping[str, Any]) -> str:
    """The values an edit page showed, signed (tamper-proof, not secret: the user saw them)."""
    return signing.dumps({k: _plain(v) for k, v in values.items()}, salt=_SNAPSHOT_SALT, compress=True)


def snapshot_read(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        data = signing.loads(token, salt=_SNAPSHOT_SALT)
    except signing.BadSignature:
        return None
    return data if isinstance(data, dict) else None


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return str(value)


@dataclass(frozen=True)
class FieldChange:
    """One field of a refused form save. `loaded` is None when the page's snapshot is unknown."""

    name: str
    label: str
    loaded: str | None
    current: str
    mine: str
    changed_by_others: bool
    edited_by_me: bool
    mine_differs: bool

    @property
    def clash(self) -> bool:
        """Both the other person and the user changed it, to different values."""
        return self.changed_by_others and self.edited_by_me and self.mine_differs


def _display(field: forms.Field, value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(field, forms.BooleanField):
        return _("是") if field.to_python(value) else _("否")
    choices = getattr(field, "choices", None)
    values = value if isinstance(value, list | tuple) else [value]
    if choices:
        labels = {str(k): str(v) for k, v in choices if not isinstance(v, list | tuple)}
        return "，".join(labels.get(str(v), str(v)) for v in values)
    return "，".join(str(v) for v in values)


def form_changes(
    form: forms.Form, *, loaded: Mapping[str, Any] | None, current: Mapping[str, Any]
) -> list[FieldChange]:
    """The fields that matter after a refused save of bound `form`: those someone else changed
    since the page loaded (`loaded` → `current`), and those where what the user typed differs
    from what is stored now. `loaded` and `current` hold values in the form's initial format."""
    changes = []
    for name, field in form.fields.items():
        if name not in current or name == "version" or isinstance(field.widget, forms.HiddenInput):
            continue
        stored = current[name]
        typed = stored if field.disabled else field.widget.value_from_datadict(form.data, form.files,
                                                                                form.add_prefix(name))
        known = loaded is not None and name in loaded
        before = loaded[name] if known else None  # type: ignore[index]
        mine_differs = not _same(field, typed, stored)
        others = known and not _same(field, before, stored)
        edited = not _same(field, typed, before) if known else mine_differs
        if not (others or (edited and mine_differs)):
            continue
        changes.append(FieldChange(
            name=name, label=str(field.label or name), loaded=_display(field, before) if known else None,
            current=_display(field, stored), mine=_display(field, typed),
            changed_by_others=others, edited_by_me=edited, mine_differs=mine_differs,
        ))
    return changes


def _same(field: forms.Field, a: Any, b: Any) -> bool:
    """Whether two values (initial or posted) of `field` mean the same, after the field's own parsing."""
    return _comparable(field, a) == _comparable(field, b)


def _comparable(field: forms.Field, value: Any) -> Any:
    if value is None or value == [] or value == ():
        value = ""
    if isinstance(value, list | tuple):
        value = [str(v) for v in value]
    elif not isinstance(value, bool | str):
        value = str(value)
    try:
        parsed = field.to_python(value)
    except forms.ValidationError:
        parsed = value
    if parsed is None or parsed == []:
        return ""
    if isinstance(parsed, list | tuple):
        return sorted(str(v) for v in parsed)
    if isinstance(parsed, str):
        return " ".join(parsed.split())
    return parsed
