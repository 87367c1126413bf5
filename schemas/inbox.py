"""The inbox's wire shapes: conversation summaries, list pages, and the staff's moves on a thread."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["open", "closed", "snoozed"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactBrief(_Strict):
    id: int
    name: str
    is_unknown: bool
    household_id: int | None
    phones: list[str]
    emails: list[str]


class ItemPreview(_Strict):
    id: int
    kind: str
    direction: str
    body: str = Field(description="the first 160 characters")
    created_at: dt.datetime


class ConversationState(_Strict):
    """What every viewer of a conversation shares (per-viewer unread counts are not in events)."""

    id: int
    location_id: int
    status: Status
    assignee_id: int | None
    team_id: int | None
    snoozed_until: dt.datetime | None
    last_item_at: dt.datetime
    last_inbound_id: int
    channels: list[str]
    contact: ContactBrief
    last_item: ItemPreview | None


class ConversationOut(ConversationState):
    unread: int = Field(description="inbound items this staff member has not read")


class ThreadSummary(ConversationOut):
    """A thread's header: the summary plus what the composer must know (texting blocked after STOP)."""

    opted_out: bool = Field(description="the patient's number replied STOP; texts are refused")


class ConversationPage(_Strict):
    items: list[ConversationOut]
    next_cursor: str | None


class AssignRequest(_Strict):
    assignee_id: int | None = Field(description="null to unassign")
    team_id: int | None = Field(None, description="hand to a team (with or without a person)")
    note: str | None = Field(None, max_length=2000)


class StatusRequest(_Strict):
    status: Status
    snoozed_until: dt.datetime | None = None


class ReadRequest(_Strict):
    item_id: int = Field(ge=0)


class ConversationUpdated(_Strict):
    type: Literal["conversation.updated"] = "conversation.updated"
    location_id: int
    conversation: ConversationState


class ConversationRead(_Strict):
    """Sent to the reader's own sessions so every tab clears the badge."""

    type: Literal["conversation.read"] = "conversation.read"
    conversation_id: int
    last_read_item_id: int


class ConversationQuery(_Strict):
    """Filters of the conversation list, as query parameters."""

    status: Literal["open", "closed", "snoozed", "all"] = "open"
    assignee: str = Field("anyone", pattern=r"^(me|unassigned|anyone|\d{1,18})$")
    unread: bool = False
    channel: str | None = Field(None, pattern=r"^[a-z]{2,16}$")
    location: int | None = None
    team: int | None = None
    cursor: str | None = Field(None, max_length=200)
    limit: int = Field(50, ge=1, le=100)


class TeamOut(_Strict):
    id: int
    name: str
    member_ids: list[int]


class TeamCreate(_Strict):
    name: str = Field(min_length=1, max_length=80)
    member_ids: list[int] = Field(default_factory=list, max_length=500)
