"""Team chat's wire shapes: REST bodies, replies, and the events that keep every tab live."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_BODY = 10_000
MAX_NAME = 80
ChannelKind = Literal["channel", "direct"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelCreate(_Strict):
    name: str = Field(
        min_length=1,
        max_length=200,
        description="1 to 80 characters once spaces and a leading '#' are trimmed",
    )


class DirectOpen(_Strict):
    user_id: int = Field(ge=1, description="the colleague to talk to")


class MessageCreate(_Strict):
    body: str = Field(
        min_length=1, max_length=MAX_BODY, description="plain text, stored exactly as sent; render it as text"
    )


class ChatReadRequest(_Strict):
    message_id: int = Field(ge=0, description="the newest message seen; the marker never moves back")


class MessagesQuery(_Strict):
    before: int | None = Field(None, ge=1, description="only messages older than this id")
    limit: int = Field(50, ge=1, le=200)


class StaffOut(_Strict):
    """A colleague, for the direct-message picker and @mention completion."""

    id: int
    name: str
    role: Literal["admin", "staff"]
    handle: str = Field(description="what to type after '@' to mention them (their e-mail's local part)")


class ChatMessageOut(_Strict):
    id: int
    channel_id: int
    author_id: int | None
    body: str
    created_at: dt.datetime
    edited_at: dt.datetime | None


class ChatChannelState(_Strict):
    """What every member of a channel shares (per-member read state is in ChatChannelOut)."""

    id: int
    kind: ChannelKind
    name: str | None = Field(description="null for direct conversations; show the other member instead")
    member_ids: list[int]
    created_by: int | None
    created_at: dt.datetime
    last_message_id: int | None


class ChatChannelOut(ChatChannelState):
    last_read_message_id: int
    unread: int = Field(description="others' messages after this staff member's read marker")


class ChatReadState(_Strict):
    channel_id: int
    last_read_message_id: int
    unread: int


class NotificationOut(_Strict):
    """Something one staff member must see; the ids say where it points."""

    id: int
    kind: str
    actor_id: int | None
    conversation_id: int | None
    item_id: int | None
    chat_channel_id: int | None
    chat_message_id: int | None
    created_at: dt.datetime
    read_at: dt.datetime | None


class ChatMessagePosted(_Strict):
    """To the channel's members; `mentions` lists the members the message @mentions."""

    type: Literal["chat.message_posted"] = "chat.message_posted"
    channel_id: int
    message: ChatMessageOut
    mentions: list[int]


class ChatRead(_Strict):
    """To the reader's own sessions, so every tab clears the badge."""

    type: Literal["chat.read"] = "chat.read"
    channel_id: int
    last_read_message_id: int
    unread: int


class ChatChannelCreated(_Strict):
    """To the new channel's members, so it appears in their lists without a fetch."""

    type: Literal["chat.channel_created"] = "chat.channel_created"
    channel: ChatChannelState


class NotificationCreated(_Strict):
    """To the one staff member notified."""

    type: Literal["notification.created"] = "notification.created"
    notification: NotificationOut


class NotificationsRead(_Strict):
    """Mark these notifications read, or all of them when ids is null."""

    ids: list[int] | None = Field(None, max_length=500)
