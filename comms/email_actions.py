"""E-mail actions: store an inbound message in the right thread, queue a reply, apply bounces."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from typing import Any

from sqlalchemy import select

from comms import appointment_replies, audit, media
from comms.access import Actor
from comms.contacts import _create as insert_contact
from comms.email_build import OutgoingAttachment, build_email
from comms.email_compose import reply_chain, text_to_html, valid_message_id, vet_attachments
from comms.email_outbox import BOUNCED
from comms.email_parse import parse_email
from comms.email_quotes import split_quoted
from comms.errors import InvalidRequest, NotFound
from comms.messaging import publish_update
from comms.models import (
    Contact,
    ContactEmail,
    Conversation,
    EmailMessage,
    Location,
    LocationEmail,
    Media,
    OutboxEntry,
    TimelineItem,
    utcnow,
)
from comms.services import Services, Unit
from comms.timeline import add_item, conversation_for
from schemas.api import TimelineItemOut
from schemas.email import ParsedEmail

MAX_BODY = 200_000
MAX_KEY = 400  # email_messages.message_id holds 500: longer ids are stored by their digest
KEPT_REFERENCES = 20


@dataclass(frozen=True)
class ReceivedEmail:
    item_id: int | None
    duplicate: bool = False
    bounce_for: int | None = None
    item_ids: tuple[int, ...] = ()  # one per receiving location


def message_key(message_id: str, location_id: int | None = None) -> str:
    """How a Message-ID is stored: short enough for its column; a second location's copy is suffixed."""
    key = message_id
    if len(key) > MAX_KEY:
        key = (
            "sha256."
            + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
            + "@frontdesk.invalid"
        )
    return f"{key}#copy{location_id}" if location_id is not None else key


async def receive_email(
    services: Services, raw: bytes, recipients: list[str], mail_from: str
) -> ReceivedEmail:
    """Parse (never failing), keep the raw original, thread the message, store it once per location."""
    settings = services.settings
    digest = await asyncio.to_thread(media.store_bytes, settings.storage.media_dir, raw)
    parsed = await asyncio.to_thread(parse_email, raw)
    message_id = parsed.message_id or f"{digest}@frontdesk.invalid"
    if parsed.bounce is not None:
        bounced = await apply_bounce(services, parsed)
        if bounced is not None:
            return ReceivedEmail(None, bounce_for=bounced)
    async with services.read() as s:
        locations = await _locations_for(s, recipients)
    if not locations:
        raise NotFound("no location receives mail at these addresses")
    stored = [
        await _store_copy(services, parsed, message_id, digest, len(raw), location) for location in locations
    ]
    return ReceivedEmail(
        stored[0][0],
        duplicate=all(duplicate for _, duplicate in stored),
        item_ids=tuple(item_id for item_id, _ in stored),
    )


async def _locations_for(s: Any, recipients: list[str]) -> list[int]:
    """Every location among the recipients, in the order they were addressed."""
    addresses = [r.strip().lower() for r in recipients]
    rows = (
        await s.execute(
            select(LocationEmail.address, LocationEmail.location_id).where(
                LocationEmail.address.in_(addresses)
            )
        )
    ).all()
    by_address = {address: location_id for address, location_id in rows}
    return list(dict.fromkeys(by_address[a] for a in addresses if a in by_address))


