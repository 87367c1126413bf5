"""Office analytics and the audit report on the wire: figures per location and date range, drill-downs."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

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
    unanswered: int = Field(description="conversations with a wait from the range still unanswered")
    days: list[MessageDay]


class StaffRow(_Strict):
    user_id: int
    name: str
    conversations: int = Field(description="conversations the staff member replied in or answered a call of")
    calls_answered: int
    messages_sent: int


class AppointmentFigures(_Strict):
    """Booked: made during the range. Visits: appointments starting in the range, cancellations aside."""

    booked: int
    self_scheduled: int = Field(description="booked with no staff member (the patient's own booking)")
    waitlist_fills: int = Field(
        description="booked by a waiting patient taking a freed slot offered from the waitlist"
    )
    visits: int
    confirmed: int
    confirmed_rate: float | None
    no_shows: int
    no_show_rate: float | None = Field(description="no-shows / visits whose time has come")
    cancelled: int


class PaymentTotals(_Strict):
    """Payment requests made in the range, in one currency; outstanding is what is still open now."""

    currency: str
    requested: int
    requested_cents: int
    collected_cents: int = Field(description="received in the range, for this location's requests")
    paid: int
    median_days_to_pay: float | None = Field(description="request to full payment, requests paid in full")
    outstanding: int
    outstanding_cents: int


class ReviewFigures(_Strict):
    requested: int
    clicked: int
    click_rate: float | None


class Figures(_Strict):
    location_id: int
    timezone: str
    start: dt.date
    end: dt.date
    generated_at: dt.datetime
    phones: PhoneFigures
    messages: MessageFigures
    staff: list[StaffRow]
    appointments: AppointmentFigures
    payments: list[PaymentTotals]
    reviews: ReviewFigures


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
    "booked",
    "waitlist_fills",
    "no_shows",
    "outstanding",
    "reviews_clicked",
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


class AuditQuery(_Strict):
    """Filters of the audit report; times are instants with a zone (ISO 8601), until excluded."""

    staff_id: int | None = Field(None, ge=1, description="only what this staff member did")
    patient_id: int | None = Field(None, ge=1, description="only records of this patient (contact id)")
    action: str | None = Field(None, pattern=r"^[a-z_]{1,32}$", description="view, update, send, export...")
    since: dt.datetime | None = Field(None, description="from this instant (with a zone)")
    until: dt.datetime | None = Field(None, description="before this instant (with a zone)")
    before_id: int | None = Field(None, ge=1, description="the next page: entries older than this id")
    limit: int = Field(100, ge=1, le=500)

    @model_validator(mode="after")
    def _zoned(self) -> AuditQuery:
        for value in (self.since, self.until):
            if value is not None and value.tzinfo is None:
                raise ValueError("since and until need a time zone")
        if self.since and self.until and self.until <= self.since:
            raise ValueError("until must be after since")
        return self


class AuditRow(_Strict):
    id: int
    at: dt.datetime
    staff_id: int | None
    staff_name: str | None
    action: str
    record_type: str
    record_id: str
    patient_id: int | None = Field(description="the patient the record belongs to, when it is a patient's")
    patient_name: str | None
    remote_addr: str | None
    detail: dict[str, Any]


class AuditPage(_Strict):
    entries: list[AuditRow]
    next_before_id: int | None = Field(description="pass as before_id for older entries; null at the end")


ExportTable = Literal[
    "phones", "phone_days", "channels", "message_days", "staff", "appointments", "payments", "reviews"
]


class ExportQuery(RangeQuery):
    table: ExportTable = Field(description="which table of the figures to export")
