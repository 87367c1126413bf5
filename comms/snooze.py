"""Snoozes that run out: the conversation wakes (open again, back up the list) and every viewer is told.

Every node runs a waker. A conversation is woken by one conditional UPDATE (still snoozed, still due), so
when two nodes race for it exactly one wins and announces it; a node that was down, or a whole
deployment that was, wakes everything that came due meanwhile on its first pass. Between passes a waker
sleeps until the earliest snooze ends (at most POLL_SECONDS), and a snooze set anywhere (seen on the bus)
makes it look again, so wake-ups are on time without a busy poll.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy import Select, case, func, select, update

from comms import audit
from comms.inbox import publish_state
from comms.logsafe import log_failure
from comms.models import Conversation, utcnow
from comms.services import Services
from comms.timeline import add_activity
from routing.bus import BusEvent
from routing.waits import wait_set

log = logging.getLogger(__name__)
POLL_SECONDS = 15.0
BATCH = 200
MIN_DELAY_SECONDS = 0.05


async def _wake_one(services: Services, conversation_id: int, now: dt.datetime) -> bool:
    """Open one due conversation if it is still snoozed; False when another node (or staff) got there."""
    async with services.unit() as unit:
        s = unit.session
        # It moves up the list to where its snooze ended, as if something had happened then.
        claimed = await s.scalar(
            update(Conversation)
            .where(
                Conversation.id == conversation_id,
                Conversation.status == "snoozed",
                Conversation.snoozed_until <= now,
            )
            .values(
                status="open",
                snoozed_until=None,
                last_item_at=case(
                    (Conversation.snoozed_until > Conversation.last_item_at, Conversation.snoozed_until),
                    else_=Conversation.last_item_at,
                ),
            )
            .returning(Conversation.id)
            .execution_options(synchronize_session=False)
        )
        if claimed is None:
            return False
        conversation = await s.get(Conversation, conversation_id, populate_existing=True)
        if conversation is None:
            return False
        await add_activity(unit, conversation, "Snooze ended", {"action": "snooze_ended"})
        audit.record(s, None, "snooze_ended", "conversation", conversation_id)
        await publish_state(unit, conversation)
    return True


def due_query(now: dt.datetime) -> Select[int]:
    """The next batch of due snoozes, earliest first; ix_conversations_snoozed_until serves it."""
    return (
        select(Conversation.id)
        .where(Conversation.status == "snoozed", Conversation.snoozed_until <= now)
        .order_by(Conversation.snoozed_until, Conversation.id)
        .limit(BATCH)
    )


def earliest_query() -> Select[dt.datetime | None]:
    """When the earliest running snooze ends; the same index answers it without a scan."""
    return select(func.min(Conversation.snoozed_until)).where(
        Conversation.snoozed_until.is_not(None), Conversation.status == "snoozed"
    )


async def wake_due(services: Services, now: dt.datetime | None = None) -> list[int]:
    """Wake every conversation whose snooze has run out; returns those this node woke."""
    now = now or utcnow()
    woken: list[int] = []
    while True:
        async with services.read() as s:
            due = list(await s.scalars(due_query(now)))
        for conversation_id in due:
            if await _wake_one(services, conversation_id, now):
                woken.append(conversation_id)
        if len(due) < BATCH:
            return woken


async def next_due(services: Services) -> dt.datetime | None:
    """When the earliest snooze still running ends."""
    async with services.read() as s:
        return await s.scalar(earliest_query())


class SnoozeWaker:
    """One per node; see the module's docstring for why several never double-wake or miss one."""

    def __init__(self, services: Services, poll_seconds: float = POLL_SECONDS) -> None:
        self.services = services
        self.poll_seconds = poll_seconds
        self._look = asyncio.Event()

    def notice(self, event: BusEvent) -> None:
        """Bus listener: a conversation was snoozed on some node, so the next wake-up may be sooner."""
        if event.type == "conversation.updated" and '"status":"snoozed"' in event.frame:
            self._look.set()

    async def run_forever(self) -> None:
        while True:
            self._look.clear()
            delay = self.poll_seconds
            try:
                await wake_due(self.services)
                due = await next_due(self.services)
                if due is not None:
                    delay = min(delay, max(MIN_DELAY_SECONDS, (due - utcnow()).total_seconds()))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log_failure(log, "snooze wake-up pass failed; retrying", exc=exc)
            await wait_set(self._look, delay)
