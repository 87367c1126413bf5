"""Notifications (mentions, hand-offs): one row per recipient and one event shape for all producers."""

from __future__ import annotations

from comms.models import Notification
from comms.services import Unit
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
