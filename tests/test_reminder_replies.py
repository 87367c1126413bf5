"""Patients answering a reminder by text, through the real inbound path: a yes confirms the visit
(live, in the thread), "R" raises a reschedule request, anything else an alert; only the first reply
after a reminder counts, and texts with no reminder before them are ordinary messages."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select

from comms import inbox, messaging, notifications, reminders
from comms.models import Notification, TimelineItem
from comms.schedule_models import Appointment, AppointmentReminder
from comms.services import Services
from schemas.twilio import InboundSms
from tests.helpers import new_conversation
from tests.schedule_helpers import admin_actor, staff_actor
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


async def _notifications(services: Services) -> list[tuple[int, str, int | None, int | None]]:
    async with services.read() as s:
        rows = await s.scalars(select(Notification).order_by(Notification.id))
        return [(n.user_id, n.kind, n.conversation_id, n.item_id) for n in rows]


async def test_unclear_and_reschedule_replies_notify_who_should_act(services: Services) -> None:
    p, cal, monday = await _setup(services)
    admin = await admin_actor(services, p)
    nora = await staff_actor(services, p, p.staff_a, p.loc_a)
    south = await staff_actor(services, p, p.staff_b, p.loc_b)
    hal = await new_conversation(services, p.practice_id, p.loc_a, "Hal Huh", "+12025550182")
    rae = await new_conversation(services, p.practice_id, p.loc_a, "Rae Resched", "+12025550181")
    await _book(services, p, cal, hal, local(monday, 9))
    await _book(services, p, cal, rae, local(monday, 10))
    await _book(services, p, cal, p.conv_a, local(monday, 11))
    await inbox.assign(services, admin, rae, nora.user_id)
    await inbox.set_status(services, nora, hal, "closed", None)
    await inbox.mark_read(services, nora, hal, 10**9)
    assert await reminders.run_once(services, local(monday - dt.timedelta(days=2), 12)) == 3
    before = len(await _notifications(services))

    await _text(services, "+12025550182", "who is this?")  # unassigned: everyone who sees North
    await _text(services, "+12025550181", "can we do another day")  # assigned to Nora: Nora alone
    await _text(services, "+12025550170", "C")  # a yes needs nobody
    [alert] = (await _thread(services, hal, "activity"))[-1:]
    [asked] = (await _thread(services, rae, "activity"))[-1:]
    assert alert.meta["action"] == "reminder_alert" and asked.meta["action"] == "reminder_reschedule"
    assert (await _notifications(services))[before:] == [
        (admin.user_id, "reminder_reply", hal, alert.id),
        (nora.user_id, "reminder_reply", hal, alert.id),
        (nora.user_id, "reschedule_ask", rae, asked.id),
    ]
    assert [n.kind for n in await notifications.list_for(services, south)] == []  # South sees no North

    # The closed thread is open again and unread for Nora; each reminder says how its reply was read.
    summary = await inbox.get_conversation(services, nora, hal)
    assert summary.status == "open" and summary.unread == 1
    marks = {}
    for conversation in (hal, rae, p.conv_a):
        [sms] = [i for i in await _thread(services, conversation, "sms") if "reminder" in i.meta]
        marks[conversation] = sms.meta["reminder"]["reply"]
    assert marks == {hal: "alert", rae: "reschedule", p.conv_a: "confirm"}


async def test_marking_an_alert_handled_clears_its_notifications_for_everyone_once(
    services: Services,
) -> None:
    import pytest

    from comms import reply_handled
    from comms.errors import InvalidRequest, NotFound
    from comms.models import AuditEntry

    p, cal, monday = await _setup(services)
    admin = await admin_actor(services, p)
    nora = await staff_actor(services, p, p.staff_a, p.loc_a)
    south = await staff_actor(services, p, p.staff_b, p.loc_b)
    hal = await new_conversation(services, p.practice_id, p.loc_a, "Hal Huh", "+12025550182")
    await _book(services, p, cal, hal, local(monday, 9))
    await reminders.run_once(services, local(monday - dt.timedelta(days=2), 12))
    reply = await _text(services, "+12025550182", "who is this?")
    [alert] = await _thread(services, hal, "activity")
    assert {n.item_id for n in await notifications.list_for(services, admin)} == {alert.id}
    assert {n.item_id for n in await notifications.list_for(services, nora)} == {alert.id}

    with pytest.raises(NotFound):  # South cannot see North's thread
        await reply_handled.mark_handled(services, south, alert.id)
    with pytest.raises(InvalidRequest):  # the patient's text is no alert
        await reply_handled.mark_handled(services, nora, reply or 0)
    out = await reply_handled.mark_handled(services, nora, alert.id)
    assert out.meta["handled"]["by"] == nora.user_id and out.meta["alert"] is True
    assert await notifications.list_for(services, admin) == []
    assert await notifications.list_for(services, nora) == []
    again = await reply_handled.mark_handled(services, admin, alert.id)  # handled once, by Nora
    assert again.meta["handled"] == out.meta["handled"]
    async with services.read() as s:
        audits = list(
            await s.scalars(
                select(AuditEntry).where(AuditEntry.action == "handle", AuditEntry.record_id == str(alert.id))
            )
        )
    assert [(a.actor_id, a.detail["cleared"]) for a in audits] == [(nora.user_id, 2)]
