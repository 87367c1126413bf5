"""The demo practice's calendar: providers at each location, appointment types, working weeks, reminder
rules, and a few upcoming bookings in the demo threads (found by the same slot search staff use)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from comms import appointment_reads, appointments, reminders, schedule_setup
from comms.access import Actor
from comms.models import Conversation, Location, StaffUser, utcnow
from comms.services import Services
from schemas.schedule import (
    AppointmentTypeIn,
    BookIn,
    HoursEntry,
    HoursIn,
    ProviderIn,
    ReminderRuleIn,
    SlotQuery,
)
from schemas.voice import WEEKDAYS

# (name, duration, buffer, colour, patients may book it online)
TYPES = (
    ("New patient exam", 60, 15, "#3b6fd4", True),
    ("Cleaning", 45, 10, "#2e9d62", True),
    ("Filling", 60, 10, "#d4852b", False),
    ("Emergency visit", 30, 0, "#c93a3a", False),
)
MORNING, AFTERNOON = (dt.time(8), dt.time(12)), (dt.time(13), dt.time(17))
# (name, {location index: weekdays 0 = Monday}); each works mornings and afternoons on those days.
PROVIDERS = (
    ("Dr. Sam Rivera", {0: (0, 1, 2, 3, 4)}),
    ("Jamie Brooks, RDH", {0: (0, 1, 2), 1: (3, 4)}),
    ("Dr. Ana Okafor", {1: (0, 1, 2, 3)}),
)
BOOKINGS = 6  # demo threads that get an upcoming appointment
# (minutes before, text); both keep quiet between 20:00 and 08:00 local.
REMINDERS = (
    (
        2 * 24 * 60,
        "Hi {first_name}, a reminder of your {type} with {provider} at {location} on {date} at {time}. "
        "Reply C to confirm or R to reschedule.",
    ),
    (120, "Hi {first_name}, see you at {time} today at {location}."),
)


async def seed_calendar(services: Services, practice_id: int, locations: list[int]) -> None:
    """Providers, types and hours through the admin actions; then a few bookings from the thread."""
    async with services.read() as s:
        admin_id = await s.scalar(
            select(StaffUser.id)
            .where(StaffUser.practice_id == practice_id, StaffUser.role == "admin")
            .order_by(StaffUser.id)
        )
    assert admin_id is not None, "the demo has an admin"
    admin = Actor(admin_id, practice_id, "admin", None, "demo-seed")
    kinds = [
        await schedule_setup.add_type(
            services,
            admin,
            AppointmentTypeIn(name=n, duration_minutes=d, buffer_minutes=b, colour=c, online=online),
        )
        for n, d, b, c, online in TYPES
    ]
    for name, week in PROVIDERS:
        where = [locations[i] for i in week]
        provider = await schedule_setup.add_provider(
            services, admin, ProviderIn(name=name, location_ids=where)
        )
        hours = [
            HoursEntry(location_id=locations[i], weekday=WEEKDAYS[day], starts=start, ends=end)
            for i, days in week.items()
            for day in days
            for start, end in (MORNING, AFTERNOON)
        ]
        await schedule_setup.set_hours(services, admin, provider.id, HoursIn(hours=hours))
    for minutes, text in REMINDERS:
        rule = ReminderRuleIn(
            minutes_before=minutes, template=text, quiet_from=dt.time(20), quiet_until=dt.time(8)
        )
        await reminders.save_rule(services, admin, rule)
    await _bookings(services, admin, [k.id for k in kinds])


async def _bookings(services: Services, admin: Actor, type_ids: list[int]) -> None:
    """Book the first open slot from tomorrow on for a few threads, so panels and call pops show one."""
    async with services.read() as s:
        threads = list(
            (
                await s.execute(
                    select(Conversation.id, Conversation.location_id, Location.timezone)
                    .join(Location, Location.id == Conversation.location_id)
                    .order_by(Conversation.id)
                    .limit(BOOKINGS)
                )
            ).all()
        )
    for index, (conversation_id, location_id, timezone) in enumerate(threads):
        tomorrow = utcnow().astimezone(ZoneInfo(timezone)).date() + dt.timedelta(days=1 + index % 3)
        type_id = type_ids[index % len(type_ids)]
        query = SlotQuery(type_id=type_id, date_from=tomorrow, date_to=tomorrow + dt.timedelta(days=7))
        slots = await appointment_reads.open_slots(services, admin, location_id, query)
        if slots:
            pick = slots[(index * 5) % len(slots)]
            body = BookIn(provider_id=pick.provider_id, type_id=type_id, starts_at=pick.starts_at)
            await appointments.book(services, admin, conversation_id, body)
