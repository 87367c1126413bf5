"""Message figures for a location and range: texts and e-mails in and out, first-response times, waits.

A wait begins with a patient's message (text or e-mail) when nothing of theirs is already waiting, and
ends with the first staff reply in the conversation (a text, e-mail or call out by a staff member;
automated texts do not count). Response times count business hours only (the location's phone hours
and holidays). A wait that begins in the range and has no reply by now leaves its thread unanswered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.analytics_range import BusinessClock, Scope, median, nearest_rank
from comms.analytics_waits import MESSAGE_KINDS, active_since, sent, waits
from comms.models import Conversation, TimelineItem
from schemas.analytics import ChannelCount, MessageDay, MessageFigures, ResponseTimes

CHANNEL = {"sms": "sms", "mms": "sms", "email": "email"}


@dataclass
class MessageResult:
    figures: MessageFigures
    conversations: dict[str, set[int]] = field(default_factory=dict)


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
