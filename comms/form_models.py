"""Intake form tables: templates and their versions (a published version's definition never changes, so
a completed form always shows the questions it answered), requests sent to patients, and their uploads.

A link's token is never stored: only its SHA-256, so whoever reads the database cannot open a
patient's form. Each text (the first and every reminder) carries a link of its own, all valid until
the request expires.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from comms.models import Base, BigId, utcnow

STATUSES = ("sent", "opened", "in_progress", "completed", "expired")
OPEN_STATUSES = frozenset({"sent", "opened", "in_progress"})


class FormTemplate(Base):
    """A form the practice sends (new-patient intake, consent); its questions live in its versions."""

    __tablename__ = "form_templates"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    archived: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FormTemplateVersion(Base):
    """One version of a template's questions: a draft admins edit, then published and frozen."""

    __tablename__ = "form_template_versions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("form_templates.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("template_id", "version"),)


class FormRequest(Base):
    """A form sent to one patient from one thread; its private links are in form_links."""

    __tablename__ = "form_requests"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("form_template_versions.id", ondelete="RESTRICT"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("timeline_items.id", ondelete="SET NULL"), unique=True
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="sent")
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the draft, then the submission
    contact_updates: Mapped[list[str]] = mapped_column(JSON, default=list)  # field names, once completed
    opened_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime]
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(8), default="sms")  # how the link went: its reminders too
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))  # the completed form's PDF, in media storage
    pdf_size: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    __table_args__ = (
        Index("ix_form_requests_location_status", "location_id", "status"),
        Index("ix_form_requests_status_expires", "status", "expires_at"),
    )


class FormLink(Base):
    """One private link to a request (the SHA-256 of its token): the first text's, then each reminder's."""

    __tablename__ = "form_links"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("form_requests.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FormUpload(Base):
    """A file or drawn signature the patient gave for one field; the bytes sit in media storage."""

    __tablename__ = "form_uploads"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("form_requests.id", ondelete="CASCADE"), index=True)
    field_key: Mapped[str] = mapped_column(String(40))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FormHit(Base):
    """One request to a patient form endpoint from one address, kept for a few minutes: the rate limit
    every node shares (kind: request, upload, bad_link)."""

    __tablename__ = "form_hits"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    addr: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(12))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    __table_args__ = (Index("ix_form_hits_addr_kind_at", "addr", "kind", "at"),)
