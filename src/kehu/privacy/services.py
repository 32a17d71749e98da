"""Writes of the privacy app: consent records, the personal-data export and erasure of one customer.

Every service takes `acting_user`, checks permission itself, runs in one transaction and records
its audit event with kehu.core.audit.record_event.

Permissions
- consent_record / consent_withdraw: the user must see the customer (kehu.core.scoping.restrict).
- personal_data_export / customer_erase: `can_manage_personal_data` — Kehu admins only
  (`user.is_kehu_admin`), who must also see the customer.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core import audit
from kehu.core.errors import ErrorCode, FieldError, PermissionDenied, ValidationFailed
from kehu.core.tabular import escape_formula
from kehu.customers.models import Contact, Customer

from .models import Consent, ConsentPurpose, ConsentSource, Erasure
from .selectors import consent_get, visible_customer


def can_manage_personal_data(user: Any) -> bool:
    """The named check for the personal-data export and erasure: Kehu admins only."""
    return bool(user is not None and getattr(user, "is_authenticated", False) and getattr(user, "is_kehu_admin", False))


def _require_privacy_admin(user: Any) -> None:
    if not can_manage_personal_data(user):
        raise PermissionDenied(_("只有管理员可以导出或删除个人信息"))


# Consents ---------------------------------------------------------------------------------------


def _require_writable(user: Any, customer_id: int) -> None:
    """Consents are the customer's data: a read-only share (or a read-only scope) may not change them."""
    from kehu.core.scoping import restrict

    if not restrict(Customer.objects.filter(pk=customer_id), user, write=True).exists():
        raise PermissionDenied(_("无权修改该客户的同意记录"))


@transaction.atomic
def consent_record(
    *, acting_user: Any, customer_id: int, purpose: str, source: str, granted: bool = True,
    contact_id: int | None = None, note: str = "", recorded_at: dt.datetime | None = None,
) -> Consent:
    visible_customer(user=acting_user, customer_id=customer_id)
    _require_writable(acting_user, customer_id)
    errors: list[FieldError] = []
    if purpose not in ConsentPurpose.values:
        errors.append(FieldError("purpose", ErrorCode.UNKNOWN_CHOICE, _("未知的用途")))
    if source not in ConsentSource.values:
        errors.append(FieldError("source", ErrorCode.UNKNOWN_CHOICE, _("未知的来源")))
    if contact_id is not None and not Contact.objects.filter(pk=contact_id, customer_id=customer_id).exists():
        errors.append(FieldError("contact_id", ErrorCode.INVALID, _("联系人不属于该客户")))
    note = (note or "").strip()
    if len(note) > 500:
        errors.append(FieldError("note", ErrorCode.INVALID, _("说明不能超过 500 个字符")))
    if errors:
        raise ValidationFailed(errors)
    consent = Consent.objects.create(
        customer_id=customer_id, contact_id=contact_id, purpose=purpose, granted=bool(granted), source=source,
        recorded_at=recorded_at or timezone.now(),
        recorded_by=acting_user if getattr(acting_user, "pk", None) else None, note=note,
    )
    audit.record_event(actor=acting_user, action="create", obj=consent, customer_id=customer_id, changes=[
        {"field": "purpose", "old": None, "new": purpose},
        {"field": "granted", "old": None, "new": consent.granted},
        {"field": "source", "old": None, "new": source},
    ])
    return consent


@transaction.atomic
def consent_withdraw(*, acting_user: Any, consent_id: int) -> Consent:
    consent = consent_get(user=acting_user, consent_id=consent_id)
    _require_writable(acting_user, consent.customer_id)
    consent = Consent.objects.select_for_update().get(pk=consent.pk)
    if consent.withdrawn_at is not None:
        raise ValidationFailed([FieldError("withdrawn_at", ErrorCode.INVALID, _("该同意已撤回"))])
    consent.withdrawn_at = timezone.now()
    consent.withdrawn_by = acting_user if getattr(acting_user, "pk", None) else None
    consent.save(update_fields=["withdrawn_at", "withdrawn_by"])
    audit.record_event(actor=acting_user, action="update", obj=consent, customer_id=consent.customer_id,
                       changes=[{"field": "withdrawn_at", "old": None, "new": consent.withdrawn_at.isoformat()}])
    return consent


