"""Demo follow-ups and tasks for `kehu setup --demo-customers N`: owned customers get a few
follow-ups over the last months (calls, visits with a check-in, WeChat ...), some with a planned
next follow-up as an open task; every demo user gets tasks overdue, due today and in the coming
days, so "My day" and the calendar have something to show. Deterministic for a seed; rows are
bulk-inserted (no events: the automation engine must not act on demo history)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from django.utils import timezone

from kehu.customers.models import Contact, Customer

from .models import FollowUp, FollowUpContact, FollowUpKind, Task, TaskPriority, TaskStatus

MAX_FOLLOWUPS = 20000
CONTENTS = {
    "call": ("电话沟通了采购计划，对方在比较两家供应商", "确认了演示时间", "对方负责人出差，约下周再联系"),
    "visit": ("上门拜访，参观了仓库和门店", "现场演示了移动端，反馈不错", "和财务一起梳理了对账流程"),
    "meeting": ("线上会议：需求评审", "与技术负责人过了一遍集成方案"),
    "wechat": ("微信发了报价单", "微信确认了合同条款的修改", "发了案例资料"),
    "email": ("邮件发送了正式报价", "邮件回复了安全问卷"),
    "note": ("客户年底预算收紧，需要关注", "竞争对手报价低 15%"),
}
OUTCOMES = ("有意向", "待报价", "需再次沟通", "已约演示", "", "")
NEXT_STEPS = ("发报价", "约演示", "回访", "催合同", "确认需求")
TASK_TITLES = ("准备季度回访名单", "整理报价单", "提交合同审批", "更新商机阶段", "回复客户邮件", "安排培训",
               "确认回款进度", "拜访前准备资料")
# Somewhere in 上海 / 北京 for the visit check-ins.
PLACES = ((Decimal("31.230416"), Decimal("121.473701"), "上海市黄浦区人民大道"),
          (Decimal("39.908823"), Decimal("116.397470"), "北京市东城区东长安街"),
          (Decimal("22.543096"), Decimal("114.057865"), "深圳市福田区深南大道"))


def load_demo_activities(customers: Sequence[Any], users: dict[str, Any], seed: int,
                         say: Callable[[str], None]) -> str:
    rng = random.Random(seed * 41 + 13)
    kinds = {k.code: k for k in FollowUpKind.objects.filter(is_active=True)}
    if not kinds:
        return "跟进：没有跟进方式，跳过"
    codes = [c for c in ("call", "visit", "meeting", "wechat", "email", "note") if c in kinds]
    now = timezone.now()
    owned = [c for c in customers if c.owner_id]
    contact_of: dict[int, list[int]] = {}
    wanted = {c.pk for c in owned[:MAX_FOLLOWUPS // 2]}
    for pk, customer_id in Contact.objects.filter(customer_id__in=wanted).values_list("pk", "customer_id"):
        contact_of.setdefault(customer_id, []).append(pk)
    followups: list[FollowUp] = []
    plans: list[tuple[FollowUp, dt.datetime, str]] = []
    latest: dict[int, dt.datetime] = {}
    for customer in owned:
        if len(followups) >= MAX_FOLLOWUPS:
            break
        for _i in range(rng.choice((0, 1, 1, 2, 3))):
            code = rng.choice(codes)
            at = max(customer.created_at, now - dt.timedelta(days=rng.randint(0, 120), hours=rng.randint(0, 10)))
            followup = FollowUp(customer_id=customer.pk, kind=kinds[code], owner_id=customer.owner_id,
                                occurred_at=at, content=rng.choice(CONTENTS[code]), outcome=rng.choice(OUTCOMES),
                                created_at=at, updated_at=at, created_by_id=customer.owner_id,
                                updated_by_id=customer.owner_id)
            if code == "visit":
                lat, lng, address = rng.choice(PLACES)
                followup.latitude, followup.longitude, followup.address = lat, lng, address
                followup.accuracy_m, followup.checked_in_at = float(rng.randint(5, 60)), at
            if rng.random() < 0.25:
                followup.next_step = rng.choice(NEXT_STEPS)
                followup.next_followup_at = (now + dt.timedelta(days=rng.randint(-3, 14))).replace(
                    hour=rng.choice((9, 10, 14, 16)), minute=0, second=0, microsecond=0)
                plans.append((followup, followup.next_followup_at, customer.name))
            followups.append(followup)
            latest[customer.pk] = max(latest.get(customer.pk, at), at)
    FollowUp.objects.bulk_create(followups, batch_size=1000)
    links = []
    for followup in followups:
        people = contact_of.get(followup.customer_id)
        if people and rng.random() < 0.6:
            links.append(FollowUpContact(followup=followup, contact_id=rng.choice(people)))
    FollowUpContact.objects.bulk_create(links, batch_size=1000)
    tasks = [Task(title=f"{followup.next_step}（{name}）", description=followup.next_step,
                  assignee_id=followup.owner_id, due_at=due, customer_id=followup.customer_id, followup=followup,
                  created_by_id=followup.owner_id, updated_by_id=followup.owner_id,
                  reminded_due_at=due if due < now else None)
             for followup, due, name in plans]
    by_owner: dict[int, list[Any]] = {}
    for customer in owned:
        by_owner.setdefault(customer.owner_id, []).append(customer)
    for user in users.values():
        mine = by_owner.get(user.pk, [])
        for _i in range(6):
            due = (now + dt.timedelta(days=rng.randint(-4, 10))).replace(hour=rng.choice((9, 11, 15, 17)), minute=30,
                                                                       second=0, microsecond=0)
            done = due < now and rng.random() < 0.5
            tasks.append(Task(title=rng.choice(TASK_TITLES), assignee_id=user.pk, due_at=due,
                              priority=rng.choice(TaskPriority.values),
                              status=TaskStatus.DONE if done else TaskStatus.OPEN,
                              completed_at=due if done else None,
                              customer_id=rng.choice(mine).pk if mine and rng.random() < 0.7 else None,
                              created_by_id=user.pk, updated_by_id=user.pk, reminded_due_at=due if due < now else None))
    Task.objects.bulk_create(tasks, batch_size=1000)
    touched = list(latest)
    for start in range(0, len(touched), 2000):  # "last contacted" follows the newest demo follow-up
        changed = []
        for customer in Customer.objects.filter(pk__in=touched[start:start + 2000]).only("pk", "last_activity_at"):
            at = latest[customer.pk]
            if customer.last_activity_at is None or customer.last_activity_at < at:
                customer.last_activity_at = at
                changed.append(customer)
        Customer.objects.bulk_update(changed, ["last_activity_at"], batch_size=1000)
    return f"跟进：{len(followups)}，任务：{len(tasks)}"
