"""Appointment reminders with a controllable clock: they go at the right local time across DST
changes, respect quiet hours, go once however many nodes run and however a pass dies, never to a
number that texted STOP; rules and previews through the API."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from comms import appointments, reminders
from comms.db import make_engine, make_sessionmaker
from comms.models import Conversation, OptOut, OutboxEntry, TimelineItem
from comms.reminder_plan import due_at, render, values
from comms.schedule_models import AppointmentReminder
from comms.services import Services
from routing.bus import InProcessBus
from schemas.schedule import BookIn, ReminderRuleIn, check_template
from tests.helpers import browser, new_conversation, seed_practice, sign_in
from tests.schedule_helpers import api, at, next_spring_forward, seed_calendar, staff_actor
from web.keys import SERVICES

NY = ZoneInfo("America/New_York")
TWO_DAYS, TWO_HOURS = 2 * 24 * 60, 120
QUIET = (dt.time(20), dt.time(8))


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NY)


def test_days_keep_the_local_time_across_dst_and_hours_are_real_time() -> None:
    for monday in (dt.date(2027, 3, 15), dt.date(2027, 11, 8)):  # the Mondays after each change
        visit = local(monday, 9)
        saturday = monday - dt.timedelta(days=2)
        assert due_at(visit, TWO_DAYS, NY).astimezone(NY) == local(saturday, 9)
        assert due_at(visit, TWO_DAYS, NY) - visit != dt.timedelta(days=-2)  # 47 or 49 real hours
        assert due_at(visit, TWO_HOURS, NY) == visit - dt.timedelta(hours=2)
    # On the night of the change, "2 hours before" a 3:30 visit is 2 real hours (0:30 EST, not 1:30).
    assert due_at(local(dt.date(2027, 3, 14), 3, 30), TWO_HOURS, NY).astimezone(NY) == local(
        dt.date(2027, 3, 14), 0, 30
    )


def test_quiet_hours_move_a_reminder_to_their_end_or_before_they_begin() -> None:
    day = dt.date(2027, 1, 5)
    # 6:30 is quiet; 8:00 is still before the 8:30 visit.
    assert due_at(local(day, 8, 30), TWO_HOURS, NY, QUIET).astimezone(NY) == local(day, 8)
    # 6:00 is quiet and 8:00 would be the 8:00 visit itself: 19:59 the evening before instead.
    assert due_at(local(day, 8), TWO_HOURS, NY, QUIET).astimezone(NY) == local(
        day - dt.timedelta(days=1), 19, 59
    )
    # 22:00 two days before a 22:00 visit: the end of that night's quiet hours, next morning.
    assert due_at(local(day, 22), TWO_DAYS, NY, QUIET).astimezone(NY) == local(day - dt.timedelta(days=1), 8)
    assert due_at(local(day, 14), TWO_HOURS, NY, QUIET).astimezone(NY) == local(day, 12)  # not quiet
    daytime_quiet = (dt.time(12), dt.time(13))  # a lunch hour that does not wrap midnight
    assert due_at(local(day, 14, 30), TWO_HOURS, NY, daytime_quiet).astimezone(NY) == local(day, 13)


def test_templates_name_what_they_cannot_fill() -> None:
    check_template("Hi {first_name}, see you {date} at {time}. Reply C to confirm.")
    for bad, why in (
        ("Hi {name}", "unknown placeholder {name}"),
        ("Hi {first_name.__class__}", "unknown placeholder {first_name.__class__}"),
        ("Hi {first_name", "braces do not match"),
    ):
        with pytest.raises(ValueError, match=why.replace("{", r"\{").replace("}", r"\}")):
            check_template(bad)
    filled = values(
        "Ana", "Test Dental", "North", "Dr Rivera", "Cleaning", local(dt.date(2027, 3, 15), 9), NY
    )
    text = render("Hi {first_name}: {type} with {provider} at {location}, {date} at {time}.", filled)
    assert text == "Hi Ana: Cleaning with Dr Rivera at North, Mon 15 Mar 2027 at 9:00 AM EDT."


async def _setup(services: Services) -> tuple[Any, Any, dt.date]:
    p = await seed_practice(services)
    cal = await seed_calendar(services, p)
    for minutes, quiet in ((TWO_DAYS, QUIET), (TWO_HOURS, None)):
        body = ReminderRuleIn(
            minutes_before=minutes,
            template="Hi {first_name}, your {type} with {provider} is {date} at {time}. Reply C to confirm.",
            quiet_from=quiet[0] if quiet else None,
            quiet_until=quiet[1] if quiet else None,
        )
        await reminders.save_rule(services, cal.admin, body)
    return p, cal, next_spring_forward() + dt.timedelta(days=1)


async def _book(services: Services, p: Any, cal: Any, conversation_id: int, when: dt.datetime) -> int:
    staff = await staff_actor(services, p, p.staff_a, p.loc_a)
    body = BookIn(provider_id=cal.provider_id, type_id=cal.type_id, starts_at=when)
    return (await appointments.book(services, staff, conversation_id, body)).id


async def _sent(services: Services) -> list[TimelineItem]:
    async with services.read() as s:
        return list(
            await s.scalars(select(TimelineItem).where(TimelineItem.kind == "sms").order_by(TimelineItem.id))
        )


async def test_reminders_go_at_the_local_time_across_the_spring_change_once(services: Services) -> None:
    p, cal, monday = await _setup(services)
    await _book(services, p, cal, p.conv_a, local(monday, 9))
    saturday = monday - dt.timedelta(days=2)
    assert await reminders.run_once(services, local(saturday, 8, 59)) == 0
    assert await reminders.run_once(services, local(saturday, 9)) == 1  # 9:00 EST, two days before 9:00 EDT
    assert await reminders.run_once(services, local(saturday, 9, 1)) == 0  # once
    assert await reminders.run_once(services, local(monday, 6, 59)) == 0
    assert await reminders.run_once(services, local(monday, 7)) == 1
    assert await reminders.run_once(services, local(monday, 8)) == 0
    texts = await _sent(services)
    assert [t.conversation_id for t in texts] == [p.conv_a, p.conv_a]
    assert texts[0].body == (
        f"Hi Pat, your Cleaning with Dr Rivera is Mon {monday.day} Mar {monday.year} at 9:00 AM EDT. "
        "Reply C to confirm."
    )
    assert all(t.status == "pending" and t.meta["reminder"]["rule_id"] for t in texts)
    async with services.read() as s:
        outbox = list(await s.scalars(select(OutboxEntry)))
        rows = list(await s.scalars(select(AppointmentReminder).order_by(AppointmentReminder.id)))
    assert sorted(o.item_id for o in outbox) == [t.id for t in texts]
    assert [r.state for r in rows] == ["queued", "queued"] and [r.item_id for r in rows] == [
        t.id for t in texts
    ]
    assert rows[0].due_at == local(saturday, 9)
    # The visit is over: nothing more, even for a pass long after.
    assert await reminders.run_once(services, local(monday, 10)) == 0


async def test_no_reminder_to_a_stopped_number_nor_for_cancelled_visits(services: Services) -> None:
    p, cal, monday = await _setup(services)
    stopped = await new_conversation(services, p.practice_id, p.loc_a, "Sid Stopped", "+12025550155")
    async with services.unit() as unit:
        unit.session.add(OptOut(practice_id=p.practice_id, e164="+12025550155", source="sms"))
    await _book(services, p, cal, stopped, local(monday, 10))
    cancelled = await _book(services, p, cal, p.conv_a, local(monday, 11))
    staff = await staff_actor(services, p, p.staff_a, p.loc_a)
    await appointments.set_status(services, staff, cancelled, "cancelled")
    assert await reminders.run_once(services, local(monday, 9, 30)) == 2  # both rules for Sid, recorded
    assert await _sent(services) == []
    async with services.read() as s:
        rows = list(await s.scalars(select(AppointmentReminder)))
    assert [(r.state, r.reason, r.item_id) for r in rows] == [("skipped", "opted_out", None)] * 2


async def test_many_nodes_at_once_send_each_reminder_once(services: Services) -> None:
    p, cal, monday = await _setup(services)
    others = [
        await new_conversation(services, p.practice_id, p.loc_a, f"Pat {i}", f"+120255502{20 + i}")
        for i in range(3)
    ]
    for i, conversation in enumerate([p.conv_a, *others]):
        await _book(services, p, cal, conversation, local(monday, 9 + i))
    engines = [make_engine(services.settings.database) for _ in range(3)]
    nodes = [Services(services.settings, make_sessionmaker(e), InProcessBus(100)) for e in engines]
    try:
        counts = await asyncio.gather(
            *(reminders.run_once(n, local(monday, 6)) for n in nodes for _ in range(2))
        )
    finally:
        for e in engines:
            await e.dispose()
    assert sum(counts) == 4  # the 2-day reminder of each of the four visits (the 2-hour ones are not due)
    texts = await _sent(services)
    assert sorted(t.conversation_id for t in texts) == sorted([p.conv_a, *others])


async def test_a_pass_that_dies_midway_loses_and_repeats_nothing(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, cal, monday = await _setup(services)
    other = await new_conversation(services, p.practice_id, p.loc_a, "Ida Interrupted", "+12025550166")
    await _book(services, p, cal, p.conv_a, local(monday, 9))
    await _book(services, p, cal, other, local(monday, 10))
    real = reminders.queue_sms
    calls = 0

    async def dies_on_the_second(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the node died")
        return await real(*args, **kwargs)

    monkeypatch.setattr(reminders, "queue_sms", dies_on_the_second)
    saturday_noon = local(monday - dt.timedelta(days=2), 12)
    with pytest.raises(RuntimeError):
        await reminders.run_once(services, saturday_noon)
    assert len(await _sent(services)) == 1  # the first went; the second rolled back whole
    monkeypatch.setattr(reminders, "queue_sms", real)
    assert await reminders.run_once(services, saturday_noon) == 1
    assert await reminders.run_once(services, saturday_noon) == 0
    texts = await _sent(services)
    assert sorted(t.conversation_id for t in texts) == sorted([p.conv_a, other])
    async with services.read() as s:
        assert len(list(await s.scalars(select(AppointmentReminder)))) == 2


async def test_reminders_booked_after_their_moment_are_skipped(services: Services) -> None:
    p, cal, _ = await _setup(services)
    month = await reminders.save_rule(
        services, cal.admin, ReminderRuleIn(minutes_before=30 * 24 * 60, template="See you {date}")
    )
    soon = dt.datetime.now(dt.UTC).astimezone(NY) + dt.timedelta(days=1)
    while soon.weekday() > 4:
        soon += dt.timedelta(days=1)
    visit = dt.datetime.combine(soon.date(), dt.time(15), tzinfo=NY)
    await _book(services, p, cal, p.conv_a, visit)
    await reminders.run_once(services, visit - dt.timedelta(minutes=30))  # every rule is due by then
    async with services.read() as s:
        rows = {r.rule_id: r for r in await s.scalars(select(AppointmentReminder))}
    assert (rows[month.id].state, rows[month.id].reason) == ("skipped", "booked_later")
    assert len(rows) == 3 and sum(r.state == "queued" for r in rows.values()) == len(await _sent(services))
    assert any(r.state == "queued" for r in rows.values())  # the 2-hour one goes whatever the day


async def test_rules_and_preview_through_the_api(served: Any) -> None:
    p = served.practice
    url = str(served.make_url("")).rstrip("/")
    cal = await seed_calendar(served.app[SERVICES], p)
    rule = {
        "minutes_before": 2880,
        "template": "Hi {first_name}, {type} {date} {time}",
        "quiet_from": "20:00",
        "quiet_until": "08:00",
    }
    async with browser() as http:
        staff = (await sign_in(http, url, p.staff_a))["csrf_token"]
        await api(http, "POST", f"{url}/api/v1/reminder-rules", staff, rule, 403)
        monday = next_spring_forward() + dt.timedelta(days=1)
        booking = {"provider_id": cal.provider_id, "type_id": cal.type_id, "starts_at": at(monday, 9)}
        booked = await api(
            http, "POST", f"{url}/api/v1/conversations/{p.conv_a}/appointments", staff, booking, 201
        )
        shown = await api(
            http,
            "POST",
            f"{url}/api/v1/reminder-rules/preview",
            staff,
            {"template": rule["template"], "appointment_id": booked["id"]},
        )
        assert shown == {
            "text": f"Hi Pat, Cleaning Mon {monday.day} Mar {monday.year} 9:00 AM EDT",
            "segments": 1,
        }
        sample = await api(
            http,
            "POST",
            f"{url}/api/v1/reminder-rules/preview",
            staff,
            {"template": "{practice}: {provider}"},
        )
        assert sample["text"] == "Test Dental: Dr Example"
    async with browser() as http:
        admin = (await sign_in(http, url, p.admin))["csrf_token"]
        made = await api(http, "POST", f"{url}/api/v1/reminder-rules", admin, rule, 201)
        assert made["quiet_from"] == "20:00:00" and made["channel"] == "sms"
        bad = await api(
            http, "POST", f"{url}/api/v1/reminder-rules", admin, {**rule, "template": "Hi {name}"}, 422
        )
        assert "unknown placeholder {name}" in bad["error"]["message"]
        half = {**rule, "quiet_until": None}
        assert (
            "quiet_from and quiet_until"
            in (await api(http, "POST", f"{url}/api/v1/reminder-rules", admin, half, 422))["error"]["message"]
        )
        off = await api(
            http, "PUT", f"{url}/api/v1/reminder-rules/{made['id']}", admin, {**rule, "active": False}
        )
        assert off["active"] is False
        assert [r["id"] for r in await api(http, "GET", f"{url}/api/v1/reminder-rules", admin)] == [
            made["id"]
        ]


async def test_email_reminders_go_to_patients_with_an_address(services: Services) -> None:
    from comms.models import ContactEmail, EmailMessage

    p = await seed_practice(services)
    cal = await seed_calendar(services, p)
    rule = await reminders.save_rule(
        services,
        cal.admin,
        ReminderRuleIn(
            minutes_before=7 * 24 * 60, channel="email", template="Dear {first_name}, see you {date}."
        ),
    )
    mailed = await new_conversation(services, p.practice_id, p.loc_a, "Em Mail", "+12025550177")
    async with services.unit() as unit:
        conversation = await unit.session.get(Conversation, mailed)
        assert conversation is not None
        unit.session.add(ContactEmail(contact_id=conversation.contact_id, address="em@example.org"))
    monday = next_spring_forward() + dt.timedelta(days=1)
    await _book(services, p, cal, mailed, local(monday, 9))
    await _book(services, p, cal, p.conv_a, local(monday, 10))  # Pat has no e-mail address
    assert await reminders.run_once(services, local(monday - dt.timedelta(days=7), 10)) == 2
    async with services.read() as s:
        rows = {r.appointment_id: r for r in await s.scalars(select(AppointmentReminder))}
        emails = list(await s.scalars(select(TimelineItem).where(TimelineItem.kind == "email")))
        kept = list(await s.scalars(select(EmailMessage)))
        outbox = list(await s.scalars(select(OutboxEntry)))
    assert sorted((r.state, r.reason) for r in rows.values()) == [
        ("queued", None),
        ("skipped", "cannot_email"),
    ]
    [email] = emails
    assert (
        email.conversation_id == mailed
        and email.body == f"Dear Em, see you Mon {monday.day} Mar {monday.year}."
    )
    assert email.meta["subject"] == f"Reminder: Cleaning on Mon {monday.day} Mar {monday.year} at 9:00 AM EDT"
    assert email.meta["to"] == ["em@example.org"] and email.author_id is None
    assert [k.item_id for k in kept] == [email.id]
    assert [(o.item_id, o.channel) for o in outbox] == [(email.id, "email")]
    assert rule.channel == "email"


async def test_a_rescheduled_visit_is_reminded_of_its_new_time(services: Services) -> None:
    from schemas.schedule import RescheduleIn

    p, cal, monday = await _setup(services)
    appointment = await _book(services, p, cal, p.conv_a, local(monday, 9))
    assert await reminders.run_once(services, local(monday - dt.timedelta(days=2), 9)) == 1
    tuesday = monday + dt.timedelta(days=1)
    staff = await staff_actor(services, p, p.staff_a, p.loc_a)
    await appointments.reschedule(services, staff, appointment, RescheduleIn(starts_at=local(tuesday, 14)))
    assert await reminders.run_once(services, local(monday - dt.timedelta(days=2), 9, 5)) == 0
    assert await reminders.run_once(services, local(tuesday - dt.timedelta(days=2), 14)) == 1
    texts = await _sent(services)
    assert len(texts) == 2 and "at 2:00 PM EDT" in texts[1].body and f"Tue {tuesday.day} Mar" in texts[1].body
