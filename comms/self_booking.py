"""Patients booking themselves on a location's public booking page.

The page shows only what the practice offers online (its online appointment types, its providers'
open times) and answers a booking with what the patient typed and the slot: never whether the phone
number was known or anything of another patient. A text asks them to confirm (their reply is read as
for any reminder). Bookings are rate-limited per address, counted from the audit log, which records
each one with where it came from.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.appointments import place_booking
from comms.contacts import _create as insert_contact
from comms.contacts import _holders as holders_of
from comms.errors import InvalidRequest, NotFound, OptedOut, RateLimited
from comms.messaging import queue_sms, write_unit
from comms.models import AuditEntry, Conversation, Location, utcnow
from comms.phones import to_e164
from comms.schedule_models import AppointmentReminder, AppointmentType, Provider, ProviderLocation
from comms.services import Services
from comms.slots import local_text, search
from schemas.schedule import (
    OnlineBookingIn,
    OnlineBookingOut,
    PublicLocationOut,
    PublicProvider,
    PublicType,
    SlotOut,
    SlotQuery,
)

PER_ADDRESS = 5  # bookings from one address
WINDOW = dt.timedelta(hours=1)
CONFIRM_TEXT = (
    "Hi {first}, you're booked: {type} with {provider} at {location}, {when}. "
    "Reply C to confirm or R to reschedule."
)


async def _offered(
    s: AsyncSession, location_id: int
) -> tuple[Location, list[AppointmentType], list[Provider]]:
    """The location's online offer, or NotFound when it has none (online booking off)."""
    location = await s.get(Location, location_id)
    if location is None:
        raise NotFound("no such booking page")
    kinds = list(
        await s.scalars(
            select(AppointmentType)
            .where(
                AppointmentType.practice_id == location.practice_id,
                AppointmentType.online.is_(True),
                AppointmentType.active.is_(True),
            )
            .order_by(AppointmentType.name)
        )
    )
    providers = list(
        await s.scalars(
            select(Provider)
            .join(ProviderLocation, ProviderLocation.provider_id == Provider.id)
            .where(ProviderLocation.location_id == location_id, Provider.active.is_(True))
            .order_by(Provider.name)
        )
    )
    if not kinds or not providers:
        raise NotFound("no such booking page")  # online booking is off here
    return location, kinds, providers


async def page(services: Services, location_id: int) -> PublicLocationOut:
    """What the booking page offers: the location, its online types and its providers."""
    async with services.read() as s:
        location, kinds, providers = await _offered(s, location_id)
        return PublicLocationOut(
            location_id=location.id,
            name=location.name,
            timezone=location.timezone,
            types=[PublicType(id=k.id, name=k.name, duration_minutes=k.duration_minutes) for k in kinds],
            providers=[PublicProvider(id=p.id, name=p.name) for p in providers],
        )


async def open_slots(services: Services, location_id: int, query: SlotQuery) -> list[SlotOut]:
    """Open times for an online type (all of the location's providers, or one)."""
    async with services.read() as s:
        location, kinds, providers = await _offered(s, location_id)
        kind = next((k for k in kinds if k.id == query.type_id), None)
        if kind is None:
            raise NotFound("no such appointment type")
        ids = [p.id for p in providers if query.provider_id in (None, p.id)]
        if not ids:
            raise NotFound("no such provider at this location")
        tz = ZoneInfo(location.timezone)
        found = await search(s, location.id, tz, kind, ids, query.date_from, query.date_to, utcnow())
        return [
            SlotOut(
                provider_id=x.provider_id,
                starts_at=x.starts_at,
                ends_at=x.ends_at,
                local_start=x.starts_at.astimezone(tz).isoformat(),
            )
            for x in found
        ]


async def book(
    services: Services, location_id: int, body: OnlineBookingIn, remote_addr: str | None
) -> OnlineBookingOut:
    """Book an open time for the person who filled in the page; a text asks them to confirm."""
    phone = to_e164(body.phone)
    first, last = body.first_name.strip(), body.last_name.strip()
    async with write_unit(services) as unit:
        s = unit.session
        location, kinds, _ = await _offered(s, location_id)
        kind = next((k for k in kinds if k.id == body.type_id), None)
        if kind is None:
            raise NotFound("no such appointment type")
        since = utcnow() - WINDOW
        recent = await s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.action == "book_online",
                AuditEntry.remote_addr == (remote_addr or "-"),
                AuditEntry.at >= since,
            )
        )
        if (recent or 0) >= PER_ADDRESS:
            raise RateLimited("too many bookings from here; call the practice instead", retry_after=3600)
        # The patient with this number and first name, else a new record (a namesake's record is never
        # touched, and the reply says nothing about which it was).
        holders = await holders_of(s, location.practice_id, [phone])
        contact = next((c for c in holders if c.first_name.casefold() == first.casefold()), None)
        if contact is None:
            contact = await insert_contact(
                s, None, location.practice_id, first, last, [phone], [], None, False
            )
        conversation = await s.scalar(
            select(Conversation).where(
                Conversation.contact_id == contact.id, Conversation.location_id == location.id
            )
        )
        if conversation is None:
            conversation = Conversation(contact_id=contact.id, location_id=location.id)
            s.add(conversation)
            await s.flush()
        out = await place_booking(unit, None, location, conversation, body.provider_id, kind, body.starts_at)
        when = local_text(out.starts_at, ZoneInfo(location.timezone))
        text = CONFIRM_TEXT.format(
            first=first, type=kind.name, provider=out.provider_name, location=location.name, when=when
        )
        note = AppointmentReminder(appointment_id=out.id, rule_id=None, due_at=utcnow(), state="queued")
        try:
            sent = await queue_sms(unit, conversation, text, author_id=None, meta={"booking": out.id})
            note.item_id = sent.id
        except (OptedOut, InvalidRequest):
            note.state, note.reason = "skipped", "cannot_text"
        s.add(note)
        audit.record(
            s,
            None,
            "book_online",
            "appointment",
            out.id,
            {"type_id": kind.id},
            remote_addr=remote_addr or "-",
        )
        return OnlineBookingOut(
            type_name=kind.name,
            provider_name=out.provider_name,
            location_name=location.name,
            starts_at=out.starts_at,
            local_start=out.local_start,
            when=when,
            texted=note.state == "queued",
        )
