"""Staff figures for a location and range: conversations handled, calls answered and messages sent.

A staff member handled a conversation when they replied in it (text, e-mail or call out) or answered
one of its calls in the range.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.analytics_range import Scope
from comms.analytics_waits import MESSAGE_KINDS, active_since, staff_reply
from comms.models import Conversation, StaffUser, TimelineItem
from comms.voice_models import Call
from schemas.analytics import StaffRow


@dataclass
class StaffResult:
    rows: list[StaffRow]
    conversations: dict[int, set[int]] = field(default_factory=dict)  # staff id → conversation ids


async def staff_figures(session: AsyncSession, scope: Scope) -> StaffResult:
    """Per staff member with any activity in the range; the busiest first, then by name."""
    item = TimelineItem
    replies = await session.execute(
        select(item.author_id, item.conversation_id, item.kind, func.count())
        .join(Conversation, Conversation.id == item.conversation_id)
        .where(
            active_since(scope),
            item.created_at >= scope.since,
            item.created_at < scope.until,
            staff_reply(item),
        )
        .group_by(item.author_id, item.conversation_id, item.kind)
    )
    handled: dict[int, set[int]] = defaultdict(set)
    sent: dict[int, int] = defaultdict(int)
    answered: dict[int, int] = defaultdict(int)
    for author_id, conversation_id, kind, count in replies:
        assert author_id is not None  # staff_reply requires an author
        handled[author_id].add(conversation_id)
        if kind in MESSAGE_KINDS:
            sent[author_id] += int(count)
    calls = await session.execute(
        select(Call.answered_by_id, Call.conversation_id, func.count())
        .where(
            Call.location_id == scope.location_id,
            Call.started_at >= scope.since,
            Call.started_at < scope.until,
            Call.direction == "in",
            Call.outcome == "answered",
            Call.answered_by_id.is_not(None),
        )
        .group_by(Call.answered_by_id, Call.conversation_id)
    )
    for user_id, conversation_id, count in calls:
        assert user_id is not None
        handled[user_id].add(conversation_id)
        answered[user_id] += int(count)
    people = await session.execute(
        select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(sorted(handled)))
    )
    names = {user_id: name for user_id, name in people}
    rows = [
        StaffRow(
            user_id=user_id,
            name=names.get(user_id, "Former staff member"),
            conversations=len(ids),
            calls_answered=answered[user_id],
            messages_sent=sent[user_id],
        )
        for user_id, ids in handled.items()
    ]
    rows.sort(key=lambda r: (-r.conversations, r.name, r.user_id))
    return StaffResult(rows, dict(handled))
