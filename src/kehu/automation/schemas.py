"""Request and response shapes of /api/v1/automation/."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field

from kehu.customers.schemas import InputSchema, OutputSchema


class ActionIn(InputSchema):
    type: str = Field(description="Action type: assign_owner, send_mail, create_task, update_field, add_tag, "
                                  "remove_tag, move_to_pool, notify, webhook")
    params: dict[str, Any] = Field(default_factory=dict)


class AutomationRuleIn(InputSchema):
    name: str
    description: str = ""
    object_type: str = Field("customer", description="customer, lead or opportunity")
    trigger: str = Field(description="created, updated, deleted, field_changed, stage_changed, followup_logged, "
                                     "date_offset, inactive, schedule")
    trigger_params: dict[str, Any] = Field(default_factory=dict)
    conditions: dict[str, Any] = Field(default_factory=dict,
                                       description="The list view's query-string filters, e.g. {\"city\": \"上海\"}")
    actions: list[ActionIn]
    is_active: bool = True
    run_as: int | None = None


class RulePatch(InputSchema):
    name: str | None = None
    description: str | None = None
    object_type: str | None = None
    trigger: str | None = None
    trigger_params: dict[str, Any] | None = None
    conditions: dict[str, Any] | None = None
    actions: list[ActionIn] | None = None
    is_active: bool | None = None
    run_as: int | None = None
    version: int | None = Field(None, description="The version you loaded (optimistic locking)")


class AutomationRuleOut(OutputSchema):
    id: int
    name: str
    description: str
    object_type: str
    trigger: str
    trigger_params: dict[str, Any]
    conditions: dict[str, Any]
    actions: list[dict[str, Any]]
    is_active: bool
    run_as: int | None
    created_by: int | None
    template_key: str
    version: int
    webhook_secret: str
    created_at: dt.datetime
    updated_at: dt.datetime


class DryRunOut(OutputSchema):
    count: int
    sample: list[dict[str, Any]]
    list_url: str
    time_based: bool
    run_id: int | None


class RunOut(OutputSchema):
    id: int
    trigger: str
    period: str
    record_id: int | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    matched: int
    acted: int
    failed: int
    status: str
    dry_run: bool
    message: str


class LogOut(OutputSchema):
    id: int
    run_id: int | None
    object_type: str
    record_id: int
    customer_id: int | None
    action_index: int
    action_type: str
    status: str
    attempts: int
    error: str
    detail: str
    key: str
    at: dt.datetime
