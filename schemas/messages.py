"""Sending from a thread: the composer's request."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SendMessage(BaseModel):
    """A text to the patient now, or at send_at (send later: durable, cancellable until it goes)."""

    model_config = ConfigDict(extra="forbid")
    channel: Literal["sms", "email"] = "sms"
    body: str = Field(min_length=1, max_length=100_000, description="texts are limited to 1,600 characters")
    subject: str | None = Field(
        None, max_length=300, description="e-mail only; default: Re: the last subject"
    )
    send_at: dt.datetime | None = None
