"""Duplicate contacts within one customer on the web: the review queue (scoped, filtered, "not the
same person" through HTMX), the compare-and-merge page, the merge record with its undo, the notice
on the customer page, the warning when a contact is entered again, and the timeline wording."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer
from kehu.dataquality.merging.contacts import contacts_merge
from kehu.dataquality.models import ContactDuplicatePair, ContactMerge, DistinctContactPair, DuplicateStatus
from tests.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db

QUEUE = reverse("dataquality:contact_duplicates")
COMPARE = reverse("dataquality:contact_merge_compare")


def logged_in(user: Any, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def add(user: Any, customer: Customer, **data: Any) -> Contact:
    return customer_services.contact_create(acting_user=user, customer=customer, data=data)


@pytest.fixture
def setup(db: Any) -> dict[str, Any]:
    """Rep A's customer with 张伟 entered twice (same mobile), rep B's customer with 王芳 twice."""
    rep_a, rep_b = UserFactory(), UserFactory()
    ours = customer_services.customer_create(acting_user=rep_a, data={"name": "北京分扬科技有限公司"})
    theirs = customer_services.customer_create(acting_user=rep_b, data={"name": "上海另一家贸易有限公司"})
    first = add(rep_a, ours, name="张伟", mobile="13812345678", phone="010-65529988", notes="老客户")
    second = add(rep_a, ours, name="张先生", mobile="138 1234 5678", email="zw@fenyang.cn", title="采购经理")
    other1 = add(rep_b, theirs, name="王芳", email="wf@another.cn")
    other2 = add(rep_b, theirs, name="王芳", email="WF@another.cn")
    return {"rep_a": rep_a, "rep_b": rep_b, "ours": ours, "theirs": theirs, "first": first, "second": second,
            "other1": other1, "other2": other2,
            "pair": ContactDuplicatePair.objects.get(customer_id=ours.pk),
            "their_pair": ContactDuplicatePair.objects.get(customer_id=theirs.pk)}


# The queue ---------------------------------------------------------------------------------------------


def test_queue_shows_only_pairs_of_customers_in_scope(setup):
    page = logged_in(setup["rep_a"]).get(QUEUE)
    assert page.status_code == 200
    text = page.content.decode()
    assert f'data-contact-pair="{setup["pair"].pk}"' in text
    assert f'data-contact-pair="{setup["their_pair"].pk}"' not in text
    assert "北京分扬科技有限公司" in text and "上海另一家贸易有限公司" not in text
    assert "<strong>张伟</strong>" in text and "<strong>张</strong>" in text  # 张先生: the salutation is split off
    assert "采购经理" in text and "zw@fenyang.cn" in text
    assert "首要" in text  # the first contact of a customer is its primary one
    assert f'{COMPARE}?ids={setup["first"].pk},{setup["second"].pk}' in text
    assert "不是同一人" in text
    assert reverse("customers:detail", args=[setup["ours"].pk]) in text


def test_admin_sees_both_and_filters_by_verdict_and_status(setup):
    client = logged_in(AdminFactory())
    text = client.get(QUEUE).content.decode()
    assert f'data-contact-pair="{setup["pair"].pk}"' in text and f'data-contact-pair="{setup["their_pair"].pk}"' in text
    verdict = setup["pair"].verdict
    other = "review" if verdict == "certain" else "certain"
    assert f'data-contact-pair="{setup["pair"].pk}"' in client.get(QUEUE, {"verdict": verdict}).content.decode()
    filtered = client.get(QUEUE, {"verdict": other}).content.decode()
    assert all(f'data-contact-pair="{p.pk}"' not in filtered
               for p in ContactDuplicatePair.objects.filter(verdict=verdict))
    dismissed = client.get(QUEUE, {"status": "dismissed"}, HTTP_HX_REQUEST="true")
    assert dismissed.status_code == 200
    body = dismissed.content.decode()
    assert "data-contact-pair=" not in body and 'id="contact-pair-results"' in body and "<html" not in body


def test_queue_pages(setup, monkeypatch):
    from kehu.dataquality import contact_views

    monkeypatch.setattr(contact_views, "CONTACT_PAIRS_PAGE", 1)
    client = logged_in(AdminFactory())
    first = client.get(QUEUE).content.decode()
    assert first.count("data-contact-pair=") == 1 and 'rel="next"' in first and 'rel="prev"' not in first
    second = client.get(QUEUE, {"page": "2"}).content.decode()
    assert second.count("data-contact-pair=") == 1 and 'rel="prev"' in second and 'rel="next"' not in second


def test_not_the_same_person_through_htmx_swaps_the_row_and_is_remembered(setup):
    pair = setup["pair"]
    client = logged_in(setup["rep_a"])
    response = client.post(reverse("dataquality:contact_pair_dismiss", args=[pair.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    text = response.content.decode()
    assert f'id="contact-pair-{pair.pk}"' in text and 'data-status="dismissed"' in text and "<html" not in text
    pair.refresh_from_db()
    assert pair.status == DuplicateStatus.DISMISSED and pair.decided_by == setup["rep_a"]
    assert DistinctContactPair.objects.filter(low_id=pair.low_id, high_id=pair.high_id).exists()
    assert f'data-contact-pair="{pair.pk}"' not in client.get(QUEUE).content.decode()
    assert f'data-contact-pair="{pair.pk}"' in client.get(QUEUE, {"status": "dismissed"}).content.decode()


def test_dismiss_without_htmx_redirects_back(setup):
    pair = setup["pair"]
    response = logged_in(setup["rep_a"]).post(reverse("dataquality:contact_pair_dismiss", args=[pair.pk]),
                                              {"next": QUEUE + "?verdict=review"})
    assert response.status_code == 302 and response["Location"] == QUEUE + "?verdict=review"
    pair.refresh_from_db()
    assert pair.status == DuplicateStatus.DISMISSED


def test_a_rep_cannot_dismiss_a_pair_outside_their_scope(setup):
    pair = setup["their_pair"]
    response = logged_in(setup["rep_a"]).post(reverse("dataquality:contact_pair_dismiss", args=[pair.pk]))
    assert response.status_code == 404
    pair.refresh_from_db()
    assert pair.status == DuplicateStatus.OPEN
    assert not DistinctContactPair.objects.exists()


def test_posts_need_the_csrf_token(setup):
    client = logged_in(setup["rep_a"], enforce_csrf_checks=True)
    pair = setup["pair"]
    assert client.post(reverse("dataquality:contact_pair_dismiss", args=[pair.pk])).status_code == 403
    ids = f'{setup["first"].pk},{setup["second"].pk}'
    assert client.post(COMPARE, {"ids": ids}).status_code == 403
    merge = contacts_merge(acting_user=setup["rep_a"], survivor_id=setup["first"].pk, merged_ids=[setup["second"].pk])
    assert client.post(reverse("dataquality:contact_merge_undo", args=[merge.pk])).status_code == 403
    assert not Contact.objects.filter(pk=setup["second"].pk).exists()
    pair.refresh_from_db()
    assert pair.status == DuplicateStatus.MERGED and not DistinctContactPair.objects.exists()


def test_the_customer_queue_links_to_the_contact_queue_with_its_count(setup):
    text = logged_in(setup["rep_a"]).get(reverse("dataquality:duplicates")).content.decode()
    assert f'href="{QUEUE}"' in text and "重复联系人 (1)" in text


# Compare and merge -------------------------------------------------------------------------------------


def test_compare_page_shows_both_contacts_radios_versions_and_notes(setup):
    first, second = setup["first"], setup["second"]
    response = logged_in(setup["rep_a"]).get(COMPARE, {"ids": f"{second.pk},{first.pk}"})
    assert response.status_code == 200
    text = response.content.decode()
    assert f'data-contact="{first.pk}"' in text and f'data-contact="{second.pk}"' in text
    assert "张伟" in text and "采购经理" in text
    assert f'name="version_{first.pk}" value="{first.version}"' in text
    assert f'name="version_{second.pk}" value="{second.version}"' in text
    assert f'name="choice_name" value="{first.pk}"' in text and f'name="choice_name" value="{second.pk}"' in text
    assert f'name="survivor" value="{first.pk}"' in text  # the primary contact survives by default
    assert 'data-testid="merged-notes"' in text and "老客户" in text
    assert "北京分扬科技有限公司" in text


def test_merge_keeps_the_values_chosen_and_deletes_the_other_contact(setup):
    first, second, customer = setup["first"], setup["second"], setup["ours"]
    client = logged_in(setup["rep_a"])
    response = client.post(COMPARE, {
        "ids": f"{first.pk},{second.pk}", "survivor": str(first.pk),
        "choice_name": str(first.pk), "choice_title": str(second.pk), "choice_email": str(second.pk),
        f"version_{first.pk}": str(first.version), f"version_{second.pk}": str(second.version),
    })
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:detail", args=[customer.pk])
    assert not Contact.objects.filter(pk=second.pk).exists()
    survivor = Contact.objects.get(pk=first.pk)
    assert (survivor.name, survivor.title, survivor.email) == ("张伟", "采购经理", "zw@fenyang.cn")
    merge = ContactMerge.objects.get()
    assert merge.survivor_id == first.pk and merge.merged_ids == [second.pk]
    page = client.get(response["Location"]).content.decode()
    assert "已合并 1 个重复联系人，30 天内可以撤销" in page
    assert f"合并了重复联系人 张（#{second.pk}）" in page  # the timeline's wording for contacts
    assert reverse("dataquality:contact_merge_undo", args=[merge.pk]) in page and "撤销" in page


def test_merge_with_the_other_contact_surviving(setup):
    first, second = setup["first"], setup["second"]
    client = logged_in(setup["rep_a"])
    text = client.get(COMPARE, {"ids": f"{first.pk},{second.pk}", "survivor": str(second.pk)}).content.decode()
    assert f'name="survivor" value="{second.pk}"' in text
    response = client.post(COMPARE, {"ids": f"{first.pk},{second.pk}", "survivor": str(second.pk),
                                     "choice_name": str(second.pk)})
    assert response.status_code == 302
    assert not Contact.objects.filter(pk=first.pk).exists()
    assert Contact.objects.get(pk=second.pk).name == "张"


def test_a_stale_version_is_shown_on_the_page_and_nothing_changes(setup):
    first, second = setup["first"], setup["second"]
    response = logged_in(setup["rep_a"]).post(COMPARE, {
        "ids": f"{first.pk},{second.pk}", f"version_{second.pk}": str(second.version - 1)})
    assert response.status_code == 422
    assert 'data-testid="merge-error"' in response.content.decode()
    assert Contact.objects.filter(pk__in=[first.pk, second.pk]).count() == 2
    assert not ContactMerge.objects.exists()


def test_a_value_from_outside_the_merge_is_refused_with_422(setup):
    first, second = setup["first"], setup["second"]
    response = logged_in(setup["rep_a"]).post(COMPARE, {"ids": f"{first.pk},{second.pk}",
                                                        "choice_name": str(setup["other1"].pk)})
    assert response.status_code == 422
    assert "取值必须来自参与合并的联系人" in response.content.decode()
    assert Contact.objects.filter(pk__in=[first.pk, second.pk]).count() == 2


def test_contacts_of_two_customers_are_refused_with_422(setup):
    admin = AdminFactory()
    response = logged_in(admin).get(COMPARE, {"ids": f'{setup["first"].pk},{setup["other1"].pk}'})
    assert response.status_code == 422
    assert "只能合并同一客户下的联系人" in response.content.decode()


def test_contacts_out_of_scope_are_404(setup):
    client = logged_in(setup["rep_a"])
    ids = f'{setup["other1"].pk},{setup["other2"].pk}'
    assert client.get(COMPARE, {"ids": ids}).status_code == 404
    assert client.post(COMPARE, {"ids": ids}).status_code == 404
    assert Contact.objects.filter(pk__in=[setup["other1"].pk, setup["other2"].pk]).count() == 2
    assert client.get(COMPARE, {"ids": "999998,999999"}).status_code == 404


def test_not_the_same_person_from_the_compare_page(setup):
    first, second = setup["first"], setup["second"]
    response = logged_in(setup["rep_a"]).post(reverse("dataquality:contact_not_duplicate"),
                                              {"ids": f"{first.pk},{second.pk}", "next": QUEUE})
    assert response.status_code == 302 and response["Location"] == QUEUE
    assert DistinctContactPair.objects.filter(low_id=first.pk, high_id=second.pk).exists()


# Record and undo ---------------------------------------------------------------------------------------


def test_undo_restores_the_merged_contact(setup):
    first, second, customer = setup["first"], setup["second"], setup["ours"]
    merge = contacts_merge(acting_user=setup["rep_a"], survivor_id=first.pk, merged_ids=[second.pk])
    client = logged_in(setup["rep_a"])
    record = client.get(reverse("dataquality:contact_merge_record", args=[merge.pk]))
    assert record.status_code == 200 and "<dd>张</dd>" in record.content.decode()
    response = client.post(reverse("dataquality:contact_merge_undo", args=[merge.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:detail", args=[customer.pk])
    assert Contact.objects.get(pk=second.pk).name == "张"
    merge.refresh_from_db()
    assert merge.undone_at is not None
    page = client.get(response["Location"]).content.decode()
    assert "已撤销联系人合并，恢复了联系人 张<" in page
    assert f"撤销联系人合并，恢复了联系人 张（#{second.pk}）" in page  # the timeline entry
    assert "这次合并已撤销" in client.get(reverse("dataquality:contact_merge_record", args=[merge.pk])).content.decode()


def test_undo_refused_lists_the_conflicts(setup):
    first, second = setup["first"], setup["second"]
    merge = contacts_merge(acting_user=setup["rep_a"], survivor_id=first.pk, merged_ids=[second.pk])
    customer_services.contact_update(acting_user=setup["rep_a"], contact=Contact.objects.get(pk=first.pk),
                                     data={"title": "总经理"})
    response = logged_in(setup["rep_a"]).post(reverse("dataquality:contact_merge_undo", args=[merge.pk]))
    assert response.status_code == 409
    text = response.content.decode()
    assert 'data-testid="undo-conflicts"' in text and "又被修改过" in text
    assert not Contact.objects.filter(pk=second.pk).exists()


def test_merge_record_and_undo_of_another_reps_customer_are_404(setup):
    merge = contacts_merge(acting_user=setup["rep_b"], survivor_id=setup["other1"].pk,
                           merged_ids=[setup["other2"].pk])
    client = logged_in(setup["rep_a"])
    assert client.get(reverse("dataquality:contact_merge_record", args=[merge.pk])).status_code == 404
    assert client.post(reverse("dataquality:contact_merge_undo", args=[merge.pk])).status_code == 404
    assert not Contact.objects.filter(pk=setup["other2"].pk).exists()
    merge.refresh_from_db()
    assert merge.undone_at is None


# The customer page ---------------------------------------------------------------------------------------


def test_customer_page_names_the_open_pairs_with_a_merge_link(setup):
    first, second = setup["first"], setup["second"]
    text = logged_in(setup["rep_a"]).get(reverse("customers:detail", args=[setup["ours"].pk])).content.decode()
    assert "发现 1 对疑似重复的联系人" in text
    assert f'{COMPARE}?ids={first.pk},{second.pk}' in text


def test_contact_form_warns_about_the_same_person_under_this_customer(setup):
    customer = setup["ours"]
    client = logged_in(setup["rep_a"])
    url = reverse("customers:contact_create", args=[customer.pk])
    response = client.post(url, {"name": "张伟先生", "mobile": "13812345678"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'data-testid="contact-duplicate-warnings"' in text
    assert f'data-contact="{setup["first"].pk}"' in text and "138****5678" in text
    assert 'name="confirm_duplicates"' in text
    assert Contact.objects.filter(customer=customer).count() == 2
    saved = client.post(url, {"name": "张伟先生", "mobile": "13812345678", "confirm_duplicates": "1"},
                        HTTP_HX_REQUEST="true")
    assert saved.status_code == 200
    assert Contact.objects.filter(customer=customer).count() == 3


def test_contact_form_saves_a_new_person_without_a_warning(setup):
    customer = setup["ours"]
    response = logged_in(setup["rep_a"]).post(reverse("customers:contact_create", args=[customer.pk]),
                                              {"name": "李强", "mobile": "13900001111"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "contact-duplicate-warnings" not in response.content.decode()
    assert Contact.objects.filter(customer=customer, name="李强").exists()


# Escaping ------------------------------------------------------------------------------------------------


def test_html_in_contact_names_is_escaped_everywhere(setup):
    rep, customer = setup["rep_a"], setup["ours"]
    evil = "<script>x</script>"
    a = add(rep, customer, name=evil, email="evil@fenyang.cn")
    b = add(rep, customer, name=evil, email="EVIL@fenyang.cn")
    client = logged_in(rep)
    pages = [client.get(QUEUE), client.get(COMPARE, {"ids": f"{a.pk},{b.pk}"}),
             client.get(reverse("customers:detail", args=[customer.pk])),
             client.post(reverse("customers:contact_create", args=[customer.pk]),
                         {"name": evil, "email": "evil@fenyang.cn"}, HTTP_HX_REQUEST="true")]
    merge = contacts_merge(acting_user=rep, survivor_id=a.pk, merged_ids=[b.pk])
    pages += [client.get(reverse("dataquality:contact_merge_record", args=[merge.pk])),
              client.get(reverse("customers:detail", args=[customer.pk]))]
    for page in pages:
        text = page.content.decode()
        assert evil not in text, page.request["PATH_INFO"]
        assert "&lt;script&gt;x&lt;/script&gt;" in text, page.request["PATH_INFO"]