async def _store_copy(
    services: Services, parsed: ParsedEmail, message_id: str, digest: str, raw_size: int, location_id: int
) -> tuple[int, bool]:
    """One location's copy, in one transaction; the same message again at that location is a duplicate."""
    settings = services.settings
    async with services.unit() as unit:
        s = unit.session
        plain, copy = message_key(message_id), message_key(message_id, location_id)
        seen = (
            await s.execute(
                select(EmailMessage.item_id, EmailMessage.message_id, Conversation.location_id)
                .join(TimelineItem, TimelineItem.id == EmailMessage.item_id)
                .join(Conversation, Conversation.id == TimelineItem.conversation_id)
                .where(EmailMessage.message_id.in_([plain, copy]))
            )
        ).all()
        for item_id, _, seen_location in seen:
            if seen_location == location_id:
                return item_id, True
        key = copy if any(key == plain for _, key, _ in seen) else plain
        location = await s.get(Location, location_id)
        if location is None:
            raise NotFound("no such location")
        conversation = await _thread_for(unit, parsed, location)
        new_part, quoted = split_quoted(parsed.text or "")
        item = TimelineItem(
            kind="email",
            direction="in",
            body=(parsed.text or "")[:MAX_BODY],
            status="received",
            meta={
                "subject": parsed.subject,
                "from": parsed.from_address,
                "from_name": parsed.from_name,
                "to": list(parsed.to),
                "cc": list(parsed.cc),
                "has_html": parsed.html is not None,
                "remote_images": parsed.remote_images,
                "new_text": new_part[:MAX_BODY],
                "quoted": quoted[:MAX_BODY],
                "auto_reply": parsed.auto_submitted,
                "warnings": list(parsed.warnings),
                "message_id": valid_message_id(parsed.message_id),
                "references": _kept_references(parsed),
            },
        )
        out = await add_item(unit, conversation, item, reopen=not parsed.auto_submitted)
        s.add(
            EmailMessage(
                item_id=out.id,
                message_id=key,
                subject=parsed.subject[:500],
                raw_sha256=digest,
                raw_size=raw_size,
            )
        )
        entries = []
        for position, attachment in enumerate(parsed.attachments):
            stored = await asyncio.to_thread(media.store_bytes, settings.storage.media_dir, attachment.data)
            row = Media(
                item_id=out.id,
                position=position,
                content_type=attachment.content_type,
                size=attachment.size,
                sha256=stored,
                state="stored",
            )
            s.add(row)
            await s.flush()
            entries.append(
                {
                    "id": row.id,
                    "content_type": attachment.content_type,
                    "state": "stored",
                    "filename": attachment.filename,
                    "size": attachment.size,
                    "content_id": attachment.content_id,
                    "inline": attachment.inline,
                }
            )
        stored_item = await s.get(TimelineItem, out.id)
        if stored_item is not None and entries:
            stored_item.meta = {**stored_item.meta, "media": entries}
            await publish_update(unit, stored_item)
        if stored_item is not None and not parsed.auto_submitted:  # an auto-reply never confirms
            answered = await _answered_items(s, parsed, conversation)
            await appointment_replies.understand_email(unit, conversation, stored_item, answered, new_part)
        audit.record(
            s,
            None,
            "receive",
            "timeline_item",
            out.id,
            {"kind": "email", "attachments": len(entries), "auto_reply": parsed.auto_submitted},
        )
        return out.id, False


def _parent_keys(parsed: ParsedEmail, location_id: int) -> list[str]:
    """How the messages this one answers would be stored at this location."""
    parents = [m for m in (parsed.in_reply_to, *reversed(parsed.references)) if m]
    return [k for m in parents for k in (message_key(m), message_key(m, location_id))]


async def _answered_items(s: Any, parsed: ParsedEmail, conversation: Conversation) -> list[int]:
    """This thread's items that the message names as its parents (a reminder it answers, say)."""
    keys = _parent_keys(parsed, conversation.location_id)
    if not keys:
        return []
    return list(
        await s.scalars(
            select(EmailMessage.item_id)
            .join(TimelineItem, TimelineItem.id == EmailMessage.item_id)
            .where(EmailMessage.message_id.in_(keys), TimelineItem.conversation_id == conversation.id)
        )
    )


def _kept_references(parsed: ParsedEmail) -> list[str]:
    """The sender's thread (valid ids only, the last few): our reply's References continue it."""
    ids = [i for i in (valid_message_id(r) for r in parsed.references) if i]
    parent = valid_message_id(parsed.in_reply_to)
    if parent and parent not in ids:
        ids.append(parent)
    return ids[-KEPT_REFERENCES:]