# Personal-data export ---------------------------------------------------------------------------

# Sections added to the customer archive (kehu.customers.export.customer_archive), in sheet order.
EXTRA_SECTIONS: dict[str, tuple[str, str]] = {
    "followups": ("跟进记录", "Follow-ups"),
    "tasks": ("任务", "Tasks"),
    "opportunities": ("商机", "Opportunities"),
    "leads": ("线索", "Leads"),
    "contracts": ("合同", "Contracts"),
    "payments": ("回款", "Payments"),
    "attachments": ("合同附件", "Contract attachments"),
    "sent_mails": ("已发邮件", "Sent mails"),
    "notifications": ("通知", "Notifications"),
    "consents": ("同意记录", "Consents"),
    "erasures": ("删除记录", "Erasures"),
}


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if timezone.is_aware(value) else str(value)
    if isinstance(value, Decimal | dt.date):
        return str(value)
    return str(value)


def _model_section(queryset: Any, fields: list[str]) -> dict[str, Any]:
    model = queryset.model
    columns = []
    for name in fields:
        field = model._meta.get_field(name)
        columns.append(str(getattr(field, "verbose_name", name)))
    rows = [[_cell(row[f]) for f in fields] for row in queryset.values(*fields)]
    return {"keys": fields, "columns": columns, "rows": rows}


def personal_data(*, acting_user: Any, customer_id: int) -> dict[str, Any]:
    """Everything held about one customer: the archive of kehu.customers.export (customer row,
    contacts, notes, timeline, audit events) plus follow-ups, tasks, opportunities, converted leads,
    contracts, payments, attachments, sent mails, notifications, consents and erasure records.
    Admins only (PermissionDenied), inside their scope (NotFound)."""
    from kehu.activities.models import FollowUp, Task
    from kehu.contracts.models import Contract, ContractAttachment, Payment
    from kehu.customers.export import customer_archive
    from kehu.leads.models import Lead
    from kehu.mailing.models import SentMail
    from kehu.notifications.models import Notification
    from kehu.sales.models import Opportunity

    _require_privacy_admin(acting_user)
    visible_customer(user=acting_user, customer_id=customer_id)
    archive = customer_archive(user=acting_user, customer_id=customer_id)
    cid = customer_id
    archive["followups"] = _model_section(
        FollowUp.objects.filter(customer_id=cid).order_by("occurred_at", "id"),
        ["id", "occurred_at", "content", "outcome", "next_step", "next_followup_at", "address", "latitude",
         "longitude", "checked_in_at"],
    )
    archive["tasks"] = _model_section(Task.objects.filter(customer_id=cid).order_by("created_at", "id"),
                                      ["id", "title", "description", "due_at", "status", "completed_at"])
    archive["opportunities"] = _model_section(
        Opportunity.objects.filter(customer_id=cid).order_by("created_at", "id"), ["id", "name", "created_at"])
    archive["leads"] = _model_section(
        Lead.objects.filter(converted_customer_id=cid).order_by("created_at", "id"),
        ["id", "name", "company", "title", "mobile", "phone", "email", "wechat", "province", "city", "campaign",
         "notes", "custom", "created_at", "converted_at"])
    archive["contracts"] = _model_section(
        Contract.objects.filter(customer_id=cid).order_by("created_at", "id"),
        ["id", "number", "title", "amount", "currency", "signed_on", "starts_on", "ends_on", "status", "notes"])
    archive["payments"] = _model_section(
        Payment.objects.filter(contract__customer_id=cid).order_by("received_on", "id"),
        ["id", "contract_id", "received_on", "amount", "method", "reference"])
    archive["attachments"] = _model_section(
        ContractAttachment.objects.filter(contract__customer_id=cid).order_by("uploaded_at", "id"),
        ["id", "contract_id", "name", "size", "uploaded_at"])
    archive["sent_mails"] = _model_section(
        SentMail.objects.filter(customer_id=cid).order_by("created_at", "id"),
        ["id", "to", "from_email", "subject", "body", "status", "created_at", "sent_at"])
    archive["notifications"] = _model_section(
        Notification.objects.filter(customer_id=cid).order_by("created_at", "id"),
        ["id", "kind", "title", "body", "created_at"])
    archive["consents"] = _model_section(
        Consent.objects.filter(customer_id=cid).order_by("recorded_at", "id"),
        ["id", "contact_id", "purpose", "granted", "source", "recorded_at", "withdrawn_at", "note"])
    archive["erasures"] = _model_section(Erasure.objects.filter(customer_id=cid).order_by("erased_at", "id"),
                                         ["id", "erased_at", "counts"])
    return archive


