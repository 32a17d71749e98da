"""The "leads" import kind for the import registry (`kehu.imports.engine`): leads from CSV/XLSX with
the same wizard, API, row log, error file and undo as customers.

Like the sales kinds, rows are written **one by one through `services.lead_create`** (normalisation,
scope, owner permission, audit are the service's own), each in a savepoint: a refused row rolls
back alone and is logged with its field and reason; a dry run does the writes and rolls each back.
Insert only: a row whose external id an existing lead has is skipped. Registered from
`kehu.leads.registration.register()`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kehu.core.errors import KehuError, ValidationFailed
from kehu.imports.engine import ChunkResult, ImportKind, ImportOptions, RowResult, register
from kehu.imports.mapping import TargetField


def _target(key: str, zh: str, en: str, kind: str = "text", *aliases: str, required: bool = False) -> TargetField:
    return TargetField(key=key, label_zh=zh, label_en=en, kind=kind, required_for_insert=required, multi=False,
                       aliases=(zh, en, key, *aliases), second_aliases=())


LEAD_TARGETS: list[TargetField] = [
    _target("name", "姓名", "Name", "text", "联系人", "客户姓名", "Contact", "Full name"),
    _target("company", "公司", "Company", "text", "公司名称", "单位", "企业名称", "Company name", "Account"),
    _target("title", "职务", "Title", "text", "职位", "Job title", "Position"),
    _target("mobile", "手机", "Mobile", "text", "手机号", "手机号码", "Cell", "Mobile phone"),
    _target("phone", "座机", "Phone", "text", "电话", "固话", "办公电话", "Telephone"),
    _target("email", "邮箱", "Email", "text", "电子邮箱", "E-mail", "Mail"),
    _target("wechat", "微信", "WeChat", "text", "微信号"),
    _target("province", "省份", "Province", "text", "省"),
    _target("city", "城市", "City", "text", "市"),
    _target("source", "来源渠道", "Source", "text", "来源", "线索来源", "Lead source"),
    _target("campaign", "市场活动", "Campaign", "text", "活动", "活动名称"),
    _target("owner", "负责人", "Owner", "user", "销售", "跟进人", "Lead owner"),
    _target("notes", "备注", "Notes", "text", "留言", "说明", "Comments"),
    _target("external_id", "外部编号", "External ID", "text", "原系统编号", "线索编号", "Lead ID"),
]
_TEXT = ("name", "company", "title", "mobile", "phone", "email", "wechat", "province", "city", "source", "campaign",
         "notes", "external_id")


class _DryRun(Exception):
    pass


@dataclass
class LeadContext:
    acting_user: Any
    options: ImportOptions
    dry_run: bool
    owners: Any  # kehu.imports.mapping.OwnerResolver


class LeadImport(ImportKind):
    key = "leads"
    object_type = "lead"

    @property
    def label(self) -> str:  # type: ignore[override]
        return _("线索")

    def targets(self) -> list[str]:
        return [t.key for t in LEAD_TARGETS]

    def extractor(self, mapping: Mapping[int, str]) -> Any:
        from kehu.imports.mapping import row_extractor

        return row_extractor(mapping, LEAD_TARGETS)

    def context(self, *, acting_user: Any, options: ImportOptions, dry_run: bool) -> LeadContext:
        from kehu.accounts.models import User
        from kehu.imports.mapping import OwnerResolver

        users = list(User.objects.filter(is_active=True))
        by_id = {u.pk: u for u in users}
        rotation = [by_id[pk] for pk in options.owner_users if pk in by_id]
        resolver = OwnerResolver(options.owner_policy, users=users, importer=acting_user,
                                 rotation=rotation or ([acting_user] if acting_user is not None else []))
        return LeadContext(acting_user=acting_user, options=options, dry_run=dry_run, owners=resolver)

    def run_chunk(self, ctx: LeadContext, rows: Sequence[tuple[int, list[str], dict[str, Any]]]) -> ChunkResult:
        from kehu.leads import services
        from kehu.leads.models import Lead

        external = {str(data.get("external_id") or "").strip() for _row, _cells, data in rows} - {""}
        known = set(Lead.objects.filter(external_id__in=external).values_list("external_id", flat=True))
        results: list[RowResult] = []
        consumed = len(rows)
        seen: set[str] = set()
        for index, (row, cells, data) in enumerate(rows):
            external_id = str(data.get("external_id") or "").strip()
            if external_id and not ctx.dry_run and index > 0 and external_id in seen:
                consumed = index  # an earlier row of this chunk created it: decide after it commits
                break
            if external_id:
                seen.add(external_id)
            result = RowResult(row=row, action="created", cells=cells)
            if external_id in known:
                result.action = "skipped"
                result.problems = [("external_id", _("已有相同线索（外部编号 %(value)s），已跳过") % {
                    "value": external_id})]
                results.append(result)
                continue
            values = {name: data[name] for name in _TEXT if name in data}
            owner, message = ctx.owners.resolve(str(data["owner"]) if data.get("owner") else None)
            if message:
                result.action, result.problems = "rejected", [("owner", message)]
                results.append(result)
                continue
            values["owner"] = owner
            try:
                with transaction.atomic():
                    result.obj = services.lead_create(acting_user=ctx.acting_user, data=values).lead
                    if ctx.dry_run:
                        raise _DryRun
            except _DryRun:
                result.obj = None
            except ValidationFailed as exc:
                result.action, result.problems = "rejected", [(e.field, str(e.message)) for e in exc.errors]
            except KehuError as exc:
                result.action, result.problems = "rejected", [(exc.field or "", str(exc.message))]
            results.append(result)
        return ChunkResult(results=results, consumed=consumed)

    def undo(self, *, acting_user: Any, logs: Sequence[Any]) -> None:
        """Delete the created leads through the service (audited); as the importer when the undoing
        user may not see one. Leads converted since are kept (their customer exists)."""
        from kehu.core.errors import NotFound
        from kehu.leads import services
        from kehu.leads.models import Lead, LeadStatus

        created = [log.object_id for log in logs if log.action in ("created", "flagged")]
        keep = set(Lead.objects.filter(pk__in=created, status=LeadStatus.CONVERTED).values_list("pk", flat=True))
        for log in logs:
            if log.action not in ("created", "flagged") or log.object_id in keep:
                continue
            try:
                services.lead_delete(acting_user=acting_user, lead_id=log.object_id)
            except NotFound:
                services.lead_delete(acting_user=log.batch.created_by, lead_id=log.object_id)

    def undo_blockers(self, logs: Sequence[Any]) -> list[tuple[int, str]]:
        return []

    def current_versions(self, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
        from kehu.leads.models import Lead

        return {lead.pk: (lead.version, str(lead)) for lead in Lead.objects.filter(pk__in=list(ids))}


def register_import_kinds() -> None:
    from kehu.imports import mapping

    mapping.TARGETS.setdefault(LeadImport.key, list(LEAD_TARGETS))
    register(LeadImport())
