"""Texting actions: receive a text (idempotently), queue one for sending, apply status callbacks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit, carrier_errors
from comms.access import Actor
from comms.contacts import _create as insert_contact
from comms.contacts import _holders as holders_of
from comms.errors import InvalidRequest, NotFound, OptedOut
from comms.models import (
    Contact,
    Conversation,
    Location,
    LocationNumber,
    Media,
    OptOut,
    OutboxEntry,
    TimelineItem,
    utcnow,
)
from comms.phones import to_e164
from comms.segments import count_segments
from comms.services import Services, Unit
from comms.timeline import add_item, conversation_for, item_out
from routing.audience import Audience
from schemas.api import TimelineItemOut
from schemas.events import TimelineItemUpdated
from schemas.twilio import InboundSms

OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
MAX_BODY = 1600  # Twilio refuses longer message bodies

# Forward-only status order; the last group is final (only "read" may follow "delivered").
_RANK = {
    "pending": 0,
    "scheduled": 0,
    "accepted": 1,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 5,
    "undelivered": 5,
    "failed": 5,
    "canceled": 5,
    "read": 6,
}
FINAL = frozenset({"delivered", "undelivered", "failed", "canceled", "read"})


def keyword(message: InboundSms) -> str | None:
    """STOP/START/HELP as Twilio matches them: the whole message, one word, any case."""
    if message.opt_out_type:
        return message.opt_out_type.lower()
    word = message.body.strip().upper()
    if word in OPT_OUT_WORDS:
        return "stop"
    if word in OPT_IN_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return None


@dataclass
class Received:
    item_id: int | None
    duplicate: bool
    reply: str | None = None
    media_ids: list[int] = field(default_factory=list)


async def _conversation(unit: Unit, contact_id: int, location_id: int) -> Conversation:
    """The patient's conversation at this location, created on first contact."""
    s = unit.session
    found = await s.scalar(
        select(Conversation).where(
            Conversation.contact_id == contact_id, Conversation.location_id == location_id
        )
    )
    if found is not None:
        return found
    conversation = Conversation(contact_id=contact_id, location_id=location_id)
    s.add(conversation)
    await s.flush()
    return conversation


async def _sender(s: AsyncSession, practice_id: int, e164: str) -> tuple[Contact, list[int]]:
    """Who wrote: the known patient with this number (oldest), else an unknown contact made now."""
    holders = await holders_of(s, practice_id, [e164])
    known = [c for c in holders if not c.is_unknown]
    if holders:
        chosen = (known or holders)[0]
        return chosen, [c.id for c in known] if len(known) > 1 else []
    return await insert_contact(s, None, practice_id, "", "", [e164], [], None, True), []


async def receive_sms(services: Services, message: InboundSms) -> Received:
    """Store an inbound text once (Twilio retries: MessageSid is unique) and act on STOP/START/HELP."""
    async with services.read() as session:
        existing = await session.scalar(
            select(TimelineItem.id).where(TimelineItem.carrier_sid == message.message_sid)
        )
    if existing is not None:
        return Received(existing, duplicate=True)
    try:
        return await _store_inbound(services, message)
    except IntegrityError:
        # The same webhook raced us and won: its row is the one, ours rolled back whole.
        async with services.read() as session:
            winner = await session.scalar(
                select(TimelineItem.id).where(TimelineItem.carrier_sid == message.message_sid)
            )
        if winner is None:
            raise
        return Received(winner, duplicate=True)


async def _store_inbound(services: Services, message: InboundSms) -> Received:
    from_number, to_number = to_e164(message.from_number), to_e164(message.to_number)
    async with services.unit() as unit:
        s = unit.session
        location = await s.scalar(
            select(Location).join(LocationNumber).where(LocationNumber.e164 == to_number)
        )
        if location is None:
            raise NotFound("no location of this practice owns the number this message was sent to")
        contact, household = await _sender(s, location.practice_id, from_number)
        conversation = await _conversation(unit, contact.id, location.id)
        meta: dict[str, object] = {
            "from": from_number,
            "to": to_number,
            "segments": count_segments(message.body).segments,
        }
        if household:
            meta["household"] = household  # several patients share this number: staff choose who wrote
        item = TimelineItem(
            kind="mms" if message.media else "sms",
            direction="in",
            body=message.body,
            status="received",
            carrier_sid=message.message_sid,
            meta=meta,
        )
        out = await add_item(unit, conversation, item)
        media_ids: list[int] = []
        for position, medium in enumerate(message.media):
            row_media = Media(
                item_id=out.id,
                position=position,
                source_url=medium.url,
                content_type=medium.content_type or "application/octet-stream",
            )
            s.add(row_media)
            await s.flush()
            media_ids.append(row_media.id)
        if media_ids:
            stored = await s.get(TimelineItem, out.id)
            if stored is not None:
                stored.meta = {
                    **stored.meta,
                    "media": [
                        {
                            "id": mid,
                            "content_type": m.content_type or "application/octet-stream",
                            "state": "pending",
                        }
                        for mid, m in zip(media_ids, message.media, strict=True)
                    ],
                }
                out = item_out(stored)
        reply = await _apply_keyword(
            unit, services, message, location.practice_id, from_number, conversation, out.id
        )
        audit.record(
            s, None, "receive", "timeline_item", out.id, {"kind": item.kind, "media": len(media_ids)}
        )
        return Received(out.id, duplicate=False, reply=reply, media_ids=media_ids)


