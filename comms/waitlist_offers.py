"""Freed slots offered to the waitlist: a cancellation (or a reschedule away) texts the matching waiting
patients in small batches, each a one-tap link; the first to take it is booked through the normal
booking path (so the database still refuses a double booking), the others are told it has gone. A
batch nobody takes in time lapses, and every node's sweeper may send the next: one conditional UPDATE
claims the lapse, so exactly one does.

Taking locks every offer of the slot, in id order, before booking: two patients tapping at once take
turns, and the second finds their offer gone (never a deadlock between the booking and the others).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select, update

from comms import audit
from comms.appointments import Slot, place_booking
from comms.errors import Conflict, InvalidRequest, NotFound, OptedOut
from comms.forms import new_token, token_hash
from comms.logsafe import log_failure
from comms.messaging import queue_sms, write_unit
from comms.models import Conversation, Location, utcnow
from comms.schedule_models import ACTIVE_STATUSES, Appointment, AppointmentType, Provider
from comms.services import Services, Unit
from comms.slots import local_text
from comms.waitlist import note
from comms.waitlist_expiry import expire_due
from comms.waitlist_models import WaitlistEntry, WaitlistOffer

log = logging.getLogger(__name__)
INVALID = "this waitlist link is not valid"
OFFER_TEXT = "{location}: a {type} time with {provider} has opened up, {when}. Tap to take it: {url}"
GONE_TEXT = "{location}: sorry, the {when} time has been taken. You're still on our waitlist."
BATCH_LIMIT = 100  # lapsed slots looked at per sweep


@dataclass(frozen=True)
class OfferPage:
    """What the patient's page shows: the offered time and whether it is still theirs to take."""

    state: str  # "open", "booked" (by this link) or "gone"
    location: str
    type_name: str
    provider: str
    when: str


def offer_url(services: Services, token: str) -> str:
    return f"{services.settings.server.public_base_url}/w/{token}"


async def _still_free(unit: Unit, slot: Slot, kind: AppointmentType, now: dt.datetime) -> bool:
    """The slot is to come and no active appointment holds any of its time."""
    if slot.starts_at <= now:
        return False
    ends = slot.starts_at + dt.timedelta(minutes=kind.duration_minutes + kind.buffer_minutes)
    busy = await unit.session.scalar(
        select(Appointment.id).where(
            Appointment.provider_id == slot.provider_id,
            Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.starts_at < ends,
            Appointment.busy_until > slot.starts_at,
        )
    )
    return busy is None


async def send_batch(services: Services, unit: Unit, slot: Slot, batch: int, now: dt.datetime) -> int:
    """Text the next waiting patients who match the slot (in the caller's transaction); how many went.
    Opted-out patients and those who cannot get a text are passed over for the next in line."""
    s = unit.session
    location = await s.get(Location, slot.location_id)
    kind = await s.get(AppointmentType, slot.type_id)
    provider = await s.get(Provider, slot.provider_id)
    if location is None or kind is None or provider is None or not await _still_free(unit, slot, kind, now):
        return 0
    tz = ZoneInfo(location.timezone)
    day = slot.starts_at.astimezone(tz).date()
    offered_before = exists().where(
        WaitlistOffer.entry_id == WaitlistEntry.id,
        WaitlistOffer.provider_id == slot.provider_id,
        WaitlistOffer.starts_at == slot.starts_at,
    )
    cancelled_it = exists().where(  # who just cancelled this very time is not offered it back
        Appointment.contact_id == WaitlistEntry.contact_id,
        Appointment.provider_id == slot.provider_id,
        Appointment.starts_at == slot.starts_at,
        Appointment.status == "cancelled",
    )
    waiting = await s.scalars(
        select(WaitlistEntry)
        .where(
            WaitlistEntry.state == "waiting",
            WaitlistEntry.expires_at > now,  # an expired entry is offered nothing
            WaitlistEntry.location_id == slot.location_id,
            WaitlistEntry.type_id == slot.type_id,
            (WaitlistEntry.provider_id.is_(None)) | (WaitlistEntry.provider_id == slot.provider_id),
            WaitlistEntry.earliest <= day,
            WaitlistEntry.latest >= day,
            ~offered_before,
            ~cancelled_it,
        )
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        .with_for_update()
    )
    when = local_text(slot.starts_at, tz)
    expires = now + dt.timedelta(minutes=services.settings.waitlist.offer_minutes)
    sent = 0
    for entry in list(waiting):
        if sent >= services.settings.waitlist.batch_size:
            break
        conversation = await s.get(Conversation, entry.conversation_id)
        if conversation is None:
            continue
        token, digest = new_token()
        text = OFFER_TEXT.format(
            location=location.name,
            type=kind.name,
            provider=provider.name,
            when=when,
            url=offer_url(services, token),
        )
        offer = WaitlistOffer(
            entry_id=entry.id,
            provider_id=slot.provider_id,
            type_id=slot.type_id,
            starts_at=slot.starts_at,
            token_sha256=digest,
            batch=batch,
            state="sent",
            expires_at=expires,
        )
        try:
            await queue_sms(unit, conversation, text, author_id=None, meta={"waitlist_offer": True})
        except (OptedOut, InvalidRequest):  # STOP, or no mobile number: the next patient in line
            continue
        s.add(offer)
        entry.state = "offered"
        await s.flush()
        await note(
            unit,
            None,
            entry,
            f"Waitlist: offered {kind.name} with {provider.name}, {when}",
            "waitlist_offered",
        )
        audit.record(s, None, "send", "waitlist_offer", offer.id, {"batch": batch})
        sent += 1
    return sent


