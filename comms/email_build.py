"""Outbound e-mail as an `EmailMessage`: threaded under the patient's message, and injection-proof.

Pure: the sender job hands the result to aiosmtplib; nothing here touches the network or the store.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy
from email.errors import MessageError
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, NamedTuple, cast

MAX_REFERENCES = 20
KEEP_FIRST_REFERENCES = 3
MAX_ID_LENGTH = 900
# str.splitlines() breaks on all of these; any of them in a header value could start a new header somewhere.
LINE_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00")
REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|réf|ref|rif|odp)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE
)
DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.?)*")
MSG_ID = re.compile(r"[^\s<>()\[\]\\,;:\"]+@[^\s<>()\[\]\\,;:\"]+")


class OutgoingAttachment(NamedTuple):
    filename: str
    content_type: str
    data: bytes


class _MessageIdListHeader(UnstructuredHeader):
    """Folds only between ids: the stock folder turns an id longer than a line into an encoded word,
    which breaks threading in every mail client (CPython's msg_48 case)."""

    name: str  # provided by BaseHeader, which the registry mixes in

    def fold(self, *, policy: Any) -> str:
        lines: list[str] = []
        current = f"{self.name}:"
        for token in str(self).split():
            if len(current) + 1 + len(token) > policy.max_line_length and current != f"{self.name}:":
                lines.append(current)
                current = ""
            current += f" {token}"
        lines.append(current)
        return str(policy.linesep).join(lines) + str(policy.linesep)


def _registry() -> HeaderRegistry:
    registry = HeaderRegistry()
    for name in ("message-id", "in-reply-to", "references"):
        registry.map_to_type(name, cast("type[BaseHeader]", _MessageIdListHeader))
    return registry


SMTP_POLICY = policy.SMTP.clone(header_factory=_registry())


def build_email(
    *,
    from_addr: str,
    from_name: str | None,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    attachments: Sequence[OutgoingAttachment] = (),
    domain: str,
    date: datetime | None = None,
) -> tuple[EmailMessage, str]:
    """A ready-to-send message and its Message-ID (without <>), which the store keeps to thread replies."""
    values = [from_addr, from_name or "", subject, domain, in_reply_to or "", *to, *references]
    values += [v for a in attachments for v in (a.filename, a.content_type)]
    for value in values:
        _one_line(value)
    if not DOMAIN.fullmatch(domain):
        raise ValueError(f"not a domain for Message-IDs: {domain!r}")
    if not to:
        raise ValueError("an e-mail needs at least one recipient")
    parent = clean_message_id(in_reply_to) if in_reply_to else None

    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = _address(from_addr, from_name)
    msg["To"] = [_address(addr, None) for addr in to]
    msg["Subject"] = reply_subject(subject) if parent else subject.strip()
    when = date or datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError("the date must be timezone-aware")
    msg["Date"] = format_datetime(when.astimezone(UTC))
    message_id = make_msgid(domain=domain)
    msg["Message-ID"] = message_id
    if parent:
        msg["In-Reply-To"] = f"<{parent}>"
        chain = thread_references(references, parent)
        msg["References"] = " ".join(f"<{i}>" for i in chain)

    body = text.replace("\r\n", "\n").replace("\r", "\n")
    msg.set_content(body, cte=_body_encoding(body))
    if html is not None:
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
    for attachment in attachments:
        maintype, slash, subtype = attachment.content_type.strip().lower().partition("/")
        if not slash or not maintype or not subtype or maintype == "multipart":
            raise ValueError(f"not an attachment content type: {attachment.content_type!r}")
        msg.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype,
            filename=_filename(attachment.filename),
        )
    return msg, message_id.strip("<>")


def reply_subject(subject: str) -> str:
    """ "Re: " exactly once, however many Re:/AW:/SV: the thread has collected."""
    return "Re: " + REPLY_PREFIX.sub("", subject).strip()


def thread_references(references: Sequence[str], parent: str) -> list[str]:
    """The parent's References plus the parent, trimmed to the root few and the most recent ones."""
    chain = [i for i in dict.fromkeys(clean_message_id(r) for r in references) if i != parent] + [parent]
    if len(chain) > MAX_REFERENCES:
        chain = chain[:KEEP_FIRST_REFERENCES] + chain[-(MAX_REFERENCES - KEEP_FIRST_REFERENCES) :]
    return chain


def _one_line(value: str) -> str:
    """Header injection guard: a line break in any header input is refused, never folded or stripped."""
    if any(ch in LINE_BREAKS for ch in value):
        raise ValueError("header values must not contain line breaks")
    return value


def clean_message_id(value: str) -> str:
    """A Message-ID without its angle brackets; ValueError when it is not one."""
    ident = value.strip().removeprefix("<").removesuffix(">")
    if len(ident) > MAX_ID_LENGTH or not MSG_ID.fullmatch(ident):
        raise ValueError(f"not a Message-ID: {value[:100]!r}")
    return ident


def _address(addr: str, name: str | None) -> Address:
    try:
        address = Address(display_name=(name or "").strip(), addr_spec=addr.strip())
    except (MessageError, IndexError, ValueError) as exc:
        raise ValueError(f"not an e-mail address: {addr[:100]!r}") from exc
    if "@" not in address.addr_spec:
        raise ValueError(f"not an e-mail address: {addr[:100]!r}")
    return address


def _body_encoding(body: str) -> str:
    """7bit when it is plain short-lined ASCII; quoted-printable otherwise, which every relay accepts."""
    if body.isascii() and all(len(line) <= 78 for line in body.split("\n")):
        return "7bit"
    return "quoted-printable"


def _filename(name: str) -> str:
    """Only the last path component; non-ASCII is carried by RFC 2231 (filename*=utf-8''...)."""
    base = re.split(r"[/\\]", name)[-1].strip()
    if not base or base in {".", ".."}:
        raise ValueError(f"not a file name: {name[:100]!r}")
    return base