async def _apply_keyword(
    unit: Unit,
    services: Services,
    message: InboundSms,
    practice_id: int,
    e164: str,
    conversation: Conversation,
    item_id: int,
) -> str | None:
    """Record opt-out and opt-in in the store and the timeline; the reply text when we must answer."""
    word = keyword(message)
    if word is None:
        return None
    s = unit.session
    twilio = services.settings.twilio
    reply: str | None = None
    if word == "stop":
        if (
            await s.scalar(select(OptOut.id).where(OptOut.practice_id == practice_id, OptOut.e164 == e164))
            is None
        ):
            s.add(OptOut(practice_id=practice_id, e164=e164, source="keyword", item_id=item_id))
        await _cancel_queued(unit, e164)
        body = "Opted out of texts (replied STOP). Nothing will be sent to this number until they text START."
        reply = (
            None if twilio.advanced_opt_out else "You have been unsubscribed and will receive no more texts."
        )
    elif word == "start":
        removed = await s.execute(
            delete(OptOut).where(OptOut.practice_id == practice_id, OptOut.e164 == e164)
        )
        if not getattr(removed, "rowcount", 0):
            return None  # "YES" from someone never opted out is an ordinary reply, not an event
        body = "Opted back in to texts (replied START)."
        reply = None if twilio.advanced_opt_out else "You are subscribed again. Reply STOP to unsubscribe."
    else:
        body = "Asked for help (replied HELP)."
        reply = None if twilio.advanced_opt_out else twilio.help_reply
    await add_item(
        unit,
        conversation,
        TimelineItem(
            kind="activity",
            direction="internal",
            body=body,
            meta={"action": f"sms_{word}"},
        ),
    )
    return reply


async def _cancel_queued(unit: Unit, e164: str) -> None:
    """A STOP withdraws every text still waiting to go to that number."""
    s = unit.session
    entries = (
        await s.scalars(
            select(OutboxEntry).where(
                OutboxEntry.to_addr == e164,
                OutboxEntry.channel == "sms",
                OutboxEntry.state.in_(("scheduled", "pending")),
            )
        )
    ).all()
    for entry in entries:
        entry.state = "canceled"
        item = await s.get(TimelineItem, entry.item_id)
        if item is not None:
            item.status, item.error_code = "canceled", "21610"
            await publish_update(unit, item)


async def is_opted_out(s: AsyncSession, practice_id: int, e164: str) -> bool:
    return (
        await s.scalar(select(OptOut.id).where(OptOut.practice_id == practice_id, OptOut.e164 == e164))
        is not None
    )


async def publish_update(unit: Unit, item: TimelineItem) -> None:
    """Tell the thread's viewers an item changed (status ticks, failures)."""
    conversation = await unit.session.get(Conversation, item.conversation_id)
    if conversation is None:
        return
    await unit.session.flush()
    unit.publish(
        TimelineItemUpdated(
            location_id=conversation.location_id, conversation_id=conversation.id, item=item_out(item)
        ),
        Audience.location(conversation.location_id),
    )


