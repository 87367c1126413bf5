"""A patient's reply to a reminder that staff must act on (a reschedule request, an unclear answer): who
hears of it, and the mark on the reminder itself, so nobody has to notice an activity line by chance."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.models import Conversation, Location, StaffLocation, StaffUser, TeamMember, TimelineItem
from comms.notifications import notify
from comms.services import Unit
from comms.timeline import item_out
from routing.audience import Audience
from schemas.events import TimelineItemUpdated

# Notification kinds (at most 16 characters: the column's width).
KINDS = {"alert": "reminder_reply", "reschedule": "reschedule_ask"}


async def who_should_act(s: AsyncSession, conversation: Conversation) -> list[int]:
    """The assignee; else the assigned team's members; else everyone who may see the location."""
    location = await s.get(Location, conversation.location_id)
    if location is None:
        return []
    sees = or_(
        StaffUser.role == "admin",
        StaffUser.id.in_(
            select(StaffLocation.user_id).where(StaffLocation.location_id == conversation.location_id)
        ),
    )
    eligible = select(StaffUser.id).where(
        StaffUser.practice_id == location.practice_id, StaffUser.active.is_(True), sees
    )
    if conversation.assignee_id is not None:
        chosen = await s.scalars(eligible.where(StaffUser.id == conversation.assignee_id))
        if found := list(chosen):
            return found
    if conversation.team_id is not None:
        members = select(TeamMember.user_id).where(TeamMember.team_id == conversation.team_id)
        if found := list(await s.scalars(eligible.where(StaffUser.id.in_(members)).order_by(StaffUser.id))):
            return found
    return list(await s.scalars(eligible.order_by(StaffUser.id)))


async def raise_alert(unit: Unit, conversation: Conversation, intent: str, activity_item_id: int) -> int:
    """Notify the staff who should act on this reply, live; returns how many were told."""
    recipients = await who_should_act(unit.session, conversation)
    for user_id in recipients:
        await notify(
            unit, user_id, KINDS[intent], None, conversation_id=conversation.id, item_id=activity_item_id
        )
    return len(recipients)


async def mark_reminder(
    unit: Unit, conversation: Conversation, reminder_item_id: int | None, intent: str
) -> None:
    """Record on the reminder's own item how its reply was read, and tell the thread's viewers."""
    if reminder_item_id is None:
        return
    item = await unit.session.get(TimelineItem, reminder_item_id)
    if item is None:
        return
    meta = dict(item.meta or {})
    meta["reminder"] = {**dict(meta.get("reminder") or {}), "reply": intent}
    item.meta = meta
    await unit.session.flush()
    unit.publish(
        TimelineItemUpdated(
            location_id=conversation.location_id, conversation_id=conversation.id, item=item_out(item)
        ),
        Audience.location(conversation.location_id),
    )
