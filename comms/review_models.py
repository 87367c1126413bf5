"""Review requests: a text with a short tracked link to the location's review page, and its clicks."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from comms.models import Base, BigId, utcnow


class ReviewSite(Base):
    """Where a location's review links lead (its Google or other review page)."""

    __tablename__ = "review_sites"
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReviewRequest(Base):
    """One review request sent to a patient; every patient gets the same destination (no gating)."""

    __tablename__ = "review_requests"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("timeline_items.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16), default="staff")  # "staff" or "appointment"
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    first_clicked_at: Mapped[dt.datetime | None]
    __table_args__ = (Index("ix_review_requests_contact_created", "contact_id", "created_at"),)


class ReviewClick(Base):
    """One visit of a review link (no address or agent kept: only that and when it was opened)."""

    __tablename__ = "review_clicks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("review_requests.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
