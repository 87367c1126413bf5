"""Phone contracts: a location's call set-up, the voice webhooks we accept, calls on the wire, events."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.text import OneLine
from schemas.twilio import SID

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def identity(user_id: int) -> str:
    """A staff member's softphone identity (letters, digits and underscore, as the SDKs require)."""
    return f"staff_{user_id}"


def user_of(identity_or_address: str) -> int | None:
    """The staff id behind `client:staff_12` or `staff_12`, if it is one of ours."""
    name = identity_or_address.removeprefix("client:")
    if not name.startswith("staff_"):
        return None
    digits = name.removeprefix("staff_")
    return int(digits) if digits.isdigit() and len(digits) < 19 else None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenInterval(_Strict):
    """The office answers phones from `opens` until `closes`, local time, on one weekday."""

    opens: dt.time
    closes: dt.time

    @model_validator(mode="after")
    def _ordered(self) -> OpenInterval:
        if self.closes <= self.opens:
            raise ValueError("closes must be after opens")
        return self


class Holiday(_Strict):
    date: dt.date
    name: OneLine = Field("Holiday", max_length=80)


class MenuOption(_Strict):
    """One phone-tree choice: a key to press or words to say, and where it leads."""

    digit: str = Field(pattern=r"^[0-9]$")
    label: OneLine = Field(min_length=1, max_length=80)
    words: tuple[OneLine, ...] = Field((), max_length=10)  # what a caller may say instead of pressing
    action: Literal["ring", "queue", "voicemail", "message"] = "ring"
    group_id: int | None = None  # for "ring": which ring group (None: the location's default)
    message: str | None = Field(None, max_length=600)  # for "message": said, then back to the menu

    @field_validator("words")
    @classmethod
    def _lower(cls, words: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(w.strip().lower() for w in words if w.strip())


def _default_hours() -> dict[Weekday, list[OpenInterval]]:
    day = [OpenInterval(opens=dt.time(8), closes=dt.time(17))]
    return {d: list(day) for d in WEEKDAYS[:5]}


class VoiceConfig(_Strict):
    """How one location answers its phones; defaults suit a small office open weekdays 8 to 5."""

    greeting: str = Field("Thank you for calling {location}.", max_length=600)
    hours: dict[Weekday, list[OpenInterval]] = Field(default_factory=_default_hours)
    holidays: list[Holiday] = Field(default_factory=list, max_length=100)
    after_hours_message: str = Field(
        "Our office is closed right now. If this is an emergency, hang up and dial 911. "
        "Otherwise please leave a message after the tone.",
        max_length=600,
    )
    menu_enabled: bool = False
    menu_prompt: str = Field(
        "For appointments, press 1 or say appointments. To leave a message, press 2.", max_length=600
    )
    menu_options: list[MenuOption] = Field(default_factory=list, max_length=10)
    menu_retries: int = Field(2, ge=0, le=5)
    menu_timeout_seconds: int = Field(5, ge=1, le=30)
    default_group_id: int | None = None  # None: every on-duty staff member of the location
    ring_seconds: int = Field(20, ge=5, le=120)
    queue_enabled: bool = True
    queue_max_wait_seconds: int = Field(120, ge=0, le=1800)
    queue_message: str = Field(
        "All of our team are helping other patients. You are caller number {position}. "
        "Please stay on the line.",
        max_length=600,
    )
    hold_music_url: str | None = Field(None, max_length=500)
    voicemail_prompt: str = Field(
        "Please leave a message after the tone, and press the pound key when you are done.", max_length=600
    )
    voicemail_max_seconds: int = Field(120, ge=10, le=600)
    transcribe_voicemail: bool = True
    missed_call_text: str | None = Field(
        "Sorry we missed your call at {location}. Reply to this text and we will help you here.",
        max_length=480,
    )
    # None: as the practice's [recording] settings say (off unless turned on there).
    record_calls: bool | None = None
    recording_announcement: str | None = Field(None, max_length=300)

    def with_recording(self, enabled: bool, announcement: str) -> VoiceConfig:
        """This set-up with the practice's recording choice filled in where the location left it open."""
        return self.model_copy(
            update={
                "record_calls": enabled if self.record_calls is None else self.record_calls,
                "recording_announcement": (self.recording_announcement or "").strip() or announcement,
            }
        )

    @field_validator("hold_music_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value or None

    @model_validator(mode="after")
    def _menu_digits_unique(self) -> VoiceConfig:
        digits = [o.digit for o in self.menu_options]
        if len(digits) != len(set(digits)):
            raise ValueError("each menu key may be used once")
        if self.menu_enabled and not self.menu_options:
            raise ValueError("a phone tree needs at least one option")
        return self


class RingGroupIn(_Strict):
    name: str = Field(min_length=1, max_length=80)
    member_ids: list[int] = Field(default_factory=list, max_length=200)


class RingGroupOut(BaseModel):
    id: int
    location_id: int
    name: str
    member_ids: list[int]


class OnDutyIn(_Strict):
    on_duty: bool


class SoftphoneToken(BaseModel):
    """A short-lived Twilio access token for this staff member's softphone, and how to use it."""

    token: str
    identity: str
    expires_at: dt.datetime
    mode: Literal["twilio", "sandbox"]
    sandbox_url: str | None = None  # the sandbox's softphone WebSocket in demo and tests
    sdk_url: str | None = None  # where the browser loads the Twilio Voice SDK from


class TransferIn(_Strict):
    to_user_id: int
    mode: Literal["cold", "warm"] = "cold"


class CompleteTransferIn(_Strict):
    to_user_id: int


ControlResult = Literal["held", "resumed", "join", "ringing", "transferred", "ended"]


class RecordingControlIn(_Strict):
    """Pause the call's recording (a card number, say, is not kept) or go on recording."""

    action: Literal["pause", "resume"]


class RecordingControlOut(BaseModel):
    recording: Literal["paused", "in-progress"]


class CallControlOut(BaseModel):
    """What happened: held, resumed, join (rejoin the call from the softphone first), ringing, ended."""

    result: ControlResult


class CallOut(BaseModel):
    """A call as staff see it, in REST replies and in events."""

    id: int
    conversation_id: int
    location_id: int
    direction: Literal["in", "out"]
    state: str
    stage: str
    outcome: str | None
    contact_name: str
    answered_by_id: int | None
    placed_by_id: int | None
    ringing_user_ids: list[int]
    on_hold: bool
    recorded: bool  # its recording has arrived (after the call)
    recording: bool  # recorded as it happens, from the answer (the caller heard the announcement)
    recording_paused: bool  # staff paused the recording (a card number is being read, say)
    started_at: dt.datetime
    answered_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration_seconds: int | None


class Caller(BaseModel):
    """Who is calling, as far as the practice knows: the patient, or the household sharing the number."""

    contact_id: int
    name: str
    unknown: bool
    household: list[dict[str, object]]
    conversations: list[dict[str, object]]
    next_appointment: dict[str, object] | None = None
    balance: dict[str, object] | None = Field(
        None,
        description="open_cents/open_requests/label owed, and clearing_cents/clearing_requests/clearing_label"
        " in bank debits still clearing (said apart: neither owed nor paid yet)",
    )


class CallRinging(BaseModel):
    """The call pop: sent to each staff member whose softphone rings, before anyone answers."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["call.ringing"] = "call.ringing"
    location_id: int
    call: CallOut
    caller: Caller


class CallUpdated(BaseModel):
    """A call moved on (answered by someone, on hold, transferred, ended): ringing stops elsewhere."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["call.updated"] = "call.updated"
    location_id: int
    call: CallOut


class VoiceWebhook(BaseModel):
    """Every voice webhook's fields that we use; each handler reads the ones its callback carries."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    call_sid: str = Field(pattern=SID)
    account_sid: str = Field(pattern=SID)
    from_: str = Field("", max_length=300)
    to: str = Field("", max_length=300)
    call_status: str = Field("", max_length=20)
    direction: str = Field("", max_length=20)
    parent_call_sid: str | None = Field(None, pattern=SID)
    sequence: int | None = None
    digits: str | None = Field(None, max_length=40)
    speech_result: str | None = Field(None, max_length=2000)
    dial_call_status: str | None = Field(None, max_length=20)
    dial_call_sid: str | None = Field(None, pattern=SID)
    call_duration: int | None = Field(None, ge=0)
    queue_result: str | None = Field(None, max_length=30)
    queue_time: int | None = Field(None, ge=0)
    queue_position: int | None = Field(None, ge=0)
    dequeueing_call_sid: str | None = Field(None, pattern=SID)
    recording_sid: str | None = Field(None, pattern=SID)
    recording_url: str | None = Field(None, max_length=500)
    recording_status: str | None = Field(None, max_length=20)
    recording_duration: int | None = Field(None, ge=0)
    transcription_status: str | None = Field(None, max_length=20)
    transcription_text: str | None = Field(None, max_length=20_000)
    conference_sid: str | None = Field(None, pattern=SID)
    conference_event: str | None = Field(None, max_length=40)
    params: dict[str, str] = Field(default_factory=dict)  # our own <Parameter>s / TwiML App params
