"""The durable outbox's bookkeeping: claim due messages safely across nodes, record each outcome.

The sender (telephony) does the I/O; every decision about state lives here, in transactions.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, or_, select, text, update

from comms import carrier_errors
from comms.messaging import _RANK as STATUS_RANK
from comms.messaging import mark_opted_out, publish_update, record_opt_out, write_unit
from comms.models import Conversation, Location, OptOut, OutboxEntry, SendClock, TimelineItem, utcnow
from comms.services import Services, Unit

# A row handed back for its rate slot comes due this much before it: the sender polls about once a
# second, and then sleeps the rest, so the slot is kept to the moment (less than its longest wait).
RESERVED_EARLY_SECONDS = 1.25


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
    reserved_slot: dt.datetime | None = None  # the rate slot this row kept when it was handed back
    earlier_sids: tuple[str, ...] = ()  # carrier messages of earlier attempts that failed (30003)

    @property
    def counted(self) -> bool:
        """Whether this claim counted as a new attempt (a lease taken over to reconcile does not)."""
        return not self.uncertain


_CLAIM = """
UPDATE outbox SET state = 'sending', claim_token = :token, claimed_until = :until,
       attempt_started_at = CASE WHEN state = 'sending' THEN attempt_started_at ELSE :now END,
       attempts = attempts + CASE WHEN state = 'sending' THEN 0 ELSE 1 END
WHERE item_id IN (
    SELECT item_id FROM outbox
    WHERE channel = :channel AND (
        (state IN ('pending', 'scheduled') AND next_attempt_at <= :now)
        OR (state = 'sending' AND claimed_until < :now))
    ORDER BY next_attempt_at, item_id LIMIT :limit {lock}
)
RETURNING item_id, state, to_addr, from_addr, segments, attempts, attempt_started_at, next_attempt_at
"""


async def claim_due(
    services: Services,
    channel: str,
    token: str,
    lease_seconds: float,
    limit: int = 20,
    *,
    mark_sending: bool = True,
) -> list[Claimed]:
    """Take due messages (and expired leases) for this node; no two nodes ever hold the same row.

    mark_sending=False leaves the item's status alone until `still_mine` right before the hand-off
    (the SMS sender may hand a claimed row back to wait for its rate slot).
    """
    now = utcnow()
    sqlite = services.settings.database.is_sqlite
    # The previous state is gone after UPDATE, so read first which rows are lease-expired (uncertain)
    # and which were handed back holding a rate slot (pending, claimed_until >= next_attempt_at).
    async with write_unit(services) as unit:
        s = unit.session
        before = (
            await s.execute(
                select(
                    OutboxEntry.item_id,
                    OutboxEntry.state,
                    OutboxEntry.claimed_until,
                    OutboxEntry.next_attempt_at,
                ).where(
                    OutboxEntry.channel == channel,
                    OutboxEntry.claimed_until.is_not(None),
                    or_(
                        and_(OutboxEntry.state == "sending", OutboxEntry.claimed_until < now),
                        and_(OutboxEntry.state == "pending", OutboxEntry.next_attempt_at <= now),
                    ),
                )
            )
        ).all()
        expired = {row.item_id for row in before if row.state == "sending"}
        reserved = {
            row.item_id: _aware(row.claimed_until)
            for row in before
            if row.state == "pending" and row.claimed_until >= row.next_attempt_at
        }
        statement = text(_CLAIM.format(lock="" if sqlite else "FOR UPDATE SKIP LOCKED"))
        until = now + dt.timedelta(seconds=lease_seconds)
        params = {
            "token": token,
            "until": _db_time(until, sqlite),
            "now": _db_time(now, sqlite),
            "channel": channel,
            "limit": limit,
        }
        # RETURNING follows no ORDER BY: put the rows back in due order, so a number's texts get their
        # rate slots in the order they were queued.
        rows = sorted(
            (await s.execute(statement, params)).all(),
            key=lambda row: (_aware(_parsed(row.next_attempt_at)), row.item_id),
        )
        claimed = []
        for row in rows:
            item = await s.get(TimelineItem, row.item_id)
            if item is None:
                continue
            started = _parsed(row.attempt_started_at)
            if mark_sending and item.status in ("pending", "scheduled"):
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
                    _aware(started),
                    row.item_id in expired,
                    item.carrier_sid,
                    reserved.get(row.item_id),
                    tuple(str(sid) for sid in item.meta.get("earlier_sids", [])),
                )
            )
        return claimed


def _db_time(moment: dt.datetime, sqlite: bool) -> dt.datetime:
    """Raw SQL bypasses the column type: SQLite stores naive UTC, PostgreSQL aware times."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if sqlite else moment


