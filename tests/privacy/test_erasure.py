"""Erasure of one customer: anonymised everywhere, search finds nothing, files removed, an Erasure
row without personal data; admins only, typed confirmation, a denied request changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from kehu.activities.models import FollowUp, Task
from kehu.contracts.models import ContractAttachment
from kehu.core import audit_chain
from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.models import AuditEvent
from kehu.customers import search
from kehu.customers.models import Contact, Customer, Note, SearchToken
from kehu.leads.models import Lead
from kehu.mailing.models import SentMail
from kehu.notifications.models import Notification
from kehu.privacy import services
from kehu.privacy.models import Consent, Erasure
from tests.api_client import Api
from tests.privacy.helpers import fill

pytestmark = pytest.mark.django_db


def _snapshot(customer_id: int) -> dict:
    return {
        "customer": list(Customer.objects.filter(pk=customer_id).values()),
        "contacts": list(Contact.objects.filter(customer_id=customer_id).values()),
        "notes": list(Note.objects.filter(customer_id=customer_id).values()),
        "followups": list(FollowUp.objects.filter(customer_id=customer_id).values()),
        "mails": list(SentMail.objects.filter(customer_id=customer_id).values()),
        "tokens": sorted(SearchToken.objects.filter(customer_id=customer_id).values_list("token", flat=True)),
        "attachments": list(ContractAttachment.objects.filter(contract__customer_id=customer_id).values()),
        "erasures": Erasure.objects.count(),
    }


def test_erase_anonymises_everything(admin, rep, customer, contact, note, media, django_capture_on_commit_callbacks):
    rows = fill(rep, customer, contact)
    file_path = Path(rows["attachment"].file.path)
    assert file_path.exists()
    assert {h.customer.pk for h in search.search(user=admin, query="13812345678")} == {customer.pk}
    with django_capture_on_commit_callbacks(execute=True):
        erasure = services.customer_erase(acting_user=admin, customer_id=customer.pk, confirmation="张三丰")

    customer.refresh_from_db()
    assert customer.name == f"已删除用户 #{customer.pk}"
    assert customer.phones == [] and customer.emails == [] and customer.address == ""
    assert customer.id_number == "" and customer.birthday is None and customer.name_pinyin == ""
    contact.refresh_from_db()
    assert contact.name == f"已删除联系人 #{contact.pk}"
    assert (contact.mobile, contact.email, contact.wechat, contact.mobile_e164) == ("", "", "", "")
    assert not Note.objects.filter(customer_id=customer.pk).exists()
    assert FollowUp.objects.get(pk=rows["followup"].pk).content == ""
    assert Task.objects.get(pk=rows["task"].pk).description == ""
    mail = SentMail.objects.get(pk=rows["mail"].pk)
    assert (mail.to, mail.subject, mail.body) == ("", "", "")
    assert Notification.objects.get(pk=rows["notification"].pk).body == ""
    lead = Lead.objects.get(pk=rows["lead"].pk)
    assert lead.name != "张三丰" and lead.mobile == "" and lead.email == ""
    assert not ContractAttachment.objects.filter(pk=rows["attachment"].pk).exists()
    assert not file_path.exists()
    assert Consent.objects.filter(pk=rows["consent"].pk).exists()  # the proof of consent stays

    for query in ("13812345678", "张三丰", "zhangsan@example.com", "赵敏", "13987654321", "zhangsanfeng"):
        assert search.search(user=admin, query=query) == [], query

    assert erasure.customer_id == customer.pk and erasure.erased_by == admin
    assert erasure.counts["contacts"] == 1 and erasure.counts["notes"] == 1 and erasure.counts["attachments"] == 1
    assert "张三丰" not in json.dumps(erasure.counts, ensure_ascii=False)
    event = AuditEvent.objects.filter(customer_id=customer.pk).latest("id")
    assert event.action == "delete" and "张三丰" not in event.object_repr
    assert audit_chain.verify().ok  # no audit row was touched

    client = Client()
    client.force_login(admin)
    page = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert f'<h1 id="customer-name">已删除用户 #{customer.pk}' in page
    assert "13812345678" not in page and "zhangsan@example.com" not in page and "zhaomin" not in page
    # Known limitation (docs/privacy.md): the timeline's audit entries keep the name they were written with.
    assert "创建了客户 张三丰" in page and "创建了联系人 赵敏" in page


def test_non_admin_is_refused_and_nothing_changes(rep, customer, contact, note, media):
    fill(rep, customer, contact)
    before = _snapshot(customer.pk)
    with pytest.raises(PermissionDenied):
        services.customer_erase(acting_user=rep, customer_id=customer.pk, confirmation="张三丰")
    assert Api(rep).post(f"/customers/{customer.pk}/erase", {"confirmation": "张三丰"}).status_code == 403
    client = Client()
    client.force_login(rep)
    assert client.post(reverse("privacy:erase", args=[customer.pk]), {"confirmation": "张三丰"}).status_code == 403
    assert _snapshot(customer.pk) == before


def test_wrong_confirmation_changes_nothing(admin, customer, contact):
    before = _snapshot(customer.pk)
    with pytest.raises(ValidationFailed) as exc:
        services.customer_erase(acting_user=admin, customer_id=customer.pk, confirmation="张三")
    assert exc.value.errors[0].field == "confirmation"
    response = Api(admin).post(f"/customers/{customer.pk}/erase", {"confirmation": ""})
    assert response.status_code == 422
    assert _snapshot(customer.pk) == before


def test_admin_erases_through_the_page_and_the_api(admin, rep, customer, contact):
    other = type(customer).objects.get(pk=customer.pk)
    client = Client()
    client.force_login(admin)
    response = client.post(reverse("privacy:erase", args=[customer.pk]), {"confirmation": "张三丰"})
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.name == f"已删除用户 #{customer.pk}"
    page = client.get(reverse("privacy:customer", args=[customer.pk])).content.decode()
    assert f"已删除用户 #{customer.pk}" in page
    second = Api(admin).post(f"/customers/{customer.pk}/erase", {"confirmation": f"已删除用户 #{customer.pk}"})
    assert second.status_code == 200 and second.json()["counts"]["contacts"] == 1
    assert Erasure.objects.filter(customer_id=customer.pk).count() == 2
