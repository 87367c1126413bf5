"""The e-mail side of the durable outbox: the hand-off checkpoint, unconfirmed sends, staff's decision.

SMTP has no way to ask the relay afterwards whether it took a message, so the sender records a
checkpoint (`smtp_handoff`: the attempt number) in the item right before the end-of-data marker.
An attempt that died without an answer is then judged by it:
- no checkpoint for that attempt: the relay never had the message; it is sent again, same Message-ID;
- a checkpoint: the relay may have it; the row goes to `review` and the item shows "unconfirmed" until
  staff resend it (same Message-ID, which mail clients de-duplicate on) or confirm it arrived.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from sqlalchemy import update

from comms import audit
from comms.access import Actor
from comms.errors import Conflict, NotFound
from comms.messaging import publish_update
from comms.models import Conversation, OutboxEntry, TimelineItem, utcnow
from comms.outbox import Claimed
from comms.services import Services
from comms.timeline import item_out
from schemas.api import TimelineItemOut

HANDOFF = "smtp_handoff"
BOUNCED = "bounced"  # meta flag: a permanent bounce report names this e-mail
REVIEW = "review"
UNCONFIRMED = "unconfirmed"
UNCONFIRMED_TEXT = (
    "Not confirmed: the connection to the mail server was lost just as this e-mail was handed over, "
    "so it may or may not have been sent. Resend it, or mark it sent if the patient has it."
)


async def begin_handoff(services: Services, item_id: int, token: str, attempt: int, lease: float) -> bool:
    """Right before the end-of-data marker: still ours? Then extend the lease and note the checkpoint."""
    now = utcnow()
    async with services.unit() as unit:
        s = unit.session
        result = await s.execute(
            update(OutboxEntry)
            .where(
                OutboxEntry.item_id == item_id,
                OutboxEntry.claim_token == token,
                OutboxEntry.state == "sending",
                OutboxEntry.claimed_until > now,
            )
            .values(claimed_until=now + dt.timedelta(seconds=lease))
        )
        if not getattr(result, "rowcount", 0):
            return False
        item = await s.get(TimelineItem, item_id)
        if item is None:
            return False
        item.meta = {**item.meta, HANDOFF: attempt}
        return True


async def reached_handoff(services: Services, entry: Claimed) -> bool:
    """Did the attempt whose lease ran out get as far as the end-of-data marker?"""
    async with services.read() as s:
        item = await s.get(TimelineItem, entry.item_id)
        return item is not None and item.meta.get(HANDOFF) == entry.attempts


async def record_handed_off(services: Services, item_id: int, token: str, attempt: int) -> bool:
    """The relay answered 250: done. A late answer also settles a review opened meanwhile."""
    async with services.unit() as unit:
        s = unit.session
        # Item first, then its entry, both locked (as the text outbox does): read unlocked, the entry
        # could be settled by another writer between this read and this write, which then undid it.
        item = await s.get(TimelineItem, item_id, with_for_update=True)
        entry = await s.get(OutboxEntry, item_id, with_for_update=True)
        if entry is None or item is None:
            return False
        ours = entry.claim_token == token and entry.state == "sending"
        late = entry.state == REVIEW and item.meta.get(HANDOFF) == attempt
        if not (ours or late):
            return False
        entry.state, entry.claim_token, entry.last_error = "done", None, None
        if item.meta.get(BOUNCED):
            # The bounce report overtook the relay's 250 (a fast relay): the patient never got it.
            item.meta = {k: v for k, v in item.meta.items() if k not in ("retrying", HANDOFF)}
        else:
            item.status = "sent"
            item.meta = {k: v for k, v in item.meta.items() if k not in ("error", "retrying", HANDOFF)}
        await publish_update(unit, item)
        return True


async def mark_unconfirmed(services: Services, item_id: int, token: str | None, reason: str) -> bool:
    """The relay may have the message: never resend on our own; staff decide (see the module text)."""
    async with services.unit() as unit:
        s = unit.session
        entry = await s.get(OutboxEntry, item_id)
        if entry is None or entry.state != "sending" or (token is not None and entry.claim_token != token):
            return False
        entry.state, entry.claim_token, entry.last_error = REVIEW, None, reason[:300]
        item = await s.get(TimelineItem, item_id)
        if item is not None:
            item.status = UNCONFIRMED
            item.meta = {**item.meta, "error": UNCONFIRMED_TEXT}
            await publish_update(unit, item)
        audit.record(s, None, "unconfirmed", "timeline_item", item_id, {"kind": "email"})
        return True


async def resolve_unconfirmed(
    services: Services, actor: Actor, item_id: int, decision: Literal["resend", "sent"]
) -> TimelineItemOut:
    """Staff's call on an unconfirmed e-mail: send it again (same Message-ID) or record that it arrived."""
    async with services.unit() as unit:
        s = unit.session
        item = await s.get(TimelineItem, item_id)
        conversation = await s.get(Conversation, item.conversation_id) if item else None
        if item is None or conversation is None or item.kind != "email":
            raise NotFound("no such e-mail")
        actor.require_location(conversation.location_id)
        entry = await s.get(OutboxEntry, item_id)
        if entry is None or entry.state != REVIEW:
            raise Conflict("this e-mail is not waiting for a decision")
        meta = {k: v for k, v in item.meta.items() if k not in (HANDOFF, "error")}
        if decision == "resend":
            entry.state, entry.next_attempt_at, entry.claim_token = "pending", utcnow(), None
            item.status = "pending"
        else:
            entry.state = "done"
            item.status = "sent"
        entry.last_error = None
        item.meta = {**meta, "resolved": decision}
        await publish_update(unit, item)
        audit.record(s, actor, "resolve", "timeline_item", item_id, {"kind": "email", "decision": decision})
        return item_out(item)
