"""Booking from the thread through the real server: slots, bookings that appear live in the thread,
no double booking (also when requests race, and enforced by the database itself), the lifecycle,
rescheduling, and who may do what."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from comms import appointments
from comms.appointments import is_overlap
from comms.db import make_engine, make_sessionmaker
from comms.errors import Conflict
from comms.models import AuditEntry, Conversation, TimelineItem
from comms.review_models import ReviewRequest
from comms.schedule_models import Appointment
from comms.services import Services
from comms.slots import local_text
from routing.bus import InProcessBus
from schemas.schedule import BookIn
from tests.helpers import ORIGIN, browser, new_conversation, recv_frame, sign_in
from tests.schedule_helpers import api, at, next_spring_forward, next_weekday, seed_calendar, staff_actor
from web.keys import SERVICES


def base(server: Any) -> str:
    return str(server.make_url("")).rstrip("/")


async def _next_item(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        event = (await recv_frame(ws, timeout=10)).get("event", {})
        if event.get("type") == "timeline.item_added" and event["item"]["kind"] == kind:
            return dict(event)


async def test_booking_from_the_thread_shows_live_and_the_slot_is_gone(served: Any) -> None:
    p, url = served.practice, base(served)
    services: Services = served.app[SERVICES]
    cal = await seed_calendar(services, p)
    monday = next_weekday(0)
    async with browser() as http:
        session = await sign_in(http, url, p.staff_a)
        csrf = session["csrf_token"]
        ws = await http.ws_connect(f"{url}/ws", headers={"Origin": ORIGIN})
        await ws.send_json({"id": 1, "type": "subscribe", "last_event_id": None})
        assert (await recv_frame(ws))["success"]
        query = f"type_id={cal.type_id}&provider_id={cal.provider_id}&date_from={monday}&date_to={monday}"
        slots = await api(http, "GET", f"{url}/api/v1/locations/{p.loc_a}/slots?{query}", csrf)
        assert slots[0]["local_start"] == at(monday, 9) and len(slots) == 31  # 9:00 .. 16:30
        booked = await api(
            http,
            "POST",
            f"{url}/api/v1/conversations/{p.conv_a}/appointments",
            csrf,
            {"provider_id": cal.provider_id, "type_id": cal.type_id, "starts_at": at(monday, 10)},
            201,
        )
        assert booked["status"] == "scheduled" and booked["provider_name"] == "Dr Rivera"
        assert booked["type_name"] == "Cleaning" and booked["local_start"] == at(monday, 10)
        event = await _next_item(ws, "appointment")
        assert event["conversation_id"] == p.conv_a
        assert event["item"]["meta"]["appointment_id"] == booked["id"]
        assert event["item"]["body"].startswith("Booked: Cleaning with Dr Rivera, ")
        assert "10:00 AM" in event["item"]["body"]
        await ws.close()

        after = await api(http, "GET", f"{url}/api/v1/locations/{p.loc_a}/slots?{query}", csrf)
        starts = {s["local_start"] for s in after}
        # 10:00 is taken; 9:30 and 9:45 would run into it, 10:15 and 10:30 into its 10-minute buffer.
        for taken in (
            at(monday, 9, 30),
            at(monday, 9, 45),
            at(monday, 10),
            at(monday, 10, 15),
            at(monday, 10, 30),
        ):
            assert taken not in starts
        assert at(monday, 9, 15) in starts and at(monday, 10, 45) in starts

        other = await new_conversation(services, p.practice_id, p.loc_a, "Ola Other", "+12025550122")
        for minute in (0, 15):  # the same time, and an overlapping one
            async with http.post(
                f"{url}/api/v1/conversations/{other}/appointments",
                json={
                    "provider_id": cal.provider_id,
                    "type_id": cal.type_id,
                    "starts_at": at(monday, 10, minute),
                },
                headers={"X-CSRF-Token": csrf},
            ) as resp:
                assert resp.status == 409
                assert (await resp.json())["error"] == {
                    "code": "conflict",
                    "message": "that time is already booked for this provider",
                }
        # The other provider is free then.
        await api(
            http,
            "POST",
            f"{url}/api/v1/conversations/{other}/appointments",
            csrf,
            {"provider_id": cal.other_provider_id, "type_id": cal.type_id, "starts_at": at(monday, 10)},
            201,
        )
        async with services.read() as s:
            contact_id = (await s.get(Conversation, p.conv_a)).contact_id  # type: ignore[union-attr]
        upcoming = await api(http, "GET", f"{url}/api/v1/contacts/{contact_id}/appointments", csrf)
        assert [a["id"] for a in upcoming] == [booked["id"]]
        day = await api(
            http,
            "GET",
            f"{url}/api/v1/locations/{p.loc_a}/appointments?date_from={monday}&date_to={monday}",
            csrf,
        )
        assert [a["provider_name"] for a in day] == ["Dr Rivera", "Dr Chen"]
    async with services.read() as s:
        audited = set((await s.execute(select(AuditEntry.action, AuditEntry.record_type))).all())
        assert {("create", "appointment"), ("view", "contact_appointments"), ("view", "schedule")} <= audited


async def test_outside_hours_holidays_and_bad_input_are_refused_clearly(served: Any) -> None:
    p, url = served.practice, base(served)
    services: Services = served.app[SERVICES]
    cal = await seed_calendar(services, p)
    monday, saturday = next_weekday(0), next_weekday(5)
    book = f"{url}/api/v1/conversations/{p.conv_a}/appointments"
    async with browser() as http:
        admin = (await sign_in(http, url, p.admin))["csrf_token"]
        await api(
            http, "POST", f"{url}/api/v1/locations/{p.loc_a}/holidays", admin, {"date": str(monday)}, 201
        )
        for starts, why in (
            (at(saturday, 10), "outside the provider's working hours at this location"),
            (at(monday, 10), "outside the provider's working hours at this location"),  # the holiday
            (
                at(next_weekday(1), 16, 45),
                "outside the provider's working hours at this location",
            ),  # ends 17:15
        ):
            body = {"provider_id": cal.provider_id, "type_id": cal.type_id, "starts_at": starts}
            error = await api(http, "POST", book, admin, body, 422)
            assert error["error"]["message"] == why
        last_week = next_weekday(0) - dt.timedelta(days=14)
        past = {"provider_id": cal.provider_id, "type_id": cal.type_id, "starts_at": at(last_week, 10)}
        assert (await api(http, "POST", book, admin, past, 422))["error"]["message"] == "that time has passed"
        naive = {"provider_id": cal.provider_id, "type_id": cal.type_id, "starts_at": "2030-01-07T10:00:00"}
        assert (await api(http, "POST", book, admin, naive, 422))["error"]["code"] == "invalid_request"
        tuesday = next_weekday(1)
        away = {"starts_at": at(tuesday, 12), "ends_at": at(tuesday, 14), "reason": "course"}
        await api(http, "POST", f"{url}/api/v1/providers/{cal.provider_id}/time-off", admin, away, 201)
        body = {"provider_id": cal.provider_id, "type_id": cal.type_id, "starts_at": at(tuesday, 13)}
        assert (await api(http, "POST", book, admin, body, 422))["error"][
            "message"
        ] == "the provider is away then"
        query = f"type_id={cal.type_id}&date_from={tuesday}&date_to={tuesday}&provider_id={cal.provider_id}"
        slots = await api(http, "GET", f"{url}/api/v1/locations/{p.loc_a}/slots?{query}", admin)
        assert not any(at(tuesday, 11, 45) <= s["local_start"] < at(tuesday, 14) for s in slots)
        assert await api(
            http, "GET", f"{url}/api/v1/locations/{p.loc_a}/slots?{query}&x=1", admin, status=422
        )
    async with services.read() as s:
        assert (await s.scalar(select(Appointment.id))) is None  # nothing stored by the refusals


async def test_slot_search_across_the_spring_change_keeps_local_hours(served: Any) -> None:
    p, url = served.practice, base(served)
    cal = await seed_calendar(served.app[SERVICES], p)
    sunday = next_spring_forward()
    friday, monday = sunday - dt.timedelta(days=2), sunday + dt.timedelta(days=1)
    async with browser() as http:
        csrf = (await sign_in(http, url, p.staff_a))["csrf_token"]
        query = f"type_id={cal.type_id}&provider_id={cal.provider_id}&date_from={friday}&date_to={monday}"
        slots = await api(http, "GET", f"{url}/api/v1/locations/{p.loc_a}/slots?{query}", csrf)
    firsts = [
        s
        for s in slots
        if s["local_start"].endswith("T09:00:00-05:00") or s["local_start"].endswith("T09:00:00-04:00")
    ]
    assert [f["local_start"] for f in firsts] == [f"{friday}T09:00:00-05:00", f"{monday}T09:00:00-04:00"]
    assert [f["starts_at"][11:16] for f in firsts] == ["14:00", "13:00"]  # UTC moves, the local hour does not
    assert len(slots) == 62  # two working days, none on the weekend


async def test_concurrent_bookings_of_one_slot_exactly_one_wins(served: Any) -> None:
    p, url = served.practice, base(served)
    services: Services = served.app[SERVICES]
    cal = await seed_calendar(services, p)
    monday = next_weekday(0)
    conversations = [
        await new_conversation(services, p.practice_id, p.loc_a, f"Racer {i}", f"+120255501{30 + i}")
        for i in range(6)
    ]
    async with browser() as http:
        csrf = (await sign_in(http, url, p.staff_a))["csrf_token"]

        async def attempt(conversation_id: int, minute: int) -> int:
            body = {
                "provider_id": cal.provider_id,
                "type_id": cal.type_id,
                "starts_at": at(monday, 11, minute),
            }
            async with http.post(
                f"{url}/api/v1/conversations/{conversation_id}/appointments",
                json=body,
                headers={"X-CSRF-Token": csrf},
            ) as resp:
                return resp.status

        statuses = await asyncio.gather(*(attempt(c, 15 * (i % 2)) for i, c in enumerate(conversations)))
    assert sorted(statuses) == [201, 409, 409, 409, 409, 409]
    async with services.read() as s:
        assert len((await s.scalars(select(Appointment))).all()) == 1


@pytest.mark.parametrize("checked", [True, False], ids=["with-check", "database-alone"])
async def test_two_nodes_racing_through_their_own_connections_book_once(
    services: Services, checked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several nodes each with their own engine: the pre-check may pass on all of them (PostgreSQL
    reads before the others commit); the database's rule lets exactly one insert through. Run once
    more with the Python check switched off, so only the database decides."""
    if not checked:
        monkeypatch.setattr(appointments, "fits", lambda *args: None)
    from tests.helpers import seed_practice

    p = await seed_practice(services)
    cal = await seed_calendar(services, p)
    staff = await staff_actor(services, p, p.staff_a, p.loc_a)
    monday = next_weekday(0)
    engines = [make_engine(services.settings.database) for _ in range(3)]
    nodes = [Services(services.settings, make_sessionmaker(e), InProcessBus(100)) for e in engines]
    conversations = [
        await new_conversation(services, p.practice_id, p.loc_a, f"Node {i}", f"+120255502{10 + i}")
        for i in range(6)
    ]
    starts = dt.datetime.fromisoformat(at(monday, 14))
    body = BookIn(provider_id=cal.provider_id, type_id=cal.type_id, starts_at=starts)
    try:
        results = await asyncio.gather(
            *(appointments.book(nodes[i % 3], staff, c, body) for i, c in enumerate(conversations)),
            return_exceptions=True,
        )
    finally:
        for e in engines:
            await e.dispose()
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1 and len(lost) == 5
    assert all(
        isinstance(e, Conflict) and e.message == "that time is already booked for this provider" for e in lost
    )
    async with services.read() as s:
        rows = (await s.scalars(select(Appointment))).all()
        assert [r.id for r in rows] == [won[0].id]
        items = (await s.scalars(select(TimelineItem).where(TimelineItem.kind == "appointment"))).all()
        assert [i.conversation_id for i in items] == [won[0].conversation_id]  # the losers wrote nothing


