"""Sending from a thread: the composer's request."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SendMessage(BaseModel):
    """A text to the patient now, or at send_at (send later: durable, cancellable until it goes)."""

    model_config = ConfigDict(extra="forbid")
    channel: Literal["sms"] = "sms"
    body: str = Field(min_length=1, max_length=1600)
    send_at: dt.datetime | None = None
