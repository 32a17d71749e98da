"""The opportunity edit form after someone else saved (issue 8, concurrent edits): refused (409),
nothing written, the user's input kept, and the panel shows the other person's changes."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from kehu.customers.services import customer_create
from kehu.sales import services
from kehu.sales.models import Opportunity
from tests.etag_checks import state
from tests.factories import ManagerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(db):  # type: ignore[no-untyped-def]
    return UserFactory(display_name="李销售")


@pytest.fixture
def web(client, rep):  # type: ignore[no-untyped-def]
    client.force_login(rep)
    return client


@pytest.fixture
def deal(rep):  # type: ignore[no-untyped-def]
    customer = customer_create(acting_user=rep, data={"name": "北京分扬科技有限公司"})
    return services.opportunity_create(acting_user=rep, data={"name": "年度采购", "customer": customer.pk,
                                                              "next_step": "约演示"})


def loaded_form(client: Any, deal: Opportunity) -> dict[str, Any]:
    response = client.get(reverse("sales:detail", args=[deal.pk]))
    assert response.status_code == 200
    data = {k: v for k, v in response.context["form"].initial.items() if v is not None}
    data.update({"_loaded": response.context["loaded"], "lines-TOTAL_FORMS": "0", "lines-INITIAL_FORMS": "0"})
    return data


def test_conflict_shows_the_other_persons_change_and_keeps_my_input(web, rep, deal) -> None:
    data = loaded_form(web, deal)
    manager = ManagerFactory(department=rep.department, display_name="赵经理")
    services.opportunity_update(acting_user=manager, opportunity_id=deal.pk, data={"next_step": "发报价"})
    before = state(deal)
    data.update({"description": "我补充的说明"})

    response = web.post(reverse("sales:detail", args=[deal.pk]), data)

    assert response.status_code == 409
    assert state(deal) == before
    changes = {c.name: c for c in response.context["changes"]}
    assert set(changes) == {"next_step", "description"}
    assert (changes["next_step"].loaded, changes["next_step"].current) == ("约演示", "发报价")
    assert changes["description"].edited_by_me and not changes["description"].changed_by_others
    body = response.content.decode()
    assert 'data-testid="edit-conflict"' in body and "重新载入" in body and "赵经理" in body
    assert "我补充的说明" in body
