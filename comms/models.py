"""The store's tables; the schema itself is created only by the Alembic migrations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """The one clock the store uses: aware UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, so we store naive UTC there)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def display_name(first_name: str, last_name: str) -> str:
    """How staff see a patient: the full name, or "Unknown" for a number nobody has named yet."""
    return f"{first_name} {last_name}".strip() or "Unknown"


# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Practice(Base):
    __tablename__ = "practices"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Location(Base):
    __tablename__ = "locations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    numbers: Mapped[list[LocationNumber]] = relationship(back_populates="location", lazy="selectin")


class LocationNumber(Base):
    """A carrier number that belongs to one location; inbound texts and calls route by it."""

    __tablename__ = "location_numbers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"), index=True)
    e164: Mapped[str] = mapped_column(String(20), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="main")
    sms: Mapped[bool] = mapped_column(Boolean, default=True)
    voice: Mapped[bool] = mapped_column(Boolean, default=True)
    location: Mapped[Location] = relationship(back_populates="numbers")


class StaffUser(Base):
    __tablename__ = "staff_users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="staff")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StaffLocation(Base):
    """The locations a staff member may see (admins see every location of the practice)."""

    __tablename__ = "staff_locations"
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True)
    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class StaffSession(Base):
    """A server-side login session; only the SHA-256 of the cookie token is stored."""

    __tablename__ = "staff_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class LoginFailure(Base):
    """One failed login, keyed by account or by address, for rate limiting across nodes."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(400))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)


class Household(Base):
    """Patients who share a phone number (a family); a text from that number shows them all."""

    __tablename__ = "households"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Contact(Base):
    """A patient, or an unknown sender until staff identify them."""

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL"), index=True
    )
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    date_of_birth: Mapped[dt.date | None]
    is_unknown: Mapped[bool] = mapped_column(Boolean, default=False)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    # Postal address and insurance, as the patient (an intake form) or staff gave them; "" when unknown.
    address_line1: Mapped[str] = mapped_column(String(200), default="")
    address_line2: Mapped[str] = mapped_column(String(200), default="")
    address_city: Mapped[str] = mapped_column(String(100), default="")
    address_region: Mapped[str] = mapped_column(String(100), default="")
    address_postal_code: Mapped[str] = mapped_column(String(20), default="")
    insurance_carrier: Mapped[str] = mapped_column(String(200), default="")
    insurance_member_id: Mapped[str] = mapped_column(String(64), default="")
    insurance_group_number: Mapped[str] = mapped_column(String(64), default="")
    # The card photo stays a form upload (served through its form's authorization); no foreign key,
    # as form uploads already depend on contacts through their request.
    insurance_card_upload_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    phones: Mapped[list[ContactPhone]] = relationship(
        back_populates="contact", lazy="selectin", cascade="all, delete-orphan", order_by="ContactPhone.id"
    )
    emails: Mapped[list[ContactEmail]] = relationship(
        back_populates="contact", lazy="selectin", cascade="all, delete-orphan", order_by="ContactEmail.id"
    )

    @property
    def display_name(self) -> str:
        return display_name(self.first_name, self.last_name)


class ContactPhone(Base):
    __tablename__ = "contact_phones"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    e164: Mapped[str] = mapped_column(String(20), index=True)
    label: Mapped[str] = mapped_column(String(30), default="mobile")
    contact: Mapped[Contact] = relationship(back_populates="phones")
    __table_args__ = (UniqueConstraint("contact_id", "e164"),)


class ContactEmail(Base):
    __tablename__ = "contact_emails"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(320), index=True)
    contact: Mapped[Contact] = relationship(back_populates="emails")
    __table_args__ = (UniqueConstraint("contact_id", "address"),)


class Conversation(Base):
    """One patient's timeline at one location."""

    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    snoozed_until: Mapped[dt.datetime | None]
    last_item_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_item_id: Mapped[int | None] = mapped_column(BigId)
    last_inbound_id: Mapped[int] = mapped_column(BigId, default=0)
    channels: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (
        UniqueConstraint("contact_id", "location_id"),
        Index("ix_conversations_location_last", "location_id", "last_item_at", "id"),
        Index("ix_conversations_last", "last_item_at", "id"),
        # The snooze waker's (only snoozed threads have snoozed_until); not on status, which the
        # planner would then pick for the list's status filters over its newest-first index.
        Index("ix_conversations_snoozed_until", "snoozed_until", "id"),
    )


