"""Booking from the thread: book, reschedule, cancel and move an appointment through its lifecycle.

Each change is one transaction that also writes an appointment item in the patient's conversation,
published live after commit. The pre-check (`slots.fits`) gives staff a clear reason; the database's
no-overlap rule (migration 0009) is what makes a double booking impossible when two nodes race.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.exc import DBAPIError, IntegrityError

from comms import audit
from comms.access import Actor
from comms.errors import Conflict, InvalidRequest, NotFound
from comms.logsafe import log_failure
from comms.models import Contact, Conversation, Location, TimelineItem, utcnow
from comms.schedule_models import Appointment, AppointmentReminder, AppointmentType, Provider
from comms.schedule_setup import provider_of, type_of
from comms.services import Services, Unit
from comms.slots import Interval, fits, load_calendar, local_text, provider_at
from comms.timeline import add_item, conversation_for
from schemas.schedule import AppointmentOut, BookIn, NewStatus, RescheduleIn

log = logging.getLogger(__name__)

OVERLAP = "ex_appointments_no_overlap"
DOUBLE_BOOKED = "that time is already booked for this provider"
# Where each status may go next; anything else is refused.
TRANSITIONS: dict[str, frozenset[str]] = {
    "scheduled": frozenset({"confirmed", "checked_in", "cancelled", "no_show"}),
    "confirmed": frozenset({"checked_in", "cancelled", "no_show"}),
    "checked_in": frozenset({"completed"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
    "no_show": frozenset(),
}
VERBS = {
    "book": "Booked",
    "reschedule": "Rescheduled",
    "confirmed": "Confirmed",
    "checked_in": "Checked in",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "no_show": "No-show",
}


def is_overlap(exc: IntegrityError) -> bool:
    """Whether the database refused the write as a double booking (PostgreSQL's exclusion constraint,
    SQLite's trigger), as opposed to any other integrity error."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == "23P01" or OVERLAP in str(orig):
        return True
    return "appointment_overlap" in str(orig)


def appointment_out(
    a: Appointment, provider: Provider, kind: AppointmentType, location: Location, contact: Contact | None
) -> AppointmentOut:
    """The wire form; the patient's name is for staff screens (it never goes into feeds or logs)."""
    tz = ZoneInfo(location.timezone)
    return AppointmentOut(
        id=a.id,
        location_id=a.location_id,
        conversation_id=a.conversation_id,
        contact_id=a.contact_id,
        contact_name=contact.display_name if contact else "Unknown",
        provider_id=a.provider_id,
        provider_name=provider.name,
        type_id=a.type_id,
        type_name=kind.name,
        colour=kind.colour,
        starts_at=a.starts_at,
        ends_at=a.ends_at,
        local_start=a.starts_at.astimezone(tz).isoformat(),
        timezone=location.timezone,
        status=a.status,
    )


async def _place(
    unit: Unit,
    practice_id: int,
    location: Location,
    provider_id: int,
    kind: AppointmentType,
    starts_at: dt.datetime,
    ignore: int | None = None,
) -> tuple[Provider, dt.datetime, dt.datetime]:
    """Check the provider can take the visit then (clear reasons); returns the end and the time held."""
    s = unit.session
    provider = await s.get(Provider, provider_id)
    if provider is None or provider.practice_id != practice_id:
        raise NotFound("no such provider")
    await provider_at(s, provider_id, location.id)
    if starts_at.second or starts_at.microsecond:
        raise InvalidRequest("appointments start on a whole minute")
    if starts_at < utcnow():
        raise InvalidRequest("that time has passed")
    duration = dt.timedelta(minutes=kind.duration_minutes)
    buffer = dt.timedelta(minutes=kind.buffer_minutes)
    ends_at, held = starts_at + duration, starts_at + duration + buffer
    tz = ZoneInfo(location.timezone)
    cal = await load_calendar(
        s, provider_id, location.id, tz, Interval(starts_at, held), ignore_appointment=ignore
    )
    why = fits(cal, starts_at, duration, buffer)
    if why == DOUBLE_BOOKED:
        raise Conflict(why)
    if why is not None:
        raise InvalidRequest(why)
    return provider, ends_at, held


async def _flush_booking(unit: Unit) -> None:
    """Write now, so a double booking the database refuses becomes a 409, not a failed commit."""
    try:
        await unit.session.flush()
    except IntegrityError as exc:
        if is_overlap(exc):
            raise Conflict(DOUBLE_BOOKED) from None
        raise
    except DBAPIError as exc:
        # Two overlapping bookings in flight each wait in the exclusion check for the other to finish:
        # PostgreSQL breaks the tie by aborting one with a deadlock (40P01). That one lost the race for
        # the time, exactly as if it had come second (seen under load: a 500 instead of the 409).
        if getattr(exc.orig, "sqlstate", None) == "40P01":
            raise Conflict(DOUBLE_BOOKED) from None
        raise


async def _item(
    unit: Unit,
    actor: Actor | None,
    conversation: Conversation,
    a: AppointmentOut,
    action: str,
    **extra: object,
) -> None:
    """The appointment's change as an item in the patient's thread (announced after commit)."""
    when = local_text(a.starts_at, ZoneInfo(a.timezone))
    by_patient = {"confirmed": " by the patient's reply", "book": " online by the patient"}
    verb = VERBS[action] + (by_patient.get(action, "") if extra.get("by") == "patient" else "")
    body = f"{verb}: {a.type_name} with {a.provider_name}, {when}"
    meta: dict[str, object] = {
        "appointment_id": a.id,
        "action": action,
        "status": a.status,
        "starts_at": a.starts_at.isoformat(),
        "ends_at": a.ends_at.isoformat(),
        "local_start": a.local_start,
        "provider_id": a.provider_id,
        "provider": a.provider_name,
        "type_id": a.type_id,
        "type": a.type_name,
        "colour": a.colour,
        **extra,
    }
    item = TimelineItem(
        kind="appointment",
        direction="internal",
        body=body,
        status=a.status,
        author_id=actor.user_id if actor else None,
        meta=meta,
    )
    await add_item(unit, conversation, item)


async def book(services: Services, actor: Actor, conversation_id: int, body: BookIn) -> AppointmentOut:
    """Book the conversation's patient with a provider at the conversation's location."""
    async with services.unit() as unit:
        s = unit.session
        conversation = await conversation_for(unit, actor, conversation_id)
        location = await s.get(Location, conversation.location_id)
        if location is None or location.practice_id != actor.practice_id:
            raise NotFound("no such conversation")
        kind = await type_of(s, actor, body.type_id)
        out = await place_booking(unit, actor, location, conversation, body.provider_id, kind, body.starts_at)
        audit.record(
            s, actor, "create", "appointment", out.id, {"provider_id": out.provider_id, "type_id": kind.id}
        )
        # Imported here: comms.forms sends through comms.messaging, which imports this module (replies
        # that confirm appointments), so a module-level import would be a cycle.
        from comms.forms import send_on_first_booking

        await send_on_first_booking(unit, services, conversation, actor.user_id)  # the intake form, if set
        return out


async def place_booking(
    unit: Unit,
    actor: Actor | None,
    location: Location,
    conversation: Conversation,
    provider_id: int,
    kind: AppointmentType,
    starts_at: dt.datetime,
) -> AppointmentOut:
    """Check, insert and announce a booking in the caller's transaction (staff, or the patient online
    when `actor` is None); the caller audits it."""
    s = unit.session
    provider, ends_at, held = await _place(unit, location.practice_id, location, provider_id, kind, starts_at)
    row = Appointment(
        location_id=location.id,
        provider_id=provider.id,
        contact_id=conversation.contact_id,
        type_id=kind.id,
        conversation_id=conversation.id,
        starts_at=starts_at,
        ends_at=ends_at,
        busy_until=held,
        status="scheduled",
        booked_by_id=actor.user_id if actor else None,
    )
    s.add(row)
    await _flush_booking(unit)
    out = appointment_out(row, provider, kind, location, await s.get(Contact, row.contact_id))
    await _item(unit, actor, conversation, out, "book", **({} if actor else {"by": "patient"}))
    return out


async def _load(unit: Unit, actor: Actor, appointment_id: int) -> tuple[Appointment, Conversation, Location]:
    s = unit.session
    row = await s.get(Appointment, appointment_id, with_for_update=True)
    if row is None:
        raise NotFound("no such appointment")
    actor.require_location(row.location_id)
    conversation = await conversation_for(unit, actor, row.conversation_id)
    location = await s.get(Location, row.location_id)
    if location is None or location.practice_id != actor.practice_id:
        raise NotFound("no such appointment")
    return row, conversation, location


@dataclass(frozen=True)
class Slot:
    """A provider's time an appointment let go of (what the waitlist is offered)."""

    location_id: int
    provider_id: int
    type_id: int
    starts_at: dt.datetime


async def offer_freed_quietly(services: Services, slot: Slot) -> None:
    """Offer a freed slot to the waitlist in its own transaction; a failure is logged, never raised."""
    from comms import waitlist_offers  # here: waitlist_offers books through this module

    try:
        await waitlist_offers.offer_freed(services, slot)
    except Exception as exc:  # the cancel or reschedule has committed: an offer must not undo it
        log_failure(log, "offering a freed slot to the waitlist failed", exc=exc)


async def reschedule(
    services: Services, actor: Actor, appointment_id: int, body: RescheduleIn
) -> AppointmentOut:
    """Move an upcoming appointment (optionally to another provider here); it needs confirming again."""
    async with services.unit() as unit:
        s = unit.session
        row, conversation, location = await _load(unit, actor, appointment_id)
        if row.status not in ("scheduled", "confirmed"):
            raise Conflict(f"a {row.status.replace('_', ' ')} appointment cannot be rescheduled")
        kind = await s.get(AppointmentType, row.type_id)
        if kind is None:
            raise NotFound("no such appointment type")
        provider_id = body.provider_id or row.provider_id
        if provider_id != row.provider_id:
            await provider_of(s, actor, provider_id)
        provider, ends_at, held = await _place(
            unit, actor.practice_id, location, provider_id, kind, body.starts_at, ignore=row.id
        )
        previous, freed = row.starts_at, Slot(location.id, row.provider_id, row.type_id, row.starts_at)
        row.provider_id, row.starts_at, row.ends_at, row.busy_until = (
            provider.id,
            body.starts_at,
            ends_at,
            held,
        )
        row.status = "scheduled"
        await _flush_booking(unit)
        if body.starts_at != previous:  # reminders were for the old time: the new one gets its own
            await s.execute(delete(AppointmentReminder).where(AppointmentReminder.appointment_id == row.id))
        out = appointment_out(row, provider, kind, location, await s.get(Contact, row.contact_id))
        await _item(unit, actor, conversation, out, "reschedule", previous_starts_at=previous.isoformat())
        audit.record(s, actor, "update", "appointment", row.id, {"action": "reschedule"})
    if (freed.provider_id, freed.starts_at) != (out.provider_id, out.starts_at):
        await offer_freed_quietly(services, freed)  # after commit; never fails the reschedule
    return out


async def set_status(
    services: Services, actor: Actor, appointment_id: int, status: NewStatus
) -> AppointmentOut:
    """Confirm, check in, complete, cancel or mark a no-show; moves the lifecycle only as it allows."""
    async with services.unit() as unit:
        s = unit.session
        row, conversation, location = await _load(unit, actor, appointment_id)
        if status not in TRANSITIONS[row.status]:
            now, new = row.status.replace("_", " "), status.replace("_", " ")
            raise Conflict(f"a {now} appointment cannot become {new}")
        row.status = status
        await _flush_booking(unit)  # un-cancelling is refused above, so only a defensive mapping
        provider = await s.get(Provider, row.provider_id)
        kind = await s.get(AppointmentType, row.type_id)
        if provider is None or kind is None:
            raise NotFound("no such appointment")
        out = appointment_out(row, provider, kind, location, await s.get(Contact, row.contact_id))
        await _item(unit, actor, conversation, out, status)
        audit.record(s, actor, "update", "appointment", row.id, {"status": status})
        freed = Slot(location.id, row.provider_id, row.type_id, row.starts_at)
    if status == "cancelled":
        await offer_freed_quietly(services, freed)  # after commit; never fails the cancel
    if status == "completed":
        # After the visit is recorded: the ask is its own transaction and never undoes the completion.
        from comms import reviews  # here: reviews → messaging → replies → appointments would be a cycle

        try:
            await reviews.request_review_after_visit(services, conversation.id)
        except Exception:  # a failed ask must not turn a recorded visit into an error
            log.exception("the review request after appointment %s failed", out.id)
    return out


async def confirm_by_reply(
    unit: Unit, row: Appointment, conversation: Conversation, reply_item_id: int
) -> bool:
    """The patient answered a reminder with a yes: a scheduled appointment becomes confirmed (in the
    caller's transaction, which stored the reply); False when it was not scheduled any more."""
    s = unit.session
    if row.status != "scheduled":
        return False
    row.status = "confirmed"
    await s.flush()
    provider = await s.get(Provider, row.provider_id)
    kind = await s.get(AppointmentType, row.type_id)
    location = await s.get(Location, row.location_id)
    if provider is None or kind is None or location is None:
        raise NotFound("no such appointment")
    out = appointment_out(row, provider, kind, location, await s.get(Contact, row.contact_id))
    await _item(unit, None, conversation, out, "confirmed", by="patient", reply_item_id=reply_item_id)
    audit.record(s, None, "update", "appointment", row.id, {"status": "confirmed", "by": "reply"})
    return True
