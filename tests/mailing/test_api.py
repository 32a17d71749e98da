"""/api/v1/mail: templates, preview, send (template and free text) through the loopback SMTP server,
idempotency, scoping, the sent log."""

from __future__ import annotations

import pytest

from kehu.mailing.models import SentMail
from tests.api_client import Api, error_of
from tests.factories import UserFactory
from tests.mailing.conftest import BOUNCING

pytestmark = pytest.mark.django_db


def test_templates_and_preview(rep, customer, contact, welcome) -> None:
    api = Api(rep)
    assert [(t["key"], t["language"]) for t in api.get("/mail/templates").json()] == [
        ("birthday", "en"), ("birthday", "zh-hans"), ("welcome", "en"), ("welcome", "zh-hans")]
    body = api.post("/mail/preview", {"template": "welcome", "customer": customer.pk, "contact": contact.pk}).json()
    assert body["subject"] == "欢迎 北京分扬科技有限公司 成为我们的客户" and body["body"].startswith("王总，您好！")
    response = api.post("/mail/preview", {"subject": "{{ custmer.name }}", "body": "x"})
    assert response.status_code == 422 and error_of(response)["field"] == "subject"


def test_send_template_and_free_text(smtp, rep, customer, contact, welcome,
                                     django_capture_on_commit_callbacks) -> None:
    api = Api(rep)
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post("/mail/send", {"template": welcome.pk, "contact": contact.pk, "idempotency_key": "k1"})
        again = api.post("/mail/send", {"template": "welcome", "contact": contact.pk, "idempotency_key": "k1"})
        free = api.post("/mail/send", {"customer": customer.pk, "subject": "报价", "body": "正文", "to": BOUNCING})
    assert first.status_code == 200 and first.json()["sent"] is True
    assert first.json()["mail"]["customer_id"] == customer.pk
    assert again.json() == {"sent": False, "mail": None}
    assert free.json()["mail"]["to"] == BOUNCING
    assert [r.subject for r in smtp.received] == ["欢迎 北京分扬科技有限公司 成为我们的客户"]
    log = api.get("/mail/sent").json()
    assert log["total"] == 2 and [m["status"] for m in log["items"]] == ["bounced", "sent"]
    assert api.get("/mail/sent", {"status": "bounced"}).json()["total"] == 1
    mail_id = first.json()["mail"]["id"]
    assert api.get(f"/mail/sent/{mail_id}").json()["status"] == "sent"


def test_send_to_an_invisible_customer_is_404_and_sends_nothing(smtp, customer, welcome) -> None:
    api = Api(UserFactory())
    response = api.post("/mail/send", {"template": "welcome", "customer": customer.pk})
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    assert SentMail.objects.count() == 0 and smtp.received == []
    assert api.get("/mail/sent").json()["total"] == 0


def test_send_without_recipient_is_422(rep, welcome) -> None:
    from kehu.customers.services import customer_create

    bare = customer_create(acting_user=rep, data={"name": "没有邮箱的公司"})
    response = Api(rep).post("/mail/send", {"template": "welcome", "customer": bare.pk})
    assert response.status_code == 422 and error_of(response)["field"] == "to"
