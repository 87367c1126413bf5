"""Test helpers for scheduling: a provider with a working week at North, an appointment type, and
dates in the future (the tests must keep passing as the calendar moves on)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from comms import schedule_setup
from comms.access import Actor
from comms.models import StaffUser
from comms.services import Services
from schemas.schedule import AppointmentTypeIn, HoursEntry, HoursIn, ProviderIn
from schemas.voice import WEEKDAYS
from tests.helpers import Practice


@dataclass
class Calendar:
    admin: Actor
    provider_id: int
    other_provider_id: int
    type_id: int


async def admin_actor(services: Services, p: Practice) -> Actor:
    async with services.read() as s:
        user_id = await s.scalar(select(StaffUser.id).where(StaffUser.email == p.admin))
    assert user_id is not None
    return Actor(user_id, p.practice_id, "admin", None, "s-admin")


async def staff_actor(services: Services, p: Practice, email: str, location_id: int) -> Actor:
    async with services.read() as s:
        user_id = await s.scalar(select(StaffUser.id).where(StaffUser.email == email))
    assert user_id is not None
    return Actor(user_id, p.practice_id, "staff", frozenset({location_id}), f"s-{user_id}")


async def seed_calendar(services: Services, p: Practice) -> Calendar:
    """Dr Rivera and Dr Chen see patients at North (New York) on weekdays, 9:00 to 17:00 local."""
    admin = await admin_actor(services, p)
    ids = []
    for name in ("Dr Rivera", "Dr Chen"):
        provider = await schedule_setup.add_provider(
            services, admin, ProviderIn(name=name, location_ids=[p.loc_a])
        )
        week = [
            HoursEntry(location_id=p.loc_a, weekday=WEEKDAYS[d], starts=dt.time(9), ends=dt.time(17))
            for d in range(5)
        ]
        await schedule_setup.set_hours(services, admin, provider.id, HoursIn(hours=week))
        ids.append(provider.id)
    kind = await schedule_setup.add_type(
        services,
        admin,
        AppointmentTypeIn(name="Cleaning", duration_minutes=30, buffer_minutes=10, colour="#22aa66"),
    )
    return Calendar(admin, ids[0], ids[1], kind.id)


def next_weekday(weekday: int, at_least_days: int = 7) -> dt.date:
    """A date with that weekday (0 = Monday) at least some days from today."""
    day = dt.date.today() + dt.timedelta(days=at_least_days)
    return day + dt.timedelta(days=(weekday - day.weekday()) % 7)


def next_spring_forward() -> dt.date:
    """The next second Sunday of March (New York springs forward that night), a week away or more."""
    year = dt.date.today().year
    while True:
        march = dt.date(year, 3, 8)
        sunday = march + dt.timedelta(days=(6 - march.weekday()) % 7)
        if sunday > dt.date.today() + dt.timedelta(days=7):
            return sunday
        year += 1


def at(day: dt.date, hour: int, minute: int = 0, tz: str = "America/New_York") -> str:
    """A local time on a date as an ISO instant with its offset (what the booking dialog sends)."""
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(tz)).isoformat()


async def api(http: Any, method: str, url: str, csrf: str, body: Any = None, status: int = 200) -> Any:
    async with http.request(method, url, json=body, headers={"X-CSRF-Token": csrf}) as resp:
        data = await resp.json()
        assert resp.status == status, data
        return data