async def queue_sms(
    unit: Unit,
    conversation: Conversation,
    body: str,
    *,
    author_id: int | None,
    send_at: dt.datetime | None = None,
    meta: dict[str, object] | None = None,
    to: str | None = None,
) -> TimelineItemOut:
    """The one way a text leaves: checks opt-out, writes the item and its outbox row in this transaction.

    Staff replies, send-later and automations (reminders, text-back) all come through here. `to` picks
    one of the patient's numbers (the one that called, for a text-back); by default the first.
    """
    s = unit.session
    if not body.strip():
        raise InvalidRequest("the message is empty")
    if len(body) > MAX_BODY:
        raise InvalidRequest(f"a text can be at most {MAX_BODY} characters")
    contact = await s.get(Contact, conversation.contact_id)
    location = await s.get(Location, conversation.location_id)
    if contact is None or location is None:
        raise NotFound("no such conversation")
    if not contact.phones:
        raise InvalidRequest("this patient has no phone number")
    numbers = [p.e164 for p in contact.phones]
    if to is not None and to not in numbers:
        raise InvalidRequest("that number is not one of this patient's")
    to_number = to or numbers[0]
    if await is_opted_out(s, location.practice_id, to_number):
        raise OptedOut("this patient replied STOP: texts to this number are blocked until they text START")
    sender = next((n.e164 for n in location.numbers if n.sms), None)
    if sender is None:
        raise InvalidRequest("this location has no texting number")
    now = utcnow()
    later = send_at is not None and send_at > now
    segments = count_segments(body)
    item = TimelineItem(
        kind="sms",
        direction="out",
        body=body,
        status="scheduled" if later else "pending",
        author_id=author_id,
        meta={
            "to": to_number,
            "from": sender,
            "segments": segments.segments,
            "encoding": segments.encoding,
            **({"send_at": send_at.isoformat()} if later and send_at else {}),
            **(meta or {}),
        },
    )
    out = await add_item(unit, conversation, item)
    s.add(
        OutboxEntry(
            item_id=out.id,
            channel="sms",
            state="scheduled" if later else "pending",
            to_addr=to_number,
            from_addr=sender,
            segments=segments.segments,
            next_attempt_at=send_at if later and send_at else now,
        )
    )
    return out


async def send_sms(
    services: Services, actor: Actor, conversation_id: int, body: str, send_at: dt.datetime | None = None
) -> TimelineItemOut:
    """Staff texting a patient from the thread (now, or later at send_at)."""
    if send_at is not None and send_at.tzinfo is None:
        raise InvalidRequest("send_at needs a time zone")
    async with services.unit() as unit:
        conversation = await conversation_for(unit, actor, conversation_id)
        out = await queue_sms(unit, conversation, body, author_id=actor.user_id, send_at=send_at)
        audit.record(
            unit.session, actor, "send", "timeline_item", out.id, {"kind": "sms", "later": bool(send_at)}
        )
        return out


async def cancel_scheduled(services: Services, actor: Actor, item_id: int) -> TimelineItemOut:
    """Withdraw a send-later message that has not gone yet."""
    async with services.unit() as unit:
        s = unit.session
        item = await s.get(TimelineItem, item_id)
        if item is None:
            raise NotFound("no such message")
        await conversation_for(unit, actor, item.conversation_id)
        entry = await s.get(OutboxEntry, item_id, with_for_update=not services.settings.database.is_sqlite)
        if entry is None or entry.state != "scheduled":
            raise InvalidRequest("only a scheduled message that has not been sent can be canceled")
        entry.state = "canceled"
        item.status = "canceled"
        await publish_update(unit, item)
        audit.record(s, actor, "cancel", "timeline_item", item.id)
        return item_out(item)


async def apply_status(
    services: Services, sid: str, status: str, error_code: str | None, item_id: int | None = None
) -> bool:
    """Apply a status callback only if it moves the message forward; True when something changed.

    Callbacks can beat the sender's own record of the carrier id, so the callback URL names our item
    too: an outbound text with no carrier id yet takes the callback's.
    """
    async with services.unit() as unit:
        s = unit.session
        item = await s.scalar(select(TimelineItem).where(TimelineItem.carrier_sid == sid))
        if item is None and item_id is not None:
            candidate = await s.get(TimelineItem, item_id)
            if candidate is not None and candidate.direction == "out" and candidate.carrier_sid is None:
                candidate.carrier_sid = sid
                item = candidate
        if item is None:
            return False
        current = item.status or "pending"
        if status not in _RANK or _RANK[status] <= _RANK.get(current, 0):
            return False
        if current in FINAL and not (current == "delivered" and status == "read"):
            return False
        item.status = status
        if status in ("failed", "undelivered") and error_code:
            item.error_code = error_code
            item.meta = {**item.meta, "error": carrier_errors.describe(error_code)}
            conversation = await s.get(Conversation, item.conversation_id)
            location = await s.get(Location, conversation.location_id) if conversation else None
            if (
                location is not None
                and carrier_errors.ERRORS.get(error_code, None) is not None
                and (carrier_errors.ERRORS[error_code].opted_out)
            ):
                to = str(item.meta.get("to", ""))
                if to and not await is_opted_out(s, location.practice_id, to):
                    s.add(
                        OptOut(practice_id=location.practice_id, e164=to, source="carrier", item_id=item.id)
                    )
        await publish_update(unit, item)
        return True
