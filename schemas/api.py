"""REST request and response bodies for the staff API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(_Strict):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class StaffSession(_Strict):
    """Who is signed in, and the CSRF token every mutating request must echo in X-CSRF-Token."""

    user_id: int
    name: str
    email: str
    role: Literal["admin", "staff"]
    location_ids: list[int] | None = Field(description="null for admins, who see every location")
    csrf_token: str


class LocationOut(_Strict):
    id: int
    name: str
    timezone: str
    numbers: list[str]


class Health(_Strict):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "down"]
    bus: Literal["ok", "down"]
    bus_kind: Literal["in-process", "redis"]
    version: str


class NoteCreate(_Strict):
    body: str = Field(min_length=1, max_length=10_000)


class TimelineItemOut(_Strict):
    id: int
    conversation_id: int
    kind: str
    direction: Literal["in", "out", "internal"]
    body: str
    status: str | None
    author_id: int | None
    error_code: str | None
    meta: dict[str, Any] = Field(
        default_factory=dict, description="kind-specific details: segments, media..."
    )
    created_at: dt.datetime
    updated_at: dt.datetime
