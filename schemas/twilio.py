"""What we accept from Twilio, normalized: inbound messages and message status callbacks."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SID = r"^[A-Z]{2}[0-9a-fA-F]{32}$"


class InboundMedia(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str = Field(max_length=500)
    content_type: str = Field(max_length=100)


class InboundSms(BaseModel):
    """An inbound text or MMS, as POSTed to /twilio/sms."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    message_sid: str = Field(pattern=SID)
    account_sid: str = Field(pattern=SID)
    from_number: str = Field(min_length=2, max_length=20)
    to_number: str = Field(min_length=2, max_length=20)
    body: str = Field(max_length=20_000)
    media: tuple[InboundMedia, ...] = ()
    opt_out_type: Literal["STOP", "START", "HELP"] | None = None


MessageStatus = Literal[
    "accepted",
    "scheduled",
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "read",
    "canceled",
    "receiving",
    "received",
    "partially_delivered",
]


class SmsStatus(BaseModel):
    """A message status callback, as POSTed to /twilio/sms/status."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    message_sid: str = Field(pattern=SID)
    status: MessageStatus
    error_code: str | None = Field(None, pattern=r"^\d{1,6}$")
