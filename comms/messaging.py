"""Texting actions: receive a text (idempotently), queue one for sending, apply status callbacks."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from comms import appointment_replies, audit, carrier_errors
from comms.access import Actor
from comms.contacts import _create as insert_contact
from comms.contacts import _holders as holders_of
from comms.errors import InvalidRequest, NotFound, OptedOut
from comms.group_commit import PerStore
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
from comms.summaries import conversation_state
from comms.timeline import add_activity, add_item, conversation_for, item_out
from routing.audience import Audience
from schemas.api import TimelineItemOut
from schemas.events import TimelineItemAdded, TimelineItemUpdated
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


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def write_unit(services: Services) -> AsyncIterator[Unit]:
    """`services.unit()` for the texting paths, taking turns on SQLite.

    SQLite has one write lock per database, and a writer that finds it taken polls with growing
    sleeps: under a burst of webhooks a writer can lose every round until busy_timeout and fail.
    Waiting in line here (one lock per event loop, FIFO) costs nothing and never starves.
    """
    if not services.settings.database.is_sqlite:
        async with services.unit() as unit:
            yield unit
        return
    loop = asyncio.get_running_loop()
    lock = _writers.get(loop)
    if lock is None:
        lock = _writers[loop] = asyncio.Lock()
    async with lock, services.unit() as unit:
        yield unit


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


@dataclass(frozen=True)
class _Inbound:
    message: InboundSms
    from_number: str  # E.164
    to_number: str


BATCH_MOST = 100  # texts written in one transaction at most
NO_LOCATION = "no location of this practice owns the number this message was sent to"
_ingest: PerStore[_Inbound, Received] = PerStore(BATCH_MOST)


async def receive_sms(services: Services, message: InboundSms) -> Received:
    """Store an inbound text once (Twilio retries: MessageSid is unique) and act on STOP/START/HELP.

    Texts that arrive while others are being written are written together, in one transaction.
    """
    inbound = _Inbound(message, _carrier_number(message.from_number), _carrier_number(message.to_number))

    async def write(batch: list[_Inbound]) -> list[Received | Exception]:
        return await _write(services, batch)

    return await _ingest.get(services.sessionmaker, write).submit(inbound)


_E164 = re.compile(r"\+[1-9][0-9]{7,14}")


def _carrier_number(raw: str) -> str:
    """Twilio sends numbers in E.164 already: kept as they are (a range too new for our copy of the
    numbering plan must not lose a patient's text); anything else is parsed as a person's input."""
    return raw if _E164.fullmatch(raw) else to_e164(raw)


async def _write(services: Services, batch: list[_Inbound]) -> list[Received | Exception]:
    """The batch in one transaction; if that fails, each text alone, so one bad text fails alone."""
    if len(batch) > 1:
        try:
            return await _store(services, batch)
        except Exception:  # noqa: S110 - retried one by one below, where each error is kept
            pass
    return [await _store_alone(services, inbound) for inbound in batch]


async def _store_alone(services: Services, inbound: _Inbound) -> Received | Exception:
    try:
        [result] = await _store(services, [inbound])
        return result
    except IntegrityError as exc:
        # The same webhook raced us on another node and won: its row is the one, ours rolled back.
        async with services.read() as session:
            winner = await session.scalar(
                select(TimelineItem.id).where(TimelineItem.carrier_sid == inbound.message.message_sid)
            )
        return exc if winner is None else Received(winner, duplicate=True)
    except Exception as exc:
        return exc


async def _store(services: Services, batch: list[_Inbound]) -> list[Received | Exception]:
    """Write a batch of inbound texts: a few lookups for all of them, one INSERT, then each one's
    conversation update, event, media rows, keyword and audit row."""
    async with write_unit(services) as unit:
        s = unit.session
        sids = {b.message.message_sid for b in batch}
        known: dict[str | None, int] = {
            sid: item_id
            for sid, item_id in await s.execute(
                select(TimelineItem.carrier_sid, TimelineItem.id).where(TimelineItem.carrier_sid.in_(sids))
            )
        }
        locations: dict[str, tuple[int, int]] = {
            e164: (location_id, practice_id)
            for e164, location_id, practice_id in await s.execute(
                select(LocationNumber.e164, Location.id, Location.practice_id)
                .join(Location, Location.id == LocationNumber.location_id)
                .where(LocationNumber.e164.in_({b.to_number for b in batch}))
            )
        }
        senders = await _Senders.load(s, batch, locations)
        results: list[Received | Exception | None] = []
        first: dict[str, int] = {}  # MessageSid -> position of its first copy in this batch
        fresh: list[tuple[int, _Inbound, TimelineItem, Conversation, Contact, int]] = []
        now = utcnow()
        for position, b in enumerate(batch):
            sid = b.message.message_sid
            results.append(None)
            if sid in known or sid in first:
                continue  # stored before, or earlier in this batch
            found = locations.get(b.to_number)
            if found is None:
                results[-1] = NotFound(
                    "no location of this practice owns the number this message was sent to"
                )
                continue
            location_id, practice_id = found
            contact, household = await senders.who(practice_id, b.from_number)
            conversation = await senders.conversation(unit, contact.id, location_id)
            meta: dict[str, object] = {
                "from": b.from_number,
                "to": b.to_number,
                "segments": count_segments(b.message.body).segments,
            }
            if household:
                meta["household"] = household  # several patients share this number: staff choose who wrote
            item = TimelineItem(
                conversation_id=conversation.id,
                kind="mms" if b.message.media else "sms",
                direction="in",
                body=b.message.body,
                status="received",
                carrier_sid=sid,
                meta=meta,
                created_at=now,
                updated_at=now,
            )
            s.add(item)
            first[sid] = position
            fresh.append((position, b, item, conversation, contact, practice_id))
        await s.flush()  # every new text in one INSERT
        answering = await appointment_replies.awaiting_reply(s, {f[3].id for f in fresh})
        received: list[tuple[int, dict[str, object]]] = []  # audit rows, written in one INSERT
        for position, b, item, conversation, contact, practice_id in fresh:
            media_ids = await _add_media(unit, item, b.message)
            _announce(unit, conversation, contact, item)
            reply = await _apply_keyword(
                unit, services, b.message, practice_id, b.from_number, conversation, item.id
            )
            # "YES" may answer a reminder; only threads with one waiting are read for it.
            if conversation.id in answering and keyword(b.message) not in ("stop", "help"):
                await appointment_replies.understand(unit, conversation, item)
            received.append((item.id, {"kind": item.kind, "media": len(media_ids)}))
            results[position] = Received(item.id, duplicate=False, reply=reply, media_ids=media_ids)
        await audit.record_many(s, None, "receive", "timeline_item", received)
        done: list[Received | Exception] = []
        for b, result in zip(batch, results, strict=True):
            if result is None:
                sid = b.message.message_sid
                copy = results[first[sid]] if sid in first else None
                item_id = known.get(sid) or (copy.item_id if isinstance(copy, Received) else None)
                result = Received(item_id, duplicate=True)
            done.append(result)
        return done


class _Senders:
    """Who wrote each text of a batch, and their conversations, looked up once for the whole batch."""

    def __init__(self, s: AsyncSession) -> None:
        self.s = s
        self.holders: dict[tuple[int, str], list[Contact]] = {}
        self.conversations: dict[tuple[int, int], Conversation] = {}

    @classmethod
    async def load(
        cls, s: AsyncSession, batch: list[_Inbound], locations: dict[str, tuple[int, int]]
    ) -> _Senders:
        senders = cls(s)
        by_practice: dict[int, set[str]] = {}
        for b in batch:
            if b.to_number in locations:
                by_practice.setdefault(locations[b.to_number][1], set()).add(b.from_number)
        for practice_id, numbers in by_practice.items():
            for contact in await holders_of(s, practice_id, sorted(numbers)):  # oldest first
                for phone in contact.phones:
                    if phone.e164 in numbers:
                        senders.holders.setdefault((practice_id, phone.e164), []).append(contact)
        contact_ids = {c.id for holders in senders.holders.values() for c in holders}
        location_ids = {location_id for location_id, _ in locations.values()}
        if contact_ids:
            for conversation in await s.scalars(
                select(Conversation).where(
                    Conversation.contact_id.in_(contact_ids), Conversation.location_id.in_(location_ids)
                )
            ):
                senders.conversations[(conversation.contact_id, conversation.location_id)] = conversation
        return senders

    async def who(self, practice_id: int, e164: str) -> tuple[Contact, list[int]]:
        """The known patient with this number (oldest), else an unknown contact made now."""
        holders = self.holders.get((practice_id, e164), [])
        known = [c for c in holders if not c.is_unknown]
        if holders:
            chosen = (known or holders)[0]
            return chosen, [c.id for c in known] if len(known) > 1 else []
        contact = await insert_contact(self.s, None, practice_id, "", "", [e164], [], None, True)
        await self.s.refresh(contact, ["phones", "emails"])  # the event lists them; no lazy load later
        self.holders[(practice_id, e164)] = [contact]
        return contact, []

    async def conversation(self, unit: Unit, contact_id: int, location_id: int) -> Conversation:
        """The patient's conversation at this location, created on first contact."""
        found = self.conversations.get((contact_id, location_id))
        if found is None:
            found = Conversation(contact_id=contact_id, location_id=location_id)
            self.s.add(found)
            await self.s.flush()
            self.conversations[(contact_id, location_id)] = found
        return found


def _announce(unit: Unit, conversation: Conversation, contact: Contact, item: TimelineItem) -> None:
    """What `timeline.add_item` does once the item is flushed, for an inbound text written in a batch:
    the conversation moves to it (and reopens), and its viewers are told after commit."""
    conversation.last_item_at = item.created_at
    conversation.last_item_id = item.id
    if f",{item.kind}," not in conversation.channels:
        conversation.channels = (conversation.channels or ",") + f"{item.kind},"
    conversation.last_inbound_id = item.id
    if conversation.status != "open":  # a patient writing again reopens the thread
        conversation.status, conversation.snoozed_until = "open", None
    unit.publish(
        TimelineItemAdded(
            location_id=conversation.location_id,
            conversation_id=conversation.id,
            item=item_out(item),
            conversation=conversation_state(conversation, contact, item),
        ),
        Audience.location(conversation.location_id),
    )


async def _add_media(unit: Unit, item: TimelineItem, message: InboundSms) -> list[int]:
    """A row per picture, fetched later by the media fetcher; listed on the item as pending."""
    if not message.media:
        return []
    rows = [
        Media(
            item_id=item.id,
            position=position,
            source_url=medium.url,
            content_type=medium.content_type or "application/octet-stream",
        )
        for position, medium in enumerate(message.media)
    ]
    unit.session.add_all(rows)
    await unit.session.flush()
    item.meta = {
        **item.meta,
        "media": [{"id": row.id, "content_type": row.content_type, "state": "pending"} for row in rows],
    }
    return [row.id for row in rows]


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
        await record_opt_out(unit, practice_id, e164, "keyword", item_id)
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
    await add_activity(unit, conversation, body, {"action": f"sms_{word}"})
    return reply


async def record_opt_out(unit: Unit, practice_id: int, e164: str, source: str, item_id: int) -> None:
    """This practice may text the number no more: remember it and withdraw what still waits to go."""
    s = unit.session
    if not await is_opted_out(s, practice_id, e164):
        s.add(OptOut(practice_id=practice_id, e164=e164, source=source, item_id=item_id))
    await _cancel_queued(unit, practice_id, e164)


async def _cancel_queued(unit: Unit, practice_id: int, e164: str) -> None:
    """A STOP withdraws every text of this practice still waiting to go to that number (only this one:
    the same phone may still be texted by another practice on the server)."""
    s = unit.session
    entries = (
        await s.scalars(
            select(OutboxEntry)
            .join(TimelineItem, TimelineItem.id == OutboxEntry.item_id)
            .join(Conversation, Conversation.id == TimelineItem.conversation_id)
            .join(Location, Location.id == Conversation.location_id)
            .where(
                Location.practice_id == practice_id,
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
            await mark_opted_out(unit, item)


async def mark_opted_out(unit: Unit, item: TimelineItem) -> None:
    """An outbound text that will not go because the patient opted out, said so in words."""
    item.status, item.error_code = "canceled", "21610"
    item.meta = {**item.meta, "error": carrier_errors.describe("21610")}
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
    async with write_unit(services) as unit:
        conversation = await conversation_for(unit, actor, conversation_id)
        out = await queue_sms(unit, conversation, body, author_id=actor.user_id, send_at=send_at)
        audit.record(
            unit.session, actor, "send", "timeline_item", out.id, {"kind": "sms", "later": bool(send_at)}
        )
        return out


async def cancel_scheduled(services: Services, actor: Actor, item_id: int) -> TimelineItemOut:
    """Withdraw a send-later message that has not gone yet."""
    async with write_unit(services) as unit:
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
