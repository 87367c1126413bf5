"""Staff sessions are marked as seen in one UPDATE per burst, not a write transaction per request.

Activity keeps a session from idling out, so a request or socket handshake on a session last seen over
a minute ago writes `last_seen_at`. After a network blip every socket of the practice reconnects at
once, each on a session not seen for a while: thousands of write transactions queued on SQLite's one
write lock, which held the reconnect storm for tens of seconds. Touches that arrive together now share
one statement (group commit); one alone is written at once, as before.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from comms.group_commit import PerStore
from comms.models import StaffSession, utcnow
from comms.services import Services

TOUCH_INTERVAL = dt.timedelta(seconds=60)  # a session is written at most once a minute
BATCH_MOST = 500

_touches: PerStore[str, None] = PerStore(BATCH_MOST)


async def mark_seen(services: Services, session_id: str) -> None:
    """Record activity on a session (if it was last seen over a minute ago), with whatever else
    arrives meanwhile; returns once it is written."""

    async def write(session_ids: list[str]) -> list[Exception | None]:
        await _write(services, session_ids)
        return [None] * len(session_ids)

    await _touches.get(services.sessionmaker, write).submit(session_id)


async def _write(services: Services, session_ids: list[str]) -> None:
    now = utcnow()
    async with services.unit() as unit:
        await unit.session.execute(
            update(StaffSession)
            .where(
                StaffSession.id.in_(sorted(set(session_ids))),
                StaffSession.last_seen_at <= now - TOUCH_INTERVAL,
            )
            .values(last_seen_at=now)
        )
