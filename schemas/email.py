"""Normalized inbound e-mail: what the pure parser hands to the e-mail actions."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_FILENAME = 200


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParsedAttachment(_Frozen):
    """One attachment or inline image; the filename is safe to show and to put in a download header."""

    filename: str = Field(min_length=1, max_length=MAX_FILENAME)
    content_type: str
    size: int = Field(ge=0)
    content_id: str | None = None
    inline: bool = False
    data: bytes = Field(repr=False)

    @field_validator("filename")
    @classmethod
    def _safe_filename(cls, value: str) -> str:
        """Refuse names that could escape a folder or hide their real extension (the parser cleans them)."""
        if "/" in value or "\\" in value or value in {".", ".."}:
            raise ValueError("filename must not contain a path")
        if any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in value):
            raise ValueError("filename must not contain control characters")
        return value


class BounceRecipient(_Frozen):
    """One per-recipient block of a delivery status notification (RFC 3464)."""

    final_recipient: str
    original_recipient: str | None = None
    action: str = ""
    status: str = ""
    diagnostic: str | None = None


class BounceInfo(_Frozen):
    """A delivery failure or delay report, tied to our outbound message by its Message-ID."""

    original_message_id: str | None = None
    recipients: tuple[BounceRecipient, ...] = ()
    permanent: bool = False
    delayed: bool = False


class ParsedEmail(_Frozen):
    """An inbound message reduced to what the timeline shows; `warnings` says what was odd about it."""

    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    from_address: str | None = None
    from_name: str | None = None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    reply_to: tuple[str, ...] = ()
    subject: str = ""
    date: datetime | None = None
    text: str = ""
    html: str | None = None
    # The HTML as sent: unsafe, never shown; kept only to sanitize again (e.g. with remote images allowed).
    html_source: str | None = Field(default=None, repr=False)
    remote_images: bool = False
    attachments: tuple[ParsedAttachment, ...] = ()
    auto_submitted: bool = False
    bounce: BounceInfo | None = None
    warnings: tuple[str, ...] = ()
    raw_size: int = Field(default=0, ge=0)

    @field_validator("date")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """Every stored time is aware UTC, so ordering across senders' time zones is right."""
        if value is not None and value.utcoffset() != timedelta(0):
            raise ValueError("date must be an aware UTC datetime")
        return value if value is None or value.tzinfo is UTC else value.astimezone(UTC)


class EmailAttachmentIn(BaseModel):
    """A file staff attach to an e-mail, carried base64-encoded in the JSON body."""

    model_config = ConfigDict(extra="forbid")
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=3, max_length=100)
    content_base64: str = Field(min_length=1, description="the file's bytes, base64 (RFC 4648)")


class EmailSend(BaseModel):
    """An e-mail to the patient from the thread: text (an HTML version is made from it) and files."""

    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=100_000)
    subject: str | None = Field(None, max_length=300, description="default: Re: the thread's last subject")
    attachments: list[EmailAttachmentIn] = Field(default_factory=list, max_length=10)


class ResolveUnconfirmed(BaseModel):
    """Staff's decision on an e-mail whose hand-off to the mail server was never confirmed."""

    model_config = ConfigDict(extra="forbid")
    decision: Literal["resend", "sent"] = Field(
        description="resend: send it again with the same Message-ID; sent: the patient has it"
    )


class EmailHtmlQuery(BaseModel):
    """How staff want an e-mail's HTML shown."""

    model_config = ConfigDict(extra="forbid")
    remote_images: bool = Field(False, description="load the pictures the mail links from the internet")
