"""Message figures for a location and range: texts and e-mails in and out, first-response times, waits.

A wait begins with a patient's message (text or e-mail) when nothing of theirs is already waiting, and
ends with the first staff reply in the conversation (a text, e-mail or call out by a staff member;
automated texts do not count). Response times count business hours only (the location's phone hours
and holidays). A wait that begins in the range and has no reply by now leaves its thread unanswered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from comms.analytics_range import BusinessClock, Scope, median, nearest_rank
from comms.models import Conversation, TimelineItem
from schemas.analytics import ChannelCount, MessageDay, MessageFigures, ResponseTimes

MESSAGE_KINDS = ("sms", "mms", "email")
CHANNEL = {"sms": "sms", "mms": "sms", "email": "email"}
REPLY_KINDS = ("sms", "mms", "email", "call")
NOT_SENT = ("scheduled", "canceled")


def sent(item: type[TimelineItem]) -> ColumnElement[bool]:
    """An outbound item that has gone or is going (not a send-later still waiting, nor withdrawn)."""
    return item.status.is_(None) | item.status.not_in(NOT_SENT)


def staff_reply(item: type[TimelineItem]) -> ColumnElement[bool]:
    """What answers a patient: a text, e-mail or call out by a staff member."""
    return (item.direction == "out") & item.author_id.is_not(None) & item.kind.in_(REPLY_KINDS) & sent(item)


def patient_message(item: type[TimelineItem]) -> ColumnElement[bool]:
    return (item.direction == "in") & item.kind.in_(MESSAGE_KINDS)


@dataclass(frozen=True)
class Wait:
    conversation_id: int
    began: dt.datetime
    replied: dt.datetime | None


@dataclass
class MessageResult:
    figures: MessageFigures
    conversations: dict[str, set[int]] = field(default_factory=dict)


def active_since(scope: Scope) -> ColumnElement[bool]:
    """The location's conversations with anything patient-facing since the range began.

    A conversation's last_item_at is at or after every one of its non-internal items (timeline,
    regroup and snooze only ever set it so), so this prunes threads quiet since before the range
    through the (location_id, last_item_at) index instead of probing every thread of the location.
    """
    return (Conversation.location_id == scope.location_id) & (Conversation.last_item_at >= scope.since)


def _in_range(scope: Scope) -> ColumnElement[bool]:
    return (
        active_since(scope)
        & (TimelineItem.created_at >= scope.since)
        & (TimelineItem.created_at < scope.until)
        & (TimelineItem.created_at <= scope.now)
    )


def _counted() -> ColumnElement[bool]:
    item = TimelineItem
    return item.kind.in_(MESSAGE_KINDS) & (
        (item.direction == "in") | ((item.direction == "out") & sent(item))
    )


async def _counts(session: AsyncSession, scope: Scope) -> list[tuple[str, str, int, int]]:
    """(kind, direction, local day index, count), grouped in the database."""
    inner = (
        select(
            TimelineItem.kind.label("kind"),
            TimelineItem.direction.label("direction"),
            scope.day_index(TimelineItem.created_at).label("day"),
        )
        .join(Conversation, Conversation.id == TimelineItem.conversation_id)
        .where(_in_range(scope), _counted())
        .subquery()
    )
    rows = await session.execute(
        select(inner.c.kind, inner.c.direction, inner.c.day, func.count()).group_by(
            inner.c.kind, inner.c.direction, inner.c.day
        )
    )
    return [(k, d, int(day), int(n)) for k, d, day, n in rows]


async def waits(session: AsyncSession, scope: Scope) -> list[Wait]:
    """Waits that began in the range, each with when its first staff reply came (None: none yet).

    Per patient message, two index walks along (conversation, created_at) that stop at their first
    hit: the conversation's previous message or reply (a wait begins unless it was the patient's),
    and the next staff reply.
    """
    me = TimelineItem
    earlier, after = aliased(TimelineItem), aliased(TimelineItem)
    previous = (
        select(earlier.direction)
        .where(
            earlier.conversation_id == me.conversation_id,
            patient_message(earlier) | staff_reply(earlier),
            (earlier.created_at < me.created_at)
            | ((earlier.created_at == me.created_at) & (earlier.id < me.id)),
        )
        .order_by(earlier.created_at.desc(), earlier.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    next_reply = (
        select(after.created_at)
        .where(
            after.conversation_id == me.conversation_id,
            staff_reply(after),
            after.created_at >= me.created_at,
            after.created_at <= scope.now,
        )
        .order_by(after.created_at, after.id)
        .limit(1)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(me.conversation_id, me.created_at, previous, next_reply)
        .join(Conversation, Conversation.id == me.conversation_id)
        .where(_in_range(scope), patient_message(me))
        .order_by(me.created_at, me.id)
    )
    return [
        Wait(conversation_id, at, replied)
        for conversation_id, at, before, replied in rows
        if before is None or before == "out"
    ]


async def message_figures(session: AsyncSession, scope: Scope) -> MessageResult:
    """Every message figure of the range, with the conversations behind the waits (for drill-downs)."""
    channels: dict[str, dict[str, int]] = {"sms": {"in": 0, "out": 0}, "email": {"in": 0, "out": 0}}
    days = [MessageDay(date=d, inbound=0, outbound=0) for d in scope.days]
    for kind, direction, day, count in await _counts(session, scope):
        channels[CHANNEL[kind]][direction] += count
        if day >= 0:
            if direction == "in":
                days[day].inbound += count
            else:
                days[day].outbound += count
    found = await waits(session, scope)
    clock = BusinessClock(scope.config, scope.timezone)
    times = [clock.seconds(w.began, w.replied) for w in found if w.replied is not None]
    unanswered = {w.conversation_id for w in found if w.replied is None}
    figures = MessageFigures(
        channels=[ChannelCount(channel=c, inbound=v["in"], outbound=v["out"]) for c, v in channels.items()],
        inbound=sum(v["in"] for v in channels.values()),
        outbound=sum(v["out"] for v in channels.values()),
        first_response=ResponseTimes(
            answered=len(times), median_seconds=median(times), p90_seconds=nearest_rank(times, 90)
        ),
        unanswered=len(unanswered),
        days=days,
    )
    return MessageResult(
        figures,
        {"responded": {w.conversation_id for w in found if w.replied is not None}, "unanswered": unanswered},
    )


async def message_conversations(session: AsyncSession, scope: Scope, direction: str) -> set[int]:
    """Conversations with a counted message in (or out) in the range."""
    rows = await session.scalars(
        select(TimelineItem.conversation_id)
        .join(Conversation, Conversation.id == TimelineItem.conversation_id)
        .where(_in_range(scope), _counted(), TimelineItem.direction == direction)
        .distinct()
    )
    return set(rows)
