"""E-mail actions: store an inbound message in the right thread, queue a reply, apply bounces."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import select

from comms import audit, media
from comms.access import Actor
from comms.contacts import _create as insert_contact
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


@dataclass(frozen=True)
class ReceivedEmail:
    item_id: int | None
    duplicate: bool = False
    bounce_for: int | None = None


async def receive_email(
    services: Services, raw: bytes, recipients: list[str], mail_from: str
) -> ReceivedEmail:
    """Parse (never failing), keep the raw original, thread the message, store it once per Message-ID."""
    settings = services.settings
    digest = await asyncio.to_thread(media.store_bytes, settings.storage.media_dir, raw)
    parsed = await asyncio.to_thread(parse_email, raw)
    message_id = parsed.message_id or f"{digest}@frontdesk.invalid"
    async with services.read() as s:
        seen = await s.scalar(select(EmailMessage.item_id).where(EmailMessage.message_id == message_id))
    if seen is not None:
        return ReceivedEmail(seen, duplicate=True)
    if parsed.bounce is not None:
        bounced = await apply_bounce(services, parsed)
        if bounced is not None:
            return ReceivedEmail(None, bounce_for=bounced)
    async with services.unit() as unit:
        location = await _location_for(unit, recipients)
        conversation = await _thread_for(unit, parsed, location)
        new_part, quoted = split_quoted(parsed.text or "")
        body = (parsed.text or "")[:MAX_BODY]
        item = TimelineItem(
            kind="email",
            direction="in",
            body=body,
            status="received",
            meta={
                "subject": parsed.subject,
                "from": parsed.from_address,
                "from_name": parsed.from_name,
                "to": list(parsed.to),
                "cc": list(parsed.cc),
                "html": parsed.html,
                "new_text": new_part[:MAX_BODY],
                "quoted": quoted[:MAX_BODY],
                "auto_reply": parsed.auto_submitted,
                "warnings": list(parsed.warnings),
            },
        )
        out = await add_item(unit, conversation, item, reopen=not parsed.auto_submitted)
        s = unit.session
        s.add(
            EmailMessage(
                item_id=out.id,
                message_id=message_id,
                subject=parsed.subject[:500],
                raw_sha256=digest,
                raw_size=len(raw),
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
                    "content_id": attachment.content_id,
                    "inline": attachment.inline,
                }
            )
        stored_item = await s.get(TimelineItem, out.id)
        if stored_item is not None and entries:
            stored_item.meta = {**stored_item.meta, "media": entries}
            await publish_update(unit, stored_item)
        audit.record(
            s,
            None,
            "receive",
            "timeline_item",
            out.id,
            {"kind": "email", "attachments": len(entries), "auto_reply": parsed.auto_submitted},
        )
        return ReceivedEmail(out.id)


async def _location_for(unit: Unit, recipients: list[str]) -> Location:
    addresses = [r.strip().lower() for r in recipients]
    location = await unit.session.scalar(
        select(Location)
        .join(LocationEmail)
        .where(LocationEmail.address.in_(addresses))
        .order_by(LocationEmail.id)
    )
    if location is None:
        raise NotFound("no location receives mail at these addresses")
    return location


async def _thread_for(unit: Unit, parsed: ParsedEmail, location: Location) -> Conversation:
    """The conversation of the message this one answers, else the sender's, else a new unknown contact's."""
    s = unit.session
    parents = [m for m in (parsed.in_reply_to, *reversed(parsed.references)) if m]
    if parents:
        found = await s.scalar(
            select(Conversation)
            .join(TimelineItem, TimelineItem.conversation_id == Conversation.id)
            .join(EmailMessage, EmailMessage.item_id == TimelineItem.id)
            .where(EmailMessage.message_id.in_(parents))
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
            .where(EmailMessage.message_id == bounce.original_message_id, TimelineItem.direction == "out")
        )
        if item is None:
            return None
        if bounce.permanent:
            item.status = "failed"
            item.meta = {
                **item.meta,
                "error": "The patient's mail server refused this e-mail (bounced). Check the address.",
            }
        else:
            item.meta = {**item.meta, "warning": "Delivery is delayed; the mail server is still trying."}
        await publish_update(unit, item)
        return item.id


async def send_email(
    services: Services, actor: Actor, conversation_id: int, body: str, subject: str | None = None
) -> TimelineItemOut:
    """A reply from the thread, threaded under the patient's last e-mail; sent by the e-mail outbox."""
    if not body.strip():
        raise InvalidRequest("the message is empty")
    smtp = services.settings.smtp
    async with services.unit() as unit:
        s = unit.session
        conversation = await conversation_for(unit, actor, conversation_id)
        contact = await s.get(Contact, conversation.contact_id)
        if contact is None or not contact.emails:
            raise InvalidRequest("this patient has no e-mail address")
        sender = await s.scalar(
            select(LocationEmail.address)
            .where(LocationEmail.location_id == conversation.location_id)
            .order_by(LocationEmail.id)
        )
        parent = (
            (
                await s.execute(
                    select(EmailMessage)
                    .join(TimelineItem, TimelineItem.id == EmailMessage.item_id)
                    .where(TimelineItem.conversation_id == conversation.id)
                    .order_by(TimelineItem.id.desc())
                )
            )
            .scalars()
            .first()
        )
        subject = (subject or (parent.subject if parent else "") or "Message from your care team").strip()
        if parent and not subject.lower().startswith("re:"):
            subject = f"Re: {subject}"
        from email.utils import make_msgid

        message_id = make_msgid(domain=smtp.message_id_domain).strip("<>")
        to = contact.emails[0].address
        item = TimelineItem(
            kind="email",
            direction="out",
            body=body,
            status="pending",
            author_id=actor.user_id,
            meta={
                "subject": subject,
                "to": [to],
                "from": sender or smtp.from_address,
                "in_reply_to": parent.message_id if parent else None,
            },
        )
        out = await add_item(unit, conversation, item)
        s.add(EmailMessage(item_id=out.id, message_id=message_id, subject=subject[:500]))
        s.add(
            OutboxEntry(
                item_id=out.id,
                channel="email",
                state="pending",
                to_addr=to,
                from_addr=sender or smtp.from_address,
                next_attempt_at=utcnow(),
            )
        )
        audit.record(s, actor, "send", "timeline_item", out.id, {"kind": "email"})
        return out
