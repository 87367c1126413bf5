"""Setting up the calendar (admins): providers and their locations, appointment types, working hours,
time off and holidays. Staff may read what they need to book at their own locations."""

from __future__ import annotations

import itertools

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.access import Actor
from comms.errors import Conflict, InvalidRequest, NotFound
from comms.models import Location
from comms.schedule_models import (
    AppointmentType,
    Provider,
    ProviderLocation,
    ScheduleHoliday,
    TimeOff,
    WorkingHours,
)
from comms.services import Services
from schemas.schedule import (
    AppointmentTypeIn,
    AppointmentTypeOut,
    HolidayIn,
    HolidayOut,
    HoursEntry,
    HoursIn,
    ProviderIn,
    ProviderOut,
    TimeOffIn,
    TimeOffOut,
)
from schemas.voice import WEEKDAYS


async def location_of(session: AsyncSession, actor: Actor, location_id: int) -> Location:
    """A location of the actor's practice that they may see, or NotFound."""
    location = await session.get(Location, location_id)
    if location is None or location.practice_id != actor.practice_id:
        raise NotFound("no such location")
    actor.require_location(location_id)
    return location


async def provider_of(session: AsyncSession, actor: Actor, provider_id: int) -> Provider:
    provider = await session.get(Provider, provider_id)
    if provider is None or provider.practice_id != actor.practice_id:
        raise NotFound("no such provider")
    return provider


async def type_of(session: AsyncSession, actor: Actor, type_id: int) -> AppointmentType:
    kind = await session.get(AppointmentType, type_id)
    if kind is None or kind.practice_id != actor.practice_id or not kind.active:
        raise NotFound("no such appointment type")
    return kind


async def _provider_out(session: AsyncSession, provider: Provider) -> ProviderOut:
    locations = await session.scalars(
        select(ProviderLocation.location_id)
        .where(ProviderLocation.provider_id == provider.id)
        .order_by(ProviderLocation.location_id)
    )
    return ProviderOut(
        id=provider.id, name=provider.name, location_ids=list(locations), active=provider.active
    )


def type_out(kind: AppointmentType) -> AppointmentTypeOut:
    return AppointmentTypeOut(
        id=kind.id,
        name=kind.name,
        duration_minutes=kind.duration_minutes,
        buffer_minutes=kind.buffer_minutes,
        colour=kind.colour,
        online=kind.online,
        active=kind.active,
    )


async def _name_free(
    session: AsyncSession, model: type[Provider] | type[AppointmentType], actor: Actor, name: str
) -> None:
    taken = await session.scalar(
        select(model.id).where(model.practice_id == actor.practice_id, model.name == name)
    )
    if taken is not None:
        raise Conflict("that name is already in use")


async def add_provider(services: Services, actor: Actor, body: ProviderIn) -> ProviderOut:
    """A new provider, seeing patients at the given locations."""
    actor.require_admin()
    async with services.unit() as unit:
        s = unit.session
        for location_id in set(body.location_ids):
            await location_of(s, actor, location_id)
        await _name_free(s, Provider, actor, body.name)
        provider = Provider(practice_id=actor.practice_id, name=body.name, active=True)
        s.add(provider)
        await s.flush()
        for location_id in sorted(set(body.location_ids)):
            s.add(ProviderLocation(provider_id=provider.id, location_id=location_id))
        await s.flush()
        audit.record(s, actor, "create", "provider", provider.id)
        return await _provider_out(s, provider)


async def providers_at(services: Services, actor: Actor, location_id: int) -> list[ProviderOut]:
    """The active providers who see patients at a location."""
    async with services.read() as s:
        await location_of(s, actor, location_id)
        rows = await s.scalars(
            select(Provider)
            .join(ProviderLocation, ProviderLocation.provider_id == Provider.id)
            .where(ProviderLocation.location_id == location_id, Provider.active.is_(True))
            .order_by(Provider.name)
        )
        return [await _provider_out(s, p) for p in rows]