async def test_the_database_itself_refuses_overlapping_active_appointments(services: Services) -> None:
    """Straight inserts, past every check in Python: the exclusion constraint / trigger decides."""
    from tests.helpers import seed_practice

    p = await seed_practice(services)
    cal = await seed_calendar(services, p)
    async with services.read() as s:
        contact_id = (await s.get(Conversation, p.conv_a)).contact_id  # type: ignore[union-attr]
    t0 = dt.datetime(2031, 1, 6, 15, 0, tzinfo=dt.UTC)
    m = dt.timedelta(minutes=1)

    def row(
        start: dt.datetime, minutes: int, status: str = "scheduled", provider: int | None = None
    ) -> Appointment:
        return Appointment(
            location_id=p.loc_a,
            provider_id=provider or cal.provider_id,
            contact_id=contact_id,
            type_id=cal.type_id,
            conversation_id=p.conv_a,
            starts_at=start,
            ends_at=start + minutes * m,
            busy_until=start + minutes * m,
            status=status,
        )

    async def insert(a: Appointment) -> None:
        async with services.unit() as unit:
            unit.session.add(a)

    await insert(row(t0, 30))
    for clash in (row(t0, 30), row(t0 + 29 * m, 10), row(t0 - 10 * m, 11), row(t0 + 5 * m, 5, "confirmed")):
        with pytest.raises(IntegrityError) as caught:
            await insert(clash)
        assert is_overlap(caught.value)
    await insert(row(t0 + 30 * m, 30))  # back to back is fine: ranges are half-open
    await insert(row(t0 - 30 * m, 30))
    await insert(row(t0, 30, "cancelled"))  # cancelled and no-show appointments hold no time
    await insert(row(t0, 30, "no_show"))
    await insert(row(t0, 30, provider=cal.other_provider_id))  # another provider
    with pytest.raises(IntegrityError) as caught:  # un-cancelling into a taken time
        async with services.unit() as unit:
            await unit.session.execute(
                update(Appointment).where(Appointment.status == "cancelled").values(status="scheduled")
            )
    assert is_overlap(caught.value)
    with pytest.raises(IntegrityError) as caught:  # moving one onto another
        async with services.unit() as unit:
            await unit.session.execute(
                update(Appointment).where(Appointment.starts_at == t0 + 30 * m).values(starts_at=t0 + 20 * m)
            )
    assert is_overlap(caught.value)
    async with services.read() as s:
        assert len((await s.scalars(select(Appointment))).all()) == 6


