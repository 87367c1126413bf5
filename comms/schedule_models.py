"""Calendar tables: providers and where they work, appointment types, working hours, time off,
holidays, and the appointments themselves.

Times of day (working hours) are local to the location; instants (appointments, time off) are UTC.
That no provider is booked twice is enforced by the database itself (migration 0009): an exclusion
constraint on PostgreSQL, an overlap-rejecting trigger on SQLite.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from comms.models import Base, BigId, utcnow

STATUSES = ("scheduled", "confirmed", "checked_in", "completed", "cancelled", "no_show")
# An appointment in one of these holds its provider's time; the database refuses overlaps among them.
ACTIVE_STATUSES = ("scheduled", "confirmed", "checked_in", "completed")


class Provider(Base):
    """Someone patients are booked with (a dentist, hygienist, optometrist), in one practice."""

    __tablename__ = "providers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("practice_id", "name"),)


class ProviderLocation(Base):
    """A location a provider sees patients at."""

    __tablename__ = "provider_locations"
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True)
    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class AppointmentType(Base):
    """What an appointment is for, how long it takes, and the provider's time after it (buffer)."""

    __tablename__ = "appointment_types"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=0)
    colour: Mapped[str] = mapped_column(String(7), default="#4a90d9")
    online: Mapped[bool] = mapped_column(Boolean, default=False)  # patients may book it themselves
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    __table_args__ = (UniqueConstraint("practice_id", "name"),)


class WorkingHours(Base):
    """One stretch of a provider's week at one location, in the location's local time (0 = Monday)."""

    __tablename__ = "working_hours"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)
    starts: Mapped[dt.time] = mapped_column(Time)
    ends: Mapped[dt.time] = mapped_column(Time)


class TimeOff(Base):
    """A provider away (leave, a course, a long lunch): no slots overlap it."""

    __tablename__ = "time_off"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    reason: Mapped[str] = mapped_column(String(80), default="")


class ScheduleHoliday(Base):
    """A local date a location is closed for booking (every provider there)."""

    __tablename__ = "schedule_holidays"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    date: Mapped[dt.date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(80), default="Holiday")
    __table_args__ = (UniqueConstraint("location_id", "date"),)


class Appointment(Base):
    """A patient booked with a provider at a location; `busy_until` is the end plus the type's buffer,
    the span of the provider's time the booking holds (what the no-overlap rule compares)."""

    __tablename__ = "appointments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("appointment_types.id", ondelete="RESTRICT"))
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    busy_until: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(12), default="scheduled")
    booked_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    __table_args__ = (
        Index("ix_appointments_provider_starts", "provider_id", "starts_at"),
        Index("ix_appointments_location_starts", "location_id", "starts_at"),
    )


class ProviderFeed(Base):
    """A provider's private calendar feed: only the SHA-256 of its secret token is kept (like sessions)."""

    __tablename__ = "provider_feeds"
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReminderRule(Base):
    """A practice's reminder: how long before a visit, by which channel, what it says, and the local
    hours it must not arrive in (it then goes at the end of them, or before them if that is too late)."""

    __tablename__ = "reminder_rules"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    minutes_before: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(8), default="sms")
    template: Mapped[str] = mapped_column(Text)
    quiet_from: Mapped[dt.time | None] = mapped_column(Time)
    quiet_until: Mapped[dt.time | None] = mapped_column(Time)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AppointmentReminder(Base):
    """One rule's reminder for one appointment, written in the transaction that queues it: the unique
    key is what makes it go once, whichever node gets there and however often nodes restart."""

    __tablename__ = "appointment_reminders"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"))
    # None: the text a patient gets when they book online, asking them to confirm.
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("reminder_rules.id", ondelete="CASCADE"), index=True
    )
    due_at: Mapped[dt.datetime]
    state: Mapped[str] = mapped_column(String(12))  # "queued" or "skipped"
    reason: Mapped[str | None] = mapped_column(String(40))  # why skipped: opted_out, no_phone...
    item_id: Mapped[int | None] = mapped_column(ForeignKey("timeline_items.id", ondelete="SET NULL"))
    reply: Mapped[str | None] = mapped_column(String(12))  # how the patient's answer was read, once
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("appointment_id", "rule_id"),)
