"""Waitlist entries end: a configured number of days after they were made, or once the last date the
patient wanted has passed at the location, whichever comes first. An expired entry is offered nothing;
the sweeper marks waiting ones expired (one conditional UPDATE, so one node notes each in its thread).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from comms import audit
from comms.messaging import write_unit
from comms.services import Services
from comms.waitlist import note
from comms.waitlist_models import WaitlistEntry

BATCH_LIMIT = 100  # entries expired per sweep


async def expire_due(services: Services, now: dt.datetime) -> int:
    """Mark waiting entries past their expiry as expired, with a line in each thread; how many."""
    async with services.read() as s:  # most sweeps find nothing: no write transaction for them
        candidates = list(
            await s.scalars(
                select(WaitlistEntry.id)
                .where(WaitlistEntry.state == "waiting", WaitlistEntry.expires_at <= now)
                .order_by(WaitlistEntry.id)
                .limit(BATCH_LIMIT)
            )
        )
    if not candidates:
        return 0
    async with write_unit(services) as unit:
        s = unit.session
        # Locked in id order, skipping rows another node (or an offer being sent) holds: no deadlock,
        # and what is skipped here is that node's to finish or the next sweep's.
        locked = list(
            await s.scalars(
                select(WaitlistEntry.id)
                .where(WaitlistEntry.id.in_(candidates), WaitlistEntry.state == "waiting")
                .order_by(WaitlistEntry.id)
                .with_for_update(skip_locked=True)
            )
        )
        if not locked:
            return 0
        due = (  # still conditional: on SQLite there are no row locks, only one writer at a time
            update(WaitlistEntry)
            .where(WaitlistEntry.id.in_(locked), WaitlistEntry.state == "waiting")
            .values(state="expired", updated_at=now)
            .returning(WaitlistEntry.id)
            .execution_options(synchronize_session=False)
        )
        ids = sorted(await s.scalars(due))
        for entry_id in ids:
            entry = await s.get(WaitlistEntry, entry_id, populate_existing=True)
            if entry is None:
                continue
            await note(
                unit, None, entry, "Waitlist entry expired: no longer offered free times", "waitlist_expired"
            )
            audit.record(s, None, "expire", "waitlist_entry", entry_id)
        return len(ids)
