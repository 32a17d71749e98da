"""A customer with a row of every kind the export and erasure cover."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from kehu.activities import services as activities
from kehu.contracts import services as contracts
from kehu.leads.models import Lead
from kehu.mailing.models import SentMail
from kehu.notifications.models import Notification
from kehu.privacy import services as privacy
from kehu.sales import services as sales


def fill(rep: Any, customer: Any, contact: Any) -> dict[str, Any]:
    followup = activities.followup_create(acting_user=rep, customer_id=customer.pk, kind="call",
                                          content="张三丰说下周到 13812345678 回电", contact_ids=[contact.pk])
    task = activities.task_create(acting_user=rep, assignee=rep, title="回电", description="打给 13812345678",
                                  customer_id=customer.pk)
    deal = sales.opportunity_create(acting_user=rep, data={"name": "年度采购", "customer": customer.pk,
                                                           "amount": "5万"})
    contract = contracts.contract_create(acting_user=rep, data={"title": "年度服务合同", "customer": customer.pk,
                                                                 "amount": "10万"})
    payment = contracts.payment_record(acting_user=rep, contract_id=contract.pk, received_on="2026-11-01",
                                       amount="800")
    attachment = contracts.attachment_add(
        acting_user=rep, contract_id=contract.pk,
        upload=SimpleUploadedFile("身份证复印件.pdf", b"%PDF-1.4 id", content_type="application/pdf"))
    lead = Lead.objects.create(name="张三丰", mobile="13812345678", email="zhangsan@example.com",
                               converted_customer=customer, owner=rep)
    mail = SentMail.objects.create(to="zhangsan@example.com", subject="给张三丰的报价", body="张三丰您好",
                                   customer=customer, contact=contact, sent_by=rep, status="sent")
    notification = Notification.objects.create(user=rep, title="张三丰 需要跟进", body="电话 13812345678",
                                               customer=customer)
    consent = privacy.consent_record(acting_user=rep, customer_id=customer.pk, purpose="data_processing",
                                     source="form")
    return {"followup": followup, "task": task, "deal": deal, "contract": contract, "payment": payment,
            "attachment": attachment, "lead": lead, "mail": mail, "notification": notification, "consent": consent}
