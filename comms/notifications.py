"""Notifications (mentions, hand-offs, replies to reminders that need staff): one row per recipient and one
event shape for all producers."""

from __future__ import annotations

from sqlalchemy import select, update

from comms.access import Actor
from comms.models import Notification, utcnow
from comms.services import Services, Unit
from routing.audience import Audience
from schemas.chat import NotificationCreated, NotificationOut


def notification_out(n: Notification) -> NotificationOut:
    """The wire form of a notification, for the `notification.created` event."""
    return NotificationOut(
        id=n.id,
        kind=n.kind,
        actor_id=n.actor_id,
        conversation_id=n.conversation_id,
        item_id=n.item_id,
        chat_channel_id=n.chat_channel_id,
        chat_message_id=n.chat_message_id,
        created_at=n.created_at,
        read_at=n.read_at,
    )


async def notify(
    unit: Unit,
    user_id: int,
    kind: str,
    actor_id: int | None,
    *,
    conversation_id: int | None = None,
    item_id: int | None = None,
    chat_channel_id: int | None = None,
    chat_message_id: int | None = None,
) -> Notification:
    """Store a notification in the caller's transaction and tell its recipient's browsers after commit."""
    n = Notification(
        user_id=user_id,
        kind=kind,
        actor_id=actor_id,
        conversation_id=conversation_id,
        item_id=item_id,
        chat_channel_id=chat_channel_id,
        chat_message_id=chat_message_id,
    )
    unit.session.add(n)
    await unit.session.flush()
    unit.publish(NotificationCreated(notification=notification_out(n)), Audience.staff(user_id))
    return n


async def list_for(
    services: Services, actor: Actor, unread_only: bool = True, limit: int = 50
) -> list[NotificationOut]:
    """This staff member's notifications, newest first."""
    query = select(Notification).where(Notification.user_id == actor.user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    async with services.read() as session:
        rows = await session.scalars(query.order_by(Notification.id.desc()).limit(min(limit, 200)))
        return [notification_out(n) for n in rows]


async def mark_read(services: Services, actor: Actor, ids: list[int] | None) -> int:
    """Mark some (or all, ids=None) of this staff member's notifications read; other tabs hear of it."""
    async with services.unit() as unit:
        statement = (
            update(Notification)
            .where(Notification.user_id == actor.user_id, Notification.read_at.is_(None))
            .values(read_at=utcnow())
        )
        if ids is not None:
            statement = statement.where(Notification.id.in_(ids))
        result = await unit.session.execute(statement)
        count = int(getattr(result, "rowcount", 0) or 0)
        unit.publish(
            {"type": "notification.read", "ids": ids, "all": ids is None}, Audience.staff(actor.user_id)
        )
        return count
