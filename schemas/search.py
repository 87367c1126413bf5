"""Search: sent in a POST body, since what staff type (names, numbers) is PHI and must not sit in URLs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.inbox import ConversationState, ItemPreview


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: str = Field(min_length=1, max_length=200)
    limit: int = Field(20, ge=1, le=50)


class MessageHit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conversation_id: int
    contact_name: str
    item: ItemPreview


class SearchResult(BaseModel):
    """Conversations whose patient matches by name, phone or e-mail, and messages whose text matches."""

    model_config = ConfigDict(extra="forbid")
    conversations: list[ConversationState]
    messages: list[MessageHit]