async def test_lifecycle_moves_forward_only_and_each_change_is_in_the_thread(served: Any) -> None:
    p, url = served.practice, base(served)
    services: Services = served.app[SERVICES]
    cal = await seed_calendar(services, p)
    monday = next_weekday(0)
    book = f"{url}/api/v1/conversations/{p.conv_a}/appointments"
    async with browser() as http:
        csrf = (await sign_in(http, url, p.staff_a))["csrf_token"]
        first = {"provider_id": cal.provider_id, "type_id": cal.type_id, "starts_at": at(monday, 9)}
        a = await api(http, "POST", book, csrf, first, 201)
        status = f"{url}/api/v1/appointments/{a['id']}/status"
        assert (await api(http, "POST", status, csrf, {"status": "completed"}, 409))["error"]["message"] == (
            "a scheduled appointment cannot become completed"
        )
        for step in ("confirmed", "checked_in", "completed"):
            assert (await api(http, "POST", status, csrf, {"status": step}))["status"] == step
        for late in ("cancelled", "no_show", "confirmed"):
            await api(http, "POST", status, csrf, {"status": late}, 409)
        await api(http, "POST", status, csrf, {"status": "scheduled"}, 422)  # not a status one moves to
        reschedule = f"{url}/api/v1/appointments/{a['id']}/reschedule"
        await api(http, "POST", reschedule, csrf, {"starts_at": at(monday, 12)}, 409)  # completed

        b = await api(http, "POST", book, csrf, {**first, "starts_at": at(monday, 10)}, 201)
        await api(http, "POST", f"{url}/api/v1/appointments/{b['id']}/status", csrf, {"status": "confirmed"})
        moved = await api(
            http,
            "POST",
            f"{url}/api/v1/appointments/{b['id']}/reschedule",
            csrf,
            {"starts_at": at(monday, 11)},
        )
        assert (
            moved["local_start"] == at(monday, 11) and moved["status"] == "scheduled"
        )  # to be confirmed again
        await api(
            http, "POST", book, csrf, {**first, "starts_at": at(monday, 10)}, 201
        )  # the old time is free
        c = await api(http, "POST", book, csrf, {**first, "starts_at": at(monday, 13)}, 201)
        clash = {"starts_at": at(monday, 11, 15)}
        await api(http, "POST", f"{url}/api/v1/appointments/{c['id']}/reschedule", csrf, clash, 409)
        other = {"starts_at": at(monday, 11), "provider_id": cal.other_provider_id}
        assert (await api(http, "POST", f"{url}/api/v1/appointments/{c['id']}/reschedule", csrf, other))[
            "provider_name"
        ] == "Dr Chen"
        await api(http, "POST", f"{url}/api/v1/appointments/{c['id']}/status", csrf, {"status": "cancelled"})
        await api(
            http, "POST", f"{url}/api/v1/appointments/{c['id']}/status", csrf, {"status": "confirmed"}, 409
        )
        await api(
            http,
            "POST",
            book,
            csrf,
            {**first, "provider_id": cal.other_provider_id, "starts_at": at(monday, 11)},
            201,
        )
    async with services.read() as s:
        items = (
            await s.scalars(
                select(TimelineItem).where(TimelineItem.kind == "appointment").order_by(TimelineItem.id)
            )
        ).all()
    actions = [(i.meta["appointment_id"], i.meta["action"]) for i in items]
    assert actions[:4] == [
        (a["id"], "book"),
        (a["id"], "confirmed"),
        (a["id"], "checked_in"),
        (a["id"], "completed"),
    ]
    assert (b["id"], "reschedule") in actions and (c["id"], "cancelled") in actions
    assert (
        len(actions) == 4 + 3 + 1 + 3 + 1
    )  # a; b booked, confirmed, moved; the re-booking; c three; the last
    assert all(i.direction == "internal" and i.author_id is not None for i in items)


