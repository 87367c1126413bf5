"""Scheduling contracts: providers, appointment types, working hours, time off, holidays, slot searches
and appointments on the wire."""

from __future__ import annotations

import datetime as dt
import string
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from schemas.text import OneLine
from schemas.voice import WEEKDAYS, Weekday

Status = Literal["scheduled", "confirmed", "checked_in", "completed", "cancelled", "no_show"]
NewStatus = Literal["confirmed", "checked_in", "completed", "cancelled", "no_show"]
PLACEHOLDERS = ("first_name", "practice", "location", "date", "time", "provider", "type")
Colour = Field("#4a90d9", pattern=r"^#[0-9a-fA-F]{6}$", description="a CSS hex colour, #rrggbb")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProviderIn(_Strict):
    name: OneLine = Field(min_length=1, max_length=120)
    location_ids: list[int] = Field(min_length=1, max_length=50, description="where they see patients")


class ProviderUpdate(ProviderIn):
    active: bool = Field(True, description="false retires the provider: no new bookings")


class ProviderOut(_Strict):
    id: int
    name: str
    location_ids: list[int]
    active: bool


class AppointmentTypeIn(_Strict):
    name: OneLine = Field(min_length=1, max_length=120)
    duration_minutes: int = Field(ge=5, le=8 * 60)
    buffer_minutes: int = Field(0, ge=0, le=4 * 60, description="the provider's time after it")
    colour: str = Colour
    online: bool = Field(False, description="patients may book it themselves on the booking page")


class AppointmentTypeUpdate(AppointmentTypeIn):
    active: bool = Field(True, description="false retires the type: no new bookings")


class AppointmentTypeOut(AppointmentTypeIn):
    id: int
    active: bool


class HoursEntry(_Strict):
    """A stretch of a provider's week at one location, local wall-clock time."""

    location_id: int
    weekday: Weekday
    starts: dt.time
    ends: dt.time

    @model_validator(mode="after")
    def _ordered(self) -> HoursEntry:
        if self.ends <= self.starts:
            raise ValueError("ends must be after starts")
        if self.starts.tzinfo is not None or self.ends.tzinfo is not None:
            raise ValueError("working hours are local times, without a zone")
        return self

    @property
    def weekday_number(self) -> int:
        return WEEKDAYS.index(self.weekday)


class HoursIn(_Strict):
    """A provider's whole week; it replaces the hours they had."""

    hours: list[HoursEntry] = Field(max_length=100)


class TimeOffIn(_Strict):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: str = Field("", max_length=80)

    @model_validator(mode="after")
    def _ordered(self) -> TimeOffIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class TimeOffOut(_Strict):
    id: int
    provider_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str


class HolidayIn(_Strict):
    date: dt.date
    name: OneLine = Field("Holiday", min_length=1, max_length=80)


class HolidayOut(HolidayIn):
    id: int
    location_id: int


class SlotQuery(_Strict):
    type_id: int = Field(description="the appointment type to fit")
    provider_id: int | None = Field(None, description="one provider; all of the location's by default")
    date_from: dt.date = Field(description="first local date at the location")
    date_to: dt.date = Field(description="last local date at the location (inclusive)")


class SlotOut(_Strict):
    provider_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    local_start: str = Field(description="the start in the location's time, ISO 8601 with its offset")


class ScheduleQuery(_Strict):
    date_from: dt.date = Field(description="first local date at the location")
    date_to: dt.date = Field(description="last local date at the location (inclusive)")
    provider_id: int | None = Field(None, description="only this provider's appointments")


class BookIn(_Strict):
    provider_id: int
    type_id: int
    starts_at: AwareDatetime


class RescheduleIn(_Strict):
    starts_at: AwareDatetime
    provider_id: int | None = Field(None, description="another provider at the same location")


class StatusIn(_Strict):
    status: NewStatus


class AppointmentOut(_Strict):
    id: int
    location_id: int
    conversation_id: int
    contact_id: int
    contact_name: str
    provider_id: int
    provider_name: str
    type_id: int
    type_name: str
    colour: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    local_start: str = Field(description="the start in the location's time, ISO 8601 with its offset")
    timezone: str
    status: Status


class FeedOut(_Strict):
    provider_id: int
    url: str = Field(description="the private ICS feed; anyone with it sees the provider's schedule")


class FeedQuery(_Strict):
    token: str = Field(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")


class ReminderRuleIn(_Strict):
    """A reminder sent by text or by e-mail (the subject names the visit); quiet hours apply to both."""

    minutes_before: int = Field(ge=5, le=60 * 24 * 30, description="whole days keep the visit's local time")
    channel: Literal["sms", "email"] = "sms"
    template: str = Field(
        min_length=1,
        max_length=640,
        description="placeholders: {first_name} {practice} {location} {date} {time} {provider} {type}",
    )
    quiet_from: dt.time | None = Field(None, description="local time quiet hours begin (none: any hour)")
    quiet_until: dt.time | None = Field(None, description="local time quiet hours end")
    active: bool = True

    @model_validator(mode="after")
    def _valid(self) -> ReminderRuleIn:
        check_template(self.template)
        if (self.quiet_from is None) != (self.quiet_until is None):
            raise ValueError("give both quiet_from and quiet_until, or neither")
        return self


class ReminderRuleOut(ReminderRuleIn):
    id: int


class PreviewIn(_Strict):
    template: str = Field(min_length=1, max_length=640)
    appointment_id: int | None = Field(None, description="fill it from this appointment (else a sample)")

    @model_validator(mode="after")
    def _valid(self) -> PreviewIn:
        check_template(self.template)
        return self


class PreviewOut(_Strict):
    text: str
    segments: int


def check_template(template: str) -> None:
    """Refuse placeholders we cannot fill (and broken braces), naming them, at the time rules are saved."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ValueError(f"the template's braces do not match: {exc}") from None
    unknown = sorted({f for f in fields if f not in PLACEHOLDERS})
    if unknown:
        known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise ValueError(f"unknown placeholder {{{unknown[0]}}}; use {known}")


class PublicType(_Strict):
    id: int
    name: str
    duration_minutes: int


class PublicProvider(_Strict):
    id: int
    name: str


class PublicLocationOut(_Strict):
    """What a location's booking page offers (nothing about any patient)."""

    location_id: int
    name: str
    timezone: str
    types: list[PublicType]
    providers: list[PublicProvider]


class OnlineBookingIn(_Strict):
    type_id: int
    provider_id: int
    starts_at: AwareDatetime
    first_name: str = Field(min_length=1, max_length=100, pattern=r"\S")
    last_name: str = Field(min_length=1, max_length=100, pattern=r"\S")
    phone: str = Field(min_length=7, max_length=30, description="a mobile number: the confirmation is texted")


class OnlineBookingOut(_Strict):
    """The booking as the patient made it: what they typed back to them and the slot, nothing else."""

    type_name: str
    provider_name: str
    location_name: str
    starts_at: dt.datetime
    local_start: str
    when: str
    texted: bool = Field(description="whether the confirmation text could be queued")
