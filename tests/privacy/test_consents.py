"""Consent records: service, API and the per-customer page; scope and audit."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.models import AuditEvent
from kehu.privacy import services
from kehu.privacy.models import Consent
from tests.api_client import Api, error_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_record_and_withdraw_are_audited(rep, customer, contact):
    consent = services.consent_record(acting_user=rep, customer_id=customer.pk, contact_id=contact.pk,
                                      purpose="marketing_mail", source="web_form", note="官网勾选")
    assert consent.is_active and consent.recorded_by == rep
    event = AuditEvent.objects.filter(object_type="consent", object_id=consent.pk).get()
    assert event.action == "create" and event.customer_id == customer.pk
    withdrawn = services.consent_withdraw(acting_user=rep, consent_id=consent.pk)
    assert withdrawn.withdrawn_at is not None and not withdrawn.is_active and withdrawn.withdrawn_by == rep
    assert list(AuditEvent.objects.filter(object_type="consent").values_list("action", flat=True).order_by("id")) \
        == ["create", "update"]
    with pytest.raises(ValidationFailed):
        services.consent_withdraw(acting_user=rep, consent_id=consent.pk)


def test_invalid_values_and_foreign_contact_are_refused(rep, customer):
    with pytest.raises(ValidationFailed) as exc:
        services.consent_record(acting_user=rep, customer_id=customer.pk, purpose="spam", source="telepathy",
                                contact_id=999999)
    assert {e.field for e in exc.value.errors} == {"purpose", "source", "contact_id"}
    assert not Consent.objects.exists()


def test_outside_scope_is_not_found_and_writes_nothing(rep, customer):
    stranger = UserFactory()
    with pytest.raises(NotFound):
        services.consent_record(acting_user=stranger, customer_id=customer.pk, purpose="sms", source="verbal")
    consent = services.consent_record(acting_user=rep, customer_id=customer.pk, purpose="sms", source="verbal")
    with pytest.raises(NotFound):
        services.consent_withdraw(acting_user=stranger, consent_id=consent.pk)
    consent.refresh_from_db()
    assert consent.withdrawn_at is None and Consent.objects.count() == 1


def test_api_list_create_withdraw(rep, customer):
    api = Api(rep)
    response = api.post(f"/customers/{customer.pk}/consents", {"purpose": "phone", "source": "form"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["purpose"] == "phone" and body["granted"] is True and body["active"] is True
    listed = api.get(f"/customers/{customer.pk}/consents").json()
    assert [c["id"] for c in listed] == [body["id"]]
    withdrawn = api.post(f"/consents/{body['id']}/withdraw", {})
    assert withdrawn.status_code == 200 and withdrawn.json()["active"] is False
    assert api.post(f"/consents/{body['id']}/withdraw", {}).status_code == 422
    bad = api.post(f"/customers/{customer.pk}/consents", {"purpose": "x", "source": "form"})
    assert bad.status_code == 422 and error_of(bad)["field"] == "purpose"


def test_api_other_users_customer_is_404(rep, customer):
    consent = services.consent_record(acting_user=rep, customer_id=customer.pk, purpose="sms", source="verbal")
    api = Api(UserFactory())
    assert api.get(f"/customers/{customer.pk}/consents").status_code == 404
    assert api.post(f"/customers/{customer.pk}/consents", {"purpose": "sms", "source": "form"}).status_code == 404
    assert api.post(f"/consents/{consent.pk}/withdraw", {}).status_code == 404
    assert Consent.objects.count() == 1 and Consent.objects.get().withdrawn_at is None


def test_page_lists_records_and_withdraws(rep, customer, contact):
    client = Client()
    client.force_login(rep)
    detail = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert reverse("privacy:customer", args=[customer.pk]) in detail
    response = client.post(reverse("privacy:consent_add", args=[customer.pk]),
                           {"purpose": "sms", "source": "verbal", "granted": "1", "contact_id": str(contact.pk),
                            "note": "<b>电话里同意</b>"})
    assert response.status_code == 302
    consent = Consent.objects.get()
    assert consent.contact_id == contact.pk and consent.note == "<b>电话里同意</b>"
    page = client.get(reverse("privacy:customer", args=[customer.pk])).content.decode()
    assert "短信" in page and "赵敏" in page and "&lt;b&gt;电话里同意&lt;/b&gt;" in page
    assert "导出个人信息" not in page  # not an admin
    assert client.post(reverse("privacy:consent_withdraw", args=[consent.pk])).status_code == 302
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None


def test_page_outside_scope_is_404(rep, customer):
    client = Client()
    client.force_login(UserFactory())
    assert client.get(reverse("privacy:customer", args=[customer.pk])).status_code == 404
    assert client.post(reverse("privacy:consent_add", args=[customer.pk]),
                       {"purpose": "sms", "source": "verbal"}).status_code == 404
    assert not Consent.objects.exists()
