"""Events pushed to staff browsers: one model per type, strict, so producers cannot drift."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.api import TimelineItemOut
from schemas.inbox import ConversationState


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TimelineItemAdded(_Event):
    """A new item, with the conversation's state after it, so a list can place it without a fetch."""

    type: Literal["timeline.item_added"] = "timeline.item_added"
    location_id: int
    conversation_id: int
    item: TimelineItemOut
    conversation: ConversationState


class TimelineItemUpdated(_Event):
    type: Literal["timeline.item_updated"] = "timeline.item_updated"
    location_id: int
    conversation_id: int
    item: TimelineItemOut


Event = Annotated[TimelineItemAdded | TimelineItemUpdated, Field(discriminator="type")]
