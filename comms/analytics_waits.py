"""Waits for a first staff reply: when each began in the range and when (if yet) staff answered it.

A wait begins with a patient's message (text or e-mail) when the conversation's previous message or
reply was not also the patient's, and ends with the next staff reply (a text, e-mail or call out by
a staff member; automated texts do not count). Worked out in one ordered pass over the range's
messages and replies, plus one look back per conversation (was something already waiting when the
range began?) and one look ahead for waits still open at its end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from comms.analytics_range import Scope
from comms.models import Conversation, TimelineItem

MESSAGE_KINDS = ("sms", "mms", "email")
REPLY_KINDS = ("sms", "mms", "email", "call")
NOT_SENT = ("scheduled", "canceled")
CHUNK = 500  # ids per IN list (SQLite allows a few thousand bound parameters at most, by default)


@dataclass(frozen=True)
class Wait:
    conversation_id: int
    began: dt.datetime
    replied: dt.datetime | None


def sent(item: type[TimelineItem]) -> ColumnElement[bool]:
    """An outbound item that has gone or is going (not a send-later still waiting, nor withdrawn)."""
    return item.status.is_(None) | item.status.not_in(NOT_SENT)


def staff_reply(item: type[TimelineItem]) -> ColumnElement[bool]:
    """What answers a patient: a text, e-mail or call out by a staff member."""
    return (item.direction == "out") & item.author_id.is_not(None) & item.kind.in_(REPLY_KINDS) & sent(item)


def patient_message(item: type[TimelineItem]) -> ColumnElement[bool]:
    return (item.direction == "in") & item.kind.in_(MESSAGE_KINDS)


def active_since(scope: Scope) -> ColumnElement[bool]:
    """The location's conversations with anything patient-facing since the range began.

    A conversation's last_item_at is at or after every one of its non-internal items (timeline,
    regroup and snooze only ever set it so), so this prunes threads quiet since before the range
    through the (location_id, last_item_at) index instead of probing every thread of the location.
    """
    return (Conversation.location_id == scope.location_id) & (Conversation.last_item_at >= scope.since)


def chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    ordered = sorted(ids)
    for i in range(0, len(ordered), CHUNK):
        yield ordered[i : i + CHUNK]


async def _waiting_at_start(session: AsyncSession, scope: Scope, ids: set[int]) -> set[int]:
    """Conversations whose last message or reply before the range was the patient's."""
    earlier = aliased(TimelineItem)
    last_before = (
        select(earlier.direction)
        .where(
            earlier.conversation_id == Conversation.id,
            patient_message(earlier) | staff_reply(earlier),
            earlier.created_at < scope.since,
        )
        .order_by(earlier.created_at.desc(), earlier.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    waiting: set[int] = set()
    for chunk in chunks(ids):
        rows = await session.execute(select(Conversation.id, last_before).where(Conversation.id.in_(chunk)))
        waiting |= {conversation_id for conversation_id, direction in rows if direction == "in"}
    return waiting


async def _replies_after(session: AsyncSession, scope: Scope, ids: set[int]) -> dict[int, dt.datetime]:
    """The first staff reply after the range (up to now) in each conversation still waiting at its end."""
    item = TimelineItem
    found: dict[int, dt.datetime] = {}
    if scope.until > scope.now:
        return found
    for chunk in chunks(ids):
        rows = await session.execute(
            select(item.conversation_id, func.min(item.created_at))
            .where(
                item.conversation_id.in_(chunk),
                staff_reply(item),
                item.created_at >= scope.until,
                item.created_at <= scope.now,
            )
            .group_by(item.conversation_id)
        )
        found.update({conversation_id: at for conversation_id, at in rows})
    return found


async def waits(session: AsyncSession, scope: Scope) -> list[Wait]:
    """Waits that began in the range, oldest first, each with its first staff reply (None: none yet).

    The database keeps only the first item of each run of patient messages or of staff replies (a
    window over each conversation's items in the range), and pairs each patient run with the start
    of the reply run after it: a run of patient messages is one wait, begun at its first message.
    """
    item = TimelineItem
    end = min(scope.until, scope.now + dt.timedelta(microseconds=1))
    order = (item.created_at, item.id)
    ordered = (
        select(
            item.conversation_id.label("conversation_id"),
            item.created_at.label("at"),
            item.id.label("id"),
            item.direction.label("direction"),
            func.lag(item.direction).over(partition_by=item.conversation_id, order_by=order).label("prev"),
        )
        .join(Conversation, Conversation.id == item.conversation_id)
        .where(
            active_since(scope),
            item.created_at >= scope.since,
            item.created_at < end,
            patient_message(item) | staff_reply(item),
        )
        .subquery()
    )
    runs = (
        select(
            ordered.c.conversation_id,
            ordered.c.at,
            ordered.c.direction,
            ordered.c.prev,
            func.lead(ordered.c.at, type_=item.created_at.type)
            .over(partition_by=ordered.c.conversation_id, order_by=(ordered.c.at, ordered.c.id))
            .label("next_at"),
        )
        .where(ordered.c.prev.is_(None) | (ordered.c.prev != ordered.c.direction))
        .subquery()
    )
    rows = (
        await session.execute(
            select(runs.c.conversation_id, runs.c.at, runs.c.prev, runs.c.next_at).where(
                runs.c.direction == "in"
            )
        )
    ).all()
    # A run that opens the range continues a wait begun before it when the patient had the last word.
    first_runs = {conversation_id for conversation_id, _at, prev, _next in rows if prev is None}
    waiting = await _waiting_at_start(session, scope, first_runs)
    found: list[Wait] = []
    open_at: dict[int, dt.datetime] = {}
    for conversation_id, at, prev, next_at in rows:
        if prev is None and conversation_id in waiting:
            continue
        if next_at is None:
            open_at[conversation_id] = at
        else:
            found.append(Wait(conversation_id, at, next_at))
    later = await _replies_after(session, scope, set(open_at))
    found.extend(Wait(c, began, later.get(c)) for c, began in open_at.items())
    found.sort(key=lambda w: (w.began, w.conversation_id))
    return found