async def test_staff_book_only_at_their_own_locations(served: Any) -> None:
    p, url = served.practice, base(served)
    services: Services = served.app[SERVICES]
    cal = await seed_calendar(services, p)
    monday = next_weekday(0)
    body = {"provider_id": cal.provider_id, "type_id": cal.type_id, "starts_at": at(monday, 9)}
    async with browser() as http:
        north = (await sign_in(http, url, p.staff_a))["csrf_token"]
        a = await api(http, "POST", f"{url}/api/v1/conversations/{p.conv_a}/appointments", north, body, 201)
        await api(
            http,
            "POST",
            "/".join([url, "api/v1/providers"]),
            north,
            {"name": "X", "location_ids": [p.loc_a]},
            403,
        )
        # Dr Rivera does not work at South: booking there is refused as an unknown provider.
        await api(http, "POST", f"{url}/api/v1/conversations/{p.conv_b}/appointments", north, body, 404)
    async with browser() as http:
        south = (await sign_in(http, url, p.staff_b))["csrf_token"]
        await api(http, "POST", f"{url}/api/v1/conversations/{p.conv_a}/appointments", south, body, 404)
        query = f"type_id={cal.type_id}&date_from={monday}&date_to={monday}"
        await api(http, "GET", f"{url}/api/v1/locations/{p.loc_a}/slots?{query}", south, status=404)
        await api(http, "GET", f"{url}/api/v1/locations/{p.loc_a}/providers", south, status=404)
        await api(
            http, "POST", f"{url}/api/v1/appointments/{a['id']}/status", south, {"status": "cancelled"}, 404
        )
        async with services.read() as s:
            contact_id = (await s.get(Conversation, p.conv_a)).contact_id  # type: ignore[union-attr]
        assert await api(http, "GET", f"{url}/api/v1/contacts/{contact_id}/appointments", south) == []
    async with services.read() as s:
        assert (await s.get(Appointment, a["id"])).status == "scheduled"  # type: ignore[union-attr]