async def add_type(services: Services, actor: Actor, body: AppointmentTypeIn) -> AppointmentTypeOut:
    actor.require_admin()
    async with services.unit() as unit:
        s = unit.session
        await _name_free(s, AppointmentType, actor, body.name)
        kind = AppointmentType(practice_id=actor.practice_id, active=True, **body.model_dump())
        s.add(kind)
        await s.flush()
        audit.record(s, actor, "create", "appointment_type", kind.id)
        return type_out(kind)


async def list_types(services: Services, actor: Actor) -> list[AppointmentTypeOut]:
    async with services.read() as s:
        rows = await s.scalars(
            select(AppointmentType)
            .where(AppointmentType.practice_id == actor.practice_id, AppointmentType.active.is_(True))
            .order_by(AppointmentType.name)
        )
        return [type_out(k) for k in rows]


def _entry(row: WorkingHours) -> HoursEntry:
    return HoursEntry(
        location_id=row.location_id, weekday=WEEKDAYS[row.weekday], starts=row.starts, ends=row.ends
    )


async def set_hours(services: Services, actor: Actor, provider_id: int, body: HoursIn) -> HoursIn:
    """Replace a provider's week; each stretch must be at one of their locations and not overlap another."""
    actor.require_admin()
    entries = sorted(body.hours, key=lambda e: (e.location_id, e.weekday_number, e.starts))
    for a, b in itertools.pairwise(entries):
        if a.weekday_number == b.weekday_number and b.starts < a.ends:
            raise InvalidRequest("two stretches of working hours on one day overlap")
    async with services.unit() as unit:
        s = unit.session
        await provider_of(s, actor, provider_id)
        for location_id in {e.location_id for e in entries}:
            if await s.get(ProviderLocation, (provider_id, location_id)) is None:
                raise InvalidRequest("working hours name a location the provider does not work at")
        await s.execute(delete(WorkingHours).where(WorkingHours.provider_id == provider_id))
        rows = [
            WorkingHours(
                provider_id=provider_id,
                location_id=e.location_id,
                weekday=e.weekday_number,
                starts=e.starts,
                ends=e.ends,
            )
            for e in entries
        ]
        s.add_all(rows)
        await s.flush()
        audit.record(s, actor, "update", "working_hours", provider_id, {"stretches": len(rows)})
        return HoursIn(hours=[_entry(r) for r in rows])


async def get_hours(services: Services, actor: Actor, provider_id: int) -> HoursIn:
    async with services.read() as s:
        await provider_of(s, actor, provider_id)
        rows = await s.scalars(
            select(WorkingHours)
            .where(WorkingHours.provider_id == provider_id)
            .order_by(WorkingHours.location_id, WorkingHours.weekday, WorkingHours.starts)
        )
        return HoursIn(hours=[_entry(r) for r in rows])


async def add_time_off(services: Services, actor: Actor, provider_id: int, body: TimeOffIn) -> TimeOffOut:
    """The provider is away; existing bookings in that time stay (staff move them), new ones are refused."""
    actor.require_admin()
    async with services.unit() as unit:
        s = unit.session
        await provider_of(s, actor, provider_id)
        row = TimeOff(
            provider_id=provider_id, starts_at=body.starts_at, ends_at=body.ends_at, reason=body.reason
        )
        s.add(row)
        await s.flush()
        audit.record(s, actor, "create", "time_off", row.id)
        return TimeOffOut(
            id=row.id,
            provider_id=provider_id,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            reason=row.reason,
        )


async def add_holiday(services: Services, actor: Actor, location_id: int, body: HolidayIn) -> HolidayOut:
    """A local date the location takes no bookings."""
    actor.require_admin()
    async with services.unit() as unit:
        s = unit.session
        await location_of(s, actor, location_id)
        taken = await s.scalar(
            select(ScheduleHoliday.id).where(
                ScheduleHoliday.location_id == location_id, ScheduleHoliday.date == body.date
            )
        )
        if taken is not None:
            raise Conflict("that date is already a holiday here")
        row = ScheduleHoliday(location_id=location_id, date=body.date, name=body.name)
        s.add(row)
        await s.flush()
        audit.record(s, actor, "create", "schedule_holiday", row.id)
        return HolidayOut(id=row.id, location_id=location_id, date=row.date, name=row.name)