class ConversationRead(Base):
    """How far one staff member has read one conversation (unread = inbound items past this)."""

    __tablename__ = "conversation_reads"
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True)
    last_read_item_id: Mapped[int] = mapped_column(BigId, default=0)
    read_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """Something a staff member must see: an @mention in a note or chat, a hand-off to them."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    item_id: Mapped[int | None] = mapped_column(BigId)
    chat_channel_id: Mapped[int | None] = mapped_column(BigId)
    chat_message_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    read_at: Mapped[dt.datetime | None]
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at", "id"),)


class TimelineItem(Base):
    """One entry of a conversation's timeline: a text, call, e-mail, note, appointment, payment..."""

    __tablename__ = "timeline_items"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str | None] = mapped_column(String(16))
    carrier_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    error_code: Mapped[str | None] = mapped_column(String(16))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    __table_args__ = (Index("ix_timeline_items_conversation_created", "conversation_id", "created_at", "id"),)


class AuditEntry(Base):
    """Append-only record of who read or changed which record, when and from where (no PHI)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(32))
    record_type: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(64))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    __table_args__ = (Index("ix_audit_log_record", "record_type", "record_id"),)


class OptOut(Base):
    """A patient number that texted STOP: nothing is sent to it, by anyone, until it texts START."""

    __tablename__ = "opt_outs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    e164: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("practice_id", "e164"),)


class OutboxEntry(Base):
    """A message on its way out: written with its item in the staff action's transaction, then sent.

    States: scheduled (send later) → pending → sending (claimed, lease running) → done | failed;
    canceled for a scheduled message staff withdrew. A `sending` row whose lease ran out is uncertain:
    it is reconciled against the carrier's record before any resend.
    """

    __tablename__ = "outbox"
    item_id: Mapped[int] = mapped_column(
        ForeignKey("timeline_items.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(10))
    to_addr: Mapped[str] = mapped_column(String(320))
    from_addr: Mapped[str] = mapped_column(String(320))
    segments: Mapped[int] = mapped_column(Integer, default=1)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[dt.datetime | None]
    attempt_started_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (Index("ix_outbox_state_next", "state", "next_attempt_at"),)


class SendClock(Base):
    """Per sending number, the earliest time the next segment may go: a rate limit all nodes share."""

    __tablename__ = "send_clocks"
    e164: Mapped[str] = mapped_column(String(20), primary_key=True)
    next_free_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Media(Base):
    """A picture or file attached to an item; fetched once from the carrier, served only to staff."""

    __tablename__ = "media"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("timeline_items.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    source_url: Mapped[str | None] = mapped_column(String(500))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(10), default="pending")
    error: Mapped[str | None] = mapped_column(String(300))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (Index("ix_media_state", "state"),)


class Team(Base):
    """A group conversations can be handed to (billing, front desk North); any member may pick it up."""

    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("practice_id", "name"),)


class TeamMember(Base):
    __tablename__ = "team_members"
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True)


class LocationEmail(Base):
    """An e-mail address a location receives mail at; the SMTP listener refuses all others."""

    __tablename__ = "location_emails"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)


class EmailMessage(Base):
    """The e-mail behind a timeline item: its Message-ID (for threading replies) and the raw original."""

    __tablename__ = "email_messages"
    item_id: Mapped[int] = mapped_column(
        ForeignKey("timeline_items.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[str] = mapped_column(String(500), unique=True)
    subject: Mapped[str] = mapped_column(String(500), default="")
    raw_sha256: Mapped[str | None] = mapped_column(String(64))
    raw_size: Mapped[int] = mapped_column(Integer, default=0)
