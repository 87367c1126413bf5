"""The durable outbox's bookkeeping: claim due messages safely across nodes, record each outcome.

The sender (telephony) does the I/O; every decision about state lives here, in transactions.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, text, update

from comms import carrier_errors
from comms.messaging import _RANK as STATUS_RANK
from comms.messaging import publish_update
from comms.models import OutboxEntry, SendClock, TimelineItem, utcnow
from comms.services import Services

BACKOFF_SECONDS = (2, 10, 30, 120, 600, 1800)


@dataclass(frozen=True)
class Claimed:
    item_id: int
    channel: str
    to_addr: str
    from_addr: str
    segments: int
    attempts: int
    body: str
    attempt_started_at: dt.datetime
    uncertain: bool  # a previous attempt may have reached the carrier: reconcile before resending
    carrier_sid: str | None = None  # already known (a status callback can beat the send's own answer)


_CLAIM = """
UPDATE outbox SET state = 'sending', claim_token = :token, claimed_until = :until,
       attempt_started_at = CASE WHEN state = 'sending' THEN attempt_started_at ELSE :now END,
       attempts = attempts + CASE WHEN state = 'sending' THEN 0 ELSE 1 END
WHERE item_id IN (
    SELECT item_id FROM outbox
    WHERE channel = :channel AND (
        (state IN ('pending', 'scheduled') AND next_attempt_at <= :now)
        OR (state = 'sending' AND claimed_until < :now))
    ORDER BY next_attempt_at LIMIT :limit {lock}
)
RETURNING item_id, state, to_addr, from_addr, segments, attempts, attempt_started_at, claimed_until
"""


async def claim_due(
    services: Services, channel: str, token: str, lease_seconds: float, limit: int = 20
) -> list[Claimed]:
    """Take due messages (and expired leases) for this node; no two nodes ever hold the same row."""
    now = utcnow()
    sqlite = services.settings.database.is_sqlite
    # The previous state is gone after UPDATE, so read which rows are lease-expired first.
    async with services.unit() as unit:
        s = unit.session
        expired = set(
            await s.scalars(
                select(OutboxEntry.item_id).where(
                    OutboxEntry.channel == channel,
                    OutboxEntry.state == "sending",
                    OutboxEntry.claimed_until < now,
                )
            )
        )
        statement = text(_CLAIM.format(lock="" if sqlite else "FOR UPDATE SKIP LOCKED"))
        until = now + dt.timedelta(seconds=lease_seconds)
        params = {
            "token": token,
            "until": _db_time(until, sqlite),
            "now": _db_time(now, sqlite),
            "channel": channel,
            "limit": limit,
        }
        rows = (await s.execute(statement, params)).all()
        claimed = []
        for row in rows:
            item = await s.get(TimelineItem, row.item_id)
            if item is None:
                continue
            started = row.attempt_started_at
            if isinstance(started, str):
                started = dt.datetime.fromisoformat(started)
            started = started.replace(tzinfo=dt.UTC) if started.tzinfo is None else started
            if item.status in ("pending", "scheduled"):
                item.status = "sending"
                await publish_update(unit, item)
            claimed.append(
                Claimed(
                    row.item_id,
                    channel,
                    row.to_addr,
                    row.from_addr,
                    row.segments,
                    row.attempts,
                    item.body,
                    started,
                    row.item_id in expired,
                    item.carrier_sid,
                )
            )
        return claimed


def _db_time(moment: dt.datetime, sqlite: bool) -> dt.datetime:
    """Raw SQL bypasses the column type: SQLite stores naive UTC, PostgreSQL aware times."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if sqlite else moment


async def record_sent(services: Services, item_id: int, token: str, sid: str | None, status: str) -> bool:
    """The carrier accepted the message: keep its id; False when our lease was lost meanwhile."""
    async with services.unit() as unit:
        s = unit.session
        entry = await s.get(OutboxEntry, item_id)
        if entry is None or entry.claim_token != token:
            return False
        entry.state = "done"
        item = await s.get(TimelineItem, item_id)
        if item is not None:
            if sid is not None:
                item.carrier_sid = item.carrier_sid or sid
            if item.status in (None, "pending", "scheduled", "sending"):
                item.status = "queued"
            # The carrier may already be further on (reconciled after a crash: the callbacks were missed).
            if status in STATUS_RANK and STATUS_RANK[status] > STATUS_RANK.get(item.status or "pending", 0):
                item.status = status
            await publish_update(unit, item)
        return True


