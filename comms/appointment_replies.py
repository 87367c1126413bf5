"""Patients answering a reminder by text or e-mail: a yes confirms the visit, a reschedule-like reply raises a
request for staff, anything else raises an alert in the inbox (a notification to whoever should act,
and a mark on the reminder in the thread; the reply itself reopens the thread and counts as unread).

Only the first reply after a reminder is read this way (the reminder's `reply` records it), and only
while its visit is still to come; other texts are ordinary messages. It runs inside the transaction
that stores the inbound message, in a savepoint, so a fault here can never lose the patient's message.
A text answers the thread's latest reminder; an e-mail answers the reminder e-mail it replies to (found
by its In-Reply-To / References), and an auto-reply answers nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.appointments import confirm_by_reply
from comms.logsafe import log_failure
from comms.models import Conversation, Location, TimelineItem, utcnow
from comms.reply_alerts import mark_reminder, raise_alert
from comms.reply_intent import Intent, classify, classify_email
from comms.schedule_models import Appointment, AppointmentReminder
from comms.services import Unit
from comms.slots import local_text
from comms.timeline import add_activity

log = logging.getLogger(__name__)
WORDS = {
    "reschedule": "Reschedule requested: the patient's reply to the reminder for {when} asks to move it.",
    "alert": "Reply to the reminder for {when} needs a look: it was not read as a yes or a reschedule.",
}


def _open_reminders(conversation_ids: Collection[int]) -> Select[AppointmentReminder, Appointment]:
    """Queued reminders of visits still to come in these threads: the ones a reply may answer."""
    return (
        select(AppointmentReminder, Appointment)
        .join(Appointment, Appointment.id == AppointmentReminder.appointment_id)
        .where(
            Appointment.conversation_id.in_(conversation_ids),
            Appointment.status.in_(("scheduled", "confirmed")),
            Appointment.starts_at > utcnow(),
            AppointmentReminder.state == "queued",
        )
    )


async def awaiting_reply(s: AsyncSession, conversation_ids: Collection[int]) -> set[int]:
    """Which of these threads a text could be an answer in, in one query for a batch of texts; the
    others need no `understand` (and no savepoint, which costs an inbound text more than its insert)."""
    if not conversation_ids:
        return set()
    found = _open_reminders(conversation_ids).with_only_columns(Appointment.conversation_id).distinct()
    return set(await s.scalars(found))


async def understand(unit: Unit, conversation: Conversation, item: TimelineItem) -> str | None:
    """Read an inbound text as an answer to the latest unanswered reminder in this thread, if any."""
    s = unit.session
    try:
        async with s.begin_nested():
            return await _understand(unit, conversation, item)
    except Exception as exc:  # the patient's text must be stored whatever happens here
        log_failure(log, "reading a reply to a reminder failed", exc=exc)
        return None


async def understand_email(
    unit: Unit, conversation: Conversation, item: TimelineItem, answered_item_ids: list[int], new_text: str
) -> str | None:
    """Read an inbound e-mail (its unquoted part) as the answer to the reminder e-mail it replies to."""
    if not answered_item_ids:
        return None
    s = unit.session
    try:
        async with s.begin_nested():
            found = (
                await s.execute(
                    _open_reminders([conversation.id])
                    .where(AppointmentReminder.item_id.in_(answered_item_ids))
                    .order_by(AppointmentReminder.item_id.desc())
                    .limit(1)
                )
            ).first()
            if found is None:
                return None
            reminder, appointment = found
            return await _answer(unit, conversation, item, reminder, appointment, classify_email(new_text))
    except Exception as exc:  # the patient's e-mail must be stored whatever happens here
        log_failure(log, "reading an e-mailed reply to a reminder failed", exc=exc)
        return None


async def _understand(unit: Unit, conversation: Conversation, item: TimelineItem) -> str | None:
    s = unit.session
    found = (
        await s.execute(
            _open_reminders([conversation.id])
            .order_by(AppointmentReminder.created_at.desc(), AppointmentReminder.id.desc())
            .limit(1)
        )
    ).first()
    if found is None:
        return None
    reminder, appointment = found
    return await _answer(unit, conversation, item, reminder, appointment, classify(item.body))


async def _answer(
    unit: Unit,
    conversation: Conversation,
    item: TimelineItem,
    reminder: AppointmentReminder,
    appointment: Appointment,
    intent: Intent,
) -> str | None:
    s = unit.session
    if reminder.reply is not None:
        return None  # that reminder was answered already: this is an ordinary message
    reminder.reply = intent
    await mark_reminder(unit, conversation, reminder.item_id, intent)
    if intent == "confirm":
        await confirm_by_reply(unit, appointment, conversation, item.id)  # a confirmed one stays so
        return intent
    location = await s.get(Location, appointment.location_id)
    when = local_text(appointment.starts_at, ZoneInfo(location.timezone)) if location else "the visit"
    activity = await add_activity(
        unit,
        conversation,
        WORDS[intent].format(when=when),
        {
            "action": "reminder_reschedule" if intent == "reschedule" else "reminder_alert",
            "appointment_id": appointment.id,
            "reply_item_id": item.id,
            "alert": True,
        },
    )
    await raise_alert(unit, conversation, intent, activity.id)
    return intent
