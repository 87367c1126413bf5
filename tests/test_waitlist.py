"""The waitlist through the real server: a cancellation texts the first batch of matching waiting
patients (passing over those who texted STOP), the first to tap is booked and the others are told it
has gone, a lapsed batch gives way to the next exactly once, and a tampered link gets a clear 404."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

from sqlalchemy import select

from comms import audit_report, waitlist_offers
from comms.models import AuditEntry, Conversation, OptOut, TimelineItem, utcnow
from comms.schedule_models import Appointment
from comms.services import Services
from comms.waitlist_models import WaitlistEntry, WaitlistOffer
from schemas.analytics import AuditQuery
from tests.helpers import ORIGIN, browser, new_conversation, recv_frame, sign_in
from tests.schedule_helpers import admin_actor, api, at, next_weekday, seed_calendar
from web.access_log import logged_path
from web.keys import SERVICES

LINK = re.compile(r"/w/([A-Za-z0-9_-]+)")


def base(server: Any) -> str:
    return str(server.make_url("")).rstrip("/")


async def _texts(services: Services, conversation_id: int) -> list[str]:
    async with services.read() as s:
        rows = await s.scalars(
            select(TimelineItem.body)
            .where(TimelineItem.conversation_id == conversation_id, TimelineItem.kind == "sms")
            .order_by(TimelineItem.id)
        )
        return list(rows)


async def _token(services: Services, conversation_id: int) -> str:
    found = [m.group(1) for t in await _texts(services, conversation_id) if (m := LINK.search(t))]
    assert len(found) == 1, found
    return found[0]


async def _states(services: Services) -> dict[int, tuple[str, list[tuple[str, int]]]]:
    """conversation → (entry state, [(offer state, batch)])."""
    async with services.read() as s:
        out: dict[int, tuple[str, list[tuple[str, int]]]] = {}
        for entry in await s.scalars(select(WaitlistEntry)):
            offers = await s.scalars(
                select(WaitlistOffer).where(WaitlistOffer.entry_id == entry.id).order_by(WaitlistOffer.id)
            )
            out[entry.conversation_id] = (entry.state, [(o.state, o.batch) for o in offers])
        return out


async def _setup(served: Any, http: Any, count: int) -> tuple[str, list[int], int, dt.date]:
    """`count` waiting patients at North for a cleaning next week, and a booked visit there to cancel."""
    p, url = served.practice, base(served)
    services: Services = served.app[SERVICES]
    cal = await seed_calendar(services, p)
    monday = next_weekday(0)
    session = await sign_in(http, url, p.staff_a)
    csrf = session["csrf_token"]
    patients = []
    for i in range(count):
        conv = await new_conversation(services, p.practice_id, p.loc_a, f"Wait{i} Lister", f"+1202555019{i}")
        entry = await api(
            http,
            "POST",
            f"{url}/api/v1/conversations/{conv}/waitlist",
            csrf,
            {"type_id": cal.type_id, "earliest": str(monday - dt.timedelta(days=2)), "latest": str(monday)},
            201,
        )
        assert entry["state"] == "waiting" and entry["type_name"] == "Cleaning"
        patients.append(conv)
    booked = await api(
        http,
        "POST",
        f"{url}/api/v1/conversations/{p.conv_a}/appointments",
        csrf,
        {"provider_id": cal.provider_id, "type_id": cal.type_id, "starts_at": at(monday, 10)},
        201,
    )
    return csrf, patients, booked["id"], monday


async def test_cancel_offers_first_batch_one_tap_books_once_and_others_hear_it_is_gone(served: Any) -> None:
    p, url = served.practice, base(served)
    services: Services = served.app[SERVICES]
    async with browser() as http:
        csrf, patients, appointment_id, _ = await _setup(served, http, 5)
        async with services.unit() as unit:  # the second in line texted STOP
            unit.session.add(OptOut(practice_id=p.practice_id, e164="+12025550191", source="keyword"))
        await api(
            http, "POST", f"{url}/api/v1/appointments/{appointment_id}/status", csrf, {"status": "cancelled"}
        )
        states = await _states(services)
        first, stopped, third, fourth, fifth = patients
        assert states[first] == ("offered", [("sent", 1)])
        assert states[stopped] == ("waiting", [])  # passed over, never texted
        assert states[third] == ("offered", [("sent", 1)]) and states[fourth] == ("offered", [("sent", 1)])
        assert states[fifth] == ("waiting", [])  # not in the first batch
        assert await _texts(services, stopped) == [] and await _texts(services, fifth) == []
        offer_text = (await _texts(services, first))[0]
        assert offer_text.startswith("North: a Cleaning time with Dr Rivera has opened up, ")
        assert "10:00 AM" in offer_text
        token = await _token(services, first)
        assert logged_path(f"/w/{token}") == "/w/…"
        listed = await api(http, "GET", f"{url}/api/v1/conversations/{first}/waitlist", csrf)
        assert [e["state"] for e in listed] == ["offered"]
        async with services.read() as s:
            notes = list(
                await s.scalars(
                    select(TimelineItem.body).where(
                        TimelineItem.conversation_id == first, TimelineItem.kind == "activity"
                    )
                )
            )
        assert any(n.startswith("Waitlist: offered Cleaning with Dr Rivera") for n in notes)

    async with browser() as patient:
        async with patient.get(f"{url}/w/{token}") as resp:  # looking takes nothing
            page = await resp.text()
            assert resp.status == 200 and "Take this time" in page and "10:00 AM" in page
            assert "Wait0" not in page  # no patient data on the page
        async with patient.get(f"{url}/w/{token[:-2]}zz") as resp:
            assert resp.status == 404 and "This waitlist link is not valid" in await resp.text()
        async with patient.post(f"{url}/w/{token[:-2]}zz", headers={"Origin": ORIGIN}) as resp:
            assert resp.status == 404
        async with patient.post(f"{url}/w/{token}") as resp:  # not from our page's button
            assert resp.status == 403
        assert (await _states(services))[first] == ("offered", [("sent", 1)])

        taps = [await _token(services, first), await _token(services, third)]

        async def tap(t: str) -> tuple[int, str]:
            async with patient.post(f"{url}/w/{t}", headers={"Origin": ORIGIN}) as r:
                return r.status, await r.text()

        results = await asyncio.gather(*(tap(t) for t in taps))
    statuses = sorted(code for code, _ in results)
    assert statuses == [200, 410], results
    winner = patients[0] if results[0][0] == 200 else patients[2]
    loser = patients[2] if winner == patients[0] else patients[0]
    assert 'data-status="booked">You\'re booked' in next(b for c, b in results if c == 200)
    assert 'data-status="gone">Sorry, this time has been taken' in next(b for c, b in results if c == 410)
    async with services.read() as s:
        booked = list(
            await s.scalars(
                select(Appointment).where(
                    Appointment.status == "scheduled", Appointment.starts_at >= utcnow()
                )
            )
        )
    assert [a.conversation_id for a in booked] == [winner]
    states = await _states(services)
    assert states[winner] == ("booked", [("taken", 1)])
    assert states[loser] == ("waiting", [("gone", 1)]) and states[fourth] == ("waiting", [("gone", 1)])
    assert (await _texts(services, fourth))[-1].startswith("North: sorry, the ")
    assert "has been taken" in (await _texts(services, fourth))[-1]
    assert states[fifth] == ("waiting", [])  # the slot went: no next batch for it


async def test_a_lapsed_batch_gives_way_to_the_next_once(served: Any) -> None:
    url = base(served)
    services: Services = served.app[SERVICES]
    async with browser() as http:
        csrf, patients, appointment_id, _ = await _setup(served, http, 5)
        async with services.read() as s:
            type_id = await s.scalar(select(Appointment.type_id).where(Appointment.id == appointment_id))
        span = {
            "type_id": type_id,
            "earliest": str(utcnow().date()),
            "latest": str(utcnow().date() + dt.timedelta(days=30)),
        }
        await api(
            http, "POST", f"{url}/api/v1/conversations/{served.practice.conv_a}/waitlist", csrf, span, 201
        )
        await api(
            http, "POST", f"{url}/api/v1/appointments/{appointment_id}/status", csrf, {"status": "cancelled"}
        )
        first_token = await _token(services, patients[0])
        assert await waitlist_offers.run_once(services) == 0  # nothing has lapsed yet
        later = utcnow() + dt.timedelta(minutes=services.settings.waitlist.offer_minutes + 1)
        texted = await asyncio.gather(*(waitlist_offers.run_once(services, later) for _ in range(3)))
        assert sorted(texted) == [0, 0, 2]  # three nodes at once: the lapse is claimed once
        states = await _states(services)
        assert states[served.practice.conv_a] == ("waiting", [])  # who cancelled it is not offered it back
        for conv in patients[:3]:
            assert states[conv] == ("waiting", [("expired", 1)])
        for conv in patients[3:]:
            assert states[conv] == ("offered", [("sent", 2)])
            assert len(await _texts(services, conv)) == 1
        async with browser() as patient:
            async with patient.post(f"{url}/w/{first_token}", headers={"Origin": ORIGIN}) as resp:
                assert resp.status == 410  # the first batch's link has lapsed
            token = await _token(services, patients[4])
            async with patient.post(f"{url}/w/{token}", headers={"Origin": ORIGIN}) as resp:
                assert resp.status == 200 and "booked" in await resp.text()
        assert (await _states(services))[patients[4]] == ("booked", [("taken", 2)])


async def _next_item(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        event = (await recv_frame(ws, timeout=10)).get("event", {})
        if event.get("type") == "timeline.item_added" and event["item"]["kind"] == kind:
            return dict(event)


async def test_moving_a_visit_away_offers_its_old_time_live_and_staff_act_only_at_their_locations(
    served: Any,
) -> None:
    p, url = served.practice, base(served)
    services: Services = served.app[SERVICES]
    async with browser() as http:
        csrf, patients, appointment_id, monday = await _setup(served, http, 1)
        (waiting,) = patients
        ws = await http.ws_connect(f"{url}/ws", headers={"Origin": ORIGIN})
        await ws.send_json({"id": 1, "type": "subscribe", "last_event_id": None})
        assert (await recv_frame(ws))["success"]
        await api(
            http,
            "POST",
            f"{url}/api/v1/appointments/{appointment_id}/reschedule",
            csrf,
            {"starts_at": at(monday, 14)},
        )
        event = await _next_item(ws, "activity")
        assert event["conversation_id"] == waiting
        assert event["item"]["body"].startswith("Waitlist: offered Cleaning with Dr Rivera")
        assert "10:00 AM" in event["item"]["body"]  # the old time, not the new one
        token = await _token(services, waiting)
        async with browser() as patient:
            async with patient.post(f"{url}/w/{token}", headers={"Origin": ORIGIN}) as resp:
                assert resp.status == 200
        booked = await _next_item(ws, "activity")
        assert booked["conversation_id"] == waiting and booked["item"]["body"].startswith("Waitlist: booked")
        await ws.close()

        entries = await api(http, "GET", f"{url}/api/v1/conversations/{waiting}/waitlist", csrf)
        assert entries == []  # booked: no longer open
        bad = {"type_id": 999999, "earliest": str(monday), "latest": str(monday)}
        await api(http, "POST", f"{url}/api/v1/conversations/{waiting}/waitlist", csrf, bad, 404)
        async with services.read() as s:
            type_id = (await s.scalars(select(Appointment.type_id))).first()
        backwards = {
            "type_id": type_id,
            "earliest": str(monday),
            "latest": str(monday - dt.timedelta(days=1)),
        }
        await api(http, "POST", f"{url}/api/v1/conversations/{waiting}/waitlist", csrf, backwards, 422)
        good = {"type_id": type_id, "earliest": str(monday), "latest": str(monday)}
        entry = await api(http, "POST", f"{url}/api/v1/conversations/{p.conv_a}/waitlist", csrf, good, 201)
        await api(http, "POST", f"{url}/api/v1/conversations/{p.conv_a}/waitlist", csrf, good, 409)

    async with browser() as other:  # South's staff member sees nothing of North's waitlist
        south = (await sign_in(other, url, p.staff_b))["csrf_token"]
        await api(other, "POST", f"{url}/api/v1/conversations/{p.conv_a}/waitlist", south, good, 404)
        await api(other, "GET", f"{url}/api/v1/conversations/{p.conv_a}/waitlist", south, status=404)
        await api(other, "DELETE", f"{url}/api/v1/waitlist/{entry['id']}", south, status=404)
    async with browser() as http:
        csrf = (await sign_in(http, url, p.staff_a))["csrf_token"]
        removed = await api(http, "DELETE", f"{url}/api/v1/waitlist/{entry['id']}", csrf)
        assert removed["state"] == "removed"
        await api(http, "DELETE", f"{url}/api/v1/waitlist/{entry['id']}", csrf, status=409)
    async with services.read() as s:
        audited = set(
            await s.scalars(select(AuditEntry.action).where(AuditEntry.record_type.like("%waitlist%")))
        )
    assert {"create", "view", "delete", "send"} <= audited
    async with services.read() as s:
        contact_id = await s.scalar(select(Conversation.contact_id).where(Conversation.id == waiting))
    admin = await admin_actor(services, p)
    traced = await audit_report.report(services, admin, AuditQuery.model_validate({"patient_id": contact_id}))
    kinds = {(r.record_type, r.action) for r in traced.entries}
    assert {
        ("waitlist_entry", "create"),
        ("waitlist_offer", "send"),
        ("conversation_waitlist", "view"),
        ("appointment", "book_waitlist"),
    } <= kinds
    assert {r.patient_id for r in traced.entries} == {contact_id}


async def test_a_failed_offer_never_fails_the_cancel(served: Any, monkeypatch: Any) -> None:
    url = base(served)
    services: Services = served.app[SERVICES]

    async def broken(*_: Any, **__: Any) -> int:
        raise RuntimeError("the waitlist is down")

    async with browser() as http:
        csrf, patients, appointment_id, _ = await _setup(served, http, 1)
        monkeypatch.setattr(waitlist_offers, "offer_freed", broken)
        cancelled = await api(
            http, "POST", f"{url}/api/v1/appointments/{appointment_id}/status", csrf, {"status": "cancelled"}
        )
        assert cancelled["status"] == "cancelled"
    async with services.read() as s:
        assert (
            await s.scalar(select(Appointment.status).where(Appointment.id == appointment_id)) == "cancelled"
        )
    assert (await _states(services))[patients[0]] == ("waiting", [])