async def record_failure(
    services: Services,
    item_id: int,
    token: str,
    error_code: str | None,
    message: str,
    *,
    retry: bool,
    max_attempts: int,
) -> str:
    """A failed attempt: retry later with backoff, or fail for good with words staff understand."""
    async with services.unit() as unit:
        s = unit.session
        entry = await s.get(OutboxEntry, item_id)
        if entry is None or entry.claim_token != token:
            return "lost"
        item = await s.get(TimelineItem, item_id)
        entry.last_error = message[:300]
        if retry and entry.attempts < max_attempts:
            delay = BACKOFF_SECONDS[min(entry.attempts - 1, len(BACKOFF_SECONDS) - 1)]
            entry.state, entry.claim_token = "pending", None
            entry.next_attempt_at = utcnow() + dt.timedelta(seconds=delay)
            if item is not None:
                item.status = "pending"
                item.meta = {**item.meta, "retrying": message[:200]}
                await publish_update(unit, item)
            return "retry"
        entry.state = "failed"
        if item is not None:
            item.status, item.error_code = "failed", error_code
            item.meta = {**item.meta, "error": carrier_errors.describe(error_code) or message[:200]}
            await publish_update(unit, item)
        return "failed"


async def release(services: Services, item_id: int, token: str, not_before: dt.datetime) -> None:
    """Hand a claimed row back untouched (rate limit says later)."""
    async with services.unit() as unit:
        await unit.session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.item_id == item_id, OutboxEntry.claim_token == token)
            .values(
                state="pending",
                claim_token=None,
                next_attempt_at=not_before,
                attempts=OutboxEntry.attempts - 1,
            )
        )


async def still_mine(services: Services, item_id: int, token: str, lease_seconds: float) -> bool:
    """Right before handing a message to the carrier: do we still hold it? Extends the lease if so.

    A node that waited (rate slot, slow carrier) past its lease may have lost the row to another node;
    only the current holder may send.
    """
    now = utcnow()
    async with services.unit() as unit:
        result = await unit.session.execute(
            update(OutboxEntry)
            .where(
                OutboxEntry.item_id == item_id,
                OutboxEntry.claim_token == token,
                OutboxEntry.state == "sending",
                OutboxEntry.claimed_until > now,
            )
            .values(claimed_until=now + dt.timedelta(seconds=lease_seconds))
        )
        return bool(getattr(result, "rowcount", 0))


async def sids_in_use(services: Services, sids: list[str], item_id: int) -> set[str]:
    """Carrier ids recorded on our other items (reconciling must not claim another item's message).

    The item's own id does not count: a status callback may have told us its id before the send's answer.
    """
    if not sids:
        return set()
    async with services.read() as session:
        return set(
            await session.scalars(
                select(TimelineItem.carrier_sid).where(
                    TimelineItem.carrier_sid.in_(sids), TimelineItem.id != item_id
                )
            )
        )


_clock_lock = asyncio.Lock()


async def reserve_slot(services: Services, e164: str, segments: int, per_second: float) -> dt.datetime:
    """When this number may send the next `segments`: a shared clock keeps every node inside its rate."""
    async with _clock_lock, services.unit() as unit:
        s = unit.session
        now = utcnow()
        query = select(SendClock).where(SendClock.e164 == e164)
        if not services.settings.database.is_sqlite:
            query = query.with_for_update()
        clock = await s.scalar(query)
        if clock is None:
            clock = SendClock(e164=e164, next_free_at=now)
            s.add(clock)
        slot = max(clock.next_free_at, now)
        clock.next_free_at = slot + dt.timedelta(seconds=segments / per_second)
        return slot