async def _thread_for(unit: Unit, parsed: ParsedEmail, location: Location) -> Conversation:
    """The conversation (at this location) of the message this one answers, else the sender's, else new.

    Only conversations of the receiving location count: a Message-ID is chosen by whoever sends the
    mail, so threading across locations or practices would let any sender file mail into them.
    """
    s = unit.session
    if keys := _parent_keys(parsed, location.id):
        found = await s.scalar(
            select(Conversation)
            .join(TimelineItem, TimelineItem.conversation_id == Conversation.id)
            .join(EmailMessage, EmailMessage.item_id == TimelineItem.id)
            .where(EmailMessage.message_id.in_(keys), Conversation.location_id == location.id)
            .order_by(TimelineItem.id.desc())
        )
        if found is not None:
            return found
    address = parsed.from_address
    contact = None
    if address:
        contact = await s.scalar(
            select(Contact)
            .join(ContactEmail)
            .where(
                ContactEmail.address == address,
                Contact.practice_id == location.practice_id,
                Contact.merged_into_id.is_(None),
            )
            .order_by(Contact.is_unknown, Contact.id)
        )
    if contact is None:
        contact = await insert_contact(
            s,
            None,
            location.practice_id,
            parsed.from_name[:100] if parsed.from_name else "",
            "",
            [],
            [address] if address else [],
            None,
            True,
        )
    await s.refresh(contact, ["phones", "emails"])  # loaded now: the summary in events reads them
    conversation = await s.scalar(
        select(Conversation).where(
            Conversation.contact_id == contact.id, Conversation.location_id == location.id
        )
    )
    if conversation is None:
        conversation = Conversation(contact_id=contact.id, location_id=location.id)
        s.add(conversation)
        await s.flush()
    return conversation


async def apply_bounce(services: Services, parsed: ParsedEmail) -> int | None:
    """A delivery failure report marks our outbound e-mail failed (permanent) or notes the delay."""
    bounce = parsed.bounce
    if bounce is None or not bounce.original_message_id:
        return None
    async with services.unit() as unit:
        s = unit.session
        item = await s.scalar(
            select(TimelineItem)
            .join(EmailMessage, EmailMessage.item_id == TimelineItem.id)
            .where(
                EmailMessage.message_id == message_key(bounce.original_message_id),
                TimelineItem.direction == "out",
            )
            .with_for_update(of=TimelineItem)
        )
        if item is None:
            return None
        if bounce.permanent:
            item.status = "failed"
            item.meta = {
                **item.meta,
                BOUNCED: True,
                "error": "The patient's mail server refused this e-mail (bounced). Check the address.",
            }
        else:
            item.meta = {**item.meta, "warning": "Delivery is delayed; the mail server is still trying."}
        await publish_update(unit, item)
        return item.id


async def send_email(
    services: Services,
    actor: Actor,
    conversation_id: int,
    body: str,
    subject: str | None = None,
    attachments: Sequence[OutgoingAttachment] = (),
) -> TimelineItemOut:
    """A reply from the thread (text, its HTML twin, files), threaded under the thread's last e-mail."""
    async with services.unit() as unit:
        conversation = await conversation_for(unit, actor, conversation_id)
        out = await queue_email(
            services,
            unit,
            conversation,
            body,
            subject=subject,
            attachments=attachments,
            author_id=actor.user_id,
        )
        audit.record(
            unit.session,
            actor,
            "send",
            "timeline_item",
            out.id,
            {"kind": "email", "attachments": len(attachments)},
        )
        return out


