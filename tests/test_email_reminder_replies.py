"""Patients answering an e-mailed reminder by e-mail, over real SMTP: the reply found through its
In-Reply-To is read like a text (yes confirms, a reschedule-like reply or an unclear one notifies staff),
only its unquoted part counts, an auto-reply confirms nothing, and mail that answers no reminder is mail."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from comms import reminders
from comms.models import ContactEmail, Conversation, EmailMessage, Notification, TimelineItem
from comms.reply_intent import classify_email
from comms.schedule_models import Appointment, AppointmentReminder
from comms.services import Services
from schemas.schedule import ReminderRuleIn
from tests.email_rig import patient_mail, send_in, start_mail
from tests.helpers import new_conversation
from tests.schedule_helpers import next_spring_forward, seed_calendar
from tests.test_reminders import _book, local
from web.keys import SERVICES


@pytest.fixture
async def mail(db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[Any]:
    server, relay_server = await start_mail(db_settings, aiohttp_server, tmp_path)
    yield server
    relay_server.close()


def test_only_the_first_paragraph_answers_and_the_rest_can_only_take_a_yes_back() -> None:
    assert classify_email("Yes, I'll be there!\n\nThanks,\nPat") == "confirm"
    assert classify_email("C\n\n-- \nPat Garcia\nWho? Me?") == "confirm"  # the signature is not read
    assert classify_email("Yes\n\nSent from my iPhone") == "confirm"
    assert classify_email("Yes\n\nActually can we move it to Friday?") == "reschedule"
    assert classify_email("Yes\n\nIs parking free?") == "alert"
    assert classify_email("Can't make it, sorry") == "reschedule"
    assert classify_email("") == "alert"


async def _with_email(services: Services, conversation_id: int, address: str) -> None:
    async with services.unit() as unit:
        conversation = await unit.session.get(Conversation, conversation_id)
        assert conversation is not None
        unit.session.add(ContactEmail(contact_id=conversation.contact_id, address=address))


async def _reminder_ids(services: Services) -> dict[int, str]:
    """Conversation → the Message-ID of the reminder e-mail sent into it."""
    async with services.read() as s:
        rows = await s.execute(
            select(TimelineItem.conversation_id, EmailMessage.message_id)
            .join(EmailMessage, EmailMessage.item_id == TimelineItem.id)
            .where(TimelineItem.direction == "out")
        )
        return {conversation: message_id for conversation, message_id in rows}


async def test_emailed_replies_to_a_reminder_confirm_ask_to_reschedule_or_alert(mail: Any) -> None:
    services: Services = mail.app[SERVICES]
    p = mail.practice
    cal = await seed_calendar(services, p)
    await reminders.save_rule(
        services,
        cal.admin,
        ReminderRuleIn(
            minutes_before=7 * 24 * 60, channel="email", template="Dear {first_name}, see you {date}."
        ),
    )
    threads = {"yes": p.conv_a}
    for name, phone in (("auto", "+12025550181"), ("move", "+12025550182"), ("huh", "+12025550183")):
        threads[name] = await new_conversation(services, p.practice_id, p.loc_a, f"{name.title()} X", phone)
    monday = next_spring_forward() + dt.timedelta(days=1)
    booked = {}
    for hour, (name, conversation) in zip((9, 10, 11, 12), threads.items(), strict=True):
        await _with_email(services, conversation, f"{name}@example.org")
        booked[name] = await _book(services, p, cal, conversation, local(monday, hour))
    # Mail before the reminder (and answering nothing) is ordinary mail.
    await send_in(
        mail, patient_mail("Hello", "Yes", Message_ID="<early@example.org>"), sender="yes@example.org"
    )
    assert await reminders.run_once(services, local(monday - dt.timedelta(days=7), 12)) == 4
    sent = await _reminder_ids(services)
    assert set(sent) == set(threads.values())

    def reply(name: str, body: str, **headers: str) -> Any:
        return patient_mail(
            "Re: Reminder",
            body,
            Message_ID=f"<{name}-{len(headers)}@example.org>",
            In_Reply_To=f"<{sent[threads[name]]}>",
            **headers,
        )

    quote = "\n\nOn Sat, North wrote:\n> Dear Pat, see you soon.\n> Reply C to confirm? Who is this?"
    await send_in(mail, reply("yes", "Yes, I'll be there!\n\nPat" + quote))
    # An out-of-office answer says "yes" nowhere it counts: it must not confirm, nor use up the reply.
    await send_in(mail, reply("auto", "Yes", Auto_Submitted="auto-replied"))
    await send_in(mail, reply("move", "Could we do another day next week?" + quote))
    await send_in(mail, reply("huh", "Who is Dr Rivera?" + quote))

    async with services.read() as s:
        status = {name: (await s.get(Appointment, a)).status for name, a in booked.items()}  # type: ignore[union-attr]
        replies = {r.appointment_id: r.reply for r in await s.scalars(select(AppointmentReminder))}
        notes = list(await s.scalars(select(Notification).order_by(Notification.id)))
        activities = list(
            await s.scalars(
                select(TimelineItem).where(TimelineItem.kind == "activity").order_by(TimelineItem.id)
            )
        )
        marks = {
            i.conversation_id: i.meta["reminder"].get("reply")
            for i in await s.scalars(select(TimelineItem).where(TimelineItem.direction == "out"))
        }
    assert status == {"yes": "confirmed", "auto": "scheduled", "move": "scheduled", "huh": "scheduled"}
    assert replies == {
        booked["yes"]: "confirm",
        booked["auto"]: None,
        booked["move"]: "reschedule",
        booked["huh"]: "alert",
    }
    assert marks[threads["yes"]] == "confirm" and marks[threads["auto"]] is None
    by_thread = {a.conversation_id: a.meta["action"] for a in activities if a.meta.get("alert")}
    assert by_thread == {threads["move"]: "reminder_reschedule", threads["huh"]: "reminder_alert"}
    kinds = {(n.conversation_id, n.kind) for n in notes}
    assert kinds == {(threads["move"], "reschedule_ask"), (threads["huh"], "reminder_reply")}

    # The patient's own answer after the auto-reply is still read; a second answer is just mail.
    await send_in(mail, reply("auto", "C\n\nSent from my iPhone"))
    await send_in(mail, reply("huh", "oh, yes then", X_Second="1"))
    async with services.read() as s:
        assert (await s.get(Appointment, booked["auto"])).status == "confirmed"  # type: ignore[union-attr]
        assert (await s.get(Appointment, booked["huh"])).status == "scheduled"  # type: ignore[union-attr]
