"""Waitlist contracts: staff put a thread's patient on the waitlist for a type (optionally one
provider) between two local dates, and see, renew (once expired) or remove their entries."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

EntryState = Literal["waiting", "offered", "booked", "removed", "expired"]


class WaitlistIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type_id: int
    provider_id: int | None = Field(None, description="only this provider; default: any at the location")
    earliest: dt.date = Field(description="first local date the patient could come")
    latest: dt.date = Field(description="last local date the patient could come")

    @model_validator(mode="after")
    def _ordered(self) -> WaitlistIn:
        if self.latest < self.earliest:
            raise ValueError("latest must not be before earliest")
        if (self.latest - self.earliest).days > 366:
            raise ValueError("a waitlist entry can span at most a year")
        return self


class WaitlistRenewIn(BaseModel):
    """Renewing an expired entry: new dates are needed only when its latest date has passed."""

    model_config = ConfigDict(extra="forbid")

    earliest: dt.date | None = Field(None, description="new first local date; default: the entry's own")
    latest: dt.date | None = Field(None, description="new last local date; default: the entry's own")

    @model_validator(mode="after")
    def _ordered(self) -> WaitlistRenewIn:
        if self.earliest and self.latest and (self.latest - self.earliest).days > 366:
            raise ValueError("a waitlist entry can span at most a year")
        return self


class WaitlistEntryOut(BaseModel):
    id: int
    conversation_id: int
    location_id: int
    type_id: int
    type_name: str
    provider_id: int | None
    provider_name: str | None
    earliest: dt.date
    latest: dt.date
    state: EntryState
    expires_at: dt.datetime = Field(
        description="after this the entry is offered nothing (and is marked expired)"
    )
    last_day: dt.date = Field(description="the last local date at the location before it expires")
    created_at: dt.datetime
