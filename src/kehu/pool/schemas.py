"""Request and response shapes of the /api/v1 pool endpoints."""

from __future__ import annotations

import datetime as dt

from ninja import Field

from kehu.customers.schemas import InputSchema, OutputSchema


class PoolOut(OutputSchema):
    id: int
    name: str
    is_default: bool
    holding_cap: int
    daily_claim_limit: int
    reclaim_cooldown_days: int
    return_no_followup_days: int
    return_no_won_days: int
    remind_days_before: int
    exempt_open_opportunity: bool
    exempt_live_contract: bool
    claims_left: int | None = None
    holding_room: int | None = None


class PoolCustomerOut(OutputSchema):
    id: int
    name: str
    city: str
    phones: list[str]  # masked
    emails: list[str]  # masked
    entered_at: dt.datetime
    reason: str
    previous_owner: str


class PoolCustomerPage(OutputSchema):
    items: list[PoolCustomerOut]
    page: int
    pages: int
    total: int


class PoolCustomersQuery(InputSchema):
    q: str = ""
    page: int = Field(1, ge=1)


class ClaimIn(InputSchema):
    customer_id: int


class ReleaseIn(InputSchema):
    customer_id: int
    reason: str = ""
    pool_id: int | None = None


class AssignIn(InputSchema):
    customer_id: int
    user_id: int


class OwnerChangeOut(OutputSchema):
    customer_id: int
    owner_id: int | None


class ScanOut(OutputSchema):
    pools: int
    returned: int
    reminded: int


class ReminderOut(OutputSchema):
    customer_id: int
    customer_name: str
    pool_id: int
    due_at: dt.datetime