async def offer_freed(services: Services, slot: Slot, now: dt.datetime | None = None) -> int:
    """A slot was freed: text the first batch of the waitlist (its own transaction); how many went."""
    async with write_unit(services) as unit:
        return await send_batch(services, unit, slot, 1, now or utcnow())


async def _page(unit: Unit, offer: WaitlistOffer, state: str) -> OfferPage:
    s = unit.session
    entry = await s.get(WaitlistEntry, offer.entry_id)
    location = await s.get(Location, entry.location_id) if entry else None
    kind = await s.get(AppointmentType, offer.type_id)
    provider = await s.get(Provider, offer.provider_id)
    if location is None or kind is None or provider is None:
        raise NotFound(INVALID)
    when = local_text(offer.starts_at, ZoneInfo(location.timezone))
    return OfferPage(state, location.name, kind.name, provider.name, when)


def _state(offer: WaitlistOffer, now: dt.datetime) -> str:
    if offer.state == "taken":
        return "booked"
    return "open" if offer.state == "sent" and offer.expires_at > now else "gone"


async def view(services: Services, token: str) -> OfferPage:
    """What the link shows (reading changes nothing: link previews must not take a slot)."""
    async with services.unit() as unit:
        offer = await unit.session.scalar(
            select(WaitlistOffer).where(WaitlistOffer.token_sha256 == token_hash(token))
        )
        if offer is None:
            raise NotFound(INVALID)
        return await _page(unit, offer, _state(offer, utcnow()))


async def _release(unit: Unit, offers: list[WaitlistOffer], state: str) -> list[WaitlistEntry]:
    """Close these offers; their patients wait again. Returns the entries."""
    entries = []
    for o in offers:
        o.state = state
        entry = await unit.session.get(WaitlistEntry, o.entry_id)
        if entry is not None and entry.state == "offered":
            entry.state = "waiting"
            entries.append(entry)
    return entries


