"""Events pushed to staff browsers: one model per type, strict, so producers cannot drift."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.api import TimelineItemOut


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TimelineItemAdded(_Event):
    type: Literal["timeline.item_added"] = "timeline.item_added"
    location_id: int
    conversation_id: int
    item: TimelineItemOut


class TimelineItemUpdated(_Event):
    type: Literal["timeline.item_updated"] = "timeline.item_updated"
    location_id: int
    conversation_id: int
    item: TimelineItemOut


Event = Annotated[TimelineItemAdded | TimelineItemUpdated, Field(discriminator="type")]
