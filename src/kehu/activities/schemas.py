"""Request and response shapes of the /api/v1 follow-up, task and "my day" endpoints."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Field, Schema

from kehu.customers.schemas import InputSchema, OutputSchema

from .models import FollowUp, FollowUpKind, Task


class FollowUpKindOut(OutputSchema):
    id: int
    code: str
    name_zh: str
    name_en: str
    label: str
    icon: str
    allows_check_in: bool
    is_active: bool


def kind_out(kind: FollowUpKind) -> dict[str, Any]:
    return {"id": kind.pk, "code": kind.code, "name_zh": kind.name_zh, "name_en": kind.name_en, "label": kind.label,
            "icon": kind.icon, "allows_check_in": kind.allows_check_in, "is_active": kind.is_active}


class Ref(OutputSchema):
    id: int
    name: str


class CheckInIn(InputSchema):
    latitude: Decimal | None = Field(None, ge=-90, le=90)
    longitude: Decimal | None = Field(None, ge=-180, le=180)
    accuracy: float | None = Field(None, description="Metres, as the browser reported")
    address: str = ""
    checked_in_at: dt.datetime | None = None


class CheckInOut(OutputSchema):
    latitude: str | None
    longitude: str | None
    accuracy_m: float | None
    address: str
    checked_in_at: dt.datetime | None
    map_url: str


class FollowUpOut(OutputSchema):
    id: int
    customer: Ref
    kind: str = Field(description="Kind code (call, visit, meeting, wechat, email, note or admin-defined)")
    kind_label: str
    content: str
    outcome: str
    occurred_at: dt.datetime
    owner_id: int | None
    contacts: list[Ref]
    opportunity: Ref | None
    next_step: str
    next_followup_at: dt.datetime | None
    next_task_id: int | None
    check_in: CheckInOut | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def followup_out(followup: FollowUp) -> dict[str, Any]:
    tasks = [t for t in followup.next_tasks.all()]
    check_in = None
    if followup.checked_in or followup.address:
        check_in = {"latitude": str(followup.latitude) if followup.latitude is not None else None,
                    "longitude": str(followup.longitude) if followup.longitude is not None else None,
                    "accuracy_m": followup.accuracy_m, "address": followup.address,
                    "checked_in_at": followup.checked_in_at, "map_url": followup.map_url}
    return {
        "id": followup.pk, "customer": {"id": followup.customer_id, "name": followup.customer.name},
        "kind": followup.kind.code, "kind_label": followup.kind.label, "content": followup.content,
        "outcome": followup.outcome, "occurred_at": followup.occurred_at, "owner_id": followup.owner_id,
        "contacts": [{"id": c.pk, "name": c.name} for c in followup.contacts.all()],
        "opportunity": {"id": followup.opportunity_id, "name": followup.opportunity.name}
        if followup.opportunity_id else None,
        "next_step": followup.next_step, "next_followup_at": followup.next_followup_at,
        "next_task_id": tasks[-1].pk if tasks else None, "check_in": check_in, "version": followup.version,
        "created_at": followup.created_at, "updated_at": followup.updated_at,
    }


class FollowUpPage(OutputSchema):
    items: list[FollowUpOut]
    total: int


class FollowUpListQuery(Schema):
    customer: int | None = None
    opportunity: int | None = None
    kind: str = Field("", description="Kind code")
    owner: int | None = None
    mine: bool = Field(False, description="Only follow-ups the caller logged")
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str = ""
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=1_000_000_000)


class FollowUpCreateIn(InputSchema):
    customer: int
    kind: str = Field(description="Kind code, e.g. call")
    content: str
    outcome: str = ""
    occurred_at: dt.datetime | None = Field(None, description="Defaults to now; not in the future")
    contacts: list[int] = []
    opportunity: int | None = None
    next_step: str = ""
    next_followup_at: dt.datetime | None = Field(None, description="Creates an open task for the author due then")
    check_in: CheckInIn | None = None


class FollowUpPatchIn(InputSchema):
    kind: str | None = None
    content: str | None = None
    outcome: str | None = None
    occurred_at: dt.datetime | None = None
    contacts: list[int] | None = None
    opportunity: int | None = None
    next_step: str | None = None
    next_followup_at: dt.datetime | None = None
    check_in: CheckInIn | None = None
    version: int | None = Field(None, description="The version you read; 409 if someone saved since")


class TaskOut(OutputSchema):
    id: int
    title: str
    description: str
    assignee: Ref
    created_by_id: int | None
    due_at: dt.datetime | None
    priority: str
    status: str
    completed_at: dt.datetime | None
    customer: Ref | None
    opportunity: Ref | None
    contract: Ref | None
    followup_id: int | None
    source_key: str | None
    overdue: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def task_out(task: Task, now: dt.datetime | None = None) -> dict[str, Any]:
    return {
        "id": task.pk, "title": task.title, "description": task.description,
        "assignee": {"id": task.assignee_id, "name": str(task.assignee)}, "created_by_id": task.created_by_id,
        "due_at": task.due_at, "priority": task.priority, "status": task.status, "completed_at": task.completed_at,
        "customer": {"id": task.customer_id, "name": task.customer.name} if task.customer_id else None,
        "opportunity": {"id": task.opportunity_id, "name": task.opportunity.name} if task.opportunity_id else None,
        "contract": {"id": task.contract_id, "name": task.contract.number} if task.contract_id else None,
        "followup_id": task.followup_id, "source_key": task.source_key, "overdue": task.is_overdue(now),
        "version": task.version, "created_at": task.created_at, "updated_at": task.updated_at,
    }


class TaskPage(OutputSchema):
    items: list[TaskOut]
    total: int


class TaskListQuery(Schema):
    mine: bool = Field(False, description="Only tasks assigned to the caller")
    assignee: int | None = None
    status: str = Field("", description="open, done or cancelled; empty for any")
    due_from: dt.date | None = None
    due_to: dt.date | None = None
    customer: int | None = None
    opportunity: int | None = None
    overdue: bool = False
    q: str = ""
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=1_000_000_000)


class TaskCreateIn(InputSchema):
    title: str
    assignee: int | None = Field(None, description="User id; defaults to the caller")
    due_at: dt.datetime | None = None
    priority: str = "normal"
    description: str = ""
    customer: int | None = None
    opportunity: int | None = None
    contract: int | None = None
    source_key: str | None = Field(None, description="Idempotency key: the same key returns the existing task")


class TaskPatchIn(InputSchema):
    title: str | None = None
    assignee: int | None = None
    due_at: dt.datetime | None = None
    priority: str | None = None
    description: str | None = None
    customer: int | None = None
    opportunity: int | None = None
    contract: int | None = None
    status: str | None = Field(None, description="open, done or cancelled")
    version: int | None = None


class InstalmentOut(OutputSchema):
    id: int
    contract: Ref
    customer: Ref
    sequence: int
    due_date: dt.date
    amount: str
    outstanding: str
    overdue: bool


class ContractDueOut(OutputSchema):
    id: int
    number: str
    title: str
    customer: Ref
    ends_on: dt.date | None


class PoolReminderOut(OutputSchema):
    customer: Ref
    pool: str
    due_at: dt.datetime


class MyDayOut(OutputSchema):
    date: dt.date
    overdue_tasks: list[TaskOut]
    today_tasks: list[TaskOut]
    overdue_followups: list[TaskOut]
    today_followups: list[TaskOut]
    upcoming: list[TaskOut]
    pool_reminders: list[PoolReminderOut]
    instalments: list[InstalmentOut]
    contracts_expiring: list[ContractDueOut]
    done_today: int