async def test_the_call_pop_shows_the_next_appointment_where_the_staff_work(services: Services) -> None:
    from comms.call_pop import caller_of
    from comms.models import Contact
    from tests.helpers import seed_practice

    p = await seed_practice(services)
    cal = await seed_calendar(services, p)
    staff = await staff_actor(services, p, p.staff_a, p.loc_a)
    monday, tuesday = next_weekday(0), next_weekday(1)
    for day, hour in ((tuesday, 9), (monday, 15), (monday, 11)):
        body = BookIn(
            provider_id=cal.provider_id,
            type_id=cal.type_id,
            starts_at=dt.datetime.fromisoformat(at(day, hour)),
        )
        booked = await appointments.book(services, staff, p.conv_a, body)
    await appointments.set_status(services, staff, booked.id, "cancelled")  # the 11:00 one
    async with services.read() as s:
        conversation = await s.get(Conversation, p.conv_a)
        assert conversation is not None
        contact = await s.get(Contact, conversation.contact_id)
        assert contact is not None
        north = await caller_of(s, contact, [], {p.loc_a})
        south = await caller_of(s, contact, [], {p.loc_b})
    assert north.next_appointment is not None
    assert north.next_appointment["local_start"] == at(monday, 15)
    when = local_text(dt.datetime.fromisoformat(at(monday, 15)), ZoneInfo("America/New_York"))
    assert north.next_appointment["label"] == f"Cleaning with Dr Rivera, {when}" and ", 3:00 PM E" in when
    assert north.next_appointment["location"] == "North"
    assert south.next_appointment is None  # staff at South see nothing of North's bookings


