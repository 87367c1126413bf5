"""REST query parameters of the staff API, and the shape of the API's own description."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TimelineQuery(_Strict):
    """A page of a timeline, newest first; pass the oldest id you have as `before` for the next one."""

    before: int | None = Field(None, ge=1, description="only items older than this item id")
    limit: int = Field(50, ge=1, le=200)


class NotificationsQuery(_Strict):
    all: bool = Field(False, description="include notifications already read")


class ImportQuery(_Strict):
    """For the raw `text/csv` form of an import (the JSON form carries dry_run in its body)."""

    dry_run: bool = Field(False, description="check every row and report, but store nothing")


class OpenApiDocument(BaseModel):
    """An OpenAPI 3.1 document (this one), described loosely: its own schema is the specification's."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]
