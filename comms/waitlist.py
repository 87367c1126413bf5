"""The waitlist, staff side: put a thread's patient on it for a type (optionally one provider) between
two local dates, see a thread's entries (an expired one stays in view until renewed or replaced), renew an
expired one, take someone off. Offers of freed slots: comms/waitlist_offers.py.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.access import Actor
from comms.errors import Conflict, InvalidRequest, NotFound
from comms.models import Conversation, Location, utcnow
from comms.schedule_models import AppointmentType, Provider
from comms.schedule_setup import provider_of, type_of
from comms.services import Services, Unit
from comms.slots import provider_at
from comms.timeline import add_activity, conversation_for
from comms.waitlist_models import WaitlistEntry, WaitlistOffer
from schemas.waitlist import WaitlistEntryOut, WaitlistIn, WaitlistRenewIn

OPEN = ("waiting", "offered")
SHOWN = (*OPEN, "expired")


def expiry_for(created_at: dt.datetime, latest: dt.date, timezone: str, days: int) -> dt.datetime:
    """When an entry made at `created_at`, wanting dates up to `latest` (local), stops being offered."""
    after_last = dt.datetime.combine(latest + dt.timedelta(days=1), dt.time(), tzinfo=ZoneInfo(timezone))
    return min(created_at + dt.timedelta(days=days), after_last.astimezone(dt.UTC))


async def entry_out(s: AsyncSession, entry: WaitlistEntry) -> WaitlistEntryOut:
    kind = await s.get(AppointmentType, entry.type_id)
    provider = await s.get(Provider, entry.provider_id) if entry.provider_id else None
    location = await s.get(Location, entry.location_id)
    zone = ZoneInfo(location.timezone) if location else dt.UTC
    last_day = (entry.expires_at - dt.timedelta(microseconds=1)).astimezone(zone).date()
    return WaitlistEntryOut(
        id=entry.id,
        conversation_id=entry.conversation_id,
        location_id=entry.location_id,
        type_id=entry.type_id,
        type_name=kind.name if kind else "",
        provider_id=entry.provider_id,
        provider_name=provider.name if provider else None,
        earliest=entry.earliest,
        latest=entry.latest,
        state=entry.state,
        expires_at=entry.expires_at,
        last_day=last_day,
        created_at=entry.created_at,
    )


async def _refuse_second_entry(s: AsyncSession, conversation_id: int, type_id: int) -> None:
    """One open entry per patient thread and appointment type."""
    twin = await s.scalar(
        select(WaitlistEntry.id).where(
            WaitlistEntry.conversation_id == conversation_id,
            WaitlistEntry.type_id == type_id,
            WaitlistEntry.state.in_(OPEN),
        )
    )
    if twin is not None:
        raise Conflict("this patient is already on the waitlist for that type")


async def note(unit: Unit, actor: Actor | None, entry: WaitlistEntry, body: str, action: str) -> None:
    """A line in the patient's thread (announced live after commit)."""
    conversation = await unit.session.get(Conversation, entry.conversation_id)
    if conversation is None:
        raise NotFound("no such conversation")
    meta = {"action": action, "waitlist_entry_id": entry.id}
    await add_activity(unit, conversation, body, meta, author_id=actor.user_id if actor else None)


async def add_entry(
    services: Services, actor: Actor, conversation_id: int, body: WaitlistIn
) -> WaitlistEntryOut:
    """Put the thread's patient on the waitlist at the thread's location (one open entry per type)."""
    async with services.unit() as unit:
        s = unit.session
        conversation = await conversation_for(unit, actor, conversation_id)
        kind = await type_of(s, actor, body.type_id)
        if body.provider_id is not None:
            await provider_of(s, actor, body.provider_id)
            await provider_at(s, body.provider_id, conversation.location_id)
        await _refuse_second_entry(s, conversation.id, kind.id)
        location = await s.get(Location, conversation.location_id)
        if location is None:
            raise NotFound("no such location")
        now = utcnow()
        expires_at = expiry_for(now, body.latest, location.timezone, services.settings.waitlist.entry_days)
        if expires_at <= now:
            raise InvalidRequest("the latest date has already passed")
        entry = WaitlistEntry(
            contact_id=conversation.contact_id,
            conversation_id=conversation.id,
            location_id=conversation.location_id,
            type_id=kind.id,
            provider_id=body.provider_id,
            earliest=body.earliest,
            latest=body.latest,
            created_by_id=actor.user_id,
            state="waiting",
            expires_at=expires_at,
            created_at=now,
        )
        s.add(entry)
        await s.flush()
        span = f"{body.earliest:%b %-d} to {body.latest:%b %-d, %Y}"
        await note(unit, actor, entry, f"Added to the waitlist: {kind.name}, {span}", "waitlist_added")
        audit.record(s, actor, "create", "waitlist_entry", entry.id, {"type_id": kind.id})
        return await entry_out(s, entry)


