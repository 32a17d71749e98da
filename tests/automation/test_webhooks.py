"""The webhook action against a real HTTP server on loopback (allow-listed explicitly, as an admin
would for an intranet receiver), and the SSRF refusals: private, loopback, link-local, IPv4-mapped
IPv6, other schemes, redirects."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from kehu.automation import engine, webhooks
from kehu.automation.models import ActionLog, ActionStatus
from tests.automation.conftest import NOW, customer_of, event, make_rule

pytestmark = pytest.mark.django_db


class Receiver(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 200
    location = ""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        self.send_response(type(self).status)
        if type(self).location:
            self.send_header("Location", type(self).location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[Receiver]]]:
    handler = type("Handler", (Receiver,), {"received": [], "status": 200, "location": ""})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_signed_delivery_verified_by_the_receiver(admin, rep, receiver, settings):
    url, handler = receiver
    settings.KEHU_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    rule = make_rule(admin, trigger="created", actions=[{"type": "webhook", "params": {"url": f"{url}/hook?x=1"}}])
    customer = customer_of(rep, name="甲公司")
    assert engine.handle_event(event("customer.created", customer.pk), now=NOW).done == 1
    [call] = handler.received
    headers = {k.lower(): v for k, v in call["headers"].items()}
    assert call["path"] == "/hook?x=1"
    assert webhooks.verify(rule.webhook_secret, headers["x-kehu-timestamp"], call["body"], headers["x-kehu-signature"])
    assert not webhooks.verify("wrong-secret", headers["x-kehu-timestamp"], call["body"], headers["x-kehu-signature"])
    payload = json.loads(call["body"])
    assert payload["record"]["label"] == "甲公司" and payload["rule"]["id"] == rule.pk
    assert headers["x-kehu-delivery"] == payload["delivery"] == ActionLog.objects.get().key
    assert headers["x-kehu-event"] == "customer.created"


def test_loopback_is_refused_without_the_allow_list(admin, rep, receiver, settings):
    url, handler = receiver
    settings.KEHU_WEBHOOK_ALLOWED_HOSTS = []
    make_rule(admin, trigger="created", actions=[{"type": "webhook", "params": {"url": url}}])
    customer = customer_of(rep)
    assert engine.handle_event(event("customer.created", customer.pk), now=NOW).failed == 1
    assert handler.received == []
    log = ActionLog.objects.get()
    assert log.status == ActionStatus.FAILED and "loopback" in log.error  # refused: no retries


def test_redirects_are_not_followed(admin, rep, receiver, settings, monkeypatch):
    from kehu.automation import tasks

    url, handler = receiver
    handler.status, handler.location = 302, "http://169.254.169.254/latest/meta-data/"
    settings.KEHU_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    monkeypatch.setattr(tasks.retry_record_task, "schedule", lambda args, delay: None)
    with pytest.raises(webhooks.WebhookFailed, match="redirect not followed"):
        webhooks.post_json(url, {"a": 1}, secret="s", delivery="d")
    assert len(handler.received) == 1
    make_rule(admin, trigger="created", actions=[{"type": "webhook", "params": {"url": url}}])
    customer = customer_of(rep)
    engine.handle_event(event("customer.created", customer.pk), now=NOW)
    log = ActionLog.objects.get()
    assert log.status == ActionStatus.RETRYING and "302" in log.error


@pytest.mark.parametrize("url", [
    "http://10.0.0.1/hook", "http://127.0.0.1/hook", "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:127.0.0.1]/hook", "http://[::1]/hook", "http://[::ffff:10.0.0.1]:8080/", "http://0.0.0.0/",
    "http://192.168.1.1/", "http://172.16.0.1/", "http://100.64.0.1/", "http://224.0.0.1/", "http://[fe80::1]/",
    "http://localhost/hook",
])
def test_private_targets_are_refused(url, settings):
    settings.KEHU_WEBHOOK_ALLOWED_HOSTS = []
    with pytest.raises(webhooks.WebhookRefused):
        webhooks.resolve(url)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://example.com/",
                                 "http://user:pw@example.com/", "javascript:alert(1)"])
def test_other_schemes_and_credentials_are_refused(url):
    with pytest.raises(webhooks.WebhookRefused):
        webhooks.resolve(url)


def test_public_addresses_pass_and_the_connection_is_pinned(monkeypatch, settings):
    settings.KEHU_WEBHOOK_ALLOWED_HOSTS = []
    answers = iter([[(2, 1, 6, "", ("93.184.216.34", 443))]])
    monkeypatch.setattr(webhooks.socket, "getaddrinfo", lambda *a, **k: next(answers))
    target = webhooks.resolve("https://hooks.example.com/in")
    assert (target.host, target.address, target.port, target.path) == ("hooks.example.com", "93.184.216.34", 443,
                                                                        "/in")


def test_a_name_resolving_to_any_private_address_is_refused(monkeypatch, settings):
    settings.KEHU_WEBHOOK_ALLOWED_HOSTS = []
    monkeypatch.setattr(webhooks.socket, "getaddrinfo", lambda *a, **k: [
        (2, 1, 6, "", ("93.184.216.34", 80)), (2, 1, 6, "", ("127.0.0.1", 80))])
    with pytest.raises(webhooks.WebhookRefused, match="127.0.0.1"):
        webhooks.resolve("http://rebind.example.com/")


def test_the_rule_form_refuses_non_http_urls(admin):
    from kehu.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        make_rule(admin, trigger="created", actions=[{"type": "webhook", "params": {"url": "ftp://x.example/"}}])