async def test_a_completed_visit_asks_for_a_review_once_when_the_location_has_a_page(served: Any) -> None:
    p, url = served.practice, base(served)
    services: Services = served.app[SERVICES]
    cal = await seed_calendar(services, p)
    monday = next_weekday(0)
    book = f"{url}/api/v1/conversations/{p.conv_a}/appointments"

    async def visit(http: Any, csrf: str, hour: int) -> None:
        slot = {"provider_id": cal.provider_id, "type_id": cal.type_id, "starts_at": at(monday, hour)}
        a = await api(http, "POST", book, csrf, slot, 201)
        for step in ("confirmed", "checked_in", "completed"):
            await api(http, "POST", f"{url}/api/v1/appointments/{a['id']}/status", csrf, {"status": step})

    async def asks() -> list[ReviewRequest]:
        async with services.read() as session:
            return list(
                await session.scalars(select(ReviewRequest).where(ReviewRequest.conversation_id == p.conv_a))
            )

    async with browser() as http:
        csrf = (await sign_in(http, url, p.staff_a))["csrf_token"]
        await visit(http, csrf, 9)
        assert await asks() == []  # no review page at North yet: nothing is sent, the visit still completes
        admin = (await sign_in(http, url, p.admin))["csrf_token"]
        await api(
            http, "PUT", f"{url}/api/v1/locations/{p.loc_a}/review-site", admin, {"url": "https://g.page/r/x"}
        )
        csrf = (await sign_in(http, url, p.staff_a))["csrf_token"]
        await visit(http, csrf, 10)
        await visit(http, csrf, 11)  # a second visit inside the period asks nothing more
    sent = await asks()
    assert [(r.source, r.conversation_id) for r in sent] == [("appointment", p.conv_a)]
    async with services.read() as session:
        kinds = list(
            await session.scalars(select(TimelineItem.kind).where(TimelineItem.conversation_id == p.conv_a))
        )
    assert "review" in kinds