def _in_view(entries: list[WaitlistEntry]) -> list[WaitlistEntry]:
    """Open entries, and an expired one only while no later entry of its type has taken its place."""
    newest: dict[int, WaitlistEntry] = {}
    for e in entries:  # oldest first: the last one seen per type is the newest
        newest[e.type_id] = e
    return [e for e in entries if e.state in OPEN or newest[e.type_id] is e]


async def list_entries(services: Services, actor: Actor, conversation_id: int) -> list[WaitlistEntryOut]:
    """The thread's open waitlist entries and its expired ones still to renew (the read is audited)."""
    async with services.unit() as unit:
        s = unit.session
        conversation = await conversation_for(unit, actor, conversation_id)
        rows = await s.scalars(
            select(WaitlistEntry)
            .where(WaitlistEntry.conversation_id == conversation.id, WaitlistEntry.state.in_(SHOWN))
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        )
        out = [await entry_out(s, e) for e in _in_view(list(rows))]
        audit.record(s, actor, "view", "conversation_waitlist", conversation.id, {"entries": len(out)})
        return out


async def remove_entry(services: Services, actor: Actor, entry_id: int) -> WaitlistEntryOut:
    """Take the patient off the waitlist; an offer they hold stops working."""
    async with services.unit() as unit:
        s = unit.session
        entry = await s.get(WaitlistEntry, entry_id, with_for_update=True)
        if entry is None:
            raise NotFound("no such waitlist entry")
        actor.require_location(entry.location_id)
        await conversation_for(unit, actor, entry.conversation_id)
        if entry.state not in OPEN:
            raise Conflict(f"this entry is {entry.state} already")
        entry.state = "removed"
        await s.execute(
            update(WaitlistOffer)
            .where(WaitlistOffer.entry_id == entry.id, WaitlistOffer.state == "sent")
            .values(state="gone")
            .execution_options(synchronize_session=False)
        )
        await note(unit, actor, entry, "Removed from the waitlist", "waitlist_removed")
        audit.record(s, actor, "delete", "waitlist_entry", entry.id)
        return await entry_out(s, entry)


async def renew_entry(
    services: Services, actor: Actor, entry_id: int, body: WaitlistRenewIn
) -> WaitlistEntryOut:
    """Put an expired entry back on the list with a new expiry (and new dates, when its have passed)."""
    async with services.unit() as unit:
        s = unit.session
        entry = await s.get(WaitlistEntry, entry_id, with_for_update=True)
        if entry is None:
            raise NotFound("no such waitlist entry")
        actor.require_location(entry.location_id)
        await conversation_for(unit, actor, entry.conversation_id)
        if entry.state != "expired":
            raise Conflict(f"only an expired entry can be renewed; this one is {entry.state}")
        await _refuse_second_entry(s, entry.conversation_id, entry.type_id)
        location = await s.get(Location, entry.location_id)
        if location is None:
            raise NotFound("no such location")
        earliest, latest = body.earliest or entry.earliest, body.latest or entry.latest
        if latest < earliest:
            raise InvalidRequest("latest must not be before earliest")
        now = utcnow()
        expires_at = expiry_for(now, latest, location.timezone, services.settings.waitlist.entry_days)
        if expires_at <= now:
            raise InvalidRequest("the latest date has already passed: choose a later one")
        entry.earliest, entry.latest = earliest, latest
        entry.state, entry.expires_at = "waiting", expires_at
        await s.flush()
        out = await entry_out(s, entry)
        await note(
            unit,
            actor,
            entry,
            f"Waitlist entry renewed: on the list until {out.last_day:%b %-d, %Y}",
            "waitlist_renewed",
        )
        audit.record(s, actor, "renew", "waitlist_entry", entry.id, {"expires_at": expires_at.isoformat()})
        return out
