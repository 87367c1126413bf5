"""Phone figures for a location and range: calls, answer rate, missed calls and their recovery, waits.

A call counts on the local day it started. Missed means an inbound call that ended unanswered
(outcomes missed, voicemail and abandoned). A missed call is recovered when, within a day of its end,
the same conversation has a staff reply (text, e-mail or call out), an answered call from the patient,
or a booking (an appointment item in the thread whose status is still "scheduled"; a cancellation
is not one).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.analytics_range import DAY, Scope, rate
from comms.analytics_waits import chunks, staff_reply
from comms.models import Conversation, TimelineItem
from comms.voice_models import Call, Recording
from schemas.analytics import PhoneDay, PhoneFigures

MISSED = ("missed", "voicemail", "abandoned")


@dataclass
class PhoneResult:
    figures: PhoneFigures
    conversations: dict[str, set[int]] = field(default_factory=dict)  # figure → conversation ids


@dataclass(frozen=True)
class _Call:
    id: int
    conversation_id: int
    direction: str
    outcome: str | None
    started_at: dt.datetime
    answered_at: dt.datetime | None
    ended_at: dt.datetime | None


async def _calls(session: AsyncSession, scope: Scope) -> list[_Call]:
    rows = await session.execute(
        select(
            Call.id,
            Call.conversation_id,
            Call.direction,
            Call.outcome,
            Call.started_at,
            Call.answered_at,
            Call.ended_at,
        ).where(
            Call.location_id == scope.location_id,
            Call.started_at >= scope.since,
            Call.started_at < scope.until,
        )
    )
    return [_Call(*row) for row in rows]


async def _voicemail_calls(session: AsyncSession, scope: Scope) -> set[int]:
    rows = await session.scalars(
        select(Recording.call_id)
        .join(Call, Call.id == Recording.call_id)
        .where(
            Recording.kind == "voicemail",
            Call.location_id == scope.location_id,
            Call.started_at >= scope.since,
            Call.started_at < scope.until,
        )
    )
    return set(rows)


async def _follow_ups(
    session: AsyncSession, scope: Scope, conversations: set[int]
) -> dict[int, list[dt.datetime]]:
    """When each conversation was next attended to: staff replies, answered calls in, bookings."""
    if not conversations:
        return {}
    item = TimelineItem
    answered_in = (item.kind == "call") & (item.direction == "in") & (item.status == "answered")
    booked = (item.kind == "appointment") & (item.status == "scheduled")
    found: dict[int, list[dt.datetime]] = defaultdict(list)
    for chunk in chunks(conversations):
        rows = await session.execute(
            select(item.conversation_id, item.created_at)
            .join(Conversation, Conversation.id == item.conversation_id)
            .where(
                Conversation.location_id == scope.location_id,
                item.conversation_id.in_(chunk),
                item.created_at >= scope.since,
                item.created_at < scope.until + DAY,
                staff_reply(item) | answered_in | booked,
            )
        )
        for conversation_id, at in rows:
            found[conversation_id].append(at)
    return found


def _recovered(call: _Call, follow_ups: dict[int, list[dt.datetime]]) -> bool:
    ended = call.ended_at or call.started_at
    return any(ended < at <= ended + DAY for at in follow_ups.get(call.conversation_id, ()))


async def phone_figures(session: AsyncSession, scope: Scope) -> PhoneResult:
    """Every phone figure of the range, with the conversations behind each (for drill-downs)."""
    calls = await _calls(session, scope)
    voicemail = await _voicemail_calls(session, scope)
    inbound = [c for c in calls if c.direction == "in"]
    answered = [c for c in inbound if c.outcome == "answered"]
    missed = [c for c in inbound if c.outcome in MISSED]
    follow_ups = await _follow_ups(session, scope, {c.conversation_id for c in missed})
    recovered = [c for c in missed if _recovered(c, follow_ups)]
    waits = [(c.answered_at - c.started_at).total_seconds() for c in answered if c.answered_at]
    answered_ids, missed_ids = {c.id for c in answered}, {c.id for c in missed}
    days = [PhoneDay(date=d, calls=0, answered=0, missed=0) for d in scope.days]
    for c in calls:
        index = scope.day_of(c.started_at)
        if index < 0:
            continue
        days[index].calls += 1
        days[index].answered += int(c.id in answered_ids)
        days[index].missed += int(c.id in missed_ids)
    figures = PhoneFigures(
        calls=len(calls),
        inbound=len(inbound),
        outbound=len(calls) - len(inbound),
        answered=len(answered),
        missed=len(missed),
        answer_rate=rate(len(answered), len(answered) + len(missed)),
        recovered=len(recovered),
        recovery_rate=rate(len(recovered), len(missed)),
        average_wait_seconds=round(sum(waits) / len(waits), 1) if waits else None,
        voicemails=len(voicemail),
        days=days,
    )
    recovered_ids = {c.id for c in recovered}
    return PhoneResult(
        figures,
        {
            "calls": {c.conversation_id for c in calls},
            "answered": {c.conversation_id for c in answered},
            "missed": {c.conversation_id for c in missed},
            "recovered": {c.conversation_id for c in recovered},
            "unrecovered": {c.conversation_id for c in missed if c.id not in recovered_ids},
            "voicemails": {c.conversation_id for c in calls if c.id in voicemail},
        },
    )