def _parsed(moment: dt.datetime | str) -> dt.datetime:
    """A time from raw SQL: SQLite hands back its text form."""
    return dt.datetime.fromisoformat(moment) if isinstance(moment, str) else moment


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


async def record_sent(services: Services, item_id: int, token: str, sid: str | None, status: str) -> bool:
    """The carrier accepted the message: keep its id; False when our lease was lost meanwhile."""
    lock = not services.settings.database.is_sqlite
    async with write_unit(services) as unit:
        s = unit.session
        # The item before its outbox row, in the order a status callback takes them (no deadlock).
        item = await s.get(TimelineItem, item_id, with_for_update=lock)
        entry = await s.get(OutboxEntry, item_id, with_for_update=lock)
        if entry is None or entry.claim_token != token or entry.state != "sending":
            return False  # lost the lease, or a failure callback already put it back for a retry
        entry.state = "done"
        if item is not None:
            if sid is not None:
                item.carrier_sid = item.carrier_sid or sid
            if "retrying" in item.meta:
                item.meta = {k: v for k, v in item.meta.items() if k != "retrying"}
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
    """A failed attempt: retry later with backoff, or fail for good with words staff understand.

    Twilio's 21610 (the patient unsubscribed at the carrier) opts the number out here too, as a STOP
    would: this text and every later one to that number are refused.
    """
    async with write_unit(services) as unit:
        s = unit.session
        entry = await s.get(OutboxEntry, item_id)
        if entry is None or entry.claim_token != token:
            return "lost"
        item = await s.get(TimelineItem, item_id)
        entry.last_error = message[:300]
        entry.claim_token, entry.claimed_until = None, None
        limit = carrier_errors.attempt_limit(error_code, max_attempts)
        if retry and entry.attempts < limit:
            delay = carrier_errors.backoff_seconds(entry.attempts)
            entry.state = "pending"
            entry.next_attempt_at = utcnow() + dt.timedelta(seconds=delay)
            if item is not None:
                item.status = "pending"
                item.meta = {**item.meta, "retrying": message[:200]}
                await publish_update(unit, item)
            return "retry"
        entry.state = "failed"
        if item is None:
            return "failed"
        if carrier_errors.opts_out(error_code):
            practice_id = await _practice_of(unit, item)
            if practice_id is not None:
                await record_opt_out(unit, practice_id, entry.to_addr, "carrier", item.id)
        item.status, item.error_code = "failed", error_code
        words = carrier_errors.describe(error_code) or message[:200]
        tries = f" Tried {entry.attempts} times." if entry.attempts > 1 else ""
        meta = {k: v for k, v in item.meta.items() if k != "retrying"}
        item.meta = {**meta, "error": words + tries}
        await publish_update(unit, item)
        return "failed"


async def _practice_of(unit: Unit, item: TimelineItem) -> int | None:
    return await unit.session.scalar(
        select(Location.practice_id)
        .join(Conversation, Conversation.location_id == Location.id)
        .where(Conversation.id == item.conversation_id)
    )


