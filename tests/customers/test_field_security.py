"""Field-level security on every output of customers and contacts (HTML, API, CSV/XLSX export, search,
duplicate warnings, mail merge, iCalendar), on writes (a masked value sent back never overwrites the
real one) and the logged, permission-gated reveal."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from kehu.accounts.permissions import role_permissions
from kehu.core.errors import ValidationFailed
from kehu.core.models import AuditEvent
from kehu.customers import services
from kehu.customers.models import Contact, Customer
from tests.api_client import Api, error_of
from tests.factories import ContactFactory, CustomerFactory, UserFactory, role

pytestmark = pytest.mark.django_db

MOBILE, MOBILE_MASKED = "13812345678", "138****5678"
LANDLINE, LANDLINE_MASKED = "010-65529988", "010-****9988"
ID, ID_MASKED = "11010519491231002X", "110105********002X"
EMAIL, EMAIL_MASKED = "zhang.san@example.com", "z***@example.com"
STREET = "中关村大街27号"
CONTACT_MOBILE, CONTACT_MOBILE_MASKED = "13998765432", "139****5432"

POLICY = {
    "customer.phones": "masked", "customer.emails": "masked", "customer.id_number": "masked",
    "customer.address": "masked", "customer.birthday": "hidden",
    "contact.mobile": "masked", "contact.email": "hidden", "contact.wechat": "read_only",
}


def _grant_reveal(code: str = "sales") -> None:
    sales = role(code)
    sales.permissions = sorted(role_permissions(sales) | {"customer.reveal", "contact.reveal"})
    sales.save()


@pytest.fixture
def rep(db):  # type: ignore[no-untyped-def]
    sales = role("sales")
    sales.field_access = dict(POLICY)
    sales.save()
    return UserFactory()


@pytest.fixture
def customer(rep):  # type: ignore[no-untyped-def]
    import datetime as dt

    record = CustomerFactory(
        owner=rep, kind="person", name="张三", phones=[MOBILE, LANDLINE], phones_e164=["+8613812345678",
                                                                                  "+861065529988"],
        emails=[EMAIL], id_number=ID, province="北京市", city="北京市", district="海淀区", address=STREET,
        birthday=dt.date(1949, 12, 31),
    )
    ContactFactory(customer=record, name="李四", mobile=CONTACT_MOBILE, mobile_e164="+8613998765432",
                   email="li.si@example.com", wechat="lisi_wx")
    return record


@pytest.fixture
def web(rep):  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(rep)
    return client


def _no_secrets(text: str) -> None:
    for secret in (MOBILE, "65529988", ID, EMAIL, STREET, CONTACT_MOBILE, "li.si@example.com", "1949-12-31"):
        assert secret not in text, secret


# HTML ------------------------------------------------------------------------------------------


def test_detail_page_shows_masked_values_only(web, customer):  # type: ignore[no-untyped-def]
    page = web.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert MOBILE_MASKED in page and LANDLINE_MASKED in page and ID_MASKED in page and EMAIL_MASKED in page
    assert "北京市北京市海淀区" in page and CONTACT_MOBILE_MASKED in page
    assert "lisi_wx" in page  # read_only: readable in full
    _no_secrets(page)
    assert 'data-testid="reveal-' not in page  # sales may not reveal by default


def test_detail_page_offers_reveal_when_the_role_may(web, customer):  # type: ignore[no-untyped-def]
    _grant_reveal()
    page = web.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert reverse("customers:reveal", args=["customer", customer.pk, "id_number"]) in page
    assert reverse("customers:reveal", args=["contact", customer.contacts.get().pk, "mobile"]) in page
    assert 'data-testid="reveal-email"' not in page  # hidden: nothing to reveal
    _no_secrets(page)


def test_list_and_search_box_mask(web, customer):  # type: ignore[no-untyped-def]
    page = web.get(reverse("customers:list")).content.decode()
    assert MOBILE_MASKED in page
    _no_secrets(page)
    hits = web.get(reverse("customers:search"), {"q": "5678"}).content.decode()
    assert "张三" in hits and MOBILE_MASKED in hits
    _no_secrets(hits)
    hits = web.get(reverse("customers:search"), {"q": "李四"}).content.decode()
    assert CONTACT_MOBILE_MASKED in hits
    _no_secrets(hits)
    assert Customer.objects.get(pk=customer.pk).phones == [MOBILE, LANDLINE]  # display copies only


def test_a_masked_display_copy_cannot_be_saved(rep, customer):  # type: ignore[no-untyped-def]
    from kehu.core import masking

    copy = masking.mask_instance(rep, "customer", Customer.objects.get(pk=customer.pk))
    assert copy.phones == [MOBILE_MASKED, LANDLINE_MASKED] and copy.birthday is None
    with pytest.raises(RuntimeError):
        copy.save()
    assert Customer.objects.get(pk=customer.pk).id_number == ID


def test_edit_form_shows_locked_fields_disabled_and_masked(web, customer):  # type: ignore[no-untyped-def]
    page = web.get(reverse("customers:edit", args=[customer.pk])).content.decode()
    _no_secrets(page)
    assert ID_MASKED in page and 'name="birthday"' not in page  # hidden: not on the form at all
    assert 'name="id_number"' in page and "disabled" in page.split('name="id_number"')[1].split(">")[0]


# API -------------------------------------------------------------------------------------------


def test_api_detail_list_contacts_and_search(rep, customer):  # type: ignore[no-untyped-def]
    api = Api(rep)
    item = api.get(f"/customers/{customer.pk}").json()
    assert item["phones"] == [MOBILE_MASKED, LANDLINE_MASKED] and item["phones_e164"] == [MOBILE_MASKED,
                                                                                      LANDLINE_MASKED]
    assert item["id_number"] == ID_MASKED and item["emails"] == [EMAIL_MASKED]
    assert item["address"] == "****" and item["birthday"] is None and item["district"] == "海淀区"
    listed = api.get("/customers").json()["items"][0]
    assert {k: listed[k] for k in ("phones", "id_number", "birthday")} == {
        k: item[k] for k in ("phones", "id_number", "birthday")}
    contact = api.get("/contacts", {"customer": customer.pk}).json()["items"][0]
    assert contact["mobile"] == CONTACT_MOBILE_MASKED and contact["mobile_e164"] == CONTACT_MOBILE_MASKED
    assert contact["email"] is None and contact["wechat"] == "lisi_wx"
    single = api.get(f"/contacts/{contact['id']}").json()
    assert single["email"] is None and single["mobile"] == CONTACT_MOBILE_MASKED
    found = api.get("/search", {"q": "李四"}).json()["contacts"][0]
    assert found["mobile"] == CONTACT_MOBILE_MASKED and found["email"] is None
    for response in (api.get(f"/customers/{customer.pk}"), api.get("/customers"), api.get("/contacts"),
                     api.get("/search", {"q": "李四"})):
        _no_secrets(response.content.decode())


def test_admin_sees_everything(admin_user, customer):  # type: ignore[no-untyped-def]
    item = Api(admin_user).get(f"/customers/{customer.pk}").json()
    assert item["id_number"] == ID and item["phones"] == [MOBILE, LANDLINE]


def test_openapi_schema_accepts_masked_and_null_values(rep, customer):  # type: ignore[no-untyped-def]
    from kehu.customers.schemas import ContactOut, CustomerOut

    api = Api(rep)
    CustomerOut.model_validate(api.get(f"/customers/{customer.pk}").json())
    ContactOut.model_validate(api.get("/contacts").json()["items"][0])


# Export ----------------------------------------------------------------------------------------


def _csv(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def test_csv_and_xlsx_exports_mask_and_leave_out_hidden_columns(web, rep, customer):  # type: ignore[no-untyped-def]
    rows = _csv(web.get(reverse("customers:export"), {"format": "csv", "columns": "all"}))
    header, row = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert "生日" not in header
    assert row["电话"] == f"{MOBILE_MASKED}; {LANDLINE_MASKED}" and row["身份证号"] == ID_MASKED
    assert row["邮箱"] == EMAIL_MASKED and row["详细地址"] == "****"
    _no_secrets(repr(rows))

    response = Api(rep).get("/customers/export", {"format": "xlsx", "target": "contacts", "e164": "true"})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert "邮箱" not in values[0] and CONTACT_MOBILE_MASKED in values[1]
    _no_secrets(repr(values))

    archive = web.get(reverse("customers:archive", args=[customer.pk, "json"])).content.decode()
    _no_secrets(archive)


def test_lead_export_masks(rep):  # type: ignore[no-untyped-def]
    from kehu.core import exporting
    from kehu.leads.models import Lead

    sales = role("sales")
    sales.field_access = {**POLICY, "lead.mobile": "masked", "lead.email": "hidden"}
    sales.save()
    rep.refresh_from_db()
    Lead.objects.create(name="王五", mobile=MOBILE, email=EMAIL, owner=rep, department=rep.department)
    rows = list(exporting.export_rows(exporting.export_kind("leads"), user=rep))
    assert MOBILE_MASKED in rows[1] and "邮箱" not in rows[0]
    _no_secrets(repr(rows))


def test_lead_pages_and_api_mask(rep):  # type: ignore[no-untyped-def]
    from kehu.leads.models import Lead

    sales = role("sales")
    sales.field_access = {"lead.mobile": "masked", "lead.email": "hidden"}
    sales.permissions = sorted(role_permissions(sales) | {"lead.reveal"})
    sales.save()
    lead = Lead.objects.create(name="王五", mobile=MOBILE, mobile_e164="+8613812345678", email=EMAIL, owner=rep,
                               department=rep.department)
    client = Client()
    client.force_login(rep)
    for url in (reverse("leads:detail", args=[lead.pk]), reverse("leads:list")):
        page = client.get(url).content.decode()
        assert MOBILE_MASKED in page
        _no_secrets(page)
    api = Api(rep)
    item = api.get(f"/leads/{lead.pk}").json()
    assert item["mobile"] == MOBILE_MASKED and item["mobile_e164"] == MOBILE_MASKED and item["email"] is None
    assert api.get("/leads").json()["items"][0]["mobile"] == MOBILE_MASKED
    revealed = client.post(reverse("customers:reveal", args=["lead", lead.pk, "mobile"]))
    assert MOBILE in revealed.content.decode()
    assert AuditEvent.objects.get(action="reveal").object_type == "lead"


# Duplicate warnings, mail merge, iCalendar ------------------------------------------------------


def test_duplicate_warning_follows_the_field_policy(rep, customer):  # type: ignore[no-untyped-def]
    from kehu.dataquality.duplicates import likely_duplicates

    warnings = likely_duplicates({"kind": "person", "name": "张三", "phones": [MOBILE], "province": "北京市",
                                  "city": "北京市", "district": "海淀区", "address": STREET, "id_number": ID},
                                 user=rep)
    assert warnings and warnings[0].visible
    text = " ".join(w.reasons for w in warnings)
    assert MOBILE_MASKED in text
    _no_secrets(text)


def test_mail_merge_fields_follow_the_sender_policy(rep, customer):  # type: ignore[no-untyped-def]
    from kehu.mailing import rendering

    context = rendering.merge_context(customer=customer, contact=customer.contacts.get(), sender=rep)
    mail = rendering.render_mail(subject="{{ customer.name }}",
                                 body="{{ customer.phone }} {{ customer.email }} {{ customer.address }} "
                                      "{{ customer.birthday }} {{ contact.mobile }} [{{ contact.email }}]",
                                 context=context)
    assert mail.body.startswith(f"{MOBILE_MASKED} {EMAIL_MASKED} ****") and "[]" in mail.body
    _no_secrets(mail.body)
    full = rendering.merge_context(customer=customer, sender=UserFactory(role=role("admin")))
    assert full["customer"]["phone"] == MOBILE


def test_ical_feed_carries_no_protected_value(rep, customer):  # type: ignore[no-untyped-def]
    from kehu.activities.models import FollowUp, FollowUpKind
    from kehu.activities.selectors import ical_feed

    FollowUp.objects.create(customer=customer, owner=rep, kind=FollowUpKind.objects.get(code="call"),
                            content="拜访", occurred_at=timezone.now(), address=f"北京市海淀区{STREET}")
    feed = ical_feed(user=rep).decode()
    assert "LOCATION:北京市海淀区****" in feed
    _no_secrets(feed)


# Writes ----------------------------------------------------------------------------------------


def test_masked_value_posted_back_never_overwrites(web, rep, customer):  # type: ignore[no-untyped-def]
    page = web.get(reverse("customers:edit", args=[customer.pk]))
    form = page.context["form"]
    data = {name: ("" if value is None else value) for name, value in form.initial.items()}
    data.update({"name": "张三丰", "_loaded": page.context["loaded"], "id_number": ID_MASKED,
                 "phones": f"{MOBILE_MASKED}, {LANDLINE_MASKED}"})
    response = web.post(reverse("customers:edit", args=[customer.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = Customer.objects.get(pk=customer.pk)
    assert saved.name == "张三丰" and saved.id_number == ID and saved.phones == [MOBILE, LANDLINE]
    assert saved.emails == [EMAIL] and saved.address == STREET and saved.birthday is not None

    # The API: a masked value sent back is ignored, a new value for a locked field refused naming it.
    api = Api(rep)
    item = api.get(f"/customers/{customer.pk}").json()
    ok = api.patch(f"/customers/{customer.pk}", {"version": item["version"], "id_number": ID_MASKED,
                                                 "phones": item["phones"], "short_name": "三"})
    assert ok.status_code == 200, ok.content
    assert Customer.objects.get(pk=customer.pk).id_number == ID
    version = ok.json()["version"]
    refused = api.patch(f"/customers/{customer.pk}", {"version": version, "id_number": "110101199003071234"})
    assert refused.status_code == 422
    assert error_of(refused)["errors"][0]["field"] == "id_number"
    assert Customer.objects.get(pk=customer.pk).id_number == ID


def test_contact_locked_fields(rep, customer):  # type: ignore[no-untyped-def]
    contact = customer.contacts.get()
    with pytest.raises(ValidationFailed) as refused:
        services.contact_update(acting_user=rep, contact=contact, data={"wechat": "other"})
    assert refused.value.errors[0].field == "wechat"  # read_only
    services.contact_update(acting_user=rep, contact=contact, data={"mobile": CONTACT_MOBILE_MASKED, "email": None,
                                                                     "title": "经理"})
    contact = Contact.objects.get(pk=contact.pk)
    assert contact.mobile == CONTACT_MOBILE and contact.email == "li.si@example.com" and contact.title == "经理"


def test_create_may_fill_masked_fields_but_not_hidden_ones(rep):  # type: ignore[no-untyped-def]
    created = services.customer_create(acting_user=rep, data={"kind": "person", "name": "赵六", "id_number": ID})
    assert created.id_number == ID
    with pytest.raises(ValidationFailed) as refused:
        services.customer_create(acting_user=rep, data={"kind": "person", "name": "钱七", "birthday": "1990-01-01"})
    assert refused.value.errors[0].field == "birthday"


# Reveal ----------------------------------------------------------------------------------------


def test_reveal_needs_the_permission_and_writes_no_event_when_denied(rep, customer):  # type: ignore[no-untyped-def]
    api = Api(rep)
    response = api.post(f"/customers/{customer.pk}/reveal", {"field": "id_number"})
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="reveal").exists()


def test_reveal_api_returns_the_value_and_logs_who_when_which_field(rep, customer):  # type: ignore[no-untyped-def]
    _grant_reveal()
    api = Api(rep)
    response = api.post(f"/customers/{customer.pk}/reveal", {"field": "id_number"})
    assert response.status_code == 200 and response.json() == {"field": "id_number", "value": ID}
    event = AuditEvent.objects.get(action="reveal")
    assert (event.actor_id, event.object_type, event.object_id, event.customer_id) == (rep.pk, "customer",
                                                                                        customer.pk, customer.pk)
    assert event.changes == [{"field": "id_number", "old": None, "new": None}] and event.at is not None
    assert ID not in repr(event.changes) and ID not in event.object_repr
    assert api.post(f"/customers/{customer.pk}/reveal", {"field": "phones"}).json()["value"] == [MOBILE, LANDLINE]
    contact = customer.contacts.get()
    assert api.post(f"/contacts/{contact.pk}/reveal", {"field": "mobile"}).json()["value"] == CONTACT_MOBILE
    # Hidden fields can't be revealed; unprotected fields have nothing to reveal; nothing logged for either.
    assert api.post(f"/contacts/{contact.pk}/reveal", {"field": "email"}).status_code == 403
    assert api.post(f"/customers/{customer.pk}/reveal", {"field": "name"}).status_code == 422
    assert AuditEvent.objects.filter(action="reveal").count() == 3
    timeline = api.get(f"/customers/{customer.pk}/timeline").content.decode()
    assert "查看了客户 张三 的完整身份证号" in timeline and "查看了联系人 李四 的完整手机" in timeline
    _no_secrets(timeline)


def test_reveal_outside_the_scope_is_not_found(rep):  # type: ignore[no-untyped-def]
    _grant_reveal()
    other = CustomerFactory(owner=UserFactory(), id_number=ID)
    assert Api(rep).post(f"/customers/{other.pk}/reveal", {"field": "id_number"}).status_code == 404
    assert not AuditEvent.objects.filter(action="reveal").exists()


def test_reveal_button_htmx(web, rep, customer):  # type: ignore[no-untyped-def]
    url = reverse("customers:reveal", args=["customer", customer.pk, "id_number"])
    assert web.post(url, HTTP_HX_REQUEST="true").status_code == 403
    _grant_reveal()
    response = web.post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and ID in response.content.decode()
    assert AuditEvent.objects.filter(action="reveal", actor=rep).count() == 1
    assert web.get(url).status_code == 405


def test_reveal_is_rate_limited(settings, rep, customer):  # type: ignore[no-untyped-def]
    settings.KEHU_REVEAL_PER_HOUR = 2
    _grant_reveal()
    api = Api(rep)
    codes = [api.post(f"/customers/{customer.pk}/reveal", {"field": "id_number"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert AuditEvent.objects.filter(action="reveal").count() == 2


def test_merge_compare_page_shows_protected_values_masked(rep, customer, web):
    """The side-by-side merge page is an output too: a rep who sees phones, e-mails and the ID
    masked on the customer page sees them masked there, while still picking which record's value
    survives."""
    twin = CustomerFactory(owner=rep, kind="person", name="张三", phones=["13812345679"],
                           phones_e164=["+8613812345679"], emails=["zhang.san@example.org"],
                           id_number="110105194912310037", province="北京市", city="北京市", district="海淀区")
    page = web.get(reverse("dataquality:merge_compare"), {"ids": [customer.pk, twin.pk]})
    assert page.status_code == 200
    html = page.content.decode()
    assert MOBILE_MASKED in html and ID_MASKED in html and EMAIL_MASKED in html
    for full in (MOBILE, "13812345679", ID, "110105194912310037", EMAIL, "zhang.san@example.org", STREET):
        assert full not in html
    assert f'name="choice_id_number" value="{twin.pk}"' in html  # the choice is still there


def test_contact_duplicate_review_shows_contact_numbers_as_the_policy_says(rep, customer):
    """The duplicate-contact queue (page and API) masks contact mobiles and leaves out hidden e-mails."""
    from kehu.dataquality import scan_selectors

    services.contact_create(acting_user=rep, customer=customer, data={"name": "李先生", "mobile": CONTACT_MOBILE})
    views, _more = scan_selectors.contact_pairs_page(user=rep, customer_id=customer.pk)
    assert len(views) == 1
    people = (views[0].a, views[0].b)
    assert {p.mobile for p in people} == {CONTACT_MOBILE_MASKED}
    assert {p.email for p in people} == {""}  # contact.email is hidden for this role
    admin_views, _more = scan_selectors.contact_pairs_page(user=UserFactory(role=role("admin")),
                                                           customer_id=customer.pk)
    assert {p.mobile for p in (admin_views[0].a, admin_views[0].b)} == {CONTACT_MOBILE}


def test_lead_writes_respect_field_access(rep):
    """A masked lead mobile sent back as shown changes nothing; a new value is refused (422) and the
    stored one survives; a new lead may still be entered with its number."""
    from kehu.leads import services as lead_services
    from kehu.leads.models import Lead

    sales = role("sales")
    sales.field_access = {"lead.mobile": "masked"}
    sales.save()
    rep.refresh_from_db()
    created = lead_services.lead_create(acting_user=rep, data={"name": "王五", "mobile": MOBILE}).lead
    assert Lead.objects.get(pk=created.pk).mobile == MOBILE
    lead_services.lead_update(acting_user=rep, lead_id=created.pk, data={"mobile": MOBILE_MASKED, "title": "经理"})
    stored = Lead.objects.get(pk=created.pk)
    assert (stored.mobile, stored.title) == (MOBILE, "经理")
    with pytest.raises(ValidationFailed) as refused:
        lead_services.lead_update(acting_user=rep, lead_id=created.pk, data={"mobile": "13900001111"})
    assert [e.field for e in refused.value.errors] == ["mobile"]
    assert Lead.objects.get(pk=created.pk).mobile == MOBILE
