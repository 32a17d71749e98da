"""The recycle bin over /api/v1/ and the web page."""

from __future__ import annotations

from django.test import Client

from kehu.customers.models import Customer
from kehu.customers.services import customer_delete
from kehu.recyclebin.models import RecycleBinEntry
from tests.api_client import Api, error_of
from tests.factories import CustomerFactory


def test_api_list_restore_and_purge(rep, other_rep, admin, customer) -> None:
    customer_delete(acting_user=rep, customer=customer)
    entry = RecycleBinEntry.objects.get()
    api = Api(rep)

    listed = api.get("/recyclebin")
    assert listed.status_code == 200
    item = listed.json()["items"][0]
    assert (item["id"], item["object_type"], item["object_id"], item["label"]) == (
        entry.pk, "customer", customer.pk, "北京回收测试科技有限公司")
    assert item["deleted_by_id"] == rep.pk and listed.json()["next_after"] is None
    assert api.get("/recyclebin", {"object_type": "lead"}).json()["items"] == []
    assert api.get("/recyclebin", {"q": "回收"}).json()["items"][0]["id"] == entry.pk

    # Another rep: not listed, restore is 404 and changes nothing; a rep may not purge.
    stranger = Api(other_rep)
    assert stranger.get("/recyclebin").json()["items"] == []
    refused = stranger.post(f"/recyclebin/{entry.pk}/restore", {})
    assert refused.status_code == 404 and error_of(refused)["code"] == "not_found"
    assert api.delete(f"/recyclebin/{entry.pk}").status_code == 403
    assert not Customer.objects.filter(pk=customer.pk).exists() and RecycleBinEntry.objects.filter(
        pk=entry.pk, restored_at__isnull=True).exists()

    restored = api.post(f"/recyclebin/{entry.pk}/restore", {})
    assert restored.status_code == 200
    assert restored.json() == {"object_type": "customer", "object_id": customer.pk}
    assert api.get(f"/customers/{customer.pk}").status_code == 200
    assert api.post(f"/recyclebin/{entry.pk}/restore", {}).status_code == 404  # once only

    customer_delete(acting_user=rep, customer=Customer.objects.get(pk=customer.pk))
    again = RecycleBinEntry.objects.get(restored_at__isnull=True)
    assert Api(admin).delete(f"/recyclebin/{again.pk}").status_code == 204
    assert not RecycleBinEntry.objects.filter(pk=again.pk).exists()


def test_deleted_customer_is_gone_from_the_api(rep, customer) -> None:
    api = Api(rep)
    assert api.delete(f"/customers/{customer.pk}").status_code in (200, 204)
    assert api.get(f"/customers/{customer.pk}").status_code == 404
    assert all(row["id"] != customer.pk for row in api.get("/customers").json()["items"])
    assert RecycleBinEntry.objects.filter(object_type="customer", object_id=customer.pk).exists()


def test_api_restore_refusal_is_a_clear_422(rep, customer) -> None:
    from kehu.customers.models import Contact
    from kehu.customers.services import contact_delete

    contact = Contact.objects.create(customer=customer, name="赵敏")
    contact_delete(acting_user=rep, contact=contact)
    customer_delete(acting_user=rep, customer=customer)
    entry = RecycleBinEntry.objects.get(object_type="contact")
    response = Api(rep).post(f"/recyclebin/{entry.pk}/restore", {})
    assert response.status_code == 422
    assert "回收站" in error_of(response)["message"]


def test_bin_page_lists_and_restores_with_htmx(rep, other_rep) -> None:
    mine = CustomerFactory(owner=rep, name="网页回收测试有限公司")
    theirs = CustomerFactory(owner=other_rep, name="别人的有限公司")
    customer_delete(acting_user=rep, customer=mine)
    customer_delete(acting_user=other_rep, customer=theirs)
    client = Client(enforce_csrf_checks=False)
    client.force_login(rep)

    page = client.get("/bin/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "网页回收测试有限公司" in body and "别人的有限公司" not in body
    assert 'data-testid="nav-recyclebin"' in body
    entry = RecycleBinEntry.objects.get(object_id=mine.pk)
    assert f"/bin/{entry.pk}/purge/" not in body and f"/bin/{entry.pk}/restore/" in body  # reps do not purge

    answer = client.post(f"/bin/{entry.pk}/restore/", HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and "已恢复" in answer.content.decode()
    assert f"/customers/{mine.pk}/" in answer.content.decode()
    assert Customer.objects.filter(pk=mine.pk).exists()

    other_entry = RecycleBinEntry.objects.get(object_id=theirs.pk)
    assert client.post(f"/bin/{other_entry.pk}/restore/").status_code == 404
    assert client.post(f"/bin/{other_entry.pk}/purge/").status_code == 403
    assert RecycleBinEntry.objects.filter(pk=other_entry.pk, restored_at__isnull=True).exists()


def test_bin_page_plain_post_redirects_and_admin_purges(rep, admin) -> None:
    customer = CustomerFactory(owner=rep)
    customer_delete(acting_user=rep, customer=customer)
    entry = RecycleBinEntry.objects.get()
    client = Client()
    client.force_login(admin)
    assert f"/bin/{entry.pk}/purge/" in client.get("/bin/", {"type": "customer"}).content.decode()
    response = client.post(f"/bin/{entry.pk}/purge/")
    assert response.status_code == 302 and response["Location"] == "/bin/"
    assert not RecycleBinEntry.objects.exists()