async def release(services: Services, entry: Claimed, token: str, slot: dt.datetime) -> None:
    """Hand a claimed row back until its rate slot, which stays reserved for it.

    The row comes due a little before `slot` (a sender poll early) holding that slot in claimed_until,
    so it goes at its slot instead of queueing behind every slot reserved since: a long text waits
    once, and the number's texts leave in order at its rate. Only a claim that counted an attempt
    gives the attempt back.
    """
    due = max(slot - dt.timedelta(seconds=RESERVED_EARLY_SECONDS), utcnow())
    values: dict[str, object] = {
        "state": "pending",
        "claim_token": None,
        "next_attempt_at": due,
        "claimed_until": slot,
    }
    if entry.counted:
        values["attempts"] = OutboxEntry.attempts - 1
    async with write_unit(services) as unit:
        await unit.session.execute(
            update(OutboxEntry)
            .where(
                OutboxEntry.item_id == entry.item_id,
                OutboxEntry.claim_token == token,
                OutboxEntry.state == "sending",
            )
            .values(**values)
        )


async def defer_uncertain(
    services: Services, item_id: int, token: str, until: dt.datetime, reason: str
) -> None:
    """The text may have reached the carrier and we cannot tell yet: stay uncertain until `until`.

    The row keeps state `sending` with its lease ending then, so whoever claims it next reconciles
    against the carrier before any resend (never a plain retry: that could send it twice).
    """
    lock = not services.settings.database.is_sqlite
    async with write_unit(services) as unit:
        s = unit.session
        item = await s.get(TimelineItem, item_id, with_for_update=lock)  # item first, as in record_sent
        entry = await s.get(OutboxEntry, item_id, with_for_update=lock)
        if entry is None or entry.claim_token != token or entry.state != "sending":
            return
        entry.claimed_until, entry.last_error = until, reason[:300]
        if item is not None and item.meta.get("retrying") != reason[:200]:
            item.meta = {**item.meta, "retrying": reason[:200]}
            await publish_update(unit, item)


async def still_mine(
    services: Services, item_id: int, token: str, lease_seconds: float, *, new_attempt: bool = False
) -> bool:
    """Right before handing a message to the carrier: do we still hold it, and may it still go?

    A node that waited (rate slot, slow carrier) past its lease may have lost the row to another node;
    only the current holder may send. A patient who texted STOP meanwhile gets nothing: the row is
    withdrawn here. Extends the lease, and counts the attempt when a reconciled row is sent again.
    """
    now = utcnow()
    values: dict[str, object] = {"claimed_until": now + dt.timedelta(seconds=lease_seconds)}
    if new_attempt:
        values.update(attempts=OutboxEntry.attempts + 1, attempt_started_at=now)
    async with write_unit(services) as unit:
        s = unit.session
        result = await s.execute(
            update(OutboxEntry)
            .where(
                OutboxEntry.item_id == item_id,
                OutboxEntry.claim_token == token,
                OutboxEntry.state == "sending",
                OutboxEntry.claimed_until > now,
            )
            .values(**values)
        )
        if not getattr(result, "rowcount", 0):
            return False
        item = await s.get(TimelineItem, item_id)
        entry = await s.get(OutboxEntry, item_id)
        if item is None or entry is None:
            return False
        if await _opted_out(unit, item, entry.to_addr):
            entry.state, entry.claim_token = "canceled", None
            await mark_opted_out(unit, item)
            return False
        if item.status in ("pending", "scheduled"):
            item.status = "sending"
            await publish_update(unit, item)
        return True


async def _opted_out(unit: Unit, item: TimelineItem, e164: str) -> bool:
    found = await unit.session.scalar(
        select(OptOut.id)
        .join(Location, Location.practice_id == OptOut.practice_id)
        .join(Conversation, Conversation.location_id == Location.id)
        .where(Conversation.id == item.conversation_id, OptOut.e164 == e164)
        .limit(1)
    )
    return found is not None


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
    async with _clock_lock, write_unit(services) as unit:
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
