"""Demo deals for `kehu setup --demo-customers N`: customers in the opportunity, customer and repeat
lifecycle stages get deals in the default pipeline — open ones spread over the stages with close
dates in the coming months, won ones for customers, lost ones with reasons — with their stage
history, so the board, the forecast and the funnel have something to show."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from django.utils import timezone

from kehu.sales import rollups
from kehu.sales.models import LostReason, Opportunity, Pipeline, Product, StageChange, StageKind

PRODUCTS = [("KH-STD", "客户管理系统 标准版（年）", "套", "9800"),
            ("KH-PRO", "客户管理系统 专业版（年）", "套", "19800"),
            ("KH-IMPL", "实施与数据迁移服务", "人天", "2500"), ("KH-TRAIN", "现场培训", "场", "6000")]
NEXT_STEPS = ("发报价", "约演示", "等对方采购流程", "")
DEAL_NAMES = ("年度采购", "系统升级", "新门店上线", "数据迁移项目", "续约", "二期扩容", "渠道合作", "培训服务")


def load_demo_deals(customers: Sequence[Any], users: dict[str, Any], seed: int, say: Callable[[str], None]) -> str:
    rng = random.Random(seed * 31 + 7)
    pipeline = Pipeline.objects.filter(is_default=True).first()
    if pipeline is None:
        return "商机：没有默认销售流程，跳过"
    for code, name, unit, price in PRODUCTS:
        Product.objects.get_or_create(code=code, defaults={"name": name, "unit": unit, "list_price": Decimal(price)})
    stages = list(pipeline.stages.order_by("position"))
    open_stages = [s for s in stages if s.kind == StageKind.OPEN]
    won = next(s for s in stages if s.kind == StageKind.WON)
    lost = next(s for s in stages if s.kind == StageKind.LOST)
    reasons = list(LostReason.objects.all())
    now = timezone.now()
    today = timezone.localdate()
    deals: list[Opportunity] = []
    paths: list[list[Any]] = []
    for customer in customers:
        code = customer.stage.code if customer.stage_id else ""
        if code not in ("opportunity", "customer", "repeat") or customer.owner_id is None:
            continue
        count = {"opportunity": 1, "customer": 2, "repeat": 3}[code]
        for i in range(count):
            created = max(customer.created_at, now - dt.timedelta(days=rng.randint(5, 400)))
            if code != "opportunity" and i == 0:
                final = won
            elif rng.random() < 0.2:
                final = lost
            else:
                final = rng.choice(open_stages)
            if final.kind == StageKind.OPEN:  # it went through every open stage up to its own
                path = [s for s in open_stages if s.position <= final.position]
            elif final == won:
                path = [*open_stages, won]
            else:  # lost somewhere along the way
                path = [*open_stages[:rng.randint(1, len(open_stages))], lost]
            reached = [s for s in path if s.kind != StageKind.LOST]
            amount = Decimal(rng.choice((8, 12, 20, 30, 50, 80, 120, 200, 350))) * 1000
            close = today + dt.timedelta(days=rng.randint(-20, 150)) if final.kind == StageKind.OPEN else None
            closed_at = created + dt.timedelta(days=rng.randint(10, 90)) if final.kind != StageKind.OPEN else None
            closed_at = min(closed_at, now) if closed_at else None
            deals.append(Opportunity(
                name=f"{customer.short_name or customer.name[:8]}{rng.choice(DEAL_NAMES)}", customer=customer,
                owner_id=customer.owner_id, department_id=customer.department_id, pipeline=pipeline, stage=final,
                amount=amount, expected_close_date=close or (closed_at.date() if closed_at else None),
                next_step=rng.choice(NEXT_STEPS) if final.kind == StageKind.OPEN else "",
                lost_reason=rng.choice(reasons) if final == lost and reasons else None,
                stage_entered_at=closed_at or created + dt.timedelta(days=rng.randint(0, 30)),
                closed_at=closed_at, created_at=created, updated_at=closed_at or created,
                created_by_id=customer.owner_id, updated_by_id=customer.owner_id,
                reached_position=reached[-1].position if reached else -1, position=-len(deals),
            ))
            paths.append(path)
    Opportunity.objects.bulk_create(deals, batch_size=500)
    changes = []
    for deal, path in zip(deals, paths, strict=True):
        at, previous = deal.created_at, None
        for step in path:
            changes.append(StageChange(opportunity=deal, from_stage=previous, to_stage=step, changed_at=at,
                                       changed_by_id=deal.owner_id, amount=deal.amount,
                                       seconds_in_previous=None if previous is None else int(
                                           (at - changes[-1].changed_at).total_seconds())))
            previous = step
            at = min(at + dt.timedelta(days=rng.randint(2, 20)), now)
    StageChange.objects.bulk_create(changes, batch_size=1000)
    rollups.rollups_rebuild()
    return f"商机：{len(deals)}（阶段记录 {len(changes)}）"
