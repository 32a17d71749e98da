"""The duplicate review queue on the web and in the API: scoped to what the user may see, reasons in
words with masked values, "not a duplicate" through HTMX, and the scan job with its progress."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from kehu.core.models import Job
from kehu.customers.models import Customer
from kehu.dataquality import scanning
from kehu.dataquality.models import DistinctPair, DuplicatePair, DuplicateStatus
from tests.api_client import Api, error_of
from tests.factories import AdminFactory, CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

QUEUE = reverse("dataquality:duplicates")
SCAN = reverse("dataquality:duplicates_scan_start")


def company(name: str, owner: Any, **fields: Any) -> Customer:
    return CustomerFactory(kind="company", name=name, owner=owner, **fields)


@pytest.fixture
def setup(db: Any) -> dict[str, Any]:
    """Rep A's two records of 分扬科技 (same mobile), and rep B's record of it too (same credit
    code as A's first): A may see only the first pair, an admin all three."""
    rep_a, rep_b = UserFactory(), UserFactory()
    a1 = company("北京分扬科技有限公司", rep_a, phones=["13812345678"], credit_code="91110105MA01ABCD2X")
    a2 = company("分扬科技（北京）有限公司", rep_a, phones=["+86 138 1234 5678"])
    b1 = company("分扬科技有限公司", rep_b, credit_code="91110105MA01ABCD2X", phones=["13900001111"])
    scanning.duplicates_scan(full=True)
    return {"rep_a": rep_a, "rep_b": rep_b, "a1": a1, "a2": a2, "b1": b1, "admin": AdminFactory()}


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def pair_of(x: Customer, y: Customer) -> DuplicatePair:
    low, high = sorted((x.pk, y.pk))
    return DuplicatePair.objects.get(low_id=low, high_id=high)


def test_rep_sees_only_pairs_of_customers_they_can_see_with_masked_reasons(setup):
    page = logged_in(setup["rep_a"]).get(QUEUE)
    assert page.status_code == 200
    text = page.content.decode()
    assert f'data-pair="{pair_of(setup["a1"], setup["a2"]).pk}"' in text
    assert f'data-pair="{pair_of(setup["a1"], setup["b1"]).pk}"' not in text
    assert "同一手机号 138****5678" in text
    assert "13812345678" not in text
    assert "不是重复" in text
    assert f'{reverse("dataquality:merge_compare")}?ids={setup["a1"].pk},{setup["a2"].pk}' in text
    assert "duplicates_scan_start" not in text and SCAN not in text  # only admins start scans


def test_admin_sees_every_pair_grouped_in_one_cluster(setup):
    text = logged_in(setup["admin"]).get(QUEUE).content.decode()
    ids = sorted(c.pk for c in (setup["a1"], setup["a2"], setup["b1"]))
    pairs = DuplicatePair.objects.filter(status=DuplicateStatus.OPEN)
    assert pairs.count() == 3
    assert text.count('class="card dq-cluster"') == 1
    assert f'data-cluster="{ids[0]}"' in text
    for pair in pairs:
        assert f'data-pair="{pair.pk}"' in text
    assert "整组比较合并" in text
    assert SCAN in text


def test_queue_shows_reasons_in_english_for_english_users(setup):
    client = logged_in(setup["rep_a"])
    text = client.get(QUEUE, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "same mobile 138****5678" in text


def test_filters_by_verdict_and_status(setup):
    client = logged_in(setup["admin"])
    review = client.get(QUEUE, {"verdict": "review"}).content.decode()
    certain_pairs = DuplicatePair.objects.filter(verdict="certain")
    assert all(f'data-pair="{p.pk}"' not in review for p in certain_pairs)
    dismissed = client.get(QUEUE, {"status": "dismissed"}).content.decode()
    assert "data-pair=" not in dismissed


def test_not_a_duplicate_through_htmx_swaps_the_row_and_is_remembered(setup):
    pair = pair_of(setup["a1"], setup["a2"])
    client = logged_in(setup["rep_a"])
    response = client.post(reverse("dataquality:duplicate_dismiss", args=[pair.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    text = response.content.decode()
    assert f'id="pair-{pair.pk}"' in text and 'data-status="dismissed"' in text
    pair.refresh_from_db()
    assert pair.status == DuplicateStatus.DISMISSED and pair.decided_by == setup["rep_a"]
    assert DistinctPair.objects.filter(low_id=pair.low_id, high_id=pair.high_id).exists()
    assert f'data-pair="{pair.pk}"' not in client.get(QUEUE).content.decode()


def test_a_rep_cannot_dismiss_a_pair_outside_their_scope(setup):
    pair = pair_of(setup["a1"], setup["b1"])
    response = logged_in(setup["rep_a"]).post(reverse("dataquality:duplicate_dismiss", args=[pair.pk]))
    assert response.status_code == 404
    pair.refresh_from_db()
    assert pair.status == DuplicateStatus.OPEN
    assert not DistinctPair.objects.exists()


def test_admin_starts_a_scan_and_sees_its_progress(setup):
    client = logged_in(setup["admin"])
    response = client.post(SCAN, {"full": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    job = Job.objects.get(kind=scanning.SCAN_JOB)
    assert job.status == Job.Status.DONE and job.params == {"full": True}
    text = response.content.decode()
    assert 'role="progressbar"' in text and 'aria-valuenow="100"' in text
    assert "全量扫描" in text
    progress = client.get(reverse("dataquality:duplicates_scan_progress", args=[job.pk]))
    assert progress.status_code == 200 and f'id="scan-job-{job.pk}"' in progress.content.decode()


def test_a_running_scan_polls_for_progress(setup):
    job = scanning.duplicates_scan_job_create(acting_user=setup["admin"], full=False)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, done=1, total=3, message="比较候选客户对")
    text = logged_in(setup["admin"]).get(reverse("dataquality:duplicates_scan_progress", args=[job.pk])).content \
        .decode()
    assert 'hx-trigger="every 1s"' in text
    assert 'aria-valuenow="33"' in text
    assert "比较候选客户对" in text


def test_only_admins_start_scans(setup):
    client = logged_in(setup["rep_a"])
    assert client.post(SCAN).status_code == 403
    assert not Job.objects.filter(kind=scanning.SCAN_JOB).exists()


def test_queue_page_query_count_does_not_grow_with_pairs(setup, django_assert_max_num_queries):
    client = logged_in(setup["admin"])
    client.get(QUEUE)  # warm the session and translation caches
    for n, brand in enumerate(("星河电子", "启明软件", "恒生医药", "东软物流", "浪潮机械", "紫光食品", "同方贸易",
                               "金蝶咨询", "用友环保", "方正教育")):
        company(f"杭州{brand}有限公司", setup["rep_a"], phones=[f"1370000{n:04d}"])
        company(brand, setup["rep_b"], phones=[f"1370000{n:04d}"])
    scanning.duplicates_scan(full=True)
    with django_assert_max_num_queries(10):
        response = client.get(QUEUE)
    assert response.content.decode().count('class="card dq-cluster"') == 11
    for pair in DuplicatePair.objects.all():  # decided pairs show who decided, without a query each
        scanning.duplicate_pair_dismiss(acting_user=setup["admin"], pair_id=pair.pk)
    with django_assert_max_num_queries(10):
        response = client.get(QUEUE, {"status": "dismissed"})
    assert response.content.decode().count('data-status="dismissed"') == DuplicatePair.objects.count()


# API ---------------------------------------------------------------------------------------------


def test_api_lists_scoped_pairs_with_reasons(setup):
    body = Api(setup["rep_a"]).get("/quality/duplicates").json()
    assert len(body["items"]) == 1
    item = body["items"][0]
    assert {c["id"] for c in item["customers"]} == {setup["a1"].pk, setup["a2"].pk}
    assert item["verdict"] == "certain" and item["status"] == "open"
    assert item["reasons"][0] == {"code": "phone.same_mobile", "text": "同一手机号 138****5678",
                                  "weight": item["reasons"][0]["weight"]}
    assert body["counts"] == {"certain": 1, "review": 0}
    everything = Api(setup["admin"]).get("/quality/duplicates", {"limit": 2}).json()
    assert len(everything["items"]) == 2 and everything["next_cursor"]
    rest = Api(setup["admin"]).get("/quality/duplicates", {"limit": 2, "cursor": everything["next_cursor"]}).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None


def test_api_rejects_unknown_filters(setup):
    response = Api(setup["admin"]).get("/quality/duplicates", {"verdict": "maybe"})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "unknown_choice", error


def test_api_dismiss_and_scan_job(setup):
    admin = Api(setup["admin"])
    pair = pair_of(setup["a1"], setup["b1"])
    assert Api(setup["rep_a"]).post(f"/quality/duplicates/{pair.pk}/dismiss", {}).status_code == 404
    dismissed = admin.post(f"/quality/duplicates/{pair.pk}/dismiss", {})
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"

    assert Api(setup["rep_a"]).post("/quality/duplicates/scan", {"full": True}).status_code == 403
    started = admin.post("/quality/duplicates/scan", {"full": True})
    assert started.status_code == 202
    job = started.json()
    assert job["status"] == "done" and job["full"] is True
    assert job["result"]["customers"] == 3 and job["result"]["found"] == 2  # the dismissed pair stays out
    status = admin.get(f"/quality/duplicates/scan/{job['id']}").json()
    assert status["done"] == status["total"] == 3
    assert admin.get("/quality/duplicates/scan/999999").status_code == 404