def _sheets() -> dict[str, tuple[str, str]]:
    from kehu.customers.export import ARCHIVE_SHEETS

    return {**ARCHIVE_SHEETS, **EXTRA_SECTIONS}


def personal_data_json(archive: dict[str, Any]) -> bytes:
    body: dict[str, Any] = {"customer_id": archive["customer_id"], "exported_at": archive["exported_at"]}
    for name in _sheets():
        part = archive[name]
        records = [dict(zip(part["keys"], row, strict=True)) for row in part["rows"]]
        body[name] = records[0] if name == "customer" and records else records
    return json.dumps(body, ensure_ascii=False, indent=2, default=str).encode("utf-8")


def personal_data_xlsx(archive: dict[str, Any]) -> bytes:
    from kehu.customers.export import XlsxStream

    out = io.BytesIO()
    with XlsxStream(out) as book:  # type: ignore[arg-type]
        for name, titles in _sheets().items():
            part = archive[name]
            book.sheet(titles[1] if archive["english"] else titles[0])
            book.append(part["columns"])
            for row in part["rows"]:
                book.append([escape_formula(v) if isinstance(v, str) and v else
                             json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v for v in row])
    return out.getvalue()


@transaction.atomic
def personal_data_export(*, acting_user: Any, customer_id: int, fmt: str) -> bytes:
    """The export as bytes (fmt "json" or "xlsx"), audited as an 'export' event on the customer."""
    if fmt not in ("json", "xlsx"):
        raise ValidationFailed([FieldError("format", ErrorCode.UNKNOWN_CHOICE, _("格式只能是 json 或 xlsx"))])
    archive = personal_data(acting_user=acting_user, customer_id=customer_id)
    customer = Customer.objects.only("id", "name").get(pk=customer_id)
    audit.record_event(actor=acting_user, action="export", obj=customer, customer_id=customer_id,
                       changes=[{"field": "personal_data", "old": None, "new": fmt}])
    return personal_data_json(archive) if fmt == "json" else personal_data_xlsx(archive)


# Erasure ----------------------------------------------------------------------------------------


def erased_name(customer_id: int) -> str:
    return _("已删除用户 #%(id)s") % {"id": customer_id}


def erased_contact_name(contact_id: int) -> str:
    return _("已删除联系人 #%(id)s") % {"id": contact_id}


CUSTOMER_CLEARED = {
    "short_name": "", "name_pinyin": "", "name_initials": "", "name_core": "", "salutation": "", "phones": [],
    "phones_e164": [], "emails": [], "website": "", "province": "", "city": "", "district": "", "address": "",
    "birthday": None, "credit_code": "", "id_number": "", "gender": "", "notes": "", "custom": {}, "external_id": "",
}
CONTACT_CLEARED = {
    "name_pinyin": "", "name_initials": "", "salutation": "", "title": "", "mobile": "", "phone": "",
    "mobile_e164": "", "phone_e164": "", "email": "", "wechat": "", "birthday": None, "notes": "", "custom": {},
    "external_id": "",
}
LEAD_CLEARED = {
    "salutation": "", "company": "", "title": "", "mobile": "", "mobile_e164": "", "phone": "", "phone_e164": "",
    "email": "", "wechat": "", "province": "", "city": "", "notes": "", "custom": {}, "external_id": "",
}