async def take(services: Services, token: str, now: dt.datetime | None = None) -> OfferPage:
    """The patient tapped: book them if the slot is still theirs to take, else say it has gone."""
    now = now or utcnow()
    digest = token_hash(token)
    async with services.read() as s:
        found = await s.scalar(select(WaitlistOffer).where(WaitlistOffer.token_sha256 == digest))
        if found is None:
            raise NotFound(INVALID)
        offer_id, provider_id, starts_at = found.id, found.provider_id, found.starts_at
    try:
        async with write_unit(services) as unit:
            s = unit.session
            # Every offer of the slot, locked in one order: concurrent takers queue here.
            rivals = list(
                await s.scalars(
                    select(WaitlistOffer)
                    .where(WaitlistOffer.provider_id == provider_id, WaitlistOffer.starts_at == starts_at)
                    .order_by(WaitlistOffer.id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            )
            offer = next(o for o in rivals if o.id == offer_id)
            state = _state(offer, now)
            entry = await s.get(WaitlistEntry, offer.entry_id, populate_existing=True)
            if state != "open" or entry is None or entry.state != "offered":
                return await _page(unit, offer, "booked" if state == "booked" else "gone")
            location = await s.get(Location, entry.location_id)
            conversation = await s.get(Conversation, entry.conversation_id)
            kind = await s.get(AppointmentType, offer.type_id)
            if location is None or conversation is None or kind is None:
                raise NotFound(INVALID)
            booked = await place_booking(unit, None, location, conversation, provider_id, kind, starts_at)
            offer.state, offer.appointment_id, entry.state = "taken", booked.id, "booked"
            page = await _page(unit, offer, "booked")
            await note(
                unit,
                None,
                entry,
                f"Waitlist: booked {kind.name} with {page.provider}, {page.when}",
                "waitlist_booked",
            )
            others = [o for o in rivals if o.id != offer.id and o.state == "sent"]
            for other in await _release(unit, others, "gone"):
                told = await s.get(Conversation, other.conversation_id)
                if told is None:
                    continue
                try:
                    text = GONE_TEXT.format(location=location.name, when=page.when)
                    await queue_sms(unit, told, text, author_id=None, meta={"waitlist_gone": True})
                except (OptedOut, InvalidRequest):
                    pass  # they stopped texts since the offer: nothing more to say
            audit.record(s, None, "book_waitlist", "appointment", booked.id, {"offer_id": offer.id})
            return page
    except (Conflict, InvalidRequest):
        # Booked by someone else meanwhile (the database refused a double booking), or no longer
        # bookable (the time passed, the hours changed): this offer is over.
        async with write_unit(services) as unit:
            lost = await unit.session.get(
                WaitlistOffer, offer_id, with_for_update=True, populate_existing=True
            )
            if lost is None:
                raise NotFound(INVALID) from None
            if lost.state == "sent":
                await _release(unit, [lost], "gone")
            return await _page(unit, lost, "gone")


async def _lapsed(services: Services, now: dt.datetime) -> list[tuple[int, dt.datetime]]:
    async with services.read() as s:
        rows = await s.execute(
            select(WaitlistOffer.provider_id, WaitlistOffer.starts_at)
            .where(WaitlistOffer.state == "sent", WaitlistOffer.expires_at <= now)
            .group_by(WaitlistOffer.provider_id, WaitlistOffer.starts_at)
            .limit(BATCH_LIMIT)
        )
        return [(p, t) for p, t in rows.all()]


async def next_batch(services: Services, provider_id: int, starts_at: dt.datetime, now: dt.datetime) -> int:
    """Lapse a slot's batch and text the next; -1 when another node claimed the lapse first."""
    async with write_unit(services) as unit:
        s = unit.session
        claimed = list(
            await s.execute(
                update(WaitlistOffer)
                .where(
                    WaitlistOffer.provider_id == provider_id,
                    WaitlistOffer.starts_at == starts_at,
                    WaitlistOffer.state == "sent",
                    WaitlistOffer.expires_at <= now,
                )
                .values(state="expired")
                .returning(WaitlistOffer.entry_id, WaitlistOffer.type_id, WaitlistOffer.batch)
                .execution_options(synchronize_session=False)
            )
        )
        if not claimed:
            return -1
        for entry_id, _, _ in claimed:
            entry = await s.get(WaitlistEntry, entry_id, populate_existing=True)
            if entry is not None and entry.state == "offered":
                entry.state = "waiting"
        entry_id, type_id, _ = claimed[0]
        entry = await s.get(WaitlistEntry, entry_id)
        if entry is None:
            return 0
        slot = Slot(entry.location_id, provider_id, type_id, starts_at)
        return await send_batch(services, unit, slot, max(b for _, _, b in claimed) + 1, now)


async def run_once(services: Services, now: dt.datetime | None = None) -> int:
    """Expire entries that are due, then move every lapsed slot on to its next batch; returns how many
    patients were texted."""
    now = now or utcnow()
    await expire_due(services, now)
    texted = 0
    for provider_id, starts_at in await _lapsed(services, now):
        texted += max(await next_batch(services, provider_id, starts_at, now), 0)
    return texted


class WaitlistSweeper:
    """Every node runs one; a failed pass is logged and the next retries."""

    def __init__(self, services: Services, on_queued: Callable[[], None] | None = None) -> None:
        self.services, self.on_queued = services, on_queued

    async def run_forever(self) -> None:
        while True:
            try:
                if await run_once(self.services) and self.on_queued:
                    self.on_queued()
            except Exception as exc:  # the sweeper must outlive a failed pass
                log_failure(log, "waitlist sweep failed", exc=exc)
            await asyncio.sleep(self.services.settings.waitlist.sweep_seconds)
