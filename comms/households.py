"""Choosing the patient: a text from a number a household shares goes to its oldest member first, and
staff move it to the family member who actually wrote."""

from __future__ import annotations

from sqlalchemy import select

from comms import audit
from comms.access import Actor
from comms.errors import InvalidRequest, NotFound
from comms.inbox import publish_state
from comms.models import Contact, ConversationRead, TimelineItem
from comms.regroup import conversation_at, move_notifications, readers, resummarize
from comms.services import Services
from comms.summaries import effective_status
from comms.timeline import conversation_for
from routing.audience import Audience
from schemas.contacts import MoveResult, TimelineItemMoved


def household_of(item: TimelineItem) -> list[int]:
    """The patients an inbound item could be from, as recorded when it arrived (empty when only one)."""
    if item.direction != "in":
        return []
    listed = (item.meta or {}).get("household")
    if not isinstance(listed, list):
        return []
    return [int(x) for x in listed if isinstance(x, int)]


async def move_item_to_contact(
    services: Services, actor: Actor, item_id: int, contact_id: int, include_later: bool = False
) -> MoveResult:
    """Move an inbound item (optionally with the later texts from the same number) to the chosen member's
    conversation at the same location, creating it; only members listed on the item may be chosen."""
    async with services.unit() as unit:
        s = unit.session
        item = await s.get(TimelineItem, item_id)
        if item is None:
            raise NotFound("no such item")
        source = await conversation_for(unit, actor, item.conversation_id)
        members = household_of(item)
        if not members:
            raise InvalidRequest("this item is not from a number several patients share")
        if contact_id not in members:
            raise InvalidRequest("choose one of the patients who share this number")
        chosen = await s.get(Contact, contact_id)
        if chosen is None or chosen.practice_id != actor.practice_id:
            raise InvalidRequest("choose one of the patients who share this number")
        if chosen.merged_into_id is not None:
            raise InvalidRequest("that record was merged into another; choose the remaining one")
        if chosen.id == source.contact_id:
            raise InvalidRequest("the item is already in this patient's conversation")
        target, created = await conversation_at(s, chosen.id, source.location_id)

        moving = [item]
        sender = (item.meta or {}).get("from")
        if include_later and sender:
            later = await s.scalars(
                select(TimelineItem)
                .where(
                    TimelineItem.conversation_id == source.id,
                    TimelineItem.direction == "in",
                    TimelineItem.id > item.id,
                )
                .order_by(TimelineItem.id)
            )
            moving += [i for i in later if (i.meta or {}).get("from") == sender]
        ids = [i.id for i in moving]
        inbound_before = target.last_inbound_id
        for moved in moving:
            moved.conversation_id = target.id
            moved.meta = {
                **(moved.meta or {}),
                "moved": {"from_conversation_id": source.id, "by": actor.user_id},
            }
        await move_notifications(s, source.id, target.id, ids)
        if created:
            # A new thread holds only these items: whoever had read them in the old one has read them here.
            for user_id, marker in (await readers(s, source.id)).items():
                s.add(
                    ConversationRead(
                        conversation_id=target.id,
                        user_id=user_id,
                        last_read_item_id=marker.last_read_item_id,
                        read_at=marker.read_at,
                    )
                )
            target.assignee_id, target.team_id = source.assignee_id, source.team_id
        await resummarize(s, source)
        await resummarize(s, target)
        if target.last_inbound_id > inbound_before and effective_status(source) == "open":
            target.status, target.snoozed_until = "open", None  # the patient's latest words need an answer
        audit.record(
            s,
            actor,
            "move",
            "timeline_item",
            item.id,
            {
                "from_conversation_id": source.id,
                "to_conversation_id": target.id,
                "contact_id": chosen.id,
                "items": len(ids),
            },
        )
        audience = Audience.location(source.location_id)
        for moved_id in ids:
            unit.publish(
                TimelineItemMoved(
                    location_id=source.location_id,
                    item_id=moved_id,
                    from_conversation_id=source.id,
                    to_conversation_id=target.id,
                ),
                audience,
            )
        await publish_state(unit, source)
        await publish_state(unit, target)
        return MoveResult(item_ids=ids, from_conversation_id=source.id, to_conversation_id=target.id)
