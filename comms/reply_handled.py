"""Staff closing a reminder-reply alert from the thread: one person handles it, so the notifications it
raised stop asking everyone else, and the thread shows who handled it and when."""

from __future__ import annotations

from sqlalchemy import select, update

from comms import audit
from comms.access import Actor
from comms.errors import InvalidRequest, NotFound
from comms.messaging import publish_update, write_unit
from comms.models import Notification, TimelineItem, utcnow
from comms.reply_alerts import KINDS
from comms.services import Services
from comms.timeline import conversation_for, item_out
from routing.audience import Audience
from schemas.api import TimelineItemOut

ALERT_ACTIONS = frozenset({"reminder_alert", "reminder_reschedule"})


async def mark_handled(services: Services, actor: Actor, item_id: int) -> TimelineItemOut:
    """Mark one alert handled (again is a no-op) and clear its unread notifications for every recipient."""
    async with write_unit(services) as unit:
        s = unit.session
        item = await s.get(TimelineItem, item_id, with_for_update=not services.settings.database.is_sqlite)
        if item is None:
            raise NotFound("no such item")
        await conversation_for(unit, actor, item.conversation_id)
        meta = dict(item.meta or {})
        if item.kind != "activity" or meta.get("action") not in ALERT_ACTIONS:
            raise InvalidRequest("only an alert about a reply to a reminder can be marked handled")
        if meta.get("handled"):
            return item_out(item)
        now = utcnow()
        meta["handled"] = {"by": actor.user_id, "at": now.isoformat()}
        item.meta = meta
        cleared = list(
            (
                await s.execute(
                    select(Notification.id, Notification.user_id).where(
                        Notification.item_id == item.id,
                        Notification.kind.in_(tuple(KINDS.values())),
                        Notification.read_at.is_(None),
                    )
                )
            ).all()
        )
        if cleared:
            await s.execute(
                update(Notification).where(Notification.id.in_([n for n, _ in cleared])).values(read_at=now)
            )
        for user_id in sorted({u for _, u in cleared}):
            ids = [n for n, u in cleared if u == user_id]
            unit.publish({"type": "notification.read", "ids": ids, "all": False}, Audience.staff(user_id))
        await publish_update(unit, item)
        audit.record(
            s, actor, "handle", "timeline_item", item.id, {"action": meta["action"], "cleared": len(cleared)}
        )
        return item_out(item)
