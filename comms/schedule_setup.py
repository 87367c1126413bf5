"""Setting up the calendar (admins): providers and their locations, appointment types, working hours,
time off and holidays. Staff may read what they need to book at their own locations."""

from __future__ import annotations

import itertools

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.access import Actor
from comms.errors import Conflict, InvalidRequest, NotFound
from comms.models import Location, utcnow
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


async def list_time_off(services: Services, actor: Actor, provider_id: int) -> list[TimeOffOut]:
    """A provider's time off that has not ended yet, soonest first."""
    async with services.read() as s:
        await provider_of(s, actor, provider_id)
        rows = await s.scalars(
            select(TimeOff)
            .where(TimeOff.provider_id == provider_id, TimeOff.ends_at > utcnow())
            .order_by(TimeOff.starts_at)
        )
        return [
            TimeOffOut(
                id=r.id, provider_id=provider_id, starts_at=r.starts_at, ends_at=r.ends_at, reason=r.reason
            )
            for r in rows
        ]


async def remove_time_off(services: Services, actor: Actor, time_off_id: int) -> None:
    """The provider is not away after all (admins)."""
    actor.require_admin()
    async with services.unit() as unit:
        s = unit.session
        row = await s.get(TimeOff, time_off_id)
        if row is None:
            raise NotFound("no such time off")
        await provider_of(s, actor, row.provider_id)
        await s.delete(row)
        audit.record(s, actor, "delete", "time_off", time_off_id)


async def list_holidays(services: Services, actor: Actor, location_id: int) -> list[HolidayOut]:
    async with services.read() as s:
        await location_of(s, actor, location_id)
        rows = await s.scalars(
            select(ScheduleHoliday)
            .where(ScheduleHoliday.location_id == location_id)
            .order_by(ScheduleHoliday.date)
        )
        return [HolidayOut(id=r.id, location_id=location_id, date=r.date, name=r.name) for r in rows]


async def remove_holiday(services: Services, actor: Actor, holiday_id: int) -> None:
    """The location takes bookings that day after all (admins)."""
    actor.require_admin()
    async with services.unit() as unit:
        s = unit.session
        row = await s.get(ScheduleHoliday, holiday_id)
        if row is None:
            raise NotFound("no such holiday")
        await location_of(s, actor, row.location_id)
        await s.delete(row)
        audit.record(s, actor, "delete", "schedule_holiday", holiday_id)


async def update_type(
    services: Services, actor: Actor, type_id: int, body: AppointmentTypeIn, active: bool
) -> AppointmentTypeOut:
    """Change an appointment type, or retire it (booked visits keep it; no new bookings)."""
    actor.require_admin()
    async with services.unit() as unit:
        s = unit.session
        kind = await s.get(AppointmentType, type_id)
        if kind is None or kind.practice_id != actor.practice_id:
            raise NotFound("no such appointment type")
        if body.name != kind.name:
            await _name_free(s, AppointmentType, actor, body.name)
        for key, value in body.model_dump().items():
            setattr(kind, key, value)
        kind.active = active
        await s.flush()
        audit.record(s, actor, "update", "appointment_type", kind.id, {"active": active})
        return type_out(kind)


async def update_provider(
    services: Services, actor: Actor, provider_id: int, body: ProviderIn, active: bool
) -> ProviderOut:
    """Rename a provider, change their locations, or retire them (booked visits stay)."""
    actor.require_admin()
    async with services.unit() as unit:
        s = unit.session
        provider = await provider_of(s, actor, provider_id)
        for location_id in set(body.location_ids):
            await location_of(s, actor, location_id)
        if body.name != provider.name:
            await _name_free(s, Provider, actor, body.name)
        provider.name, provider.active = body.name, active
        await s.execute(delete(ProviderLocation).where(ProviderLocation.provider_id == provider_id))
        s.add_all(
            ProviderLocation(provider_id=provider_id, location_id=i) for i in sorted(set(body.location_ids))
        )
        await s.execute(
            delete(WorkingHours).where(
                WorkingHours.provider_id == provider_id, WorkingHours.location_id.not_in(body.location_ids)
            )
        )
        await s.flush()
        audit.record(s, actor, "update", "provider", provider_id, {"active": active})
        return await _provider_out(s, provider)
