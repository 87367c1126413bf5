"""Timeline items: adding them, reading them, and the events that announce them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.access import Actor
from comms.errors import NotFound
from comms.mentions import mentioned_in
from comms.models import Contact, Conversation, StaffLocation, StaffUser, TimelineItem, utcnow
from comms.notifications import notify
from comms.services import Services, Unit
from comms.summaries import conversation_state
from routing.audience import Audience
from schemas.api import TimelineItemOut
from schemas.events import TimelineItemAdded


def item_out(item: TimelineItem) -> TimelineItemOut:
    """The wire form of an item; the same shape in REST replies and in events."""
    return TimelineItemOut(
        id=item.id,
        conversation_id=item.conversation_id,
        kind=item.kind,
        direction=item.direction,
        body=item.body,
        status=item.status,
        author_id=item.author_id,
        error_code=item.error_code,
        meta=dict(item.meta or {}),
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


async def conversation_for(unit: Unit, actor: Actor, conversation_id: int) -> Conversation:
    """Load a conversation the actor may see, or NotFound (never a hint that it exists elsewhere)."""
    conversation = await unit.session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("no such conversation")
    actor.require_location(conversation.location_id)
    return conversation


async def add_item(
    unit: Unit, conversation: Conversation, item: TimelineItem, *, reopen: bool = True
) -> TimelineItemOut:
    """Append an item in the caller's transaction and queue its event for after commit."""
    now = utcnow()
    item.conversation_id = conversation.id
    item.created_at = item.created_at or now
    item.updated_at = now
    unit.session.add(item)
    await unit.session.flush()
    if item.direction != "internal":
        conversation.last_item_at = item.created_at
        conversation.last_item_id = item.id
        if f",{item.kind}," not in conversation.channels:
            conversation.channels = (conversation.channels or ",") + f"{item.kind},"
    if item.direction == "in":
        conversation.last_inbound_id = item.id
        if reopen and conversation.status != "open":  # a patient writing again reopens the thread
            conversation.status, conversation.snoozed_until = "open", None
    out = item_out(item)
    contact = await unit.session.get(Contact, conversation.contact_id)
    if contact is None:
        raise NotFound("the conversation's contact is gone")
    last = item if conversation.last_item_id == item.id else None
    if last is None and conversation.last_item_id:
        last = await unit.session.get(TimelineItem, conversation.last_item_id)
    state = conversation_state(conversation, contact, last)
    unit.publish(
        TimelineItemAdded(
            location_id=conversation.location_id,
            conversation_id=conversation.id,
            item=out,
            conversation=state,
        ),
        Audience.location(conversation.location_id),
    )
    return out


async def add_activity(
    unit: Unit,
    conversation: Conversation,
    body: str,
    meta: dict[str, Any],
    *,
    author_id: int | None = None,
) -> TimelineItemOut:
    """A line in the thread saying what happened (internal: it neither reopens nor moves the thread)."""
    item = TimelineItem(kind="activity", direction="internal", body=body, author_id=author_id, meta=meta)
    return await add_item(unit, conversation, item)


async def add_note(services: Services, actor: Actor, conversation_id: int, body: str) -> TimelineItemOut:
    """An internal note: staff-only, never sent to the patient; @mentions notify those staff."""
    async with services.unit() as unit:
        s = unit.session
        conversation = await conversation_for(unit, actor, conversation_id)
        mentioned = await mentioned_in(s, actor.practice_id, body)
        mentioned = await _who_may_see(s, mentioned, conversation.location_id) - {actor.user_id}
        item = TimelineItem(
            kind="note",
            direction="internal",
            body=body,
            author_id=actor.user_id,
            meta={"mentions": sorted(mentioned)},
        )
        out = await add_item(unit, conversation, item)
        for user_id in sorted(mentioned):
            await notify(
                unit, user_id, "mention", actor.user_id, conversation_id=conversation.id, item_id=out.id
            )
        audit.record(
            s, actor, "create", "timeline_item", out.id, {"kind": "note", "mentions": len(mentioned)}
        )
        return out


async def _who_may_see(session: AsyncSession, user_ids: set[int], location_id: int) -> set[int]:
    """A mention only reaches staff who may open the conversation (admins, or staff of its location)."""
    if not user_ids:
        return set()
    admins = await session.scalars(
        select(StaffUser.id).where(StaffUser.id.in_(user_ids), StaffUser.role == "admin")
    )
    local = await session.scalars(
        select(StaffLocation.user_id).where(
            StaffLocation.user_id.in_(user_ids), StaffLocation.location_id == location_id
        )
    )
    return set(admins) | set(local)


async def list_items(
    services: Services, actor: Actor, conversation_id: int, before_id: int | None = None, limit: int = 50
) -> list[TimelineItemOut]:
    """A page of the timeline, newest first; reading a patient's thread is audited."""
    async with services.unit() as unit:
        conversation = await conversation_for(unit, actor, conversation_id)
        query = select(TimelineItem).where(TimelineItem.conversation_id == conversation.id)
        if before_id is not None:
            query = query.where(TimelineItem.id < before_id)
        rows = await unit.session.scalars(query.order_by(TimelineItem.id.desc()).limit(min(limit, 200)))
        items = [item_out(r) for r in rows]
        audit.record(unit.session, actor, "view", "conversation", conversation.id, {"items": len(items)})
        return items
