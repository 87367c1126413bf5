"""The WebSocket protocol: client commands, and the envelopes the server sends back."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Command(BaseModel):
    """Every client message: a client-chosen id that increases, and a type naming the command."""

    model_config = ConfigDict(extra="allow")
    id: int = Field(ge=1)
    type: str = Field(min_length=1, max_length=64)


class Subscribe(BaseModel):
    """Start (or resume) the event stream; pass the last event id seen to get exactly what was missed."""

    model_config = ConfigDict(extra="forbid")
    id: int
    type: Literal["subscribe"]
    last_event_id: int | None = Field(None, ge=0)


class Ping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int
    type: Literal["ping"]


class ResultOk(BaseModel):
    id: int
    type: Literal["result"] = "result"
    success: Literal[True] = True
    result: Any = None


class ErrorInfo(BaseModel):
    code: str
    message: str


class ResultError(BaseModel):
    id: int | None
    type: Literal["result"] = "result"
    success: Literal[False] = False
    error: ErrorInfo


class Resync(BaseModel):
    """Sent instead of a replay when the gap is older than retention: reload state, then go on live."""

    type: Literal["resync"] = "resync"
    last_event_id: int


class PresenceReport(BaseModel):
    """This socket's state: online, away or on a call, and the thread it shows (typing or not)."""

    model_config = ConfigDict(extra="forbid")
    id: int
    type: Literal["presence"]
    state: Literal["online", "away", "on_call"] = "online"
    conversation_id: int | None = Field(None, ge=1)
    typing: bool = False


class PresenceSnapshot(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int
    type: Literal["presence_snapshot"]
