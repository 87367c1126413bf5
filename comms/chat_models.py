"""Team chat tables: channels, who belongs to them and how far they have read, and the messages."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from comms.models import Base, BigId, utcnow


class ChatChannel(Base):
    """A public channel every staff member may join, or a direct conversation between two staff."""

    __tablename__ = "chat_channels"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # "channel" or "direct"
    name: Mapped[str | None] = mapped_column(String(80))  # None for direct conversations
    # "12:34" (the two user ids, sorted): the database itself keeps one direct conversation per pair.
    direct_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("practice_id", "name"),)


class ChatMember(Base):
    """One staff member in one channel, with their read marker (unread = others' messages past it)."""

    __tablename__ = "chat_members"
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("chat_channels.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    last_read_message_id: Mapped[int] = mapped_column(BigId, default=0)
    joined_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ChatMessage(Base):
    """A message as its author typed it, byte for byte; clients render it as text, never as HTML."""

    __tablename__ = "chat_messages"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("chat_channels.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[dt.datetime | None]
    __table_args__ = (Index("ix_chat_messages_channel_id_id", "channel_id", "id"),)
