"""Office analytics and the audit report on the wire: figures per location and date range, drill-downs."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_DAYS = 366


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RangeQuery(_Strict):
    """A location and a range of its local calendar days, both ends included."""

    location_id: int = Field(ge=1, description="the location whose figures to compute")
    start: dt.date = Field(description="first local day of the range (YYYY-MM-DD)")
    end: dt.date = Field(description="last local day of the range, included (YYYY-MM-DD)")

    @model_validator(mode="after")
    def _ordered(self) -> RangeQuery:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        if (self.end - self.start).days + 1 > MAX_DAYS:
            raise ValueError(f"a range can be at most {MAX_DAYS} days")
        return self


class PhoneDay(_Strict):
    date: dt.date
    calls: int
    answered: int
    missed: int


class PhoneFigures(_Strict):
    """Calls that started in the range; missed: inbound calls nobody answered (voicemail, abandoned too)."""

    calls: int
    inbound: int
    outbound: int
    answered: int
    missed: int
    answer_rate: float | None = Field(description="answered / (answered + missed), 4 places")
    recovered: int = Field(description="missed calls followed within a day by a staff reply, call or booking")
    recovery_rate: float | None
    average_wait_seconds: float | None = Field(description="start to answer, answered inbound calls")
    voicemails: int
    days: list[PhoneDay]


class ChannelCount(_Strict):
    channel: Literal["sms", "email"]
    inbound: int
    outbound: int


class MessageDay(_Strict):
    date: dt.date
    inbound: int
    outbound: int


class ResponseTimes(_Strict):
    """Waits for a first staff reply, in business-hours seconds (median; 90th percentile by nearest rank)."""

    answered: int
    median_seconds: float | None
    p90_seconds: float | None


class MessageFigures(_Strict):
    channels: list[ChannelCount]
    inbound: int
    outbound: int
    first_response: ResponseTimes
    unanswered: int = Field(
        description="conversations with a wait from the range still unanswered"
    )
    days: list[MessageDay]


class StaffRow(_Strict):
    user_id: int
    name: str
    conversations: int = Field(description="conversations the staff member replied in or answered a call of")
    calls_answered: int
    messages_sent: int


class Figures(_Strict):
    location_id: int
    timezone: str
    start: dt.date
    end: dt.date
    generated_at: dt.datetime
    phones: PhoneFigures
    messages: MessageFigures
    staff: list[StaffRow]


Figure = Literal[
    "calls",
    "answered",
    "missed",
    "recovered",
    "unrecovered",
    "voicemails",
    "inbound",
    "outbound",
    "responded",
    "unanswered",
    "staff",
]


class DrillQuery(RangeQuery):
    figure: Figure = Field(description="which figure's conversations to list")
    staff_id: int | None = Field(None, ge=1, description="for figure=staff: whose conversations")

    @model_validator(mode="after")
    def _staff(self) -> DrillQuery:
        if (self.figure == "staff") != (self.staff_id is not None):
            raise ValueError("staff_id goes with figure=staff, and only with it")
        return self


class DrillDown(_Strict):
    figure: Figure
    conversation_ids: list[int] = Field(description="the conversations behind the figure, newest id first")
