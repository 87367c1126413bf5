"""Review contracts: a location's review page, and the review requests sent to patients."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReviewSiteIn(_Strict):
    """Where a location's review links lead (its Google, Yelp or other review page)."""

    url: str = Field(min_length=8, max_length=500)

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("https://", "http://")) or any(c.isspace() for c in value):
            raise ValueError("must be an http(s) URL without spaces")
        return value


class ReviewSiteOut(_Strict):
    location_id: int
    url: str | None


class ReviewRequestOut(_Strict):
    id: int
    conversation_id: int
    contact_id: int
    location_id: int
    item_id: int | None
    source: str
    clicks: int
    first_clicked_at: dt.datetime | None
    created_at: dt.datetime
