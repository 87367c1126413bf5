"""Patients answering a reminder by text, through the real inbound path: a yes confirms the visit
(live, in the thread), "R" raises a reschedule request, anything else an alert; only the first reply
after a reminder counts, and texts with no reminder before them are ordinary messages."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select

from comms import messaging, reminders
from comms.models import TimelineItem
from comms.schedule_models import Appointment, AppointmentReminder
from comms.services import Services
from schemas.twilio import InboundSms
from tests.helpers import new_conversation
from tests.test_reminders import _book, _setup, local

NORTH = "+12025550143"
ACCOUNT = "AC" + "0" * 32
_sids = itertools.count(1)


async def _text(services: Services, sender: str, body: str) -> int | None:
    message = InboundSms(
        message_sid=f"SM{next(_sids):032x}",
        account_sid=ACCOUNT,
        from_number=sender,
        to_number=NORTH,
        body=body,
    )
    return (await messaging.receive_sms(services, message)).item_id


async def _thread(services: Services, conversation_id: int, kind: str) -> list[TimelineItem]:
    async with services.read() as s:
        rows = await s.scalars(
            select(TimelineItem)
            .where(TimelineItem.conversation_id == conversation_id, TimelineItem.kind == kind)
            .order_by(TimelineItem.id)
        )
        return list(rows)


async def test_replies_to_a_reminder_confirm_request_a_reschedule_or_alert(services: Services) -> None:
    p, cal, monday = await _setup(services)
    patients = {
        "yes": (p.conv_a, "+12025550170"),
        "r": (
            await new_conversation(services, p.practice_id, p.loc_a, "Rae Resched", "+12025550181"),
            "+12025550181",
        ),
        "huh": (
            await new_conversation(services, p.practice_id, p.loc_a, "Hal Huh", "+12025550182"),
            "+12025550182",
        ),
    }
    booked = {}
    for hour, (name, (conversation, _)) in zip((9, 10, 11), patients.items(), strict=True):
        booked[name] = await _book(services, p, cal, conversation, local(monday, hour))
    silent = await new_conversation(services, p.practice_id, p.loc_a, "Sol Silent", "+12025550183")
    # Sol has no appointment and no reminder: a "yes" is just a text.
    await _text(services, "+12025550183", "yes")
    assert await _thread(services, silent, "activity") == []

    # Before the reminder goes, a "yes" is an ordinary message too.
    await _text(services, "+12025550170", "Yes")
    assert [i.meta.get("action") for i in await _thread(services, p.conv_a, "appointment")] == ["book"]

    assert await reminders.run_once(services, local(monday - dt.timedelta(days=2), 12)) == 3
    reply = await _text(services, "+12025550170", "Yes I'll be there 👍")
    await _text(services, patients["r"][1], "R")
    await _text(services, patients["huh"][1], "who is this?")

    async with services.read() as s:
        status = {name: (await s.get(Appointment, a)).status for name, a in booked.items()}  # type: ignore[union-attr]
        replies = {r.appointment_id: r.reply for r in await s.scalars(select(AppointmentReminder))}
    assert status == {"yes": "confirmed", "r": "scheduled", "huh": "scheduled"}
    assert replies == {booked["yes"]: "confirm", booked["r"]: "reschedule", booked["huh"]: "alert"}
    confirmed = (await _thread(services, p.conv_a, "appointment"))[-1]
    assert confirmed.body.startswith("Confirmed by the patient's reply: Cleaning with Dr Rivera, ")
    assert confirmed.meta["reply_item_id"] == reply and confirmed.author_id is None
    [asked] = await _thread(services, patients["r"][0], "activity")
    assert asked.meta["action"] == "reminder_reschedule" and asked.body.startswith("Reschedule requested")
    [alert] = await _thread(services, patients["huh"][0], "activity")
    assert alert.meta["action"] == "reminder_alert" and alert.meta["alert"] is True

    # Only the first reply after a reminder is read; later texts are a conversation.
    await _text(services, patients["huh"][1], "oh sorry, yes")
    await _text(services, patients["r"][1], "yes")
    async with services.read() as s:
        assert (await s.get(Appointment, booked["huh"])).status == "scheduled"  # type: ignore[union-attr]
        assert (await s.get(Appointment, booked["r"])).status == "scheduled"  # type: ignore[union-attr]
    assert len(await _thread(services, patients["huh"][0], "activity")) == 1

    # The 2-hour reminder is a new question: Hal's yes to it confirms.
    assert await reminders.run_once(services, local(monday, 9, 30)) == 2  # the 9:00 visit has begun
    await _text(services, patients["huh"][1], "C")
    async with services.read() as s:
        assert (await s.get(Appointment, booked["huh"])).status == "confirmed"  # type: ignore[union-attr]


async def test_stop_is_never_read_as_an_answer(services: Services) -> None:
    p, cal, monday = await _setup(services)
    appointment = await _book(services, p, cal, p.conv_a, local(monday, 9))
    await reminders.run_once(services, local(monday - dt.timedelta(days=2), 12))
    await _text(services, "+12025550170", "STOP")
    async with services.read() as s:
        assert (await s.get(Appointment, appointment)).status == "scheduled"  # type: ignore[union-attr]
        assert [r.reply for r in await s.scalars(select(AppointmentReminder))] == [None]
    actions = [i.meta.get("action") for i in await _thread(services, p.conv_a, "activity")]
    assert actions == ["sms_stop"]