@transaction.atomic
def customer_erase(*, acting_user: Any, customer_id: int, confirmation: str) -> Erasure:
    """Anonymise one customer and its contacts everywhere Kehu holds their personal data, in one
    transaction; `confirmation` must be the customer's current name, typed. Audit events are not
    touched (append-only, hash-chained): see docs/privacy.md."""
    from kehu.activities.models import FollowUp, Task
    from kehu.contracts.models import ContractAttachment
    from kehu.customers import search
    from kehu.customers.models import Note, SearchToken
    from kehu.dataquality import quality
    from kehu.leads.models import Lead
    from kehu.mailing.models import SentMail
    from kehu.notifications.models import Notification

    _require_privacy_admin(acting_user)
    visible_customer(user=acting_user, customer_id=customer_id)
    customer = Customer.objects.select_for_update().get(pk=customer_id)
    if (confirmation or "").strip() != customer.name.strip():
        raise ValidationFailed([FieldError("confirmation", ErrorCode.INVALID,
                                           _("请输入客户的完整名称以确认删除"))])
    now = timezone.now()
    counts: dict[str, int] = {}

    for field, value in CUSTOMER_CLEARED.items():
        setattr(customer, field, value)
    customer.name = erased_name(customer.pk)
    customer.updated_at = now
    customer.updated_by = acting_user
    customer.save()
    counts["customer"] = 1

    contacts = list(Contact.objects.select_for_update().filter(customer_id=customer.pk))
    for contact in contacts:
        for field, value in CONTACT_CLEARED.items():
            setattr(contact, field, value)
        contact.name = erased_contact_name(contact.pk)
        contact.updated_at = now
        contact.updated_by = acting_user
        contact.save()
    counts["contacts"] = len(contacts)

    counts["notes"] = Note.objects.filter(customer_id=customer.pk).delete()[0]
    counts["followups"] = FollowUp.objects.filter(customer_id=customer.pk).update(
        content="", outcome="", next_step="", address="", latitude=None, longitude=None, accuracy_m=None)
    counts["tasks"] = Task.objects.filter(customer_id=customer.pk).update(description="")
    counts["sent_mails"] = SentMail.objects.filter(customer_id=customer.pk).update(
        to="", reply_to="", subject="", body="", body_html="")
    counts["notifications"] = Notification.objects.filter(customer_id=customer.pk).update(
        title=erased_name(customer.pk), body="")
    leads = Lead.objects.filter(converted_customer_id=customer.pk)
    counts["leads"] = 0
    for lead in leads:
        for field, value in LEAD_CLEARED.items():
            setattr(lead, field, value)
        lead.name = _("已删除线索 #%(id)s") % {"id": lead.pk}
        lead.save()
        counts["leads"] += 1

    attachments = list(ContractAttachment.objects.filter(contract__customer_id=customer.pk))
    files = [(a.file.storage, a.file.name) for a in attachments if a.file]
    ContractAttachment.objects.filter(pk__in=[a.pk for a in attachments]).delete()
    counts["attachments"] = len(attachments)

    def remove_files() -> None:
        for storage, name in files:
            if name and storage.exists(name):
                storage.delete(name)

    transaction.on_commit(remove_files)

    counts["search_tokens"] = SearchToken.objects.filter(customer_id=customer.pk).delete()[0]
    # Erasure bypasses the recycle bin: deleted contacts, leads, deals … of this customer go for good.
    from kehu.recyclebin.services import purge_customer

    counts["recycle_bin"] = purge_customer(acting_user=acting_user, customer_id=customer.pk)
    search.index_customer(customer)
    for contact in contacts:
        search.index_contact(contact)
    quality.customer_quality_refresh(customer)

    erasure = Erasure.objects.create(customer_id=customer.pk, erased_by=acting_user, erased_at=now, counts=counts)
    audit.record_event(actor=acting_user, action="delete", obj=customer, customer_id=customer.pk,
                       changes=[{"field": "personal_data", "old": None, "new": f"erasure #{erasure.pk}"}])
    return erasure
