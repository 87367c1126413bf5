"""Phone tables: each location's call set-up, ring groups, who takes calls, and every call's record."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from comms.models import Base, BigId, utcnow


class VoiceSettings(Base):
    """A location's phone set-up as one validated document (schemas.voice.VoiceConfig)."""

    __tablename__ = "voice_settings"
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RingGroup(Base):
    """Staff whose softphones ring together for a phone-tree choice (front desk, billing...)."""

    __tablename__ = "ring_groups"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    __table_args__ = (UniqueConstraint("location_id", "name"),)


class RingGroupMember(Base):
    __tablename__ = "ring_group_members"
    group_id: Mapped[int] = mapped_column(ForeignKey("ring_groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class StaffPhone(Base):
    """Whether a staff member takes calls right now; only on-duty softphones that are online ring."""

    __tablename__ = "staff_phones"
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Call(Base):
    """One phone call with a patient, inbound or outbound, and how it went.

    `state` is the carrier's call status, applied forward only; `outcome` is what the office cares
    about (answered, missed, voicemail, abandoned in the queue) once the call has ended.
    """

    __tablename__ = "calls"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("timeline_items.id", ondelete="SET NULL"), unique=True
    )
    direction: Mapped[str] = mapped_column(String(8))  # "in" or "out"
    patient_e164: Mapped[str] = mapped_column(String(20))
    practice_e164: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(16), default="ringing")
    outcome: Mapped[str | None] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16), default="greeting")  # where the call is in our flow
    route: Mapped[list[Any]] = mapped_column(JSON, default=list)  # the steps it took: menu choices, groups
    group_id: Mapped[int | None] = mapped_column(ForeignKey("ring_groups.id", ondelete="SET NULL"))
    placed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    answered_leg_sid: Mapped[str | None] = mapped_column(String(64))
    conference: Mapped[str | None] = mapped_column(String(64))  # our name for it, once it has one
    conference_sid: Mapped[str | None] = mapped_column(String(64))  # Twilio's, from its first event
    on_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[dt.datetime | None]
    answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    # Missed-call text-back: None until the call ends; "due" → "sent" or "skipped:<why>" (a job owns it).
    text_back: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    __table_args__ = (
        Index("ix_calls_location_started", "location_id", "started_at"),
        Index("ix_calls_text_back", "text_back"),
    )


class CallLeg(Base):
    """One staff softphone a call rang (or was transferred to): who, and how far that leg got."""

    __tablename__ = "call_legs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    leg_sid: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16), default="initiated")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Recording(Base):
    """A voicemail (or a recorded call): the carrier's recording, its stored audio and transcription."""

    __tablename__ = "recordings"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    recording_sid: Mapped[str] = mapped_column(String(64), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # "voicemail" or "call"
    item_id: Mapped[int | None] = mapped_column(ForeignKey("timeline_items.id", ondelete="SET NULL"))
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id", ondelete="SET NULL"))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    transcription_status: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MissedCallText(Base):
    """The one missed-call text a caller gets per location and local day; the unique key enforces it."""

    __tablename__ = "missed_call_texts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    e164: Mapped[str] = mapped_column(String(20))
    local_date: Mapped[dt.date] = mapped_column(Date)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("timeline_items.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("location_id", "e164", "local_date"),)


class PhoneLineType(Base):
    """What kind of line a number is (mobile, landline, VoIP), from the carrier's lookup, cached."""

    __tablename__ = "phone_line_types"
    e164: Mapped[str] = mapped_column(String(20), primary_key=True)
    line_type: Mapped[str] = mapped_column(String(24))
    checked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
