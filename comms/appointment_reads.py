"""Reading the calendar: open slots, a patient's upcoming appointments, a location's schedule, and the
the call pop's next appointment (comms/appointment_pop.py). Looks at patients' appointments are audited."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select

from comms import audit
from comms.access import Actor
from comms.appointments import appointment_out
from comms.errors import NotFound
from comms.models import Contact, Location, utcnow
from comms.schedule_models import Appointment, AppointmentType, Provider, ProviderLocation
from comms.schedule_setup import location_of, type_of
from comms.services import Services
from comms.slots import day_window, provider_at, search
from schemas.schedule import AppointmentOut, ScheduleQuery, SlotOut, SlotQuery

UPCOMING = ("scheduled", "confirmed", "checked_in")


async def open_slots(services: Services, actor: Actor, location_id: int, query: SlotQuery) -> list[SlotOut]:
    """Where an appointment of the type fits, for one provider or all of the location's."""
    async with services.read() as s:
        location = await location_of(s, actor, location_id)
        kind = await type_of(s, actor, query.type_id)
        if query.provider_id is not None:
            await provider_at(s, query.provider_id, location_id)
            provider_ids: Sequence[int] = [query.provider_id]
        else:
            provider_ids = list(
                await s.scalars(
                    select(Provider.id)
                    .join(ProviderLocation, ProviderLocation.provider_id == Provider.id)
                    .where(ProviderLocation.location_id == location_id, Provider.active.is_(True))
                    .order_by(Provider.id)
                )
            )
        tz = ZoneInfo(location.timezone)
        found = await search(s, location_id, tz, kind, provider_ids, query.date_from, query.date_to, utcnow())
        return [
            SlotOut(
                provider_id=x.provider_id,
                starts_at=x.starts_at,
                ends_at=x.ends_at,
                local_start=x.starts_at.astimezone(tz).isoformat(),
            )
            for x in found
        ]


def joined() -> Select[Appointment, Provider, AppointmentType, Location, Contact]:
    return (
        select(Appointment, Provider, AppointmentType, Location, Contact)
        .join(Provider, Provider.id == Appointment.provider_id)
        .join(AppointmentType, AppointmentType.id == Appointment.type_id)
        .join(Location, Location.id == Appointment.location_id)
        .join(Contact, Contact.id == Appointment.contact_id)
    )


async def upcoming_for_contact(services: Services, actor: Actor, contact_id: int) -> list[AppointmentOut]:
    """A patient's appointments still to come, at the locations the actor may see (audited)."""
    async with services.unit() as unit:
        s = unit.session
        contact = await s.get(Contact, contact_id)
        if contact is None or contact.practice_id != actor.practice_id:
            raise NotFound("no such contact")
        query = (
            joined()
            .where(
                Appointment.contact_id == contact_id,
                Appointment.status.in_(UPCOMING),
                Appointment.ends_at > utcnow(),
            )
            .order_by(Appointment.starts_at)
            .limit(20)
        )
        if actor.locations is not None:
            query = query.where(Appointment.location_id.in_(actor.locations))
        rows = (await s.execute(query)).all()
        audit.record(s, actor, "view", "contact_appointments", contact_id, {"appointments": len(rows)})
        return [appointment_out(a, p, k, loc, c) for a, p, k, loc, c in rows]


async def location_schedule(
    services: Services, actor: Actor, location_id: int, query: ScheduleQuery
) -> list[AppointmentOut]:
    """A location's appointments over local dates (the day or week view), cancelled ones left out."""
    async with services.unit() as unit:
        s = unit.session
        location = await location_of(s, actor, location_id)
        window = day_window(query.date_from, query.date_to, ZoneInfo(location.timezone))
        select_rows = (
            joined()
            .where(
                Appointment.location_id == location_id,
                Appointment.status != "cancelled",
                Appointment.starts_at < window.end,
                Appointment.ends_at > window.start,
            )
            .order_by(Appointment.starts_at, Appointment.provider_id)
        )
        if query.provider_id is not None:
            select_rows = select_rows.where(Appointment.provider_id == query.provider_id)
        rows = (await s.execute(select_rows)).all()
        audit.record(s, actor, "view", "schedule", location_id, {"appointments": len(rows)})
        return [appointment_out(a, p, k, loc, c) for a, p, k, loc, c in rows]
