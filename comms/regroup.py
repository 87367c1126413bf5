"""Moving timeline items between conversations of one location: what merging and choosing the patient share.

Items keep their ids and created_at when they move, so a timeline (paged by id) and the list (ordered
by the last item's time) read the same as if the items had arrived in their new conversation.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from comms.models import Conversation, ConversationRead, Notification, TimelineItem


async def conversation_at(
    session: AsyncSession, contact_id: int, location_id: int
) -> tuple[Conversation, bool]:
    """The patient's conversation at this location, created when there is none; (conversation, created)."""
    found = await session.scalar(
        select(Conversation).where(
            Conversation.contact_id == contact_id, Conversation.location_id == location_id
        )
    )
    if found is not None:
        return found, False
    conversation = Conversation(contact_id=contact_id, location_id=location_id)
    session.add(conversation)
    await session.flush()
    return conversation, True


async def resummarize(session: AsyncSession, conversation: Conversation) -> None:
    """Recompute the summary columns add_item keeps, from the items the conversation holds now."""
    await session.flush()
    of_conv = TimelineItem.conversation_id == conversation.id
    visible = TimelineItem.direction != "internal"
    last = await session.scalar(
        select(TimelineItem)
        .where(of_conv, visible)
        .order_by(TimelineItem.created_at.desc(), TimelineItem.id.desc())
        .limit(1)
    )
    conversation.last_item_id = last.id if last is not None else None
    conversation.last_item_at = last.created_at if last is not None else conversation.created_at
    last_inbound = await session.scalar(
        select(func.max(TimelineItem.id)).where(of_conv, TimelineItem.direction == "in")
    )
    conversation.last_inbound_id = int(last_inbound or 0)
    first_seen = func.min(TimelineItem.id)
    kinds = list(
        await session.scalars(
            select(TimelineItem.kind).where(of_conv, visible).group_by(TimelineItem.kind).order_by(first_seen)
        )
    )
    conversation.channels = f",{','.join(kinds)}," if kinds else ""


async def first_unread(session: AsyncSession, conversation_id: int, marker: int) -> int | None:
    """The oldest inbound item past a read marker: the first thing that reader has not seen."""
    found = await session.scalar(
        select(func.min(TimelineItem.id)).where(
            TimelineItem.conversation_id == conversation_id,
            TimelineItem.direction == "in",
            TimelineItem.id > marker,
        )
    )
    return int(found) if found is not None else None


async def readers(session: AsyncSession, conversation_id: int) -> dict[int, ConversationRead]:
    """Each staff member's read marker on a conversation, by user id."""
    rows = await session.scalars(
        select(ConversationRead).where(ConversationRead.conversation_id == conversation_id)
    )
    return {r.user_id: r for r in rows}


async def move_notifications(
    session: AsyncSession, source_id: int, target_id: int, item_ids: list[int] | None = None
) -> None:
    """Notifications follow their items (all of the conversation's when item_ids is None)."""
    query = update(Notification).where(Notification.conversation_id == source_id)
    if item_ids is not None:
        query = query.where(Notification.item_id.in_(item_ids))
    await session.execute(
        query.values(conversation_id=target_id).execution_options(synchronize_session=False)
    )
