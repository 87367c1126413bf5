"""Open slots: when a provider can see a patient for an appointment type, in the location's own time.

Working hours are wall-clock times at the location, so each local day is turned into UTC on its own
(a 9:00 start is 14:00 UTC in winter and 13:00 in summer in New York). The pure part (`open_slots`,
`fits`) does no I/O; `search` loads what it needs from the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.errors import InvalidRequest, NotFound
from comms.schedule_models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentType,
    Provider,
    ProviderLocation,
    ScheduleHoliday,
    TimeOff,
    WorkingHours,
)

STEP = dt.timedelta(minutes=15)  # slots start on a quarter-hour grid from the start of working hours
MAX_DAYS = 62  # one search covers at most about two months


@dataclass(frozen=True, slots=True)
class Interval:
    start: dt.datetime
    end: dt.datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class Calendar:
    """One provider's week at one location and what already takes their time."""

    tz: ZoneInfo
    hours: Sequence[tuple[int, dt.time, dt.time]]  # (weekday 0 = Monday, local start, local end)
    holidays: frozenset[dt.date]
    away: Sequence[Interval]  # time off, UTC
    busy: Sequence[Interval]  # active appointments from start to end + buffer, UTC


@dataclass(frozen=True, slots=True)
class Slot:
    provider_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime


def local_instant(day: dt.date, at: dt.time, tz: ZoneInfo) -> dt.datetime:
    """A wall-clock time on a local date as UTC. A time skipped by a DST change (fold=0, PEP 495) counts
    as just after it; a time that happens twice as its first occurrence."""
    return dt.datetime.combine(day, at, tzinfo=tz).astimezone(dt.UTC)


def local_text(at: dt.datetime, tz: ZoneInfo) -> str:
    """`Tue 8 Dec 2026, 9:00 AM EST`: how staff read a time at the location."""
    local = at.astimezone(tz)
    hour = local.hour % 12 or 12
    return f"{local:%a} {local.day} {local:%b %Y}, {hour}:{local:%M} {local:%p} {local.tzname()}"


def _working_spans(cal: Calendar, day: dt.date) -> list[Interval]:
    if day in cal.holidays:
        return []
    return [
        Interval(local_instant(day, start, cal.tz), local_instant(day, end, cal.tz))
        for weekday, start, end in cal.hours
        if weekday == day.weekday() and end > start
    ]


def fits(cal: Calendar, starts_at: dt.datetime, duration: dt.timedelta, buffer: dt.timedelta) -> str | None:
    """Why an appointment cannot go at `starts_at` (None when it can): hours, holidays, time off, bookings."""
    visit = Interval(starts_at, starts_at + duration)
    day = starts_at.astimezone(cal.tz).date()
    if not any(s.start <= visit.start and visit.end <= s.end for s in _working_spans(cal, day)):
        return "outside the provider's working hours at this location"
    if any(visit.overlaps(a) for a in cal.away):
        return "the provider is away then"
    held = Interval(starts_at, visit.end + buffer)
    if any(held.overlaps(b) for b in cal.busy):
        return "that time is already booked for this provider"
    return None


def open_slots(
    cal: Calendar,
    first_day: dt.date,
    last_day: dt.date,
    duration: dt.timedelta,
    buffer: dt.timedelta,
    not_before: dt.datetime,
) -> list[Interval]:
    """Every start on the grid, from first_day to last_day (local dates, inclusive), that `fits`."""
    found: list[Interval] = []
    day = first_day
    while day <= last_day:
        for span in sorted(_working_spans(cal, day), key=lambda s: s.start):
            start = span.start
            while start + duration <= span.end:  # steps in real elapsed time, right across a DST change
                if start >= not_before and fits(cal, start, duration, buffer) is None:
                    found.append(Interval(start, start + duration))
                start += STEP
        day += dt.timedelta(days=1)
    return found


async def provider_at(session: AsyncSession, provider_id: int, location_id: int) -> Provider:
    """A provider who works at the location (NotFound otherwise, as for any other location's record)."""
    provider = await session.get(Provider, provider_id)
    link = await session.get(ProviderLocation, (provider_id, location_id))
    if provider is None or link is None or not provider.active:
        raise NotFound("no such provider at this location")
    return provider


async def load_calendar(
    session: AsyncSession,
    provider_id: int,
    location_id: int,
    tz: ZoneInfo,
    window: Interval,
    *,
    ignore_appointment: int | None = None,
) -> Calendar:
    """The provider's hours here, the location's holidays, and their time off and bookings in `window`.

    Bookings at every location count: a provider cannot be in two places at once.
    """
    hours = await session.execute(
        select(WorkingHours.weekday, WorkingHours.starts, WorkingHours.ends).where(
            WorkingHours.provider_id == provider_id, WorkingHours.location_id == location_id
        )
    )
    holidays = await session.scalars(
        select(ScheduleHoliday.date).where(ScheduleHoliday.location_id == location_id)
    )
    away = await session.execute(
        select(TimeOff.starts_at, TimeOff.ends_at).where(
            TimeOff.provider_id == provider_id, TimeOff.starts_at < window.end, TimeOff.ends_at > window.start
        )
    )
    query = select(Appointment.starts_at, Appointment.busy_until).where(
        Appointment.provider_id == provider_id,
        Appointment.status.in_(ACTIVE_STATUSES),
        Appointment.starts_at < window.end,
        Appointment.busy_until > window.start,
    )
    if ignore_appointment is not None:
        query = query.where(Appointment.id != ignore_appointment)
    busy = await session.execute(query)
    return Calendar(
        tz=tz,
        hours=[(int(w), s, e) for w, s, e in hours.all()],
        holidays=frozenset(holidays),
        away=[Interval(s, e) for s, e in away.all()],
        busy=[Interval(s, e) for s, e in busy.all()],
    )


def day_window(first_day: dt.date, last_day: dt.date, tz: ZoneInfo) -> Interval:
    """The UTC span of local dates first_day..last_day (inclusive), refusing huge or reversed ranges."""
    if last_day < first_day:
        raise InvalidRequest("the date range ends before it starts")
    if (last_day - first_day).days >= MAX_DAYS:
        raise InvalidRequest(f"search at most {MAX_DAYS} days at a time")
    return Interval(
        local_instant(first_day, dt.time(0), tz),
        local_instant(last_day + dt.timedelta(days=1), dt.time(0), tz),
    )


async def search(
    session: AsyncSession,
    location_id: int,
    tz: ZoneInfo,
    kind: AppointmentType,
    provider_ids: Iterable[int],
    first_day: dt.date,
    last_day: dt.date,
    now: dt.datetime,
) -> list[Slot]:
    """Open slots of a type for each provider, earliest first."""
    window = day_window(first_day, last_day, tz)
    duration = dt.timedelta(minutes=kind.duration_minutes)
    buffer = dt.timedelta(minutes=kind.buffer_minutes)
    slots: list[Slot] = []
    for provider_id in provider_ids:
        cal = await load_calendar(session, provider_id, location_id, tz, window)
        for iv in open_slots(cal, first_day, last_day, duration, buffer, now):
            slots.append(Slot(provider_id, iv.start, iv.end))
    return sorted(slots, key=lambda s: (s.starts_at, s.provider_id))
