"""The demo archive comes with deals whose running totals and stage histories agree."""

from __future__ import annotations

import pytest

from kehu.customers.demo import load_demo
from kehu.sales import selectors
from kehu.sales.models import Opportunity, StageChange, StageKind

pytestmark = pytest.mark.django_db


def test_demo_deals_fill_the_board_consistently() -> None:
    load_demo(customers=60, seed=3)
    deals = list(Opportunity.objects.select_related("stage", "customer__stage"))
    assert deals
    assert {d.stage.kind for d in deals} >= {StageKind.OPEN, StageKind.WON}
    assert selectors.rollup_matches_data()["equal"]
    for deal in deals:
        history = list(StageChange.objects.filter(opportunity=deal).order_by("changed_at", "id"))
        assert history[0].from_stage is None and history[-1].to_stage_id == deal.stage_id
        assert deal.customer.stage.code in ("opportunity", "customer", "repeat")
