"""Message status callbacks: applied only forward, in any order and any number of times; a carrier
failure opts the number out (21610), is tried again a little (30003), or is told to staff in words."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from comms import carrier_errors
from comms.messaging import _RANK, FINAL, publish_update, record_opt_out, write_unit
from comms.models import Conversation, Location, OutboxEntry, TimelineItem, utcnow
from comms.services import Services, Unit


async def apply_status(
    services: Services, sid: str, status: str, error_code: str | None, item_id: int | None = None
) -> bool:
    """Apply a status callback only if it moves the message forward; True when something changed.

    Callbacks can beat the sender's own record of the carrier id, so the callback URL names our item
    too: an outbound text with no carrier id yet takes the callback's (unless that id belongs to an
    earlier attempt that failed and is being retried).
    """
    lock = not services.settings.database.is_sqlite
    async with write_unit(services) as unit:
        s = unit.session
        query = select(TimelineItem).where(TimelineItem.carrier_sid == sid)
        # Twilio may call back twice at once: one at a time per item, so each reads the other's result.
        item = await s.scalar(query.with_for_update() if lock else query)
        if item is None and item_id is not None:
            candidate = await s.get(TimelineItem, item_id, with_for_update=lock)
            # carrier_sid == sid: the sender recorded it while we waited for the row lock.
            if (
                candidate is not None
                and candidate.direction == "out"
                and candidate.carrier_sid in (None, sid)
                and sid not in candidate.meta.get("earlier_sids", [])
            ):
                candidate.carrier_sid = sid
                item = candidate
        if item is None:
            return False
        current = item.status or "pending"
        if status not in _RANK or _RANK[status] <= _RANK.get(current, 0):
            return False
        if current in FINAL and not (current == "delivered" and status == "read"):
            return False
        item.status = status
        if status in ("failed", "undelivered"):
            await _carrier_failed(unit, services, item, error_code)
        await publish_update(unit, item)
        return True


async def _carrier_failed(unit: Unit, services: Services, item: TimelineItem, code: str | None) -> None:
    """The carrier gave up on a text: opt the number out (21610), try again a little (30003), or say why."""
    s = unit.session
    words = carrier_errors.describe(code) or "The carrier could not deliver this message."
    if code:
        item.error_code = code
    conversation = await s.get(Conversation, item.conversation_id)
    location = await s.get(Location, conversation.location_id) if conversation else None
    to = str(item.meta.get("to", ""))
    if carrier_errors.opts_out(code) and location is not None and to:
        await record_opt_out(unit, location.practice_id, to, "carrier", item.id)
    elif carrier_errors.retryable(code) and await _retry_later(unit, services, item, code, words):
        return
    entry = await s.get(OutboxEntry, item.id)
    tries = f" Tried {entry.attempts} times." if entry is not None and entry.attempts > 1 else ""
    meta = {k: v for k, v in item.meta.items() if k != "retrying"}
    item.meta = {**meta, "error": words + tries}


async def _retry_later(
    unit: Unit, services: Services, item: TimelineItem, code: str | None, words: str
) -> bool:
    """Put a text that failed at the carrier back in the outbox, while its attempts allow; True if so.

    The failed message keeps its carrier id in `earlier_sids`, so its late callbacks and the sender's
    reconciling never mistake it for the new attempt.
    """
    s = unit.session
    entry = await s.get(OutboxEntry, item.id, with_for_update=not services.settings.database.is_sqlite)
    limit = carrier_errors.attempt_limit(code, services.settings.twilio.max_send_attempts)
    # "sending": the failure beat the sender's record of Twilio's answer; that record is dropped below.
    if entry is None or entry.state not in ("done", "sending") or entry.attempts >= limit:
        return False
    entry.state, entry.claim_token, entry.claimed_until = "pending", None, None
    entry.next_attempt_at = utcnow() + dt.timedelta(seconds=carrier_errors.backoff_seconds(entry.attempts))
    entry.last_error = f"carrier error {code}"
    earlier = [*item.meta.get("earlier_sids", []), *([item.carrier_sid] if item.carrier_sid else [])]
    item.carrier_sid, item.status, item.error_code = None, "pending", None
    item.meta = {**item.meta, "earlier_sids": earlier, "retrying": f"{words} Trying again."}
    return True
