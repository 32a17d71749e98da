"""Request and response shapes of the /api/v1 privacy endpoints."""

from __future__ import annotations

import datetime as dt

from ninja import Field

from kehu.customers.schemas import InputSchema, OutputSchema


class ConsentIn(InputSchema):
    purpose: str = Field(description="marketing_mail, sms, phone, data_processing, third_party, cross_border")
    source: str = Field(description="form, import, verbal, web_form")
    granted: bool = True
    contact_id: int | None = None
    note: str = Field("", max_length=500)


class ConsentOut(OutputSchema):
    id: int
    customer_id: int
    contact_id: int | None
    purpose: str
    granted: bool
    source: str
    recorded_at: dt.datetime
    recorded_by_id: int | None
    withdrawn_at: dt.datetime | None
    note: str
    active: bool


class EraseIn(InputSchema):
    confirmation: str = Field(description="The customer's current name, typed in full")


class ErasureOut(OutputSchema):
    id: int
    customer_id: int
    erased_at: dt.datetime
    erased_by_id: int | None
    counts: dict[str, int]
