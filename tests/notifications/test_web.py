"""The notifications page, HTMX mark read, the bell's unread count in the nav, and the API."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from kehu.notifications import services
from kehu.notifications.models import Notification
from tests.api_client import Api, error_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():  # type: ignore[no-untyped-def]
    return UserFactory()


@pytest.fixture
def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _badge(html: str) -> str:
    start = html.index('id="notification-badge"')
    return html[start:html.index("</span>", start)]


def test_bell_in_the_nav_shows_the_unread_count_without_a_query(web, user, django_assert_num_queries) -> None:
    services.notify(user=user, title="一")
    services.notify(user=user, title="二")
    html = web.get(reverse("customers:list")).content.decode()
    assert 'data-testid="nav-bell"' in html
    assert f'hx-get="{reverse("notifications:badge")}"' in _badge(html)  # cold cache: the bell asks
    badge = web.get(reverse("notifications:badge")).content.decode()
    assert _badge(badge).endswith(">2") and " hidden" not in _badge(badge)
    with django_assert_num_queries(0):
        from django.test import RequestFactory

        from kehu.notifications.context_processors import unread_notifications

        request = RequestFactory().get("/")
        request.user = user
        assert unread_notifications(request)["unread_notifications"]() == 2  # warm: from the cache
    html = web.get(reverse("customers:list")).content.decode()
    assert _badge(html).endswith(">2")
    services.mark_all_read(acting_user=user)
    web.get(reverse("notifications:badge"))
    assert " hidden" in _badge(web.get(reverse("customers:list")).content.decode())


def test_list_page_shows_only_own_notifications_and_filters_unread(web, user) -> None:
    services.notify(user=user, title="我的未读通知", body="第一行\n第二行", url="/customers/")
    read = services.notify(user=user, title="我的已读通知")
    services.mark_read(acting_user=user, notification_id=read.pk)
    services.notify(user=UserFactory(), title="别人的通知")
    html = web.get(reverse("notifications:list")).content.decode()
    assert "我的未读通知" in html and "我的已读通知" in html and "别人的通知" not in html
    assert "第一行<br>第二行" in html
    html = web.get(reverse("notifications:list"), {"unread": "1"}).content.decode()
    assert "我的未读通知" in html and "我的已读通知" not in html


def test_htmx_mark_read_swaps_the_row_and_the_badge(web, user) -> None:
    n = services.notify(user=user, title="待读")
    services.notify(user=user, title="另一条")
    response = web.post(reverse("notifications:read", args=[n.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="notification-{n.pk}"' in html and "mark-read" not in html
    assert 'hx-swap-oob="true"' in html and _badge(html).endswith(">1")
    n.refresh_from_db()
    assert n.read_at is not None


def test_cannot_mark_someone_elses_notification(web) -> None:
    theirs = services.notify(user=UserFactory(), title="别人的")
    assert web.post(reverse("notifications:read", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_open_marks_read_and_follows_only_local_links(web, user) -> None:
    local = services.notify(user=user, title="本地", url="/contracts/")
    remote = services.notify(user=user, title="外部", url="https://evil.example.com/")
    response = web.get(reverse("notifications:open", args=[local.pk]))
    assert response.status_code == 302 and response["Location"] == "/contracts/"
    response = web.get(reverse("notifications:open", args=[remote.pk]))
    assert response["Location"] == reverse("notifications:list")
    assert Notification.objects.filter(read_at__isnull=True).count() == 0


def test_read_all(web, user) -> None:
    services.notify(user=user, title="一")
    services.notify(user=user, title="二")
    response = web.post(reverse("notifications:read_all"))
    assert response.status_code == 302
    assert Notification.objects.filter(user=user, read_at__isnull=True).count() == 0


def test_login_required(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get(reverse("notifications:list")).status_code == 302


def test_api_list_count_read_and_read_all(user) -> None:
    api = Api(user)
    first = services.notify(user=user, title="一", kind="task.due")
    services.notify(user=user, title="二")
    theirs = services.notify(user=UserFactory(), title="别人的")
    body = api.get("/notifications").json()
    assert body["total"] == 2 and body["unread"] == 2
    assert [i["title"] for i in body["items"]] == ["二", "一"]
    assert api.get("/notifications/unread-count").json() == {"unread": 2}
    response = api.post(f"/notifications/{first.pk}/read", {})
    assert response.status_code == 200 and response.json()["is_read"] is True
    assert api.get("/notifications", {"unread": "true"}).json()["total"] == 1
    response = api.post(f"/notifications/{theirs.pk}/read", {})
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    assert api.post("/notifications/read-all", {}).json() == {"marked": 1}
    assert api.get("/notifications/unread-count").json() == {"unread": 0}


def test_api_requires_authentication(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/notifications/unread-count").status_code == 401


def test_list_query_count_does_not_grow_with_rows(web, user) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import CustomerFactory

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert web.get(reverse("notifications:list")).status_code == 200
        return len(ctx)

    customer = CustomerFactory(owner=user)
    for n in range(3):
        services.notify(user=user, title=f"通知{n}", customer_id=customer.pk)
    web.get(reverse("notifications:list"))  # warm the session
    few = count()
    for n in range(20):
        services.notify(user=user, title=f"更多通知{n}", customer_id=CustomerFactory(owner=user).pk)
    assert count() == few
