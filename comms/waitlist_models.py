"""Waitlist tables: patients waiting for an earlier time, and the offers of freed slots texted to them.

An offer keeps only the SHA-256 of its link's token (like form links); the slot it offers is named by
provider, start and type, and the offers of one freed slot go out in numbered batches.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from comms.models import Base, BigId, utcnow

ENTRY_STATES = ("waiting", "offered", "booked", "removed", "expired")
OFFER_STATES = ("sent", "taken", "gone", "expired")


class WaitlistEntry(Base):
    """A patient (through their thread) who would take an earlier visit of one type, between two dates."""

    __tablename__ = "waitlist_entries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    type_id: Mapped[int] = mapped_column(ForeignKey("appointment_types.id", ondelete="CASCADE"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    earliest: Mapped[dt.date] = mapped_column(Date)  # local dates at the location, both included
    latest: Mapped[dt.date] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(12), default="waiting")
    # The earlier of `entry_days` after it was made and the end of `latest` at the location: past it the
    # entry is offered nothing, and the sweeper marks it expired.
    expires_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    __table_args__ = (
        Index("ix_waitlist_entries_location_state", "location_id", "state"),
        Index("ix_waitlist_entries_state_expires", "state", "expires_at"),
    )


class WaitlistOffer(Base):
    """One freed slot texted to one waiting patient; the first offer of the slot taken books it."""

    __tablename__ = "waitlist_offers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("waitlist_entries.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    type_id: Mapped[int] = mapped_column(ForeignKey("appointment_types.id", ondelete="CASCADE"))
    starts_at: Mapped[dt.datetime]
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    batch: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(12), default="sent")
    expires_at: Mapped[dt.datetime]  # when this batch gives way to the next
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    __table_args__ = (
        Index("ix_waitlist_offers_slot", "provider_id", "starts_at"),
        Index("ix_waitlist_offers_state_expires", "state", "expires_at"),
    )
