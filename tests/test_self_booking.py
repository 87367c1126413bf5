"""The patients' booking page's API: only what is offered online, bookings from our own page only,
nothing about other patients in any answer, a text to confirm (whose reply confirms), no double
booking, and a limit per address."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from comms import schedule_setup
from comms.models import Contact, Conversation, OutboxEntry, TimelineItem
from comms.schedule_models import Appointment, AppointmentReminder
from schemas.schedule import AppointmentTypeIn
from tests.helpers import ORIGIN, browser
from tests.schedule_helpers import at, next_weekday, seed_calendar
from web.keys import SERVICES


def base(server: Any) -> str:
    return str(server.make_url("")).rstrip("/")


async def _call(
    http: Any, method: str, url: str, body: Any = None, status: int = 200, origin: bool = True
) -> Any:
    headers = {"Origin": ORIGIN} if origin else {}
    async with http.request(method, url, json=body, headers=headers) as resp:
        data = await resp.json()
        assert resp.status == status, data
        return data


async def test_patients_book_online_and_confirm_by_text(served: Any) -> None:
    p, url = served.practice, base(served)
    services = served.app[SERVICES]
    cal = await seed_calendar(services, p)
    public = f"{url}/api/v1/public/locations/{p.loc_a}"
    async with browser() as http:
        await _call(http, "GET", public, status=404)  # nothing offered online yet: the page is off
        online = await schedule_setup.add_type(
            services, cal.admin, AppointmentTypeIn(name="Checkup", duration_minutes=30, online=True)
        )
        offer = await _call(http, "GET", public)
        assert [t["name"] for t in offer["types"]] == ["Checkup"]  # not the staff-only Cleaning
        assert sorted(pr["name"] for pr in offer["providers"]) == ["Dr Chen", "Dr Rivera"]
        assert set(offer) == {"location_id", "name", "timezone", "types", "providers"}
        monday = next_weekday(0)
        slots = await _call(
            http,
            "GET",
            f"{public}/slots?type_id={online.id}&provider_id={cal.provider_id}&date_from={monday}&date_to={monday}",
        )
        assert slots[0]["local_start"] == at(monday, 9)
        await _call(
            http,
            "GET",
            f"{public}/slots?type_id={cal.type_id}&date_from={monday}&date_to={monday}",
            status=404,
        )

        booking = {
            "type_id": online.id,
            "provider_id": cal.provider_id,
            "starts_at": at(monday, 10),
            "first_name": "Jo",
            "last_name": "Online",
            "phone": "(202) 555-0191",
        }
        await _call(http, "POST", f"{public}/appointments", booking, 403, origin=False)
        done = await _call(http, "POST", f"{public}/appointments", booking, 201)
        assert (
            done["texted"] is True
            and done["provider_name"] == "Dr Rivera"
            and done["local_start"] == at(monday, 10)
        )
        assert set(done) == {
            "type_name",
            "provider_name",
            "location_name",
            "starts_at",
            "local_start",
            "when",
            "texted",
        }
        again = await _call(http, "POST", f"{public}/appointments", {**booking, "first_name": "Al"}, 409)
        assert again["error"]["message"] == "that time is already booked for this provider"
        # Pat (a known patient) books with their own number: it lands in their existing thread.
        pat = {
            **booking,
            "starts_at": at(monday, 11),
            "first_name": "pat",
            "last_name": "P",
            "phone": "+12025550170",
        }
        await _call(http, "POST", f"{public}/appointments", pat, 201)
        for hour in (12, 13, 14):
            await _call(
                http, "POST", f"{public}/appointments", {**booking, "starts_at": at(monday, hour)}, 201
            )
        limited = await _call(
            http, "POST", f"{public}/appointments", {**booking, "starts_at": at(monday, 15)}, 429
        )
        assert limited["error"]["code"] == "rate_limited"

    async with services.read() as s:
        jo = await s.scalar(select(Contact).where(Contact.first_name == "Jo"))
        assert jo is not None and [ph.e164 for ph in jo.phones] == ["+12025550191"] and not jo.is_unknown
        thread = await s.scalar(select(Conversation).where(Conversation.contact_id == jo.id))
        assert thread is not None and thread.location_id == p.loc_a
        items = list(await s.scalars(select(TimelineItem).where(TimelineItem.conversation_id == thread.id)))
        booked = [i for i in items if i.kind == "appointment"]
        texts = [i for i in items if i.kind == "sms"]
        assert booked[0].body.startswith("Booked online by the patient: Checkup with Dr Rivera")
        assert booked[0].author_id is None
        assert texts[0].body.startswith("Hi Jo, you're booked: Checkup with Dr Rivera at North, ")
        assert texts[0].body.endswith("Reply C to confirm or R to reschedule.")
        assert await s.get(OutboxEntry, texts[0].id) is not None
        pats = list(await s.scalars(select(Appointment).where(Appointment.conversation_id == p.conv_a)))
        assert len(pats) == 1  # the known patient's thread, not a new record
        notes = list(await s.scalars(select(AppointmentReminder)))
        assert len(notes) == 5 and all(n.rule_id is None and n.state == "queued" for n in notes)


async def test_the_confirmation_texts_reply_confirms(served: Any) -> None:
    from comms import messaging
    from schemas.twilio import InboundSms

    p, url = served.practice, base(served)
    services = served.app[SERVICES]
    cal = await seed_calendar(services, p)
    online = await schedule_setup.add_type(
        services, cal.admin, AppointmentTypeIn(name="Checkup", duration_minutes=30, online=True)
    )
    monday = next_weekday(0)
    booking = {
        "type_id": online.id,
        "provider_id": cal.other_provider_id,
        "starts_at": at(monday, 9),
        "first_name": "Jo",
        "last_name": "Online",
        "phone": "+12025550191",
    }
    async with browser() as http:
        await _call(http, "POST", f"{url}/api/v1/public/locations/{p.loc_a}/appointments", booking, 201)
    message = InboundSms(
        message_sid="SM" + "e" * 32,
        account_sid="AC" + "0" * 32,
        from_number="+12025550191",
        to_number="+12025550143",
        body="C",
    )
    await messaging.receive_sms(services, message)
    async with services.read() as s:
        [row] = list(await s.scalars(select(Appointment)))
        assert row.status == "confirmed"