async def queue_email(
    services: Services,
    unit: Unit,
    conversation: Conversation,
    body: str,
    *,
    subject: str | None = None,
    attachments: Sequence[OutgoingAttachment] = (),
    author_id: int | None,
    meta: dict[str, object] | None = None,
) -> TimelineItemOut:
    """The one way an e-mail leaves: built and kept now, in the caller's transaction, so every delivery
    attempt sends the same bytes and Message-ID; threaded under the thread's last e-mail."""
    if not body.strip():
        raise InvalidRequest("the message is empty")
    smtp = services.settings.smtp
    media_dir = services.settings.storage.media_dir
    files = vet_attachments(attachments, smtp.max_attachment_bytes)
    s = unit.session
    contact = await s.get(Contact, conversation.contact_id)
    if contact is None or not contact.emails:
        raise InvalidRequest("this patient has no e-mail address")
    sender = await s.scalar(
        select(LocationEmail.address)
        .where(LocationEmail.location_id == conversation.location_id)
        .order_by(LocationEmail.id)
    )
    sender = sender or smtp.from_address
    parent_row = (
        await s.execute(
            select(EmailMessage, TimelineItem)
            .join(TimelineItem, TimelineItem.id == EmailMessage.item_id)
            .where(TimelineItem.conversation_id == conversation.id)
            .order_by(TimelineItem.id.desc())
            .limit(1)
        )
    ).first()
    parent_id, chain, parent_subject = None, [], ""
    if parent_row is not None:
        record, parent_item = parent_row
        parent_subject = record.subject
        # The sender's own id, kept in meta (the stored key may be a digest or a location's copy).
        parent_meta = parent_item.meta
        parent_id = valid_message_id(
            parent_meta["message_id"] if "message_id" in parent_meta else record.message_id
        )
        if parent_id:
            chain = reply_chain(await _parent_references(media_dir, record, parent_item), parent_id)
    subject = (subject or parent_subject or "Message from your care team").strip()
    to = contact.emails[0].address
    try:
        message, message_id = build_email(
            from_addr=sender,
            from_name=smtp.from_name,
            to=[to],
            subject=subject,
            text=body,
            html=text_to_html(body),
            in_reply_to=parent_id,
            references=chain[:-1],
            attachments=files,
            domain=smtp.message_id_domain,
            date=utcnow(),
        )
    except ValueError as exc:
        raise InvalidRequest(f"this e-mail cannot be sent: {exc}") from None
    raw = message.as_bytes()
    digest = await asyncio.to_thread(media.store_bytes, media_dir, raw)
    item = TimelineItem(
        kind="email",
        direction="out",
        body=body,
        status="pending",
        author_id=author_id,
        meta={
            "subject": str(message["Subject"]),
            "to": [to],
            "from": sender,
            "in_reply_to": parent_id,
            "references": chain,
            "message_id": message_id,
            **(meta or {}),
        },
    )
    out = await add_item(unit, conversation, item)
    s.add(
        EmailMessage(
            item_id=out.id,
            message_id=message_id,
            subject=str(message["Subject"])[:500],
            raw_sha256=digest,
            raw_size=len(raw),
        )
    )
    entries = await _keep_attachments(s, media_dir, out.id, files)
    if entries:
        stored_item = await s.get(TimelineItem, out.id)
        if stored_item is not None:
            stored_item.meta = {**stored_item.meta, "media": entries}
            await publish_update(unit, stored_item)
            out = out.model_copy(update={"meta": dict(stored_item.meta)})
    s.add(
        OutboxEntry(
            item_id=out.id,
            channel="email",
            state="pending",
            to_addr=to,
            from_addr=sender,
            next_attempt_at=utcnow(),
        )
    )
    return out


async def _keep_attachments(
    s: Any, media_dir: str, item_id: int, files: Sequence[OutgoingAttachment]
) -> list[dict[str, Any]]:
    """Staff's files as media of the item, listed and opened like a patient's attachments."""
    entries = []
    for position, f in enumerate(files):
        digest = await asyncio.to_thread(media.store_bytes, media_dir, f.data)
        row = Media(
            item_id=item_id,
            position=position,
            content_type=f.content_type,
            size=len(f.data),
            sha256=digest,
            state="stored",
        )
        s.add(row)
        await s.flush()
        entries.append(
            {
                "id": row.id,
                "content_type": f.content_type,
                "state": "stored",
                "filename": f.filename,
                "size": len(f.data),
                "inline": False,
            }
        )
    return entries


async def _parent_references(media_dir: str, record: EmailMessage, item: TimelineItem) -> list[str]:
    """The parent's own References: kept in its meta, or read from its raw original (older items)."""
    kept = item.meta.get("references")
    if isinstance(kept, list):
        return [str(r) for r in kept]
    if not record.raw_sha256:
        parent = item.meta.get("in_reply_to")
        return [str(parent)] if parent else []
    path = media.path_for(media_dir, record.raw_sha256)
    try:
        head = await asyncio.to_thread(path.read_bytes)
    except OSError:
        return []
    headers = BytesHeaderParser(policy=default_policy).parsebytes(head)
    found = []
    for name in ("references", "in-reply-to"):
        for value in headers.get_all(name) or []:
            found.extend(str(value).split())
    return found
